// The compile pipeline (compiler/pipeline/pipeline.h): every reference spec's distinct
// graphs go through every pass, in the listed order, with the verifier after each graph
// pass; each pass can be stopped after.

#include <filesystem>
#include <set>

#include <catch2/catch.hpp>

#include "compiler/codegen/step_plan.h"
#include "compiler/driver/load.h"
#include "compiler/pipeline/pipeline.h"

namespace nnspec {
namespace {

std::unique_ptr<jit::JitCompiler> newJit() {
  auto created = jit::JitCompiler::create();
  REQUIRE(created.ok());
  return std::move(created.value());
}

std::vector<std::filesystem::path> referenceSpecs() {
  std::vector<std::filesystem::path> specs;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(NNSPEC_SOURCE_DIR) + "/specs")) {
    if (entry.path().extension() == ".nnspec") specs.push_back(entry.path());
  }
  std::sort(specs.begin(), specs.end());
  return specs;
}

}  // namespace

TEST_CASE("every reference spec's graphs pass through every pass, verified after each graph pass", "[jit]") {
  auto jit = newJit();
  int graphs = 0;
  for (const auto& path : referenceSpecs()) {
    driver::CheckRequest request;
    request.path = path.string();
    request.data_paths = driver::defaultDataPaths();
    driver::SpecSession session(request, {}, {});
    INFO(path.string() << "\n" << session.diagnostics().renderText());
    REQUIRE(session.ok());
    std::set<std::string> seen;
    for (const auto& plan : session.spec().checked.sweeps) {
      for (const auto& point : plan.checked) {
        pipeline::Options options;
        options.jit = jit.get();
        auto passes = pipeline::runPasses(point.config, point.config.batch, options);
        const auto* error = std::get_if<pipeline::PipelineError>(&passes);
        INFO("sweep '" << plan.name << "' " << point.describe() << ": " << (error ? error->message : ""));
        REQUIRE(error == nullptr);
        const pipeline::Artifacts& artifacts = std::get<pipeline::Artifacts>(passes);
        if (!seen.insert(codegen::stepSignature(artifacts.step.graph, artifacts.step.config)).second) continue;
        ++graphs;
        // One trace line per pass, in the order of the list.
        REQUIRE(artifacts.trace.size() == pipeline::kPasses.size());
        for (size_t pass_idx = 0; pass_idx < pipeline::kPasses.size(); ++pass_idx) {
          CHECK_THAT(artifacts.trace[pass_idx], Catch::StartsWith(std::string(pipeline::kPasses[pass_idx].name) + ":"));
        }
        CHECK_THAT(artifacts.trace[1], Catch::StartsWith("verify-ir: ok"));
        CHECK_THAT(artifacts.trace[3], Catch::StartsWith("verify-grad: ok"));
        REQUIRE(artifacts.compiled != nullptr);
        CHECK(artifacts.compiled->train_step != nullptr);
        CHECK(artifacts.compiled->layout.workspace_floats == artifacts.plan.layout.workspace_floats);
      }
    }
  }
  CHECK(graphs >= 10);
}

TEST_CASE("the pipeline stops after any pass, and names every pass once", "[jit]") {
  std::set<std::string_view> names;
  for (const auto& info : pipeline::kPasses) {
    CHECK(names.insert(info.name).second);
    REQUIRE(pipeline::passNamed(info.name) == info.pass);
  }
  CHECK_FALSE(pipeline::passNamed("nope").has_value());
  driver::CheckRequest request;
  request.path = std::string(NNSPEC_SOURCE_DIR) + "/specs/q3_fashion_mlp.nnspec";
  request.data_paths = driver::defaultDataPaths();
  driver::SpecSession session(request, {}, {"baseline"});
  REQUIRE(session.ok());
  const sema::TrainConfig& config = session.spec().checked.sweeps.at(0).checked.at(0).config;
  auto jit = newJit();
  for (const auto& info : pipeline::kPasses) {
    pipeline::Options options;
    options.stop_after = info.pass;
    options.jit = jit.get();
    auto passes = pipeline::runPasses(config, 8, options);
    REQUIRE(std::holds_alternative<pipeline::Artifacts>(passes));
    const auto& artifacts = std::get<pipeline::Artifacts>(passes);
    CHECK(artifacts.trace.size() == static_cast<size_t>(&info - pipeline::kPasses.data()) + 1);
    CHECK_FALSE(pipeline::printArtifacts(artifacts, info.pass).empty());
  }
}

TEST_CASE("compileTrainable adds a step for the last partial batch", "[jit]") {
  driver::CheckRequest request;
  request.path = std::string(NNSPEC_SOURCE_DIR) + "/specs/q3_fashion_mlp.nnspec";
  request.data_paths = driver::defaultDataPaths();
  driver::SpecSession session(request, {}, {"baseline"});
  REQUIRE(session.ok());
  const sema::TrainConfig& config = session.spec().checked.sweeps.at(0).checked.at(0).config;
  auto jit = newJit();
  auto even = pipeline::compileTrainable(config, config.batch * 4, *jit);
  REQUIRE(std::holds_alternative<rt::CompiledModel>(even));
  CHECK(std::get<rt::CompiledModel>(even).remainder == nullptr);
  auto uneven = pipeline::compileTrainable(config, config.batch * 4 + 3, *jit);
  REQUIRE(std::holds_alternative<rt::CompiledModel>(uneven));
  const auto& model = std::get<rt::CompiledModel>(uneven);
  REQUIRE(model.remainder != nullptr);
  CHECK(model.remainder_batch == 3);
  CHECK(model.remainder->layout.inputs.at(0).type.shape.at(0) == 3);
  CHECK(model.full->layout.inputs.at(0).type.shape.at(0) == config.batch);
  // The full step came from the JIT's cache the second time.
  CHECK(jit->compilationCount() == 2);
}

}  // namespace nnspec
