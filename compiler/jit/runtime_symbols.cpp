#include "compiler/jit/runtime_symbols.h"

#include <math.h>

#include <cstring>

#include "compiler/codegen/emit_llvm.h"
#include "runtime/kernels/sgemm.h"
#include "runtime/kernels/window.h"

namespace nnspec::jit {
namespace {

template <class Function>
uintptr_t addressOf(Function* function) {
  return reinterpret_cast<uintptr_t>(function);
}


}  // namespace

std::vector<RuntimeSymbol> runtimeSymbols() {
  using MemsetFn = void*(void*, int, size_t);
  using MemcpyFn = void*(void*, const void*, size_t);
  return {
      {codegen::kSgemmSymbol, addressOf(&nnspec_rt_sgemm)},
      {codegen::kSgemmSharedASymbol, addressOf(&nnspec_rt_sgemm_shared_a)},
      {codegen::kConv2dSymbol, addressOf(&nnspec_rt_conv2d_with_scratch)},
      {codegen::kConv2dFusedSymbol, addressOf(&nnspec_rt_conv2d_fused_with_scratch)},
      {codegen::kConv2dInputGradSymbol, addressOf(&nnspec_rt_conv2d_input_grad_with_scratch)},
      {codegen::kConv2dKernelGradSymbol, addressOf(&nnspec_rt_conv2d_kernel_grad_with_scratch)},
      {codegen::kMaxPoolSymbol, addressOf(&nnspec_rt_max_pool)},
      {codegen::kAvgPoolSymbol, addressOf(&nnspec_rt_avg_pool)},
      {codegen::kMaxPoolGradSymbol, addressOf(&nnspec_rt_max_pool_grad)},
      {codegen::kAvgPoolGradSymbol, addressOf(&nnspec_rt_avg_pool_grad)},
      {codegen::kPad2dSymbol, addressOf(&nnspec_rt_pad2d)},
      {codegen::kCrop2dSymbol, addressOf(&nnspec_rt_crop2d)},
      // LLVM lowers llvm.pow.f32 (Adam's bias corrections, once per step) to powf, and
      // may turn loops into memset/memcpy. exp, log and tanh are the module's own
      // (compiler/codegen/vector_math.h).
      {"powf", addressOf(&::powf)},
      {"memset", addressOf(static_cast<MemsetFn*>(&std::memset))},
      {"memcpy", addressOf(static_cast<MemcpyFn*>(&std::memcpy))},
      {"memmove", addressOf(static_cast<MemcpyFn*>(&std::memmove))},
  };
}

}  // namespace nnspec::jit
