#pragma once
// Fusion planning: which nodes share one generated loop nest, which values are written to
// memory, and the order of the kernels. Element-wise chains of one shape become one loop
// nest (several outputs allowed); reductions accumulate inside the loop of their operand;
// matmul, softmax and its gradient, the loss ops and the runtime calls (convolution,
// pooling, padding) are kernels of their own. The part of a loop nest over a
// convolution's output (bias, activation, ...) whose other operands are all ready before
// the convolution runs becomes the convolution's epilogue: the runtime kernel calls it on
// each chunk of output rows while the chunk is in cache.

#include <span>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace nnspec::transforms {

enum class KernelKind { Loop, Gemm, Softmax, SoftmaxGrad, SoftmaxCe, SoftmaxCeGrad, Mse, Call };

struct Kernel {
  KernelKind kind = KernelKind::Loop;
  ir::Shape iteration;               // Loop: the shape the loop nest runs over
  std::vector<ir::ValueId> members;  // Loop: element-wise nodes, in id order; else the node
  std::vector<ir::ValueId> sinks;    // Loop: reductions of members (or of a value in memory)
  std::vector<ir::ValueId> stores;   // values this kernel writes to memory
  // Call of conv2d: empty, or one Loop kernel over the convolution's output (no sinks) that
  // the runtime kernel runs on each range of finished output rows
  // (NnspecConvEpilogueFn, runtime/abi/window_abi.h) instead of after the whole call.
  std::vector<Kernel> epilogue;
};

struct FusionOptions {
  bool conv_epilogues = true;  // fuse element-wise loops into convolutions (see Kernel::epilogue)
};

struct FusionPlan {
  std::vector<Kernel> kernels;  // in execution order
};

// Plans the nodes that `roots` need; roots are always stored (leaves excepted). `training`
// says which operand of a train_select is needed: the first (training entries) or the
// second (evaluation).
FusionPlan planFusion(const ir::Graph& graph, std::span<const ir::ValueId> roots, bool training = true,
                      FusionOptions options = {});

// `--emit=fusion`, one kernel per line:
//   loop f32[128,500] { %5 %6 } reduce { %9 } -> %6 %9
//   call %3 -> %3 epilogue loop f32[128,28,28,6] { %4 %5 } -> %5
std::string printFusionPlan(const FusionPlan& plan);

}  // namespace nnspec::transforms
