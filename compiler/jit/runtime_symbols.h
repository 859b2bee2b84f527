#pragma once
// The explicit symbol map of the JIT: every external function generated code may call
// (the runtime kernels, and the libm/libc functions LLVM lowers intrinsics to).

#include <cstdint>
#include <string>
#include <vector>

namespace nnspec::jit {

struct RuntimeSymbol {
  std::string name;
  uintptr_t address;
};

std::vector<RuntimeSymbol> runtimeSymbols();

}  // namespace nnspec::jit
