#include "runtime/train/trial.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <span>
#include <stdexcept>
#include <variant>

#include <fmt/format.h>

#include "runtime/kernels/thread_team.h"
#include "runtime/pipeline/batches.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/metrics.h"
#include "runtime/pipeline/random.h"

namespace nnspec::rt {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

void initializeParameters(StepRunner& runner, const std::vector<ParamInit>& inits, uint64_t seed) {
  const auto& parameters = runner.layout().parameters;
  for (size_t index = 0; index < parameters.size(); ++index) {
    const std::string& name = parameters[index].name;
    std::vector<float>& buffer = runner.parameter(index);
    const ParamInit* init = nullptr;
    for (const auto& candidate : inits) {
      if (candidate.name == name) init = &candidate;
    }
    // Each parameter draws from its own stream, so adding a layer does not shift the others.
    Rng rng(deriveSeed(seed, "init:" + name));
    const InitKind kind = init == nullptr ? InitKind::kZeros : init->kind;
    const double fan_in = init == nullptr ? 1.0 : static_cast<double>(init->fan_in);
    const double fan_out = init == nullptr ? 1.0 : static_cast<double>(init->fan_out);
    for (float& value : buffer) {
      switch (kind) {
        case InitKind::kZeros: value = 0.0f; break;
        case InitKind::kOnes: value = 1.0f; break;
        case InitKind::kGlorotUniform: {
          const double limit = std::sqrt(6.0 / (fan_in + fan_out));
          value = static_cast<float>(rng.uniformDouble(-limit, limit));
          break;
        }
        case InitKind::kHeUniform: {
          const double limit = std::sqrt(6.0 / fan_in);
          value = static_cast<float>(rng.uniformDouble(-limit, limit));
          break;
        }
        case InitKind::kHeNormal: value = static_cast<float>(rng.normal(0.0, std::sqrt(2.0 / fan_in))); break;
      }
    }
  }
}

namespace {

// Copies parameters and optimizer state from one runner to another with the same
// parameter list (the full-batch and the last-partial-batch steps of one model).
void copyState(StepRunner& from, StepRunner& to) {
  const size_t count = from.layout().parameters.size();
  for (size_t index = 0; index < count; ++index) {
    to.parameter(index) = from.parameter(index);
    for (int slot = 0; slot < from.layout().state_slots; ++slot) {
      to.optimizerState(slot, index) = from.optimizerState(slot, index);
    }
  }
  for (size_t index = 0; index < from.layout().states.size(); ++index) to.state(index) = from.state(index);
}

// Folds the batch statistics the last train step exported into the moving ones.
void updateMovingStats(StepRunner& runner, const std::vector<MovingStats>& all_stats) {
  for (const MovingStats& stats : all_stats) {
    const float momentum = static_cast<float>(stats.momentum);
    auto fold = [&](const std::string& state_name, const std::string& export_name) {
      std::vector<float>& moving = runner.state(state_name);
      const std::vector<float>& batch = runner.exported(export_name);
      for (size_t channel = 0; channel < moving.size(); ++channel)
        moving[channel] = momentum * moving[channel] + (1.0f - momentum) * batch[channel];
    };
    fold(stats.mean_state, stats.mean_export);
    fold(stats.variance_state, stats.variance_export);
  }
}

struct Buffers {
  std::vector<float> x;
  std::vector<int32_t> labels;
  std::vector<float> targets;

  bool classification = true;

  Buffers(const CompiledModel& model, const Dataset& data)
      : x(static_cast<size_t>(model.batch * model.features)),
        labels(static_cast<size_t>(model.batch)),
        targets(static_cast<size_t>(model.batch * data.target_width)),
        classification(model.classification) {}

  // Class numbers for classifiers, target rows for regressions.
  BatchBuffers spans() {
    if (classification) return {x, labels, {}};
    return {x, {}, targets};
  }
};

// The input pointers in the order of the step's layout.
std::vector<const void*> inputPointers(const StepRunner& runner, Buffers& buffers) {
  std::vector<const void*> inputs;
  for (const auto& slot : runner.layout().inputs) {
    if (slot.name == "x") {
      inputs.push_back(buffers.x.data());
    } else if (slot.name == "labels") {
      inputs.push_back(buffers.labels.data());
    } else {
      inputs.push_back(buffers.targets.data());
    }
  }
  return inputs;
}

// The position of input `name` in the step's layout; the input count when it has none.
size_t inputSlot(const StepRunner& runner, const std::string& name) {
  const auto& slots = runner.layout().inputs;
  for (size_t index = 0; index < slots.size(); ++index) {
    if (slots[index].name == name) return index;
  }
  return slots.size();
}

bool improved(double value, double best, double tol, bool maximize) {
  return maximize ? value > best + tol : value < best - tol;
}

bool maximized(const std::string& metric) { return metricMaximized(metric); }

}  // namespace

std::map<std::string, double> evaluateModel(const CompiledModel& model, StepRunner& runner, const DataView& view,
                                            const std::string& prefix, std::vector<float>* kept,
                                            const std::vector<std::string>& extra) {
  std::map<std::string, double> metrics;
  if (view.empty()) return metrics;
  auto iterator = makeEvaluationIterator(*view.data, view.indices, model.batch);
  if (!iterator.ok()) return metrics;
  Buffers buffers(model, *view.data);
  std::vector<float> predictions(static_cast<size_t>(model.batch * model.output_width));
  auto inputs = inputPointers(runner, buffers);
  const size_t x_slot = inputSlot(runner, "x");
  iterator.value().startEpoch(0);
  double loss_sum = 0;
  double absolute_sum = 0;  // regression: mean absolute error
  int64_t correct = 0;
  int64_t seen = 0;
  const int64_t width = model.output_width;
  std::vector<float> all_outputs;  // for the extra metrics: every sample's outputs, labels or targets
  std::vector<int32_t> all_labels;
  std::vector<float> all_targets;
  for (;;) {
    std::fill(buffers.labels.begin(), buffers.labels.end(), 0);
    // A batch of consecutive rows is read where it lies; others are copied into buffers.x.
    const float* in_place = iterator.value().inputsInPlace();
    BatchBuffers spans = buffers.spans();
    if (in_place != nullptr) spans.x = {};
    if (x_slot < inputs.size()) inputs[x_slot] = in_place != nullptr ? in_place : buffers.x.data();
    const int64_t rows = iterator.value().nextBatch(spans);
    if (rows == BatchIterator::kBuffersDoNotFit) throw std::logic_error("evaluation buffers do not fit the batch");
    if (rows <= 0) break;
    runner.forward(inputs, predictions.data());
    if (kept != nullptr) kept->insert(kept->end(), predictions.begin(), predictions.begin() + rows * model.output_width);
    if (!extra.empty()) {
      all_outputs.insert(all_outputs.end(), predictions.begin(), predictions.begin() + rows * model.output_width);
      if (model.classification) {
        all_labels.insert(all_labels.end(), buffers.labels.begin(), buffers.labels.begin() + rows);
      } else {
        all_targets.insert(all_targets.end(), buffers.targets.begin(), buffers.targets.begin() + rows * width);
      }
    }
    for (int64_t row = 0; row < rows; ++row) {
      const float* out = predictions.data() + row * width;
      if (model.classification) {
        // Softmax cross-entropy from the logits, in double precision.
        double top = out[0];
        int64_t arg = 0;
        for (int64_t k = 1; k < width; ++k) {
          if (out[k] > top) top = out[k], arg = k;
        }
        double sum = 0;
        for (int64_t k = 0; k < width; ++k) sum += std::exp(static_cast<double>(out[k]) - top);
        const int32_t label = buffers.labels[static_cast<size_t>(row)];
        loss_sum += std::log(sum) + top - static_cast<double>(out[label]);
        correct += arg == label ? 1 : 0;
      } else {
        const float* target = buffers.targets.data() + row * width;
        double sum = 0;
        double absolute = 0;
        for (int64_t k = 0; k < width; ++k) {
          const double difference = static_cast<double>(out[k]) - target[k];
          sum += difference * difference;
          absolute += std::fabs(difference);
        }
        loss_sum += sum / static_cast<double>(width);
        absolute_sum += absolute / static_cast<double>(width);
      }
    }
    seen += rows;
  }
  if (seen == 0) return metrics;
  metrics[prefix + ".loss"] = loss_sum / static_cast<double>(seen);
  if (model.classification) {
    const double accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    metrics[prefix + ".accuracy"] = accuracy;
    metrics[prefix + ".error"] = 1.0 - accuracy;
  } else {
    metrics[prefix + ".mse"] = metrics[prefix + ".loss"];
    metrics[prefix + ".mae"] = absolute_sum / static_cast<double>(seen);
  }
  if (model.classification) {
    for (const auto& [name, value] : classificationMetrics(all_outputs, all_labels, width, extra))
      metrics[prefix + "." + name] = value;
  } else if (std::find(extra.begin(), extra.end(), "r2") != extra.end()) {
    metrics[prefix + ".r2"] = rSquared(all_outputs, all_targets, width);
  }
  return metrics;
}

namespace {

// Where a trial stands between batches: what a checkpoint keeps besides the tensors and
// the epoch records.
struct Cursor {
  int64_t epoch = 1;         // the epoch in progress (1-based)
  int64_t batches_done = 0;  // of it, with their summed loss and samples
  double loss_sum = 0;
  int64_t seen = 0;
  int64_t correct = 0;  // classifiers: of those samples, predicted right; -1: unknown (an old checkpoint)
  double epoch_seconds = 0;  // spent on those batches before a resume
  int32_t step = 0;
  double best = 0;  // early stopping
  int64_t since_best = 0;
  bool stopped = false;
  double seconds_before = 0;  // the trial's training time before a resume
};

std::string stopText(const std::optional<StopRule>& stop) {
  if (!stop) return "";
  return fmt::format("{} tol {} patience {}", stop->metric, stop->tol, stop->patience);
}

// The model's settings that change the numbers but not the tensors' shapes.
uint64_t settingsFingerprint(const CompiledModel& model) {
  const NnspecOptimizerParams& opt = model.optimizer;
  std::string text = fmt::format("opt {} {} {} {} {} {} {} {} {} | sched {} {} {} {} | out {} {} {} |",
                                 opt.lr, opt.momentum, opt.beta1, opt.beta2, opt.eps, opt.weight_decay, opt.nesterov,
                                 opt.alpha, opt.decoupled, static_cast<int>(model.schedule.kind), model.schedule.every,
                                 model.schedule.gamma, model.schedule.min_lr, model.features, model.output_width,
                                 model.classification);
  for (const auto& [name, value] : model.hyper_values) text += fmt::format(" hyper {}={}", name, value);
  for (const auto& init : model.inits) {
    text += fmt::format(" init {} {} {} {}", init.name, static_cast<int>(init.kind), init.fan_in, init.fan_out);
  }
  for (const auto& stats : model.moving_stats) text += fmt::format(" stats {} {}", stats.mean_state, stats.momentum);
  return fnv1a(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

CheckpointIdentity identityOf(const CompiledModel& model, const DataView& fit, const TrialSettings& settings) {
  // A data seed of its own is part of the settings (a checkpoint made on another batch
  // order must not continue on this one).
  uint64_t fingerprint = settingsFingerprint(model);
  if (settings.data_seed != 0) fingerprint = deriveSeed(fingerprint, "data seed " + std::to_string(settings.data_seed));
  return {settings.seed,    settings.epochs,         model.batch, static_cast<int64_t>(fit.indices.size()),
          settings.shuffle, stopText(settings.stop), fingerprint};
}

// Why a checkpoint's identity is not this trial's; "" when it is.
std::string identityMismatch(const CheckpointIdentity& saved, const CheckpointIdentity& now) {
  if (saved.seed != now.seed) return fmt::format("it was made with seed {}, not {}", saved.seed, now.seed);
  if (saved.epochs != now.epochs) return fmt::format("it was made for {} epochs, not {}", saved.epochs, now.epochs);
  if (saved.batch != now.batch) return fmt::format("it was made for batch {}, not {}", saved.batch, now.batch);
  if (saved.fit_samples != now.fit_samples) {
    return fmt::format("it was made for {} training samples, not {}", saved.fit_samples, now.fit_samples);
  }
  if (saved.shuffle != now.shuffle) return "it was made with other shuffling";
  if (saved.stop != now.stop) return fmt::format("it was made with another stop rule ('{}')", saved.stop);
  if (saved.fingerprint != now.fingerprint) return "it was made with other optimizer or model settings";
  return "";
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string text;
  for (int64_t extent : shape) text += (text.empty() ? "" : ",") + std::to_string(extent);
  return "[" + text + "]";
}

// Why `tensors` do not fit the buffers `slots` describes; "" when they do.
std::string tensorMismatch(const std::vector<KeptParameter>& tensors, const std::vector<LeafSlot>& slots,
                           const char* what) {
  if (tensors.size() != slots.size()) {
    return fmt::format("it holds {} {}, the model has {}", tensors.size(), what, slots.size());
  }
  for (size_t index = 0; index < slots.size(); ++index) {
    const KeptParameter& tensor = tensors[index];
    if (tensor.name != slots[index].name || tensor.shape != slots[index].type.shape) {
      return fmt::format("it holds '{}' {}, the model has '{}' {}", tensor.name, shapeText(tensor.shape),
                         slots[index].name, shapeText(slots[index].type.shape));
    }
  }
  return "";
}

// Why `state` cannot continue this trial; "" when it can.
std::string stateMismatch(const TrainerState& state, const CheckpointIdentity& identity, const StepRunner& runner,
                          int64_t batches_per_epoch) {
  std::string problem = identityMismatch(state.identity, identity);
  if (!problem.empty()) return problem;
  const StepLayout& layout = runner.layout();
  problem = tensorMismatch(state.parameters, layout.parameters, "parameters");
  if (!problem.empty()) return problem;
  if (static_cast<int>(state.optimizer_slots.size()) != layout.state_slots) {
    return fmt::format("it holds {} optimizer slots, the optimizer has {}", state.optimizer_slots.size(),
                       layout.state_slots);
  }
  for (const auto& slot : state.optimizer_slots) {
    problem = tensorMismatch(slot, layout.parameters, "optimizer slots");
    if (!problem.empty()) return problem;
  }
  problem = tensorMismatch(state.states, layout.states, "state tensors");
  if (!problem.empty()) return problem;
  const bool at_end = state.completed_epochs == identity.epochs || state.stopped;
  if (state.batches_done >= batches_per_epoch || (at_end && state.batches_done != 0)) {
    return fmt::format("it stands at batch {} of an epoch of {}", state.batches_done, batches_per_epoch);
  }
  return "";
}

// The trainer's buffers and progress as a checkpoint.
TrainerState snapshotOf(StepRunner& runner, const Cursor& cursor, const std::vector<EpochRecord>& records,
                        const CheckpointIdentity& identity) {
  TrainerState state;
  state.identity = identity;
  state.completed_epochs = cursor.epoch - 1;
  state.batches_done = cursor.batches_done;
  state.loss_sum = cursor.loss_sum;
  state.seen = cursor.seen;
  state.correct = cursor.correct;
  state.epoch_seconds = cursor.epoch_seconds;
  state.step = cursor.step;
  state.best = cursor.best;
  state.since_best = cursor.since_best;
  state.stopped = cursor.stopped;
  state.seconds = cursor.seconds_before;
  state.records = records;
  const StepLayout& layout = runner.layout();
  for (size_t index = 0; index < layout.parameters.size(); ++index) {
    state.parameters.push_back({layout.parameters[index].name, layout.parameters[index].type.shape,
                                runner.parameter(index)});
  }
  state.optimizer_slots.resize(static_cast<size_t>(layout.state_slots));
  for (int slot = 0; slot < layout.state_slots; ++slot) {
    for (size_t index = 0; index < layout.parameters.size(); ++index) {
      state.optimizer_slots[static_cast<size_t>(slot)].push_back(
          {layout.parameters[index].name, layout.parameters[index].type.shape, runner.optimizerState(slot, index)});
    }
  }
  for (size_t index = 0; index < layout.states.size(); ++index) {
    state.states.push_back({layout.states[index].name, layout.states[index].type.shape, runner.state(index)});
  }
  return state;
}

// Puts a checked state's tensors into `runner` and returns its progress.
Cursor restoreState(TrainerState& state, StepRunner& runner) {
  for (size_t index = 0; index < state.parameters.size(); ++index) {
    runner.parameter(index) = std::move(state.parameters[index].values);
  }
  for (size_t slot = 0; slot < state.optimizer_slots.size(); ++slot) {
    for (size_t index = 0; index < state.optimizer_slots[slot].size(); ++index) {
      runner.optimizerState(static_cast<int>(slot), index) = std::move(state.optimizer_slots[slot][index].values);
    }
  }
  for (size_t index = 0; index < state.states.size(); ++index) runner.state(index) = std::move(state.states[index].values);
  Cursor cursor;
  cursor.epoch = state.completed_epochs + 1;
  cursor.batches_done = state.batches_done;
  cursor.loss_sum = state.loss_sum;
  cursor.seen = state.seen;
  cursor.correct = state.correct;
  cursor.epoch_seconds = state.epoch_seconds;
  cursor.step = state.step;
  cursor.best = state.best;
  cursor.since_best = state.since_best;
  cursor.stopped = state.stopped;
  cursor.seconds_before = state.seconds;
  return cursor;
}

// One trial's training: the loop of runTrial, with its state in one place so that a
// checkpoint can take it and a resume can put it back.
class Trainer {
 public:
  Trainer(const CompiledModel& model, const DataView& fit, const DataView& val, const DataView& test,
          const TrialSettings& settings, const TrialCallbacks& callbacks, BatchIterator& iterator)
      : model_(model), fit_(fit), val_(val), test_(test), settings_(settings), callbacks_(callbacks),
        iterator_(iterator), runner_(model.full), buffers_(model, *fit.data), inputs_(inputPointers(runner_, buffers_)),
        identity_(identityOf(model, fit, settings)), optimizer_(model.optimizer),
        dropout_seed_(deriveSeed(settings.seed, "dropout")),
        val_each_epoch_(settings.val_each_epoch || stopsOn("val.")),
        test_each_epoch_(settings.test_each_epoch || stopsOn("test.")) {
    if (model.remainder) tail_.emplace(model.remainder);
    if (model.classification) train_predictions_.resize(static_cast<size_t>(model.batch * model.output_width));
    startFresh();
    for (const auto& [name, value] : model.hyper_values) {
      runner_.setHyperparam(name, value);
      if (tail_) tail_->setHyperparam(name, value);
    }
  }

  TrialResult run() {
    if (!settings_.resume.empty() && !resume()) return finish();
    if (cursor_.stopped) outcome_.stopped_epoch = cursor_.epoch - 1;
    while (!cursor_.stopped && cursor_.epoch <= settings_.epochs) {
      if (!trainEpoch()) return finish();
      if (!endEpoch()) return finish();
    }
    finalResults();
    return finish();
  }

 private:
  void startFresh() {
    initializeParameters(runner_, model_.inits, settings_.seed);
    for (const MovingStats& stats : model_.moving_stats) {
      std::fill(runner_.state(stats.variance_state).begin(), runner_.state(stats.variance_state).end(), 1.0f);
    }
  }

  TrialResult finish() {
    outcome_.seconds = cursor_.seconds_before + secondsSince(start_);
    return std::move(outcome_);
  }

  // Continues from settings_.resume, or starts from scratch when it cannot be used.
  // False when the trial ended already (a pruner's verdict on a restored epoch).
  bool resume() {
    std::string problem;
    auto parsed = parseCheckpoint(settings_.resume);
    if (auto* error = std::get_if<CheckpointError>(&parsed)) problem = error->message;
    TrainerState* state = std::get_if<TrainerState>(&parsed);
    if (state != nullptr) problem = stateMismatch(*state, identity_, runner_, iterator_.batchesPerEpoch());
    if (!problem.empty()) {
      outcome_.resume_problem = problem;
      if (callbacks_.on_resume_rejected) callbacks_.on_resume_rejected(problem);
      return true;
    }
    outcome_.epochs = state->records;
    outcome_.resumed_epoch = state->completed_epochs;
    cursor_ = restoreState(*state, runner_);
    return !replayPruner();
  }

  // Asks should_prune about the restored epochs, as the interrupted run did; true when it
  // prunes one (the run was killed between that epoch's checkpoint and its verdict).
  bool replayPruner() {
    if (!callbacks_.should_prune) return false;
    for (size_t index = 0; index < outcome_.epochs.size(); ++index) {
      const EpochRecord& record = outcome_.epochs[index];
      if (!callbacks_.should_prune(record)) continue;
      outcome_.end = TrialEnd::kPruned;
      outcome_.failed_epoch = record.epoch;
      outcome_.final_metrics = record.metrics;
      outcome_.epochs.resize(index + 1);
      return true;
    }
    return false;
  }

  void checkpoint() {
    if (!callbacks_.on_checkpoint) return;
    if (sync_) sync_();
    Cursor now = cursor_;
    now.seconds_before += secondsSince(start_);
    if (now.batches_done > 0) now.epoch_seconds += secondsSince(epoch_start_);
    callbacks_.on_checkpoint(now.epoch - 1, serializeCheckpoint(snapshotOf(runner_, now, outcome_.epochs, identity_)));
    last_checkpoint_ = Clock::now();
  }

  bool midEpochCheckpointDue() const {
    return settings_.checkpoint_seconds > 0 && cursor_.batches_done < iterator_.batchesPerEpoch() &&
           secondsSince(last_checkpoint_) >= settings_.checkpoint_seconds;
  }

  // Copies the inputs of the batch nextBatch took without them.
  void fillInputs() {
    if (!inputs_stale_) return;
    if (iterator_.refillBatch(buffers_.spans()) < 0) throw std::logic_error("training buffers do not fit the batch");
    inputs_stale_ = false;
  }

  StepResult trainStep(int64_t rows) {
    // Dropout masks: a fresh seed per step, derived from the trial's seed.
    const uint64_t step_seed = deriveSeed(dropout_seed_, static_cast<uint64_t>(cursor_.step));
    // Classifiers hand back the batch's logits (before the update) for train.accuracy.
    float* predictions = train_predictions_.empty() ? nullptr : train_predictions_.data();
    if (rows == model_.batch) {
      runner_.setRngSeed(step_seed);
      StepResult result = runner_.trainStep(inputs_, optimizer_, predictions);
      if (result.status == kNnspecOk) updateMovingStats(runner_, model_.moving_stats);
      return result;
    }
    copyState(runner_, *tail_);
    tail_->setRngSeed(step_seed);
    StepResult result = tail_->trainStep(inputPointers(*tail_, buffers_), optimizer_, predictions);
    if (result.status == kNnspecOk) updateMovingStats(*tail_, model_.moving_stats);
    copyState(*tail_, runner_);
    return result;
  }

  // How many of the batch's `rows` the training pass classified right (the first maximum
  // of a row's logits is its prediction, as in evaluateModel).
  int64_t correctInBatch(int64_t rows) const {
    const int64_t width = model_.output_width;
    int64_t correct = 0;
    for (int64_t row = 0; row < rows; ++row) {
      const float* out = train_predictions_.data() + row * width;
      int64_t arg = 0;
      for (int64_t k = 1; k < width; ++k) {
        if (out[k] > out[arg]) arg = k;
      }
      correct += arg == buffers_.labels[static_cast<size_t>(row)] ? 1 : 0;
    }
    return correct;
  }

  bool stopsOn(const char* prefix) const {
    return settings_.stop && settings_.stop->metric.rfind(prefix, 0) == 0;
  }

  void fail(const StepResult& result) {
    const int64_t epoch = cursor_.epoch;
    outcome_.end = TrialEnd::kFailed;
    outcome_.failed_epoch = epoch;
    outcome_.reason = result.status == kNnspecBadLabel
                          ? fmt::format("a label outside the model's {} classes at epoch {}", model_.output_width, epoch)
                      : result.status != kNnspecOk
                          ? fmt::format("a runtime kernel failed at epoch {}", epoch)
                          : fmt::format("loss became {} at epoch {}, batch {}",
                                        std::isnan(result.total_loss) || std::isnan(result.data_loss) ? "nan" : "inf",
                                        epoch, cursor_.batches_done);
  }

  // Trains the rest of the epoch in progress (from a resumed position); false when the
  // trial ended (failed or stopped).
  bool trainEpoch() {
    beginEpoch();
    for (;;) {
      const int64_t rows = nextBatch();
      if (rows == kEnded) return false;
      if (rows == 0) return true;
      if (!acceptStep(trainStep(rows), rows)) return false;
      if (midEpochCheckpointDue()) checkpoint();
    }
  }

 public:
  // ---- the pieces of an epoch, for training several trials in one fused step ----------
  static constexpr int64_t kEnded = -1;

  // Continues from settings_.resume when given; false when the trial ended already.
  bool start() {
    if (!settings_.resume.empty() && !resume()) return false;
    if (cursor_.stopped) outcome_.stopped_epoch = cursor_.epoch - 1;
    return true;
  }
  // Whether epochs remain to train (not stopped early, not past the last).
  bool training() const { return !cursor_.stopped && cursor_.epoch <= settings_.epochs; }
  int64_t epoch() const { return cursor_.epoch; }
  int64_t batchesDone() const { return cursor_.batches_done; }

  void beginEpoch() {
    const int64_t epoch = cursor_.epoch;
    epoch_start_ = Clock::now();
    iterator_.startEpoch(epoch - 1);
    optimizer_.lr = static_cast<float>(scheduledLr(model_.schedule, model_.optimizer.lr, epoch - 1, settings_.epochs));
    // The epoch's order depends only on (seed, epoch): skipping the batches done finds the position.
    for (int64_t batch = 0; batch < cursor_.batches_done; ++batch) iterator_.nextBatch(BatchBuffers{});
  }

  // The next batch of the epoch into this trial's buffers, counted as a step: its rows,
  // 0 at the epoch's end, kEnded when should_stop ended the trial (checkpointed there) or
  // its time limit was reached. Without `with_inputs` only the labels or targets are
  // copied: a fused member whose step reads another member's batch of the same order
  // (ownStep and inputs() copy the rest when they need it).
  int64_t nextBatch(bool with_inputs = true) {
    if (callbacks_.should_stop && callbacks_.should_stop()) {
      checkpoint();  // where it stopped: whoever continues it starts here
      outcome_.end = TrialEnd::kStopped;
      outcome_.failed_epoch = cursor_.epoch;
      return kEnded;
    }
    if (settings_.time_limit_seconds > 0 &&
        cursor_.seconds_before + secondsSince(start_) >= settings_.time_limit_seconds) {
      outcome_.end = TrialEnd::kTimedOut;
      outcome_.failed_epoch = cursor_.epoch - 1;
      if (!outcome_.epochs.empty()) outcome_.final_metrics = outcome_.epochs.back().metrics;
      return kEnded;
    }
    BatchBuffers spans = buffers_.spans();
    if (!with_inputs) spans.x = {};
    const int64_t rows = iterator_.nextBatch(spans);
    inputs_stale_ = !with_inputs && rows > 0;
    if (rows == BatchIterator::kBuffersDoNotFit) throw std::logic_error("training buffers do not fit the batch");
    if (rows <= 0) return 0;
    if (settings_.kernel_threads) setTeamThreads(settings_.kernel_threads());
    ++cursor_.batches_done;
    optimizer_.step = ++cursor_.step;
    return rows;
  }

  // Accounts the step just trained on the batch of `rows`; false when it failed the trial.
  bool acceptStep(const StepResult& result, int64_t rows) {
    if (result.status != kNnspecOk || !std::isfinite(result.data_loss) || !std::isfinite(result.total_loss)) {
      fail(result);
      return false;
    }
    if (callbacks_.on_step) callbacks_.on_step(cursor_.epoch, cursor_.batches_done, result.data_loss);
    cursor_.loss_sum += static_cast<double>(result.data_loss) * static_cast<double>(rows);
    cursor_.seen += rows;
    if (!train_predictions_.empty() && cursor_.correct >= 0) cursor_.correct += correctInBatch(rows);
    if (callbacks_.on_batch) {
      callbacks_.on_batch(cursor_.epoch, cursor_.batches_done, iterator_.batchesPerEpoch(),
                          cursor_.loss_sum / static_cast<double>(cursor_.seen));
    }
    return true;
  }

  bool checkpointDue() const { return midEpochCheckpointDue(); }
  void checkpointNow() { checkpoint(); }
  // Ends the epoch trained (records, checkpoints, asks the pruner); false when pruned.
  bool closeEpoch() { return endEpoch(); }
  // After the last epoch: the final metrics; then the result.
  TrialResult conclude() {
    if (outcome_.end == TrialEnd::kFinished) finalResults();
    return finish();
  }

  // This trial's own step for a batch of `rows` (the partial last batch of a fused group).
  StepResult ownStep(int64_t rows) {
    fillInputs();
    return trainStep(rows);
  }
  // The seed of this step's dropout masks (equal for trials of one seed at one step).
  uint64_t stepSeed() const { return deriveSeed(dropout_seed_, static_cast<uint64_t>(cursor_.step)); }
  const NnspecOptimizerParams& optimizer() const { return optimizer_; }
  StepRunner& runner() { return runner_; }
  std::vector<const void*>& inputs() {
    fillInputs();
    return inputs_;
  }
  float* trainPredictions() { return train_predictions_.empty() ? nullptr : train_predictions_.data(); }
  const CompiledModel& model() const { return model_; }
  // Called before a checkpoint reads the runner: a fused group copies the trial's
  // parameters back from the fused step first.
  void setSync(std::function<void()> sync) { sync_ = std::move(sync); }

 private:
  // The epoch's training-pass metrics, and the held-out splits evaluated every epoch.
  EpochRecord evaluateEpoch() {
    EpochRecord record;
    record.epoch = cursor_.epoch;
    const double seen = static_cast<double>(std::max<int64_t>(cursor_.seen, 1));
    record.metrics["train.loss"] = cursor_.loss_sum / seen;
    if (!train_predictions_.empty() && cursor_.correct >= 0 && cursor_.seen > 0) {
      const double accuracy = static_cast<double>(cursor_.correct) / seen;
      record.metrics["train.accuracy"] = accuracy;
      record.metrics["train.error"] = 1.0 - accuracy;
    }
    if (!model_.schedule.constant()) record.metrics["lr"] = optimizer_.lr;
    if (settings_.evaluate && val_each_epoch_) addMetrics(record, val_, "val");
    if (settings_.evaluate && val_.empty() && test_each_epoch_) addMetrics(record, test_, "test");
    return record;
  }

  void addMetrics(EpochRecord& record, const DataView& view, const std::string& prefix) {
    for (const auto& [name, value] : evaluateModel(model_, runner_, view, prefix, nullptr, settings_.extra_metrics))
      record.metrics[name] = value;
  }

  // Early stopping: whether `record` ends the trial.
  bool noImprovement(const EpochRecord& record) {
    if (!settings_.stop) return false;
    const auto it = record.metrics.find(settings_.stop->metric);
    if (it == record.metrics.end()) return false;
    const bool maximize = maximized(settings_.stop->metric);
    if (record.epoch == 1 || improved(it->second, cursor_.best, settings_.stop->tol, maximize)) {
      cursor_.best = it->second;
      cursor_.since_best = 0;
      return false;
    }
    return ++cursor_.since_best >= settings_.stop->patience;
  }

  // Records the epoch just trained, checkpoints, and asks the pruner; false when the trial
  // ended (pruned).
  bool endEpoch() {
    EpochRecord record = evaluateEpoch();
    cursor_.stopped = noImprovement(record);
    // The last epoch's record holds val (the final metrics, selection and tables use it).
    const bool last = cursor_.stopped || record.epoch >= settings_.epochs;
    if (settings_.evaluate && last && !val_each_epoch_) addMetrics(record, val_, "val");
    record.seconds = cursor_.epoch_seconds + secondsSince(epoch_start_);
    outcome_.epochs.push_back(record);
    cursor_.epoch = record.epoch + 1;
    cursor_.batches_done = 0;
    cursor_.loss_sum = 0;
    cursor_.seen = 0;
    cursor_.correct = 0;
    cursor_.epoch_seconds = 0;
    if (callbacks_.on_epoch) callbacks_.on_epoch(record, settings_.epochs);
    if (settings_.epoch_checkpoint_seconds <= 0 || secondsSince(last_checkpoint_) >= settings_.epoch_checkpoint_seconds) {
      checkpoint();
    }
    if (callbacks_.should_prune && callbacks_.should_prune(record)) {
      outcome_.end = TrialEnd::kPruned;
      outcome_.failed_epoch = record.epoch;
      outcome_.final_metrics = record.metrics;
      return false;
    }
    if (cursor_.stopped) outcome_.stopped_epoch = record.epoch;
    return true;
  }

  void finalResults() {
    outcome_.final_metrics = outcome_.epochs.back().metrics;
    // Test once, on the final model (the last epoch's record may hold it already).
    const bool tested = outcome_.final_metrics.count("test.loss") != 0;
    if (settings_.evaluate && (!tested || settings_.keep_test_predictions)) {
      std::vector<float>* kept = settings_.keep_test_predictions ? &outcome_.test_predictions : nullptr;
      for (const auto& [name, value] : evaluateModel(model_, runner_, test_, "test", kept, settings_.extra_metrics)) {
        outcome_.final_metrics[name] = value;
      }
    }
    if (settings_.keep_val_predictions) evaluateModel(model_, runner_, val_, "val", &outcome_.val_predictions);
    if (!settings_.keep_parameters) return;
    const auto& slots = runner_.layout().parameters;
    for (size_t index = 0; index < slots.size(); ++index) {
      outcome_.parameters.push_back({slots[index].name, slots[index].type.shape, runner_.parameter(index)});
    }
    const auto& states = runner_.layout().states;
    for (size_t index = 0; index < states.size(); ++index) {
      outcome_.states.push_back({states[index].name, states[index].type.shape, runner_.state(index)});
    }
  }

  const CompiledModel& model_;
  const DataView& fit_;
  const DataView& val_;
  const DataView& test_;
  const TrialSettings& settings_;
  const TrialCallbacks& callbacks_;
  BatchIterator& iterator_;
  StepRunner runner_;
  std::optional<StepRunner> tail_;
  Buffers buffers_;
  std::vector<const void*> inputs_;  // runner_'s, into buffers_
  bool inputs_stale_ = false;        // buffers_.x is not the current batch's (nextBatch(false))
  const CheckpointIdentity identity_;
  NnspecOptimizerParams optimizer_;
  const uint64_t dropout_seed_;
  const bool val_each_epoch_;
  const bool test_each_epoch_;
  std::vector<float> train_predictions_;  // classifiers: the logits of the batch trained last
  Cursor cursor_;
  std::function<void()> sync_;
  TrialResult outcome_;
  const Clock::time_point start_ = Clock::now();
  Clock::time_point epoch_start_ = Clock::now();
  Clock::time_point last_checkpoint_ = Clock::now();
};

}  // namespace

// Copies one trial's parameters and optimizer state between its own runner and its point
// of a fused step's runner (parameters named NAME#point there).
class PointSlots {
 public:
  PointSlots(const StepLayout& own, const StepLayout& fused, int point) {
    for (const LeafSlot& slot : own.parameters) {
      const std::string name = slot.name + "#" + std::to_string(point);
      size_t index = 0;
      while (index < fused.parameters.size() && fused.parameters[index].name != name) ++index;
      if (index == fused.parameters.size()) throw std::logic_error("the fused step has no parameter " + name);
      fused_index_.push_back(index);
    }
    slots_ = own.state_slots;
  }

  void push(StepRunner& own, StepRunner& fused) const {
    for (size_t index = 0; index < fused_index_.size(); ++index) {
      fused.parameter(fused_index_[index]) = own.parameter(index);
      for (int slot = 0; slot < slots_; ++slot)
        fused.optimizerState(slot, fused_index_[index]) = own.optimizerState(slot, index);
    }
  }

  void pull(StepRunner& fused, StepRunner& own) const {
    for (size_t index = 0; index < fused_index_.size(); ++index) {
      own.parameter(index) = fused.parameter(fused_index_[index]);
      for (int slot = 0; slot < slots_; ++slot)
        own.optimizerState(slot, index) = fused.optimizerState(slot, fused_index_[index]);
    }
  }

 private:
  std::vector<size_t> fused_index_;  // per own parameter
  int slots_ = 0;
};

// Puts this thread's kernel width back to one when a trial ends, however it ends.
struct TeamWidthReset {
  ~TeamWidthReset() { setTeamThreads(1); }
};

uint64_t batchSeed(const TrialSettings& settings) {
  return settings.data_seed != 0 ? settings.data_seed : deriveSeed(settings.seed, "batches");
}

TrialResult runTrial(const CompiledModel& model, const DataView& fit, const DataView& val, const DataView& test,
                     const TrialSettings& settings, const TrialCallbacks& callbacks) {
  const TeamWidthReset reset_width;
  auto batches = makeBatchIterator(*fit.data, fit.indices, BatchOptions{model.batch, settings.shuffle, batchSeed(settings)});
  if (!batches.ok()) {
    TrialResult outcome;
    outcome.end = TrialEnd::kFailed;
    outcome.reason = batches.error().message;
    return outcome;
  }
  Trainer trainer(model, fit, val, test, settings, callbacks, batches.value());
  return trainer.run();
}

GroupRun runTrialGroup(std::shared_ptr<const CompiledStep> fused, const std::vector<int>& input_classes,
                       const std::vector<GroupMember>& members) {
  const TeamWidthReset reset_width;
  GroupRun run;
  const size_t count = members.size();
  if (fused == nullptr || fused->layout.points != static_cast<int>(count))
    throw std::invalid_argument("runTrialGroup: the fused step does not train " + std::to_string(count) + " points");
  size_t classes = 0;
  for (int input_class : input_classes) {
    if (input_class < 0 || static_cast<size_t>(input_class) > classes)
      throw std::invalid_argument("runTrialGroup: input classes must be numbered in order of first use");
    classes = std::max(classes, static_cast<size_t>(input_class) + 1);
  }
  if (input_classes.size() != count || fused->layout.inputs.size() % classes != 0)
    throw std::invalid_argument("runTrialGroup: one input class per member, as the step was compiled");
  // A class's members read its first member's batches: they must be drawn alike.
  for (size_t point = 0; point < count; ++point) {
    const GroupMember& member = members[point];
    const auto first = std::find(input_classes.begin(), input_classes.end(), input_classes[point]);
    const GroupMember& reader = members[static_cast<size_t>(first - input_classes.begin())];
    if (member.fit.data != reader.fit.data || member.fit.indices != reader.fit.indices ||
        batchSeed(member.settings) != batchSeed(reader.settings) || member.settings.shuffle != reader.settings.shuffle)
      throw std::invalid_argument("runTrialGroup: member " + std::to_string(point) +
                                  " is in an input class with a member whose batches are drawn differently");
  }
  std::vector<BatchIterator> iterators;
  iterators.reserve(count);
  for (const GroupMember& member : members) {
    auto batches = makeBatchIterator(*member.fit.data, member.fit.indices,
                                     BatchOptions{member.model->batch, member.settings.shuffle, batchSeed(member.settings)});
    if (!batches.ok()) {
      // The members share their data's shape: train each alone, where the error is reported.
      for (const GroupMember& alone : members)
        run.results.push_back(runTrial(*alone.model, alone.fit, alone.val, alone.test, alone.settings, alone.callbacks));
      return run;
    }
    iterators.push_back(std::move(batches.value()));
  }
  std::vector<std::unique_ptr<Trainer>> trainers;
  for (size_t point = 0; point < count; ++point) {
    const GroupMember& member = members[point];
    trainers.push_back(std::make_unique<Trainer>(*member.model, member.fit, member.val, member.test, member.settings,
                                                 member.callbacks, iterators[point]));
  }
  std::vector<bool> active(count, true);
  for (size_t point = 0; point < count; ++point) active[point] = trainers[point]->start() && trainers[point]->training();
  // Members continue together only from one position (a resumed member may stand
  // elsewhere): the others train alone, after the group.
  int64_t epoch = 0;
  int64_t batches_done = 0;
  std::vector<bool> alone(count, false);
  for (size_t point = 0; point < count; ++point) {
    if (!active[point]) continue;
    if (epoch == 0) {
      epoch = trainers[point]->epoch();
      batches_done = trainers[point]->batchesDone();
    } else if (trainers[point]->epoch() != epoch || trainers[point]->batchesDone() != batches_done) {
      alone[point] = true;
      active[point] = false;
    }
  }
  StepRunner group(fused);
  std::vector<PointSlots> slots;
  for (size_t point = 0; point < count; ++point) {
    slots.emplace_back(members[point].model->full->layout, fused->layout, static_cast<int>(point));
    slots[point].push(trainers[point]->runner(), group);
    trainers[point]->setSync([&group, &slots, &trainers, point] { slots[point].pull(group, trainers[point]->runner()); });
    for (const auto& [name, value] : members[point].model->hyper_values)
      group.setHyperparam(name + "#" + std::to_string(point), value);
  }
  const int64_t full_batch = members[0].model->batch;
  std::vector<float> predictions(static_cast<size_t>(fused->layout.predictionFloats()));
  const int64_t prediction_block = fused->layout.prediction_rows * fused->layout.prediction_width;
  std::vector<NnspecOptimizerParams> opts(count);
  std::vector<uint64_t> seeds(count);
  std::vector<uint8_t> training(count);
  std::vector<const void*> inputs(fused->layout.inputs.size(), nullptr);
  std::vector<bool> gathered(classes, false);
  const size_t per_class_inputs = inputs.size() / classes;
  auto anyActive = [&] { return std::find(active.begin(), active.end(), true) != active.end(); };
  // The fused step skips the points that left (NnspecStepArgs::point_active), but its
  // shared GEMMs lose their width and its fixed costs stay: once at most half of the
  // points are still training, each goes on with its own step (the one it trains with
  // alone, so its numbers do not change), and the group's parameters stay where the last
  // fused step left them.
  bool dissolved = false;
  auto dissolveWhenHalfLeft = [&] {
    if (dissolved || 2 * static_cast<size_t>(std::count(active.begin(), active.end(), true)) > count) return;
    dissolved = true;
    for (size_t point = 0; point < count; ++point) {
      trainers[point]->setSync(nullptr);
      if (active[point]) slots[point].pull(group, trainers[point]->runner());
    }
  };
  while (anyActive()) {
    for (size_t point = 0; point < count; ++point)
      if (active[point]) trainers[point]->beginEpoch();
    bool epoch_over = false;
    while (!epoch_over && anyActive()) {
      dissolveWhenHalfLeft();
      std::vector<int64_t> rows(count, 0);
      int64_t step_rows = -1;
      // A class's members read one batch: only the first still training copies its
      // inputs (the others take their labels, for train.accuracy).
      std::fill(gathered.begin(), gathered.end(), false);
      for (size_t point = 0; point < count; ++point) {
        if (!active[point]) continue;
        const size_t input_class = static_cast<size_t>(input_classes[point]);
        rows[point] = trainers[point]->nextBatch(dissolved || !gathered[input_class]);
        if (rows[point] > 0) gathered[input_class] = true;
        if (rows[point] == Trainer::kEnded) {
          active[point] = false;  // stopped: checkpointed where it stood
          continue;
        }
        if (step_rows < 0) step_rows = rows[point];
        if (rows[point] != step_rows) throw std::logic_error("fused trials disagree on the batch size");
      }
      if (step_rows <= 0) {
        epoch_over = true;
        break;
      }
      if (dissolved) {
        for (size_t point = 0; point < count; ++point) {
          if (!active[point]) continue;
          Trainer& trainer = *trainers[point];
          ++run.own_steps;
          if (!trainer.acceptStep(trainer.ownStep(step_rows), step_rows)) {
            active[point] = false;
            continue;
          }
          if (trainer.checkpointDue()) trainer.checkpointNow();
        }
        continue;
      }
      if (step_rows != full_batch) {
        // The partial last batch: each member's own step for that size.
        for (size_t point = 0; point < count; ++point) {
          if (!active[point]) continue;
          Trainer& trainer = *trainers[point];
          slots[point].pull(group, trainer.runner());
          const bool ok = trainer.acceptStep(trainer.ownStep(step_rows), step_rows);
          slots[point].push(trainer.runner(), group);
          if (!ok) active[point] = false;
        }
        continue;
      }
      // One fused step: each class reads the batch of its first member still training;
      // a class whose members all left reads a training member's batch (its results are
      // not read).
      size_t source = 0;
      while (!active[source]) ++source;
      std::fill(inputs.begin(), inputs.end(), nullptr);
      for (size_t point = 0; point < count; ++point) {
        opts[point] = trainers[point]->optimizer();
        const size_t input_class = static_cast<size_t>(input_classes[point]);
        if (!active[point] || inputs[input_class * per_class_inputs] != nullptr) continue;
        for (size_t slot = 0; slot < per_class_inputs; ++slot)
          inputs[input_class * per_class_inputs + slot] = trainers[point]->inputs()[slot];
      }
      for (size_t input_class = 0; input_class < classes; ++input_class) {
        if (inputs[input_class * per_class_inputs] != nullptr) continue;
        for (size_t slot = 0; slot < per_class_inputs; ++slot)
          inputs[input_class * per_class_inputs + slot] = trainers[source]->inputs()[slot];
      }
      for (size_t point = 0; point < count; ++point) {
        seeds[point] = trainers[point]->stepSeed();
        training[point] = active[point] ? 1 : 0;
      }
      group.setPointSeeds(seeds);
      group.setPointActive(training);
      const std::vector<StepResult> results = group.trainStepPoints(inputs, opts, predictions.data());
      ++run.fused_steps;
      for (size_t point = 0; point < count; ++point) {
        if (!active[point]) continue;
        Trainer& trainer = *trainers[point];
        if (float* own = trainer.trainPredictions()) {
          std::copy_n(predictions.begin() + static_cast<int64_t>(point) * prediction_block, prediction_block, own);
        }
        if (!trainer.acceptStep(results[point], step_rows)) {
          active[point] = false;
          continue;
        }
        if (trainer.checkpointDue()) trainer.checkpointNow();
      }
    }
    for (size_t point = 0; point < count; ++point) {
      if (!active[point]) continue;
      Trainer& trainer = *trainers[point];
      if (!dissolved) slots[point].pull(group, trainer.runner());
      if (!trainer.closeEpoch() || !trainer.training()) active[point] = false;
    }
  }
  for (size_t point = 0; point < count; ++point) {
    if (alone[point]) {
      const GroupMember& member = members[point];
      run.results.push_back(runTrial(*member.model, member.fit, member.val, member.test, member.settings, member.callbacks));
      continue;
    }
    run.results.push_back(trainers[point]->conclude());
  }
  return run;
}

}  // namespace nnspec::rt
