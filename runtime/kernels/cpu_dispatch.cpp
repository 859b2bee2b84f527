// Chooses the CPU level once per process (cpu_dispatch.h) and maps levels to their kernel
// tables (kernel_table.h). Compiled for the x86-64 baseline: it runs before anything knows
// which instructions the CPU has.
#include "runtime/kernels/cpu_dispatch.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/kernels/kernel_table.h"

namespace nnspec::rt {
namespace {

constexpr const char* kLevelNames[kNnspecCpuLevels] = {"generic", "avx2", "avx512"};

int32_t detectBestLevel() {
  __builtin_cpu_init();
  // libgcc's checks include the operating system's support (XCR0) for the AVX and AVX-512
  // register state, not only the CPUID bits.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return avx512 ? kNnspecCpuAvx512 : avx2 ? kNnspecCpuAvx2 : kNnspecCpuGeneric;
}

// "avx2, generic": the levels up to `best_level`, best first.
std::string levelsUpTo(int32_t best_level) {
  std::string names;
  for (int32_t level = best_level; level >= 0; --level) {
    if (!names.empty()) names += ", ";
    names += kLevelNames[level];
  }
  return names;
}

struct Selection {
  int32_t best_level;
  CpuChoice choice;
};

const Selection& selection() {
  static const Selection chosen = [] {
    const int32_t best = detectBestLevel();
    return Selection{best, chooseCpuLevel(std::getenv("NNSPEC_CPU"), best)};
  }();
  return chosen;
}

}  // namespace

CpuChoice chooseCpuLevel(const char* value, int32_t best_level) {
  if (value == nullptr || *value == '\0') return {best_level, ""};
  for (int32_t level = 0; level < kNnspecCpuLevels; ++level) {
    if (std::strcmp(value, kLevelNames[level]) != 0) continue;
    if (level <= best_level) return {level, ""};
    return {best_level, std::string("NNSPEC_CPU=") + value + ": this CPU does not support " + value +
                            "; it supports " + levelsUpTo(best_level) + " (set NNSPEC_CPU to one of them, or unset it)"};
  }
  return {best_level, std::string("NNSPEC_CPU=") + value + ": unknown CPU level; valid values are avx512, avx2, "
                                                           "generic (this CPU supports " +
                          levelsUpTo(best_level) + "), or unset it"};
}

const KernelTable* kernelTableFor(int32_t level) noexcept {
  if (level < 0 || level > selection().best_level) return nullptr;
  if (level == kNnspecCpuAvx512) return &avx512::kernelTable();
  if (level == kNnspecCpuAvx2) return &avx2::kernelTable();
  return &generic::kernelTable();
}

const KernelTable& activeKernelTable() noexcept {
  static const KernelTable& table = *kernelTableFor(selection().choice.level);
  return table;
}

}  // namespace nnspec::rt

extern "C" int32_t nnspec_rt_cpu_level(void) noexcept { return nnspec::rt::selection().choice.level; }

extern "C" int32_t nnspec_rt_cpu_best_level(void) noexcept { return nnspec::rt::selection().best_level; }

extern "C" const char* nnspec_rt_cpu_level_name(int32_t level) noexcept {
  return level >= 0 && level < kNnspecCpuLevels ? nnspec::rt::kLevelNames[level] : nullptr;
}

extern "C" const char* nnspec_rt_cpu_error(void) noexcept {
  const std::string& error = nnspec::rt::selection().choice.error;
  return error.empty() ? nullptr : error.c_str();
}
