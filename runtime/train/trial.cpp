#include "runtime/train/trial.h"

#include <chrono>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "runtime/pipeline/batches.h"
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

bool improved(double value, double best, double tol, bool maximize) {
  return maximize ? value > best + tol : value < best - tol;
}

bool maximized(const std::string& metric) {
  return metric.find("accuracy") != std::string::npos;
}

}  // namespace

std::map<std::string, double> evaluateModel(const CompiledModel& model, StepRunner& runner, const DataView& view,
                                            const std::string& prefix, std::vector<float>* kept) {
  std::map<std::string, double> metrics;
  if (view.empty()) return metrics;
  auto iterator = makeEvaluationIterator(*view.data, view.indices, model.batch);
  if (!iterator.ok()) return metrics;
  Buffers buffers(model, *view.data);
  std::vector<float> predictions(static_cast<size_t>(model.batch * model.output_width));
  const auto inputs = inputPointers(runner, buffers);
  iterator.value().startEpoch(0);
  double loss_sum = 0;
  double absolute_sum = 0;  // regression: mean absolute error
  int64_t correct = 0;
  int64_t seen = 0;
  const int64_t width = model.output_width;
  for (;;) {
    std::fill(buffers.labels.begin(), buffers.labels.end(), 0);
    const int64_t rows = iterator.value().nextBatch(buffers.spans());
    if (rows == BatchIterator::kBuffersDoNotFit) throw std::logic_error("evaluation buffers do not fit the batch");
    if (rows <= 0) break;
    runner.forward(inputs, predictions.data());
    if (kept != nullptr) kept->insert(kept->end(), predictions.begin(), predictions.begin() + rows * model.output_width);
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
  return metrics;
}

TrialResult runTrial(const CompiledModel& model, const DataView& fit, const DataView& val, const DataView& test,
                      const TrialSettings& settings, const TrialCallbacks& callbacks) {
  const auto start = Clock::now();
  TrialResult outcome;
  StepRunner runner(model.full);
  std::optional<StepRunner> tail;
  if (model.remainder) tail.emplace(model.remainder);
  initializeParameters(runner, model.inits, settings.seed);
  for (const MovingStats& stats : model.moving_stats) {
    std::fill(runner.state(stats.variance_state).begin(), runner.state(stats.variance_state).end(), 1.0f);
  }
  for (const auto& [name, value] : model.hyper_values) {
    runner.setHyperparam(name, value);
    if (tail) tail->setHyperparam(name, value);
  }
  auto batches = makeBatchIterator(*fit.data, fit.indices,
                                   BatchOptions{model.batch, settings.shuffle, deriveSeed(settings.seed, "batches")});
  if (!batches.ok()) {
    outcome.end = TrialEnd::kFailed;
    outcome.reason = batches.error().message;
    return outcome;
  }
  BatchIterator& iterator = batches.value();
  Buffers buffers(model, *fit.data);
  const auto inputs = inputPointers(runner, buffers);
  NnspecOptimizerParams optimizer = model.optimizer;
  const uint64_t dropout_seed = deriveSeed(settings.seed, "dropout");
  int32_t step = 0;
  double best = 0;
  int64_t since_best = 0;
  for (int64_t epoch = 1; epoch <= settings.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    iterator.startEpoch(epoch - 1);
    optimizer.lr = static_cast<float>(scheduledLr(model.schedule, model.optimizer.lr, epoch - 1, settings.epochs));
    double loss_sum = 0;
    int64_t seen = 0;
    int64_t batch_number = 0;
    for (;;) {
      if (callbacks.should_stop && callbacks.should_stop()) {
        outcome.end = TrialEnd::kStopped;
        outcome.failed_epoch = epoch;
        outcome.seconds = secondsSince(start);
        return outcome;
      }
      const int64_t rows = iterator.nextBatch(buffers.spans());
      if (rows == BatchIterator::kBuffersDoNotFit) throw std::logic_error("training buffers do not fit the batch");
      if (rows <= 0) break;
      ++batch_number;
      optimizer.step = ++step;
      // Dropout masks: a fresh seed per step, derived from the trial's seed.
      const uint64_t step_seed = deriveSeed(dropout_seed, static_cast<uint64_t>(step));
      StepResult result;
      if (rows == model.batch) {
        runner.setRngSeed(step_seed);
        result = runner.trainStep(inputs, optimizer);
        if (result.status == kNnspecOk) updateMovingStats(runner, model.moving_stats);
      } else {
        copyState(runner, *tail);
        tail->setRngSeed(step_seed);
        result = tail->trainStep(inputPointers(*tail, buffers), optimizer);
        if (result.status == kNnspecOk) updateMovingStats(*tail, model.moving_stats);
        copyState(*tail, runner);
      }
      if (result.status != kNnspecOk || !std::isfinite(result.data_loss) || !std::isfinite(result.total_loss)) {
        outcome.end = TrialEnd::kFailed;
        outcome.failed_epoch = epoch;
        outcome.reason = result.status == kNnspecBadLabel
                             ? fmt::format("a label outside the model's {} classes at epoch {}", model.output_width, epoch)
                         : result.status != kNnspecOk
                             ? fmt::format("a runtime kernel failed at epoch {}", epoch)
                             : fmt::format("loss became {} at epoch {}, batch {}",
                                           std::isnan(result.total_loss) || std::isnan(result.data_loss) ? "nan" : "inf",
                                           epoch, batch_number);
        outcome.seconds = secondsSince(start);
        return outcome;
      }
      loss_sum += static_cast<double>(result.data_loss) * static_cast<double>(rows);
      seen += rows;
      if (callbacks.on_batch) {
        callbacks.on_batch(epoch, batch_number, iterator.batchesPerEpoch(), loss_sum / static_cast<double>(seen));
      }
    }
    EpochRecord record;
    record.epoch = epoch;
    record.metrics["train.loss"] = loss_sum / static_cast<double>(std::max<int64_t>(seen, 1));
    if (!model.schedule.constant()) record.metrics["lr"] = optimizer.lr;
    if (model.classification && settings.evaluate) {
      for (const auto& [name, value] : evaluateModel(model, runner, fit, "train")) {
        if (name != "train.loss") record.metrics[name] = value;
      }
    }
    if (settings.evaluate) {
      for (const auto& [name, value] : evaluateModel(model, runner, val, "val")) record.metrics[name] = value;
    }
    if (val.empty() && settings.evaluate) {
      for (const auto& [name, value] : evaluateModel(model, runner, test, "test")) record.metrics[name] = value;
    }
    record.seconds = secondsSince(epoch_start);
    outcome.epochs.push_back(record);
    if (callbacks.on_epoch) callbacks.on_epoch(record, settings.epochs);
    if (callbacks.should_prune && callbacks.should_prune(record)) {
      outcome.end = TrialEnd::kPruned;
      outcome.failed_epoch = epoch;
      outcome.final_metrics = record.metrics;
      outcome.seconds = secondsSince(start);
      return outcome;
    }
    if (settings.stop) {
      const auto it = record.metrics.find(settings.stop->metric);
      if (it != record.metrics.end()) {
        const bool maximize = maximized(settings.stop->metric);
        if (epoch == 1 || improved(it->second, best, settings.stop->tol, maximize)) {
          best = it->second;
          since_best = 0;
        } else if (++since_best >= settings.stop->patience) {
          outcome.stopped_epoch = epoch;
          break;
        }
      }
    }
  }
  outcome.final_metrics = outcome.epochs.back().metrics;
  if (settings.evaluate) {
    std::vector<float>* kept = settings.keep_test_predictions ? &outcome.test_predictions : nullptr;
    for (const auto& [name, value] : evaluateModel(model, runner, test, "test", kept)) {
      outcome.final_metrics[name] = value;
    }
  }
  if (settings.keep_val_predictions) evaluateModel(model, runner, val, "val", &outcome.val_predictions);
  if (settings.keep_parameters) {
    const auto& slots = runner.layout().parameters;
    for (size_t index = 0; index < slots.size(); ++index) {
      outcome.parameters.push_back({slots[index].name, slots[index].type.shape, runner.parameter(index)});
    }
    const auto& states = runner.layout().states;
    for (size_t index = 0; index < states.size(); ++index) {
      outcome.states.push_back({states[index].name, states[index].type.shape, runner.state(index)});
    }
  }
  outcome.seconds = secondsSince(start);
  return outcome;
}

}  // namespace nnspec::rt
