// The compile pipeline (compiler/pipeline/pipeline.h): every reference spec's distinct
// graphs go through every pass, in the listed order, with the verifier after each graph
// pass; each pass can be stopped after.

#include <cmath>
#include <filesystem>
#include <set>

#include <catch2/catch.hpp>

#include "compiler/codegen/step_plan.h"
#include "compiler/driver/load.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/exec/step_runner.h"

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
        if (point.config.model.isSvm()) continue;  // libsvm fits it: no graph
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

namespace nnspec {

TEST_CASE("a tapped conv output is copied out by nnspec_forward and equals the layer computed by hand", "[jit]") {
  driver::CheckRequest request;
  request.path = "taps.nnspec";
  request.data_paths = driver::defaultDataPaths();
  request.source = R"(experiment taps
seed 1
data fmnist = fashion_mnist() | scale(1/255) | reshape([28, 28, 1])
split train = fmnist.train.take(100), test = fmnist.test.take(100)
model m { input [28, 28, 1] conv2d(3, 3, activation: elu) maxpool(2) flatten dense(10) }
train { model m loss cross_entropy optimizer sgd(lr: 0.1) batch 2 epochs 1 }
)";
  driver::SpecSession session(request, {}, {});
  INFO(session.diagnostics().renderText());
  REQUIRE(session.ok());
  const sema::TrainConfig& config = session.spec().checked.sweeps.at(0).checked.at(0).config;
  auto jit = newJit();
  pipeline::Options options;
  options.jit = jit.get();
  options.lower.conv_outputs = {1};
  auto passes = pipeline::runPasses(config, 2, options);
  REQUIRE(std::holds_alternative<pipeline::Artifacts>(passes));
  rt::StepRunner runner(std::get<pipeline::Artifacts>(passes).compiled);
  std::vector<float>& kernel = runner.parameter("conv1.kernel");  // [3, 3, 1, 3]
  std::vector<float>& bias = runner.parameter("conv1.bias");
  for (size_t index = 0; index < kernel.size(); ++index) kernel[index] = 0.1f * static_cast<float>(index % 7) - 0.3f;
  for (size_t index = 0; index < bias.size(); ++index) bias[index] = 0.05f * static_cast<float>(index) - 0.02f;
  std::vector<float> x(2 * 28 * 28);
  for (size_t index = 0; index < x.size(); ++index) x[index] = static_cast<float>((index * 37) % 101) / 101.0f;
  std::vector<int32_t> labels(2, 0);
  std::vector<const void*> inputs;
  for (const auto& slot : runner.layout().inputs) inputs.push_back(slot.name == "x" ? static_cast<const void*>(x.data()) : labels.data());
  REQUIRE(runner.forward(inputs).status == kNnspecOk);
  const std::vector<float>& maps = runner.exported("conv1.output");
  REQUIRE(maps.size() == 2u * 26 * 26 * 3);
  double largest = 0;
  for (int64_t sample = 0; sample < 2; ++sample) {
    for (int64_t row = 0; row < 26; ++row) {
      for (int64_t col = 0; col < 26; ++col) {
        for (int64_t filter = 0; filter < 3; ++filter) {
          double sum = bias[static_cast<size_t>(filter)];
          for (int64_t kernel_row = 0; kernel_row < 3; ++kernel_row) {
            for (int64_t kernel_col = 0; kernel_col < 3; ++kernel_col) {
              sum += static_cast<double>(x[static_cast<size_t>((sample * 28 + row + kernel_row) * 28 + col + kernel_col)]) *
                     kernel[static_cast<size_t>((kernel_row * 3 + kernel_col) * 3 + filter)];
            }
          }
          const double expected = sum > 0 ? sum : std::expm1(sum);  // elu, alpha 1
          const double actual = maps[static_cast<size_t>(((sample * 26 + row) * 26 + col) * 3 + filter)];
          largest = std::max(largest, std::fabs(expected - actual));
        }
      }
    }
  }
  CHECK(largest < 1e-5);
  // Without the tap the entries copy nothing more than before.
  pipeline::Options plain;
  plain.jit = jit.get();
  auto untapped = pipeline::runPasses(config, 2, plain);
  REQUIRE(std::holds_alternative<pipeline::Artifacts>(untapped));
  CHECK(std::get<pipeline::Artifacts>(untapped).compiled->layout.exports.empty());
}

}  // namespace nnspec
