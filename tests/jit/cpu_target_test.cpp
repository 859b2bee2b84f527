// The JIT generates code for the CPU level the runtime kernels run at (cpu_target.h), and
// so for the level NNSPEC_CPU forces (tests/CMakeLists.txt runs these with avx2, generic).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "compiler/codegen/step_plan.h"
#include "compiler/jit/cpu_target.h"
#include "compiler/jit/jit_compiler.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "tests/jit/mlp_builder.h"

namespace nnspec::jit {
namespace {

bool hasFeature(const CpuTarget& target, const std::string& feature) {
  return std::find(target.features.begin(), target.features.end(), feature) != target.features.end();
}

bool enablesAvx512(const CpuTarget& target) {
  return std::any_of(target.features.begin(), target.features.end(), [](const std::string& feature) {
    return feature.rfind("+avx512", 0) == 0 || feature.rfind("+avx10", 0) == 0 || feature == "+evex512";
  });
}

TEST_CASE("each CPU level's JIT target has that level's instructions and no more", "[jit]") {
  for (int32_t level = 0; level <= nnspec_rt_cpu_best_level(); ++level) {
    const CpuTarget target = cpuTargetForLevel(level);
    INFO(target.level << ": cpu " << target.cpu);
    CHECK(target.level == nnspec_rt_cpu_level_name(level));
    if (level == kNnspecCpuGeneric) {
      CHECK(target.cpu == "x86-64");
      CHECK(target.features.empty());
      continue;
    }
    CHECK(target.cpu != "x86-64");
    CHECK(hasFeature(target, "+avx2"));
    CHECK(hasFeature(target, "+fma"));
    CHECK(enablesAvx512(target) == (level == kNnspecCpuAvx512));
    if (level == kNnspecCpuAvx512) CHECK(hasFeature(target, "+avx512f"));
    if (level == kNnspecCpuAvx2) CHECK(hasFeature(target, "-avx512f"));
  }
}

TEST_CASE("the JIT compiles for the level the kernels run at", "[jit]") {
  const CpuTarget target = activeCpuTarget();
  CHECK(target.level == nnspec_rt_cpu_level_name(nnspec_rt_cpu_level()));
  CHECK(cpuLevelKey() == target.level);
  auto created = JitCompiler::create();
  REQUIRE(created.ok());
  JitCompiler& jit = *created.value();
  CHECK(jit.hostCpu() == target.cpu);
  auto graph = testing::buildMlp(8, {16, 32, 4});
  auto text = jit.optimizedLlvmText(graph, codegen::planStep(graph, {}));
  REQUIRE(text.ok());
  CHECK_THAT(text.value(), Catch::Contains("\"target-cpu\"=\"" + target.cpu + "\""));
  const bool avx512_on = text.value().find("+avx512f") != std::string::npos;
  CHECK(avx512_on == (target.level == "avx512"));
  if (target.level == "avx2") CHECK_THAT(text.value(), Catch::Contains("-avx512f"));
  // The step compiles for that target.
  auto step = jit.compile(graph, {});
  REQUIRE(step.ok());
}

}  // namespace
}  // namespace nnspec::jit
