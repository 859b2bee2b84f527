#include "compiler/jit/runtime_symbols.h"

#include <math.h>

#include <cstring>

#include "compiler/codegen/emit_llvm.h"
#include "runtime/kernels/sgemm.h"

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
      {codegen::kTanhSymbol, addressOf(&::tanhf)},
      // LLVM lowers llvm.exp/log/pow.f32 to these, and may turn loops into memset/memcpy.
      {"expf", addressOf(&::expf)},
      {"logf", addressOf(&::logf)},
      {"powf", addressOf(&::powf)},
      {"memset", addressOf(static_cast<MemsetFn*>(&std::memset))},
      {"memcpy", addressOf(static_cast<MemcpyFn*>(&std::memcpy))},
      {"memmove", addressOf(static_cast<MemcpyFn*>(&std::memmove))},
  };
}

}  // namespace nnspec::jit
