#pragma once
// What a compiled step expects of its caller, in runtime terms: the ABI arrays
// (runtime/abi/step_abi.h) a caller fills, their buffers' element types and shapes, and the
// workspace it allocates. Codegen produces it (compiler/codegen/step_plan.h); the runtime
// reads it without knowing anything of the compiler's IR.

#include <cstdint>
#include <string>
#include <vector>

namespace nnspec::rt {

enum class ElementType { kF32, kI32 };

// A buffer's element type and shape (row-major; empty shape: a scalar).
struct TensorShape {
  ElementType dtype = ElementType::kF32;
  std::vector<int64_t> shape;

  int64_t numElements() const {
    int64_t count = 1;
    for (int64_t extent : shape) count *= extent;
    return count;
  }
};

struct LeafSlot {
  std::string name;
  TensorShape type;
};

struct StepLayout {
  std::vector<LeafSlot> parameters;      // NnspecStepArgs::params (and grads)
  std::vector<LeafSlot> inputs;          // NnspecStepArgs::inputs
  std::vector<std::string> hyperparams;  // NnspecStepArgs::hyper
  std::vector<LeafSlot> states;          // NnspecStepArgs::states (state leaves)
  std::vector<LeafSlot> exports;         // NnspecStepArgs::exports
  int state_slots = 0;                   // optimizer state buffers per parameter
  int64_t workspace_floats = 0;          // the largest any entry function needs
  // NnspecStepArgs::predictions: the marked model output as rows (its first axis, the
  // batch) of width floats (the rest); both 0 when the graph marks none.
  int64_t prediction_rows = 0;
  int64_t prediction_width = 0;
  // A fused step trains `points` sweep points at once (compiler/lowering/fuse_points.h):
  // NnspecStepArgs::opt holds one NnspecOptimizerParams per point, outputs two floats per
  // point (data and total loss), predictions one block of prediction_rows x
  // prediction_width per point; parameter_points gives each parameter's point. A step of
  // one point: 1 and empty.
  int points = 1;
  std::vector<int32_t> parameter_points;

  int64_t predictionFloats() const { return points * prediction_rows * prediction_width; }
};

}  // namespace nnspec::rt
