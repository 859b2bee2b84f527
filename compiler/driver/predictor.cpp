#include "compiler/api/trained_model.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "compiler/driver/run.h"
#include "runtime/exec/step_runner.h"
#include "runtime/train/trial.h"

namespace nnspec::api {

struct TrainedModel::Compiled {
  rt::CompiledModel model;
  std::vector<rt::KeptParameter> parameters;
  std::vector<rt::KeptParameter> states;
};

std::shared_ptr<const TrainedModel> TrainedModel::fromTrial(const driver::TrainedTrial& trial,
                                                            std::shared_ptr<jit::JitCompiler> jit) {
  auto kept = std::make_shared<TrainedModel>(Key{});
  kept->sweep_ = trial.sweep;
  kept->point_ = trial.point;
  kept->fold_ = trial.fold;
  kept->replicate_ = trial.replicate;
  kept->metrics_ = trial.result->final_metrics;
  kept->jit_ = std::move(jit);
  kept->compiled_ = std::make_unique<Compiled>(Compiled{*trial.model, trial.result->parameters, trial.result->states});
  return kept;
}

TrainedModel::TrainedModel(Key) {}
TrainedModel::~TrainedModel() = default;

int64_t TrainedModel::inputWidth() const { return compiled_->model.features; }
int64_t TrainedModel::outputWidth() const { return compiled_->model.output_width; }
bool TrainedModel::classifier() const { return compiled_->model.classification; }

namespace {

int64_t elementCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (const int64_t extent : shape) count *= extent;
  return count;
}

// Softmax of one row of logits, in double precision like the trainer's metrics.
void softmaxRow(const float* logits, int64_t width, float* out) {
  const double top = *std::max_element(logits, logits + width);
  double sum = 0;
  for (int64_t k = 0; k < width; ++k) sum += std::exp(static_cast<double>(logits[k]) - top);
  for (int64_t k = 0; k < width; ++k) out[k] = static_cast<float>(std::exp(static_cast<double>(logits[k]) - top) / sum);
}

}  // namespace

// The full-batch step with the trained leaves copied in; one buffer per step input (the
// images, and zeros for labels or targets: forward computes the loss too).
struct Predictor::Runner {
  explicit Runner(const TrainedModel::Compiled& compiled) : runner(compiled.model.full) {
    for (const auto& parameter : compiled.parameters) runner.parameter(parameter.name) = parameter.values;
    for (const auto& state : compiled.states) runner.state(state.name) = state.values;
    for (const auto& [name, value] : compiled.model.hyper_values) runner.setHyperparam(name, value);
    for (const auto& slot : runner.layout().inputs) {
      if (slot.name == "x") x_slot = inputs.size();
      // Labels are int32 and targets float: 4 bytes each, and all-zero bits are 0 in both.
      inputs.emplace_back(static_cast<size_t>(elementCount(slot.type.shape)), 0.0f);
    }
    for (auto& buffer : inputs) pointers.push_back(buffer.data());
    predictions.resize(static_cast<size_t>(runner.layout().predictionFloats()));
  }

  rt::StepRunner runner;
  std::vector<std::vector<float>> inputs;
  std::vector<const void*> pointers;
  size_t x_slot = 0;
  std::vector<float> predictions;
};

Predictor::Predictor(std::shared_ptr<const TrainedModel> model) : model_(std::move(model)) {}

Predictor::~Predictor() = default;

std::string Predictor::predict(const float* in, int64_t rows, float* out) {
  const rt::CompiledModel& model = model_->compiled().model;
  if (!runner_) runner_ = std::make_unique<Runner>(model_->compiled());
  const int64_t batch = model.batch;
  const int64_t features = model.features;
  const int64_t width = model.output_width;
  std::vector<float>& x = runner_->inputs.at(runner_->x_slot);
  if (static_cast<int64_t>(x.size()) != batch * features ||
      static_cast<int64_t>(runner_->predictions.size()) != batch * width) {
    return fmt::format("internal error: the step's buffers ({} inputs, {} outputs) do not fit batch {}", x.size(),
                       runner_->predictions.size(), batch);
  }
  // Forward is row-independent (dropout is the identity, batch norm uses its moving
  // statistics), so the last chunk is padded with zero rows.
  for (int64_t first = 0; first < rows; first += batch) {
    const int64_t chunk = std::min(batch, rows - first);
    std::copy(in + first * features, in + (first + chunk) * features, x.begin());
    std::fill(x.begin() + chunk * features, x.end(), 0.0f);
    const rt::StepResult result = runner_->runner.forward(runner_->pointers, runner_->predictions.data());
    if (result.status != kNnspecOk) return fmt::format("the model's forward step failed (status {})", result.status);
    for (int64_t row = 0; row < chunk; ++row) {
      const float* logits = runner_->predictions.data() + row * width;
      float* target = out + (first + row) * width;
      if (model.classification) {
        softmaxRow(logits, width, target);
      } else {
        std::copy(logits, logits + width, target);
      }
    }
  }
  return "";
}

}  // namespace nnspec::api
