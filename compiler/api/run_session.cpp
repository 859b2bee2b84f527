#include "compiler/api/run_session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "compiler/api/data_paths.h"
#include "compiler/api/large_stack.h"
#include "compiler/driver/run.h"

namespace nnspec::api {

struct RunSession::Shared {
  std::shared_ptr<jit::JitCompiler> jit;
};

namespace {

constexpr int kExitTrialsFailed = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitCancelled = 130;

nnspec_status statusOfExit(int code) {
  switch (code) {
    case 0: return NNSPEC_STATUS_OK;
    case kExitTrialsFailed: return NNSPEC_STATUS_TRIALS_FAILED;
    case kExitBadInput: return NNSPEC_STATUS_BAD_INPUT;
    case kExitCancelled: return NNSPEC_STATUS_CANCELLED;
    default: return NNSPEC_STATUS_INTERNAL_ERROR;
  }
}

// The C view of a driver event; the strings point into `event`.
struct CEvent {
  explicit CEvent(const driver::RunEvent& event) {
    for (const auto& [name, value] : event.metrics) metrics.push_back({name.c_str(), value});
    using Kind = driver::RunEvent::Kind;
    view.kind = event.kind == Kind::kTrialStarted ? NNSPEC_EVENT_TRIAL_STARTED
              : event.kind == Kind::kEpoch        ? NNSPEC_EVENT_EPOCH
                                                  : NNSPEC_EVENT_TRIAL_ENDED;
    view.sweep = event.sweep.c_str();
    view.point = event.point.c_str();
    view.fold = event.fold;
    view.replicate = event.replicate;
    view.trial_index = event.trial_index;
    view.trials_total = event.trials_total;
    view.epoch = event.epoch;
    view.epochs = event.epochs;
    view.status = event.status.c_str();
    view.metrics = metrics.data();
    view.metric_count = static_cast<int64_t>(metrics.size());
  }
  std::vector<nnspec_metric> metrics;
  nnspec_event view{};
};

}  // namespace

RunSession::RunSession(RunSpec spec) : spec_(std::move(spec)), shared_(std::make_unique<Shared>()) {}

RunSession::~RunSession() = default;

void RunSession::setProgress(nnspec_progress_fn callback, void* user_data) {
  callback_ = callback;
  user_data_ = user_data;
}

nnspec_status RunSession::execute(const std::string& sweep, std::string* error) {
  if (!shared_->jit) {
    auto jit = jit::JitCompiler::create();
    if (!jit.ok()) {
      *error = "internal error: cannot start the JIT: " + jit.error().message;
      return NNSPEC_STATUS_INTERNAL_ERROR;
    }
    shared_->jit = std::move(jit.value());
  }
  driver::RunRequest request;
  request.check.path = spec_.path;
  if (!spec_.from_file) request.check.source = spec_.text;
  request.check.data_paths = apiDataPaths();
  request.store_path = spec_.store_path;
  request.overrides = spec_.overrides;
  request.sweeps = sweep.empty() ? spec_.sweeps : std::vector<std::string>{sweep};
  request.jobs = jobs_;
  request.quiet = true;
  request.write_report = write_report_;
  request.on_event = [this](const driver::RunEvent& event) { onEvent(event); };
  if (keep_ != NNSPEC_KEEP_NONE) request.on_trained = [this](const driver::TrainedTrial& trial) { onTrained(trial); };
  request.cancel = &cancel_;
  request.jit = shared_->jit;
  callback_error_.clear();
  std::FILE* sink = std::fopen("/dev/null", "w");
  driver::Outcome outcome;
  runOnLargeStack([&] { outcome = driver::runFile(request, sink != nullptr ? sink : stdout); });
  if (sink != nullptr) std::fclose(sink);
  cancel_.store(false);
  const nnspec_status status = statusOfExit(outcome.exit_code);
  if (status != NNSPEC_STATUS_OK) *error = callback_error_.empty() ? outcome.err : callback_error_;
  return status;
}

void RunSession::onEvent(const driver::RunEvent& event) {
  if (callback_ == nullptr) return;
  const CEvent c_event(event);
  int stop = 0;
  try {
    stop = callback_(&c_event.view, user_data_);
  } catch (const std::exception& exception) {
    callback_error_ = std::string("the progress callback threw: ") + exception.what();
    stop = 1;
  }
  if (stop != 0) cancel_.store(true);
}

void RunSession::onTrained(const driver::TrainedTrial& trial) {
  auto model = TrainedModel::fromTrial(trial, shared_->jit);
  if (keep_ == NNSPEC_KEEP_ALL) {
    models_.push_back(std::move(model));
    return;
  }
  const auto incumbent = std::find_if(models_.begin(), models_.end(),
                                      [&](const auto& kept) { return kept->sweep() == model->sweep(); });
  if (incumbent == models_.end()) {
    models_.push_back(std::move(model));
  } else if (better(*model, **incumbent)) {
    *incumbent = std::move(model);
  }
}

const SweepRecord* RunSession::plan(const std::string& sweep) const {
  for (const auto& plan : spec_.plans) {
    if (plan.name == sweep) return &plan;
  }
  return nullptr;
}

// By the sweep's objective; a trial without the metric (or a NaN) never wins; without an
// objective the first kept stays.
bool RunSession::better(const TrainedModel& candidate, const TrainedModel& incumbent) const {
  const SweepRecord* sweep = plan(candidate.sweep());
  if (sweep == nullptr || sweep->objective.empty()) return false;
  const auto value = candidate.metrics().find(sweep->objective);
  if (value == candidate.metrics().end() || std::isnan(value->second)) return false;
  const auto current = incumbent.metrics().find(sweep->objective);
  if (current == incumbent.metrics().end() || std::isnan(current->second)) return true;
  return sweep->maximize ? value->second > current->second : value->second < current->second;
}

std::shared_ptr<const TrainedModel> RunSession::best(const std::string& sweep, std::string* error) const {
  std::string name = sweep;
  if (name.empty()) {
    for (const auto& model : models_) {
      if (!name.empty() && model->sweep() != name) {
        *error = "models of several sweeps are kept; name the sweep";
        return nullptr;
      }
      name = model->sweep();
    }
  }
  std::shared_ptr<const TrainedModel> chosen;
  for (const auto& model : models_) {
    if (model->sweep() != name) continue;
    if (!chosen || better(*model, *chosen)) chosen = model;
  }
  if (!chosen) *error = sweep.empty() ? "the run kept no model" : "the run kept no model of sweep '" + sweep + "'";
  return chosen;
}

}  // namespace nnspec::api
