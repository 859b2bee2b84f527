#include "runtime/exec/step_runner.h"

#include <stdexcept>

namespace nnspec::rt {
namespace {

constexpr size_t kWorkspaceAlignBytes = 64;

}  // namespace

StepRunner::StepRunner(std::shared_ptr<const CompiledStep> step) : step_(std::move(step)) {
  const StepLayout& layout = step_->layout;
  for (const LeafSlot& slot : layout.parameters) {
    size_t count = static_cast<size_t>(slot.type.numElements());
    params_.emplace_back(count, 0.0f);
    grads_.emplace_back(count, 0.0f);
  }
  for (int slot = 0; slot < layout.state_slots; ++slot)
    for (const LeafSlot& param : layout.parameters)
      state_.emplace_back(static_cast<size_t>(param.type.numElements()), 0.0f);
  hyper_.assign(layout.hyperparams.size(), 0.0f);
  for (const LeafSlot& slot : layout.states)
    leaf_states_.emplace_back(static_cast<size_t>(slot.type.numElements()), 0.0f);
  for (const LeafSlot& slot : layout.exports)
    exports_.emplace_back(static_cast<size_t>(slot.type.numElements()), 0.0f);
  size_t pad = kWorkspaceAlignBytes / sizeof(float);
  workspace_storage_.assign(static_cast<size_t>(layout.workspace_floats) + pad, 0.0f);
  uintptr_t address = reinterpret_cast<uintptr_t>(workspace_storage_.data());
  size_t misalignment = address % kWorkspaceAlignBytes;
  size_t skip = misalignment == 0 ? 0 : (kWorkspaceAlignBytes - misalignment) / sizeof(float);
  workspace_ = workspace_storage_.data() + skip;
}

std::vector<float>& StepRunner::parameter(const std::string& name) {
  for (size_t param_idx = 0; param_idx < layout().parameters.size(); ++param_idx)
    if (layout().parameters[param_idx].name == name) return params_[param_idx];
  throw std::out_of_range("no parameter named \"" + name + "\"");
}

std::vector<float>& StepRunner::state(const std::string& name) {
  for (size_t state_idx = 0; state_idx < layout().states.size(); ++state_idx)
    if (layout().states[state_idx].name == name) return leaf_states_[state_idx];
  throw std::out_of_range("no state named \"" + name + "\"");
}

const std::vector<float>& StepRunner::exported(const std::string& name) const {
  for (size_t export_idx = 0; export_idx < step_->layout.exports.size(); ++export_idx)
    if (step_->layout.exports[export_idx].name == name) return exports_[export_idx];
  throw std::out_of_range("no export named \"" + name + "\"");
}

std::vector<float>& StepRunner::optimizerState(int slot, size_t param_idx) {
  return state_.at(static_cast<size_t>(slot) * params_.size() + param_idx);
}

void StepRunner::setHyperparam(const std::string& name, float value) {
  for (size_t hyper_idx = 0; hyper_idx < layout().hyperparams.size(); ++hyper_idx)
    if (layout().hyperparams[hyper_idx] == name) {
      hyper_[hyper_idx] = value;
      return;
    }
  throw std::out_of_range("no hyperparameter named \"" + name + "\"");
}

StepResult StepRunner::forward(std::span<const void* const> inputs, float* predictions) {
  return run(step_->forward, inputs, nullptr, predictions);
}

StepResult StepRunner::gradients(std::span<const void* const> inputs, float* predictions) {
  return run(step_->gradients, inputs, nullptr, predictions);
}

StepResult StepRunner::trainStep(std::span<const void* const> inputs,
                                 const NnspecOptimizerParams& opt, float* predictions) {
  return run(step_->train_step, inputs, &opt, predictions);
}

std::vector<StepResult> StepRunner::trainStepPoints(std::span<const void* const> inputs,
                                                    std::span<const NnspecOptimizerParams> opts, float* predictions) {
  if (opts.size() != static_cast<size_t>(layout().points))
    throw std::invalid_argument("a fused step of " + std::to_string(layout().points) + " points needs as many "
                                "optimizer settings, got " + std::to_string(opts.size()));
  return runPoints(step_->train_step, inputs, opts.data(), predictions);
}

std::vector<StepResult> StepRunner::gradientsPoints(std::span<const void* const> inputs, float* predictions) {
  return runPoints(step_->gradients, inputs, nullptr, predictions);
}

StepResult StepRunner::run(NnspecStepFn function, std::span<const void* const> inputs,
                           const NnspecOptimizerParams* opt, float* predictions) {
  if (layout().points != 1)
    throw std::invalid_argument("a fused step of " + std::to_string(layout().points) +
                                " points runs through trainStepPoints or gradientsPoints");
  NnspecOptimizerParams no_optimizer{};
  float outputs[2] = {0.0f, 0.0f};
  StepResult result;
  result.status = call(function, inputs, opt != nullptr ? opt : &no_optimizer, predictions, outputs);
  result.data_loss = outputs[0];
  result.total_loss = outputs[1];
  return result;
}

std::vector<StepResult> StepRunner::runPoints(NnspecStepFn function, std::span<const void* const> inputs,
                                              const NnspecOptimizerParams* opt, float* predictions) {
  const size_t points = static_cast<size_t>(layout().points);
  std::vector<NnspecOptimizerParams> no_optimizer(points, NnspecOptimizerParams{});
  std::vector<float> outputs(2 * points, 0.0f);
  const int32_t status = call(function, inputs, opt != nullptr ? opt : no_optimizer.data(), predictions, outputs.data());
  std::vector<StepResult> results(points);
  for (size_t point = 0; point < points; ++point) {
    results[point].status = status;
    results[point].data_loss = outputs[2 * point];
    results[point].total_loss = outputs[2 * point + 1];
  }
  return results;
}

int32_t StepRunner::call(NnspecStepFn function, std::span<const void* const> inputs, const NnspecOptimizerParams* opt,
                         float* predictions, float* outputs) {
  if (function == nullptr)
    throw std::logic_error("an entry point the step was not compiled with (the JIT compiles those its caller names)");
  if (inputs.size() != layout().inputs.size())
    throw std::invalid_argument("step expects " + std::to_string(layout().inputs.size()) +
                                " inputs, got " + std::to_string(inputs.size()));
  if (predictions != nullptr && layout().predictionFloats() == 0)
    throw std::invalid_argument("a predictions buffer was given, but the graph marks no prediction");
  std::vector<float*> params;
  std::vector<float*> grads;
  std::vector<float*> state;
  for (auto& buffer : params_) params.push_back(buffer.data());
  for (auto& buffer : grads_) grads.push_back(buffer.data());
  for (auto& buffer : state_) state.push_back(buffer.data());
  std::vector<float*> leaf_states;
  std::vector<float*> exports;
  for (auto& buffer : leaf_states_) leaf_states.push_back(buffer.data());
  for (auto& buffer : exports_) exports.push_back(buffer.data());
  NnspecStepArgs args{params.data(), state.data(),   grads.data(), inputs.data(),
                      hyper_.data(), opt,            outputs,      workspace_,
                      predictions,   rng_seed_,      leaf_states.data(), exports.data(),
                      point_seeds_.empty() ? nullptr : point_seeds_.data(),
                      point_active_.empty() ? nullptr : point_active_.data()};
  return function(&args);
}

}  // namespace nnspec::rt
