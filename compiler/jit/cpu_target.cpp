#include "compiler/jit/cpu_target.h"

#include <llvm/ADT/StringMap.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/TargetParser/Host.h>

#include "runtime/kernels/cpu_dispatch.h"

namespace nnspec::jit {
namespace {

// Features that imply AVX-512 registers or instructions.
bool impliesAvx512(llvm::StringRef feature) {
  return feature.starts_with("avx512") || feature.starts_with("avx10") || feature == "evex512";
}

}  // namespace

CpuTarget cpuTargetForLevel(int32_t level) {
  const char* name = nnspec_rt_cpu_level_name(level);
  CpuTarget target{name != nullptr ? name : "generic", "x86-64", {}};
  if (level != kNnspecCpuAvx512 && level != kNnspecCpuAvx2) return target;
  target.cpu = llvm::sys::getHostCPUName().str();
  for (const auto& feature : llvm::sys::getHostCPUFeatures()) {
    bool enabled = feature.second && !(level == kNnspecCpuAvx2 && impliesAvx512(feature.first()));
    target.features.push_back((enabled ? "+" : "-") + feature.first().str());
  }
  return target;
}

CpuTarget activeCpuTarget() { return cpuTargetForLevel(nnspec_rt_cpu_level()); }

std::string cpuLevelKey() { return nnspec_rt_cpu_level_name(nnspec_rt_cpu_level()); }

}  // namespace nnspec::jit
