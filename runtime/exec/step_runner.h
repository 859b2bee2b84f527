#pragma once
// Runs one compiled step for one trial: owns the trial's parameters, optimizer state,
// gradients and workspace, and fills the ABI structs for each call. Several runners may
// share one CompiledStep (one per trial or per thread).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/abi/step_abi.h"
#include "runtime/exec/compiled_step.h"

namespace nnspec::rt {

struct StepResult {
  int32_t status = kNnspecOk;  // an NnspecStatus
  float data_loss = 0.0f;
  float total_loss = 0.0f;
};

class StepRunner {
 public:
  explicit StepRunner(std::shared_ptr<const CompiledStep> step);
  // Moves keep the workspace alignment (vector storage moves with it); copies would not.
  StepRunner(StepRunner&&) = default;
  StepRunner& operator=(StepRunner&&) = default;
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;

  const StepLayout& layout() const { return step_->layout; }

  // Buffers in layout order; zero-initialized.
  std::vector<float>& parameter(size_t param_idx) { return params_[param_idx]; }
  std::vector<float>& parameter(const std::string& name);
  const std::vector<float>& gradient(size_t param_idx) const { return grads_[param_idx]; }
  std::vector<float>& optimizerState(int slot, size_t param_idx);
  // State leaves (layout().states; zero until set): read by every entry, never written by
  // generated code. Exports (layout().exports): written by gradients and trainStep.
  std::vector<float>& state(size_t state_idx) { return leaf_states_[state_idx]; }
  std::vector<float>& state(const std::string& name);
  const std::vector<float>& exported(size_t export_idx) const { return exports_[export_idx]; }
  const std::vector<float>& exported(const std::string& name) const;
  void setHyperparam(const std::string& name, float value);
  // The seed of the dropout masks of the next gradients/trainStep calls (a trial sets a
  // new one per step); 0 until set.
  void setRngSeed(uint64_t seed) { rng_seed_ = seed; }
  // A fused step: each point's dropout seed for the next calls (layout().points of them).
  void setPointSeeds(std::span<const uint64_t> seeds) { point_seeds_.assign(seeds.begin(), seeds.end()); }
  // A fused step: which points trainStepPoints trains (1) or skips (0, a point that left
  // its group: its parameters, slots, outputs and prediction stay as they are); empty
  // (the default): all.
  void setPointActive(std::span<const uint8_t> active) { point_active_.assign(active.begin(), active.end()); }

  // `inputs` holds one pointer per layout().inputs entry (float or int32_t data).
  // `predictions`, when not null, receives the graph's model output: room for
  // layout().predictionFloats() floats, written row-major [prediction_rows,
  // prediction_width] (trainStep: before the update) only when the status is kNnspecOk.
  // Null: nothing is written. Throws std::invalid_argument for a buffer when the graph
  // marks no prediction (a graph without a marked prediction).
  StepResult forward(std::span<const void* const> inputs, float* predictions = nullptr);
  StepResult gradients(std::span<const void* const> inputs, float* predictions = nullptr);
  StepResult trainStep(std::span<const void* const> inputs, const NnspecOptimizerParams& opt,
                       float* predictions = nullptr);
  // A fused step (layout().points > 1; compiler/lowering/fuse_points.h): one call trains
  // or differentiates every point; `opts` holds each point's optimizer numbers, and
  // `predictions`, when not null, room for layout().predictionFloats() floats (point by
  // point). One result per point, in point order. The single-point calls above throw
  // std::invalid_argument for a fused step.
  std::vector<StepResult> trainStepPoints(std::span<const void* const> inputs,
                                          std::span<const NnspecOptimizerParams> opts, float* predictions = nullptr);
  std::vector<StepResult> gradientsPoints(std::span<const void* const> inputs, float* predictions = nullptr);

 private:
  StepResult run(NnspecStepFn function, std::span<const void* const> inputs,
                 const NnspecOptimizerParams* opt, float* predictions);
  std::vector<StepResult> runPoints(NnspecStepFn function, std::span<const void* const> inputs,
                                    const NnspecOptimizerParams* opt, float* predictions);
  // Fills the ABI structs and calls `function`; `outputs` has room for 2 floats a point.
  int32_t call(NnspecStepFn function, std::span<const void* const> inputs, const NnspecOptimizerParams* opt,
               float* predictions, float* outputs);

  std::shared_ptr<const CompiledStep> step_;
  std::vector<std::vector<float>> params_;
  std::vector<std::vector<float>> grads_;
  std::vector<std::vector<float>> state_;  // slot-major, as in NnspecStepArgs::opt_state
  std::vector<float> hyper_;
  std::vector<std::vector<float>> leaf_states_;  // state leaves, layout order
  std::vector<std::vector<float>> exports_;      // exports, layout order
  std::vector<float> workspace_storage_;   // over-allocated to align workspace_
  float* workspace_ = nullptr;
  uint64_t rng_seed_ = 0;
  std::vector<uint64_t> point_seeds_;
  std::vector<uint8_t> point_active_;
};

}  // namespace nnspec::rt
