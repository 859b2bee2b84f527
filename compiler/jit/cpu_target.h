#pragma once
// The CPU the JIT generates code for: the level the runtime kernels run at
// (runtime/kernels/cpu_dispatch.h, chosen once per process, NNSPEC_CPU), not simply the
// host, so a forced level holds for generated code too.
//   avx512   the host's CPU name and features
//   avx2     the host's, with every AVX-512 (and AVX10, EVEX512) feature turned off
//   generic  CPU "x86-64", no extra features

#include <cstdint>
#include <string>
#include <vector>

namespace nnspec::jit {

struct CpuTarget {
  std::string level;                  // "avx512", "avx2", "generic"
  std::string cpu;                    // an LLVM CPU name, e.g. "znver4" or "x86-64"
  std::vector<std::string> features;  // "+avx2", "-avx512f", ...
};

// The target for a level (kNnspecCpu*), from this host's CPU name and features.
CpuTarget cpuTargetForLevel(int32_t level);

// The target for the level the kernels run at.
CpuTarget activeCpuTarget();

// The level the generated code and the kernels run at, e.g. "avx2": fixed per process;
// for keys of caches that outlive it (compiled code on disk).
std::string cpuLevelKey();

}  // namespace nnspec::jit
