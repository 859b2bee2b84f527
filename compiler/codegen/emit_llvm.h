#pragma once
// LLVM IR for a whole train step: fused element-wise/reduction loop nests, GEMM calls into
// the Eigen runtime kernel, the loss ops, and the optimizer update. Three entry functions
// follow runtime/abi/step_abi.h. LLVM types stay inside codegen/ and jit/.

#include <memory>
#include <string>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Error.h>

#include "compiler/codegen/step_plan.h"
#include "compiler/transforms/autodiff.h"

namespace nnspec::codegen {

struct EmittedStep {
  std::unique_ptr<llvm::Module> module;
  StepPlan plan;
};

// Runtime symbols the generated code calls; the JIT maps each to an address.
inline constexpr const char* kSgemmSymbol = "nnspec_rt_sgemm";
// GEMMs that share op(a) (runtime/kernels/sgemm.h), in fused steps only.
inline constexpr const char* kSgemmSharedASymbol = "nnspec_rt_sgemm_shared_a";
// The window kernels of runtime/kernels/window.h.
inline constexpr const char* kConv2dSymbol = "nnspec_rt_conv2d_with_scratch";
inline constexpr const char* kConv2dFusedSymbol = "nnspec_rt_conv2d_fused_with_scratch";
inline constexpr const char* kConv2dInputGradSymbol = "nnspec_rt_conv2d_input_grad_with_scratch";
inline constexpr const char* kConv2dKernelGradSymbol = "nnspec_rt_conv2d_kernel_grad_with_scratch";
inline constexpr const char* kMaxPoolSymbol = "nnspec_rt_max_pool";
inline constexpr const char* kAvgPoolSymbol = "nnspec_rt_avg_pool";
inline constexpr const char* kMaxPoolGradSymbol = "nnspec_rt_max_pool_grad";
inline constexpr const char* kAvgPoolGradSymbol = "nnspec_rt_avg_pool_grad";
inline constexpr const char* kPad2dSymbol = "nnspec_rt_pad2d";
inline constexpr const char* kCrop2dSymbol = "nnspec_rt_crop2d";

// Fails (an internal error) only for graphs codegen does not support or an LLVM verifier
// failure.
llvm::Expected<EmittedStep> emitLlvm(const transforms::GradientGraph& gradient_graph,
                                     const StepConfig& config, llvm::LLVMContext& context);
// The same for a plan made already (the pipeline's fuse and plan-step passes).
llvm::Expected<EmittedStep> emitLlvm(const transforms::GradientGraph& gradient_graph, const StepPlan& plan,
                                     llvm::LLVMContext& context);

struct LlvmText {
  std::string text;   // the unoptimized module (`--emit=llvm`)
  std::string error;  // set instead of text when codegen failed
};

LlvmText emitLlvmText(const transforms::GradientGraph& gradient_graph, const StepPlan& plan);

}  // namespace nnspec::codegen
