#include "compiler/driver/predictor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "compiler/driver/materialize.h"
#include "compiler/driver/run.h"
#include "runtime/exec/step_runner.h"
#include "runtime/pipeline/transforms.h"
#include "runtime/store/store.h"
#include "runtime/train/trial.h"

namespace nnspec::driver {

struct TrainedModel::Compiled {
  rt::CompiledModel model;
  std::vector<rt::KeptParameter> parameters;
  std::vector<rt::KeptParameter> states;
  std::optional<rt::FeatureStats> standardize;  // applied to the rows before the forward step
};

namespace {

int64_t elementCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (const int64_t extent : shape) count *= extent;
  return count;
}

std::string formatShape(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// The stored tensors of each of `slots` (the step's parameters or states), in layout
// order; "" or what does not fit.
std::string matchTensors(const std::vector<rt::LeafSlot>& slots, const std::vector<rt::StoredTensor>& tensors,
                         bool state, std::vector<rt::KeptParameter>* out) {
  for (const auto& slot : slots) {
    const auto it = std::find_if(tensors.begin(), tensors.end(), [&](const rt::StoredTensor& tensor) {
      return tensor.name == slot.name && tensor.state == state;
    });
    if (it == tensors.end()) {
      return fmt::format("the stored weights have no {} '{}' of the model", state ? "state" : "parameter", slot.name);
    }
    if (elementCount(it->shape) != elementCount(slot.type.shape) ||
        static_cast<int64_t>(it->values.size()) != elementCount(it->shape)) {
      return fmt::format("the stored '{}' is {}, the model's is {}", slot.name, formatShape(it->shape),
                         formatShape(slot.type.shape));
    }
    out->push_back({it->name, it->shape, it->values});
  }
  return "";
}

// The statistics a standardized trial kept with its states ("" when it has none), or
// what does not fit the model's input width.
std::string takeStandardize(const std::vector<rt::KeptParameter>& states, int64_t features,
                            std::optional<rt::FeatureStats>* out) {
  const auto find = [&](const char* name) {
    return std::find_if(states.begin(), states.end(), [&](const rt::KeptParameter& state) { return state.name == name; });
  };
  const auto mean = find(kStandardizeMean);
  const auto stddev = find(kStandardizeStddev);
  if (mean == states.end() && stddev == states.end()) return "";
  if (mean == states.end() || stddev == states.end() || static_cast<int64_t>(mean->values.size()) != features ||
      stddev->values.size() != mean->values.size()) {
    return fmt::format("the stored standardize statistics do not fit the model's {} inputs", features);
  }
  *out = rt::FeatureStats{mean->values, stddev->values};
  return "";
}

int64_t argmaxOf(const float* row, int64_t width) {
  return static_cast<int64_t>(std::max_element(row, row + width) - row);
}

}  // namespace

void softmaxRow(const float* logits, int64_t width, float* out) {
  const double top = *std::max_element(logits, logits + width);
  double sum = 0;
  for (int64_t k = 0; k < width; ++k) sum += std::exp(static_cast<double>(logits[k]) - top);
  for (int64_t k = 0; k < width; ++k) out[k] = static_cast<float>(std::exp(static_cast<double>(logits[k]) - top) / sum);
}

std::shared_ptr<const TrainedModel> TrainedModel::fromTrial(const TrainedTrial& trial,
                                                            std::shared_ptr<jit::JitCompiler> jit) {
  auto kept = std::make_shared<TrainedModel>(Key{});
  kept->origin_ = ModelOrigin{trial.sweep, trial.point, trial.fold, trial.replicate, 0, trial.result->final_metrics};
  kept->jit_ = std::move(jit);
  auto compiled = std::make_unique<Compiled>(Compiled{*trial.model, trial.result->parameters, {}, std::nullopt});
  for (const auto& state : trial.result->states) {
    if (state.name != kStandardizeMean && state.name != kStandardizeStddev) compiled->states.push_back(state);
  }
  // The run stored these itself, so they fit.
  takeStandardize(trial.result->states, trial.model->features, &compiled->standardize);
  kept->compiled_ = std::move(compiled);
  return kept;
}

std::variant<std::shared_ptr<const TrainedModel>, std::string> TrainedModel::fromTensors(
    ModelOrigin origin, const rt::CompiledModel& model, const std::vector<rt::StoredTensor>& tensors,
    std::shared_ptr<jit::JitCompiler> jit) {
  auto compiled = std::make_unique<Compiled>(Compiled{model, {}, {}, std::nullopt});
  const rt::StepLayout& layout = model.full->layout;
  if (std::string problem = matchTensors(layout.parameters, tensors, false, &compiled->parameters); !problem.empty()) {
    return problem;
  }
  if (std::string problem = matchTensors(layout.states, tensors, true, &compiled->states); !problem.empty()) {
    return problem;
  }
  std::vector<rt::KeptParameter> stored_states;
  for (const auto& tensor : tensors) {
    if (tensor.state) stored_states.push_back({tensor.name, tensor.shape, tensor.values});
  }
  if (std::string problem = takeStandardize(stored_states, model.features, &compiled->standardize); !problem.empty()) {
    return problem;
  }
  auto kept = std::make_shared<TrainedModel>(Key{});
  kept->origin_ = std::move(origin);
  kept->jit_ = std::move(jit);
  kept->compiled_ = std::move(compiled);
  return std::shared_ptr<const TrainedModel>(std::move(kept));
}

TrainedModel::TrainedModel(Key) {}
TrainedModel::~TrainedModel() = default;

int64_t TrainedModel::inputWidth() const { return compiled_->model.features; }
int64_t TrainedModel::outputWidth() const { return compiled_->model.output_width; }
bool TrainedModel::classifier() const { return compiled_->model.classification; }

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

Predictor::Predictor(std::shared_ptr<const TrainedModel> model) : members_{std::move(model)} { runners_.resize(1); }

Predictor::Predictor(std::vector<std::shared_ptr<const TrainedModel>> members, rt::EnsembleKind kind)
    : members_(std::move(members)), kind_(members_.size() > 1 ? kind : rt::EnsembleKind::kNone) {
  runners_.resize(members_.size());
}

Predictor::~Predictor() = default;

std::string Predictor::outputs(size_t member, const float* in, int64_t rows, float* out) {
  const TrainedModel::Compiled& compiled = members_.at(member)->compiled();
  const rt::CompiledModel& model = compiled.model;
  std::unique_ptr<Runner>& runner = runners_.at(member);
  if (!runner) runner = std::make_unique<Runner>(compiled);
  const int64_t batch = model.batch;
  const int64_t features = model.features;
  const int64_t width = model.output_width;
  std::vector<float>& x = runner->inputs.at(runner->x_slot);
  if (static_cast<int64_t>(x.size()) != batch * features ||
      static_cast<int64_t>(runner->predictions.size()) != batch * width) {
    return fmt::format("internal error: the step's buffers ({} inputs, {} outputs) do not fit batch {}", x.size(),
                       runner->predictions.size(), batch);
  }
  // Forward is row-independent (dropout is the identity, batch norm uses its moving
  // statistics), so the last chunk is padded with zero rows.
  for (int64_t first = 0; first < rows; first += batch) {
    const int64_t chunk = std::min(batch, rows - first);
    std::copy(in + first * features, in + (first + chunk) * features, x.begin());
    if (compiled.standardize) rt::standardizeRows(x.data(), chunk, *compiled.standardize);
    std::fill(x.begin() + chunk * features, x.end(), 0.0f);
    const rt::StepResult result = runner->runner.forward(runner->pointers, runner->predictions.data());
    if (result.status != kNnspecOk) return fmt::format("the model's forward step failed (status {})", result.status);
    std::copy(runner->predictions.begin(), runner->predictions.begin() + chunk * width, out + first * width);
  }
  return "";
}

std::string Predictor::predict(const float* in, int64_t rows, float* out, int64_t* classes) {
  const int64_t width = model().outputWidth();
  const bool classifier = model().classifier();
  std::vector<rt::EnsembleMember> members(members_.size());
  for (size_t member = 0; member < members_.size(); ++member) {
    members[member].outputs.resize(static_cast<size_t>(rows * width));
    if (std::string problem = outputs(member, in, rows, members[member].outputs.data()); !problem.empty()) {
      return problem;
    }
  }
  const double count = static_cast<double>(members.size());
  for (int64_t row = 0; row < rows; ++row) {
    std::vector<float> combined(static_cast<size_t>(width), 0.0f);
    if (kind_ == rt::EnsembleKind::kVote) {
      for (const auto& member : members)
        combined[static_cast<size_t>(argmaxOf(&member.outputs[row * width], width))] +=
            1.0f / static_cast<float>(count);
    } else {
      for (int64_t k = 0; k < width; ++k) {
        double sum = 0;
        for (const auto& member : members) sum += member.outputs[static_cast<size_t>(row * width + k)];
        combined[static_cast<size_t>(k)] = static_cast<float>(sum / count);
      }
    }
    float* target = out + row * width;
    if (classifier && kind_ != rt::EnsembleKind::kVote) {
      softmaxRow(combined.data(), width, target);
    } else {
      std::copy(combined.begin(), combined.end(), target);
    }
    if (classes == nullptr || !classifier) continue;
    classes[row] = kind_ == rt::EnsembleKind::kNone
                       ? argmaxOf(&members[0].outputs[row * width], width)
                       : rt::ensembleClass(members, static_cast<size_t>(row), width, kind_);
  }
  return "";
}

}  // namespace nnspec::driver
