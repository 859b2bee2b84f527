#pragma once
// What codegen will generate for one train step, without LLVM: the entry functions, the
// kernels of each (fusion plan), where every stored temporary lives in the workspace, and
// the layout of the ABI arrays (runtime/abi/step_abi.h). The cache key of compiled steps
// is derived from the same inputs.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/transforms/autodiff.h"
#include "compiler/transforms/fusion.h"
#include "runtime/abi/window_abi.h"
#include "runtime/exec/step_layout.h"

namespace nnspec::codegen {

// Changes the optimizer state buffers, so it is part of the compiled graph; the optimizer's
// numbers (lr, momentum, betas, ...) are runtime arguments.
enum class OptimizerKind { Sgd, Adam, RmsProp, Adagrad };

// State buffers per parameter: SGD 1 (velocity), Adam 2 (m, v), RMSprop 2 (v, buf),
// Adagrad 1 (sum of squares).
int optimizerStateSlots(OptimizerKind kind);

// "sgd", "adam", "rmsprop", "adagrad" (as in the spec language).
std::string optimizerName(OptimizerKind kind);

struct StepConfig {
  OptimizerKind optimizer = OptimizerKind::Sgd;
  // Element-wise loops over a convolution's output run as its epilogue, chunk by chunk
  // (transforms::FusionOptions); off only to compare against the unfused plan.
  bool conv_epilogues = true;
};

enum class EntryPoint { Forward, Gradients, TrainStep };
inline constexpr std::array kEntryPoints = {EntryPoint::Forward, EntryPoint::Gradients,
                                     EntryPoint::TrainStep};

// "nnspec_forward", "nnspec_gradients", "nnspec_train_step".
std::string entrySymbol(EntryPoint entry);

// Some of a step's entry points: the ones a caller will call, so the JIT compiles no
// other (a run trains with nnspec_train_step and evaluates with nnspec_forward;
// nnspec_gradients serves gradient checks, tests and benches).
class EntrySet {
 public:
  constexpr EntrySet() = default;  // none
  constexpr EntrySet(std::initializer_list<EntryPoint> entries) {
    for (EntryPoint entry : entries) bits_ |= bit(entry);
  }
  static constexpr EntrySet all() { return {EntryPoint::Forward, EntryPoint::Gradients, EntryPoint::TrainStep}; }
  constexpr bool contains(EntryPoint entry) const { return (bits_ & bit(entry)) != 0; }
  constexpr bool containsAll(EntrySet other) const { return (bits_ & other.bits_) == other.bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr EntrySet operator|(EntrySet other) const { return fromBits(bits_ | other.bits_); }
  constexpr EntrySet without(EntrySet other) const { return fromBits(bits_ & ~other.bits_); }
  constexpr bool operator==(const EntrySet&) const = default;
  // The entries' symbols in kEntryPoints order, separated by spaces ("" for none).
  std::string text() const;

 private:
  static constexpr uint8_t bit(EntryPoint entry) { return static_cast<uint8_t>(1u << static_cast<unsigned>(entry)); }
  static constexpr EntrySet fromBits(unsigned bits) {
    EntrySet set;
    set.bits_ = static_cast<uint8_t>(bits & 0x7u);
    return set;
  }
  uint8_t bits_ = 0;
};

// A graph value's type as the runtime's layout describes it.
rt::TensorShape runtimeShape(const ir::TensorType& type);

struct FunctionPlan {
  EntryPoint entry = EntryPoint::Forward;
  std::vector<ir::ValueId> roots;  // losses, the prediction, gradients and exports (except Forward)
  transforms::FusionPlan fusion;
  std::vector<int64_t> workspace_offset;  // per value id, in floats; -1 when not stored
  // The scratch shared by every gemm kernel (kNnspecSgemmScratchFloats floats) and conv2d
  // call (nnspec_rt_conv2d_scratch_floats of its geometry): the most any of them needs;
  // -1 without one.
  int64_t gemm_scratch_offset = -1;
  int64_t workspace_floats = 0;
  // TrainStep with SGD: the gradients (ids) that are one matmul of values other than
  // parameters, read by nothing else. Their gemm kernels run last, after every reader of
  // the parameters, and fold the update in without writing the gradient: with momentum 0
  // the gemm adds -lr * gradient to the parameter in place (beta = 1 - lr * weight_decay);
  // with momentum it accumulates into the velocity (beta = momentum) and one loop
  // finishes the update. Nesterov momentum writes the gradient and updates as usual.
  std::vector<ir::ValueId> in_place_updates;
};

struct StepPlan {
  StepConfig config;
  rt::StepLayout layout;  // the ABI arrays a caller fills, and the workspace it allocates
  std::array<FunctionPlan, 3> functions;  // indexed like kEntryPoints
};

// The pipeline's "fuse" pass: each entry function's roots and fused kernels (and SGD's
// in-place updates); no workspace yet.
StepPlan fuseStep(const transforms::GradientGraph& gradient_graph, const StepConfig& config);

// The pipeline's "plan step" pass: the ABI layout, and where each stored value and the
// kernels' scratch live in the workspace.
void allocateStep(const transforms::GradientGraph& gradient_graph, StepPlan& plan);

// fuseStep, then allocateStep.
StepPlan planStep(const transforms::GradientGraph& gradient_graph, const StepConfig& config);

// Each value's sweep point in a fused step's graph (compiler/lowering/fuse_points.h: its
// parameters and hyperparameters are named "w#k"): the point k its operands lead back
// to, kNoPoint (inputs and constants only: a batch several points read), or
// kMixedPoints (several points, as the sum of their losses).
inline constexpr int32_t kNoPoint = -1;
inline constexpr int32_t kMixedPoints = -2;
std::vector<int32_t> pointsOfValues(const ir::Graph& graph);

// The geometry the runtime kernel of window op `id` (conv2d, pooling, pad2d, crop2d or a
// gradient of one of them) is called with.
NnspecWindowGeometry windowGeometry(const ir::Graph& graph, ir::ValueId id);

// Whether `id` calls a conv2d kernel (forward, input or kernel gradient), which takes
// scratch.
bool isConvolution(const ir::Graph& graph, ir::ValueId id);

// The cache key: equal for graphs that compile to the same code (same ops, shapes, names
// and optimizer kind), whatever the runtime hyperparameter values.
std::string stepSignature(const transforms::GradientGraph& gradient_graph,
                          const StepConfig& config);

// `--emit=fusion`: every entry function's kernels.
std::string printStepPlan(const StepPlan& plan);

}  // namespace nnspec::codegen
