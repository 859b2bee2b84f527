#include "compiler/driver/stored_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "compiler/driver/overrides.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/pipeline/pipeline.h"
#include "compiler/sema/check.h"
#include "compiler/sema/memory_estimate.h"
#include "compiler/sema/value.h"
#include "runtime/store/store_url.h"
#include "runtime/sweep/scheduler.h"

namespace nnspec::driver {
namespace {

constexpr size_t kMaxListed = 20;            // trial ids a message lists
constexpr size_t kMaxCategoryCombos = 4096;  // categorical choices tried to rebuild a drawn point

bool sampled(const sema::SweepPlan& plan) { return plan.method == "random" || plan.method == "tpe"; }

std::vector<std::string> gridOrder(const sema::SweepPlan& plan) {
  std::vector<std::string> order;
  if (sampled(plan)) return order;
  for (const auto& point : plan.checked) order.push_back(point.describe());
  return order;
}

bool ofSweep(const sema::CheckedSpec& spec, const std::string& sweep) {
  return std::any_of(spec.sweeps.begin(), spec.sweeps.end(),
                     [&](const sema::SweepPlan& plan) { return plan.name == sweep; });
}

// A sweep of svm models only: its trials never store trained tensors.
bool svmSweep(const sema::CheckedSpec& spec, const std::string& sweep) {
  for (const auto& plan : spec.sweeps) {
    if (plan.name != sweep) continue;
    return !plan.checked.empty() && std::all_of(plan.checked.begin(), plan.checked.end(), [](const sema::Point& point) {
      return point.config.model.isSvm();
    });
  }
  return false;
}

LoadFailure failure(std::string message, const std::string& hint = "") {
  return LoadFailure{2, "error: " + std::move(message) + "\n" + (hint.empty() ? "" : "hint: " + hint + "\n")};
}

LoadFailure notFound(std::string message, const std::string& hint = "") {
  LoadFailure out = failure(std::move(message), hint);
  out.not_found = true;
  return out;
}

LoadFailure storeFailure(const rt::StoreError& error) {
  return failure(fmt::format("store '{}': {}", error.path, error.message), error.hint);
}

std::string sweepName(const std::string& name) { return name.empty() ? std::string("(unnamed)") : name; }

}  // namespace

std::optional<BestTrials> bestTrialsOf(const sema::SweepPlan& plan, const std::vector<rt::TrialRow>& rows) {
  const rt::SweepRanking ranking = rt::rankSweep(plan.name, rows, plan.select_metric, plan.maximize, gridOrder(plan));
  const rt::PointSummary* best = ranking.bestComplete();
  if (best == nullptr) best = ranking.best();
  if (best == nullptr) return std::nullopt;
  BestTrials out;
  out.point = best->key;
  // Ordered as the run's ensembles order their members (the scheduler's score).
  const std::string metric = plan.select_metric.empty() ? "val.loss" : plan.select_metric;
  const bool larger_better = plan.maximize && !plan.select_metric.empty();
  auto score = [&](size_t index) {
    const auto it = rows[index].final_metrics.find(metric);
    const double value = it == rows[index].final_metrics.end() ? 0 : it->second;
    return larger_better ? value : -value;
  };
  for (const size_t index : best->trials) {
    if (rows[index].status == rt::TrialStatus::kFinished) out.members.push_back(index);
  }
  std::stable_sort(out.members.begin(), out.members.end(), [&](size_t a, size_t b) { return score(a) > score(b); });
  for (size_t index = 0; index < rows.size(); ++index) {
    const rt::TrialRow& row = rows[index];
    if (row.key.sweep == plan.name && row.key.fold < 0 && row.key.point_key == best->key &&
        row.status == rt::TrialStatus::kFinished) {
      out.refit = index;
    }
  }
  return out;
}

namespace {

// The rows whose tensors `keep` keeps, among the finished trials of the run's sweeps.
std::set<size_t> keptRows(const sema::CheckedSpec& spec, const std::vector<rt::TrialRow>& rows) {
  std::set<size_t> kept;
  if (spec.keep == sema::KeepPolicy::kNone) return kept;
  if (spec.keep == sema::KeepPolicy::kAll) {
    for (size_t index = 0; index < rows.size(); ++index) kept.insert(index);
    return kept;
  }
  for (const auto& plan : spec.sweeps) {
    const auto best = bestTrialsOf(plan, rows);
    if (!best) continue;
    kept.insert(best->members.begin(), best->members.end());
    if (best->refit) kept.insert(*best->refit);
  }
  return kept;
}

const char* policyName(sema::KeepPolicy policy) {
  switch (policy) {
    case sema::KeepPolicy::kAll:
      return "all";
    case sema::KeepPolicy::kBest:
      return "best";
    case sema::KeepPolicy::kNone:
      return "none";
  }
  return "";
}

}  // namespace

std::string applyKeepPolicy(rt::Store& store, const sema::CheckedSpec& spec, const std::vector<rt::TrialRow>& rows,
                            std::string* error) {
  const std::set<size_t> kept = keptRows(spec, rows);
  int64_t kept_trials = 0;
  int64_t dropped = 0;
  double values = 0;
  for (size_t index = 0; index < rows.size(); ++index) {
    const rt::TrialRow& row = rows[index];
    if (row.status != rt::TrialStatus::kFinished || !ofSweep(spec, row.key.sweep)) continue;
    if (svmSweep(spec, row.key.sweep)) continue;  // nothing kept, nothing to drop
    const rt::TrialHandle handle{row.id};
    if (kept.count(index) == 0) {
      auto gone = store.dropTensors(handle);
      if (!gone.ok()) *error = fmt::format("error: store '{}': {}\n", gone.error().path, gone.error().message);
      if (!gone.ok()) return "";
      ++dropped;
      continue;
    }
    auto tensors = store.readTensors(handle);
    if (!tensors.ok()) *error = fmt::format("error: store '{}': {}\n", tensors.error().path, tensors.error().message);
    if (!tensors.ok()) return "";
    if (tensors.value().empty()) continue;
    ++kept_trials;
    for (const auto& tensor : tensors.value()) values += static_cast<double>(tensor.values.size());
  }
  std::string line = fmt::format("trained weights kept (keep {}): {} trial{}", policyName(spec.keep), kept_trials,
                                 kept_trials == 1 ? "" : "s");
  if (kept_trials > 0) line += fmt::format(", {:.0f} values, {} as floats", values, sema::formatBytes(4 * values));
  if (dropped > 0) line += fmt::format("; dropped those of {} other trial{}", dropped, dropped == 1 ? "" : "s");
  return line + "\n";
}

namespace {

// Loads a model of one store: the selection, then the spec, points, compilation, tensors.
class ModelLoader {
 public:
  ModelLoader(const std::string& store_path, const ModelSelector& selector, const rt::DataPaths& data_paths)
      : store_path_(store_path), selector_(selector), data_paths_(data_paths) {}

  std::variant<StoredModel, LoadFailure> load() {
    if (!rt::isPostgresUrl(store_path_) && !std::filesystem::is_regular_file(store_path_)) {
      return failure(fmt::format("store '{}' does not exist", store_path_),
                     "give the store `nnspec run` wrote (FILE.store.sqlite beside the spec, or its --store)");
    }
    auto store = rt::Store::openForReading(store_path_);
    if (!store.ok()) return storeFailure(store.error());
    store_ = std::make_unique<rt::Store>(std::move(store.value()));
    if (auto problem = openStudy()) return *problem;
    if (auto problem = checkSpec()) return *problem;
    auto chosen = selector_.trial ? chooseTrial() : chooseBest();
    if (const auto* problem = std::get_if<LoadFailure>(&chosen)) return *problem;
    return build(std::get<std::vector<size_t>>(chosen));
  }

 private:
  std::optional<LoadFailure> openStudy() {
    auto studies = store_->listStudies();
    if (!studies.ok()) return storeFailure(studies.error());
    std::set<std::string> names;
    const rt::StudyRow* chosen = nullptr;
    for (const auto& study : studies.value()) {
      names.insert(study.name);
      if (!selector_.study.empty() && study.name != selector_.study) continue;
      if (selector_.trial && !holdsTrial(study.id, *selector_.trial)) continue;
      if (chosen == nullptr || study.id > chosen->id) chosen = &study;
    }
    if (chosen == nullptr && selector_.trial) {
      return notFound(fmt::format("store '{}' has no trial {}", store_path_, *selector_.trial),
                      "list its trials with `nnspec export STORE --format csv`");
    }
    const std::string listed = fmt::format("{}", fmt::join(names, ", "));
    if (chosen == nullptr) {
      return names.empty() ? failure(fmt::format("store '{}' holds no study", store_path_), "run a spec into it first")
                           : notFound(fmt::format("store '{}' has no study '{}'", store_path_, selector_.study),
                                      "its studies are " + listed);
    }
    if (selector_.study.empty() && !selector_.trial && names.size() > 1) {
      return failure(fmt::format("store '{}' holds several experiments", store_path_),
                     "choose one with --study NAME: " + listed);
    }
    study_ = *chosen;
    auto info = store_->readStudyInfo(study_.id);
    if (!info.ok()) return storeFailure(info.error());
    if (!info.value()) {
      return failure(fmt::format("store '{}' does not hold the spec of study '{}' (an older nnspec wrote it)",
                                 store_path_, study_.name),
                     "run the spec again into this store");
    }
    info_ = std::move(*info.value());
    auto rows = store_->listTrials(study_.id);
    if (!rows.ok()) return storeFailure(rows.error());
    rows_ = std::move(rows.value());
    return std::nullopt;
  }

  bool holdsTrial(int64_t study_id, int64_t trial_id) {
    auto rows = store_->listTrials(study_id);
    return rows.ok() && std::any_of(rows.value().begin(), rows.value().end(),
                                    [&](const rt::TrialRow& row) { return row.id == trial_id; });
  }

  // The study's spec with its --set overrides, checked again (its data must still be there).
  std::optional<LoadFailure> checkSpec() {
    CheckRequest request;
    request.path = info_.spec_path;
    request.source = info_.spec_text;
    request.data_paths = data_paths_;
    std::vector<Override> overrides;
    for (const auto& text : info_.overrides) {
      Override override;
      if (parseOverride(text, &override)) overrides.push_back(override);
    }
    session_ = std::make_unique<SpecSession>(request, overrides, std::vector<std::string>{});
    if (session_->ok()) return std::nullopt;
    return LoadFailure{
        2, fmt::format("error: the spec of study '{}' no longer checks:\n{}", study_.name, session_->finish(2).err)};
  }

  const sema::CheckedSpec& spec() { return session_->spec().checked; }

  const sema::SweepPlan* planNamed(const std::string& name) {
    for (const auto& plan : spec().sweeps) {
      if (plan.name == name) return &plan;
    }
    return nullptr;
  }

  bool hasTensors(const rt::TrialRow& row) {
    if (row.status != rt::TrialStatus::kFinished) return false;
    auto tensors = store_->readTensors(rt::TrialHandle{row.id});
    return tensors.ok() && !tensors.value().empty();
  }

  // "trials with kept weights: 3 (sweep cnn), 7 (...)" for a hint.
  std::string keptList() {
    std::vector<std::string> listed;
    for (const auto& row : rows_) {
      if (!hasTensors(row)) continue;
      if (listed.size() == kMaxListed) {
        listed.push_back("...");
        break;
      }
      listed.push_back(
          fmt::format("{} (sweep {}{})", row.id, sweepName(row.key.sweep), row.key.fold < 0 ? ", refit" : ""));
    }
    if (listed.empty())
      return "no trial of this store kept its weights (`keep none`, or a run before weights were kept)";
    return fmt::format("trials with kept weights: {}", fmt::join(listed, ", "));
  }

  std::variant<std::vector<size_t>, LoadFailure> chooseTrial() {
    const int64_t id = *selector_.trial;
    for (size_t index = 0; index < rows_.size(); ++index) {
      if (rows_[index].id != id) continue;
      if (planNamed(rows_[index].key.sweep) == nullptr) {
        return failure(fmt::format("trial {} belongs to sweep '{}', which the study's spec no longer has", id,
                                   rows_[index].key.sweep));
      }
      plan_ = planNamed(rows_[index].key.sweep);
      return std::vector<size_t>{index};
    }
    return notFound(fmt::format("study '{}' has no trial {}", study_.name, id), keptList());
  }

  std::variant<std::vector<size_t>, LoadFailure> chooseBest() {
    if (auto problem = choosePlan()) return *problem;
    const auto best = bestTrialsOf(*plan_, rows_);
    if (!best) {
      return notFound(fmt::format("sweep '{}' has no finished trial", sweepName(plan_->name)), keptList());
    }
    if (best->refit) return std::vector<size_t>{*best->refit};
    if (!plan_->ensemble.empty() && best->members.size() > 1) return best->members;
    return std::vector<size_t>{best->members.front()};
  }

  // --best SWEEP, or the only sweep of the spec that has trials in the store.
  std::optional<LoadFailure> choosePlan() {
    std::vector<std::string> names;
    for (const auto& plan : spec().sweeps) names.push_back(sweepName(plan.name));
    if (!selector_.sweep.empty()) {
      plan_ = planNamed(selector_.sweep);
      if (plan_ != nullptr) return std::nullopt;
      return notFound(fmt::format("study '{}' has no sweep '{}'", study_.name, selector_.sweep),
                      fmt::format("its sweeps are {}", fmt::join(names, ", ")));
    }
    std::vector<const sema::SweepPlan*> ran;
    for (const auto& plan : spec().sweeps) {
      const bool has_trials = std::any_of(rows_.begin(), rows_.end(), [&](const rt::TrialRow& row) {
        return row.key.sweep == plan.name && row.status == rt::TrialStatus::kFinished;
      });
      if (has_trials) ran.push_back(&plan);
    }
    if (ran.size() == 1) {
      plan_ = ran.front();
      return std::nullopt;
    }
    return failure(
        fmt::format("study '{}' has {} sweeps with finished trials; --best needs one", study_.name, ran.size()),
        fmt::format("name it: --best SWEEP (its sweeps are {})", fmt::join(names, ", ")));
  }

  // The sweep point a stored trial key names.
  std::variant<sema::Point, LoadFailure> pointOf(const rt::TrialRow& row) {
    if (!sampled(*plan_)) {
      for (const auto& point : plan_->checked) {
        if (point.describe() == row.key.point_key) return point;
      }
    } else if (auto point = rebuildDrawnPoint(row)) {
      return *point;
    }
    return failure(fmt::format("trial {}: the study's spec has no point '{}' in sweep '{}'", row.id, row.key.point_key,
                               sweepName(plan_->name)));
  }

  // A random/TPE draw "#003 lr=0.01, units=[128]" from its stored params; categorical
  // axes are matched by trying their choices.
  std::optional<sema::Point> rebuildDrawnPoint(const rt::TrialRow& row) {
    const std::string& key = row.key.point_key;
    const auto space = key.find(' ');
    const std::string description = space == std::string::npos ? "" : key.substr(space + 1);
    std::vector<sema::AxisValue> values;
    std::vector<size_t> categorical;  // into values
    for (const auto& axis : plan_->axes) {
      const sema::ParamDef* param = findParam(axis);
      const auto stored = std::find_if(row.params.begin(), row.params.end(),
                                       [&](const rt::Param& candidate) { return candidate.name == axis; });
      if (param == nullptr || stored == row.params.end()) return std::nullopt;
      sema::AxisValue value;
      value.name = axis;
      if (!param->length_param.empty()) {
        value.numbers = numbersOf(stored->value);
      } else if (param->isDistribution()) {
        value.number = std::strtod(stored->value.c_str(), nullptr);
      } else {
        value.choice = 0;
        categorical.push_back(values.size());
      }
      values.push_back(std::move(value));
    }
    sema::CheckOptions options;
    options.data_paths = session_->spec().data_paths;
    const SourceFile file(info_.spec_path, info_.spec_text);
    DiagnosticEngine scratch(file);  // draws that do not check are not this trial's
    sema::PointResolver resolver(session_->spec().ast, spec(), options, scratch);
    for (size_t combo = 0; combo < kMaxCategoryCombos; ++combo) {
      size_t rest = combo;
      for (const size_t index : categorical) {
        const size_t count = findParam(values[index].name)->choiceCount();
        values[index].choice = rest % count;
        rest /= count;
      }
      if (rest > 0) break;  // every combination tried
      auto point = resolver.resolve(plan_->name, values);
      if (point && point->describe() == description) return point;
    }
    return std::nullopt;
  }

  static std::vector<double> numbersOf(const std::string& list) {
    std::vector<double> numbers;
    const char* cursor = list.c_str();
    while (*cursor != '\0') {
      if ((*cursor >= '0' && *cursor <= '9') || *cursor == '-' || *cursor == '.') {
        char* end = nullptr;
        numbers.push_back(std::strtod(cursor, &end));
        cursor = end;
      } else {
        ++cursor;
      }
    }
    return numbers;
  }

  const sema::ParamDef* findParam(const std::string& name) {
    for (const auto& param : spec().params) {
      if (param.name == name) return &param;
    }
    return nullptr;
  }

  std::variant<StoredModel, LoadFailure> build(const std::vector<size_t>& chosen) {
    StoredModel out;
    out.plan = plan_;
    auto point = pointOf(rows_[chosen.front()]);
    if (const auto* problem = std::get_if<LoadFailure>(&point)) return *problem;
    out.point = std::move(std::get<sema::Point>(point));
    if (out.point.config.model.isSvm()) {
      return failure(fmt::format("model '{}' of sweep '{}' is an svm: svm models cannot be exported or used by "
                                 "`predict` yet",
                                 out.point.config.model.name, sweepName(plan_->name)),
                     "export and predict take networks; `nnspec export STORE --format csv` and the report give the svm's metrics");
    }
    auto jit = jit::JitCompiler::create();
    if (!jit.ok())
      return LoadFailure{3, fmt::format("internal error: cannot start the JIT: {}\n", jit.error().message)};
    std::shared_ptr<jit::JitCompiler> compiler = std::move(jit.value());
    const sema::TrainConfig& config = out.point.config;
    // A stored model predicts: its forward alone.
    auto compiled = pipeline::compileTrainable(config, config.batch, *compiler, {codegen::EntryPoint::Forward});
    if (const auto* error = std::get_if<pipeline::PipelineError>(&compiled)) {
      return LoadFailure{error->internal ? 3 : 2,
                         fmt::format("{}error: compiling model '{}': {}\n", error->internal ? "internal " : "",
                                     config.model.name, error->message)};
    }
    std::vector<std::shared_ptr<const TrainedModel>> members;
    for (const size_t index : chosen) {
      auto member = memberOf(rows_[index], std::get<rt::CompiledModel>(compiled), compiler);
      if (const auto* problem = std::get_if<LoadFailure>(&member)) return *problem;
      members.push_back(std::get<std::shared_ptr<const TrainedModel>>(member));
      out.trials.push_back(rows_[index]);
    }
    const rt::EnsembleKind kind = plan_->ensemble == "vote"   ? rt::EnsembleKind::kVote
                                  : plan_->ensemble == "mean" ? rt::EnsembleKind::kMean
                                                              : rt::EnsembleKind::kNone;
    out.predictor = std::make_unique<Predictor>(std::move(members), kind);
    out.description = describe(out.trials, out.predictor->ensemble());
    out.spec = &spec();
    const sema::Split* split = spec().findSplit(config.split);
    out.data = split == nullptr || !split->train ? nullptr : spec().findData(split->train->data);
    out.session = std::move(session_);
    return out;
  }

  std::variant<std::shared_ptr<const TrainedModel>, LoadFailure> memberOf(const rt::TrialRow& row,
                                                                          const rt::CompiledModel& model,
                                                                          std::shared_ptr<jit::JitCompiler> jit) {
    if (row.status != rt::TrialStatus::kFinished) {
      return notFound(fmt::format("trial {} {}; only finished trials have weights", row.id, rt::statusName(row.status)),
                      keptList());
    }
    auto tensors = store_->readTensors(rt::TrialHandle{row.id});
    if (!tensors.ok()) return storeFailure(tensors.error());
    if (tensors.value().empty()) {
      return notFound(
          fmt::format("trial {} kept no weights in store '{}' (the spec's `keep` dropped them)", row.id, store_path_),
          keptList() + "; `keep all` in the spec keeps every trial's");
    }
    ModelOrigin origin{row.key.sweep, row.key.point_key, row.key.fold, row.key.replicate, row.id, row.final_metrics};
    auto member = TrainedModel::fromTensors(std::move(origin), model, tensors.value(), std::move(jit));
    if (const auto* problem = std::get_if<std::string>(&member)) {
      return failure(fmt::format("trial {}: {}", row.id, *problem),
                     "the spec or nnspec changed since the run; run it again");
    }
    return std::get<std::shared_ptr<const TrainedModel>>(member);
  }

  std::string describe(const std::vector<rt::TrialRow>& trials, rt::EnsembleKind kind) const {
    const rt::TrialRow& first = trials.front();
    const std::string point = first.key.point_key.empty() ? "(one point)" : first.key.point_key;
    if (kind != rt::EnsembleKind::kNone) {
      return fmt::format("{} of the {} models of sweep {}, point {}",
                         kind == rt::EnsembleKind::kVote ? "majority vote" : "mean", trials.size(),
                         sweepName(first.key.sweep), point);
    }
    std::string role;
    if (first.key.fold < 0) role = ", refit on all training data";
    if (plan_->folds > 1 && first.key.fold >= 0) role += fmt::format(", fold {}", first.key.fold + 1);
    if (plan_->replicates > 1) role += fmt::format(", replicate {}", first.key.replicate + 1);
    return fmt::format("trial {} of sweep {}, point {}{}", first.id, sweepName(first.key.sweep), point, role);
  }

  const std::string& store_path_;
  const ModelSelector& selector_;
  const rt::DataPaths& data_paths_;
  std::unique_ptr<rt::Store> store_;
  rt::StudyRow study_;
  rt::StudyInfo info_;
  std::vector<rt::TrialRow> rows_;
  std::unique_ptr<SpecSession> session_;
  const sema::SweepPlan* plan_ = nullptr;
};

}  // namespace

std::variant<StoredModel, LoadFailure> loadStoredModel(const std::string& store_path, const ModelSelector& selector,
                                                       const rt::DataPaths& data_paths) {
  return ModelLoader(store_path, selector, data_paths).load();
}

}  // namespace nnspec::driver
