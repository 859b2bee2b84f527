// Dropout in generated code: the mask follows nnspec_dropout_bits exactly, is drawn only by
// the training entries, changes with the seed and the stream, and drops about `rate`.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <vector>

#include "compiler/jit/jit_compiler.h"
#include "runtime/exec/step_runner.h"
#include "compiler/transforms/autodiff.h"
#include "tests/autodiff/gradient_check.h"

namespace nnspec::jit {
namespace {

using ir::ValueId;

constexpr int64_t kRows = 50;
constexpr int64_t kCols = 200;

// loss = sum(dropout(p) * r): d loss / d p = mask * r / (1 - rate), and the forward value
// of dropout(p) is the marked prediction.
struct DropoutStep {
  std::shared_ptr<const rt::CompiledStep> step;
  std::vector<float> r;
};

DropoutStep compileDropout(float rate, int32_t stream) {
  ir::Graph graph;
  ValueId r = graph.input("r", ir::f32({kRows, kCols}));
  ValueId p = graph.parameter("p", {kRows, kCols});
  ValueId dropped = graph.dropout(p, rate, stream);
  ValueId loss = graph.reduceSum(graph.mul(dropped, r));
  auto compiled = testing::sharedJit().compile(transforms::differentiate(graph, loss, {}, dropped), {});
  REQUIRE(compiled.ok());
  DropoutStep out{compiled.value(), std::vector<float>(static_cast<size_t>(kRows * kCols))};
  for (size_t element = 0; element < out.r.size(); ++element) out.r[element] = 0.5f + static_cast<float>(element % 7);
  return out;
}

bool kept(uint64_t seed, int32_t stream, uint64_t index, float rate) {
  return nnspec_dropout_bits(seed, static_cast<uint32_t>(stream), index) >= nnspec_dropout_threshold(rate);
}

TEST_CASE("dropout's training mask follows nnspec_dropout_bits and scales by 1/(1-rate)", "[jit]") {
  const float rate = 0.3f;
  DropoutStep dropout = compileDropout(rate, 3);
  rt::StepRunner runner(dropout.step);
  std::vector<float> p(static_cast<size_t>(kRows * kCols));
  for (size_t element = 0; element < p.size(); ++element) p[element] = 1.0f + 0.001f * static_cast<float>(element);
  runner.parameter("p") = p;
  runner.setRngSeed(12345);
  const void* inputs[] = {dropout.r.data()};
  std::vector<float> predictions(p.size());
  REQUIRE(runner.gradients(inputs, predictions.data()).status == kNnspecOk);
  size_t dropped = 0;
  size_t wrong = 0;
  for (size_t element = 0; element < p.size(); ++element) {
    const bool keep = kept(12345, 3, element, rate);
    dropped += keep ? 0 : 1;
    const double scale = keep ? 1.0 / (1.0 - rate) : 0.0;
    if (std::fabs(predictions[element] - p[element] * scale) > 1e-5 * std::fabs(p[element] * scale) + 1e-7) ++wrong;
    if (std::fabs(runner.gradient(0)[element] - dropout.r[element] * scale) > 1e-5 * dropout.r[element] * scale + 1e-7)
      ++wrong;
  }
  CHECK(wrong == 0);
  // 10,000 Bernoulli(0.3) draws: mean 3,000, standard deviation ~46.
  CHECK(dropped > 3000 - 5 * 46);
  CHECK(dropped < 3000 + 5 * 46);
}

TEST_CASE("dropout passes values through in nnspec_forward (evaluation)", "[jit]") {
  DropoutStep dropout = compileDropout(0.5f, 1);
  rt::StepRunner runner(dropout.step);
  std::vector<float> p(static_cast<size_t>(kRows * kCols), 2.0f);
  runner.parameter("p") = p;
  runner.setRngSeed(9);
  const void* inputs[] = {dropout.r.data()};
  std::vector<float> predictions(p.size());
  rt::StepResult result = runner.forward(inputs, predictions.data());
  REQUIRE(result.status == kNnspecOk);
  CHECK(predictions == p);
  double expected = 0;
  for (float value : dropout.r) expected += 2.0 * value;
  CHECK_THAT(result.total_loss, Catch::WithinRel(expected, 1e-5));
}

TEST_CASE("dropout masks change with the seed and the stream and repeat for the same pair", "[jit]") {
  auto maskOf = [](int32_t stream, uint64_t seed) {
    DropoutStep dropout = compileDropout(0.5f, stream);
    rt::StepRunner runner(dropout.step);
    runner.parameter("p") = std::vector<float>(static_cast<size_t>(kRows * kCols), 1.0f);
    runner.setRngSeed(seed);
    const void* inputs[] = {dropout.r.data()};
    std::vector<float> predictions(static_cast<size_t>(kRows * kCols));
    REQUIRE(runner.gradients(inputs, predictions.data()).status == kNnspecOk);
    return predictions;
  };
  const auto base = maskOf(1, 100);
  CHECK(maskOf(1, 100) == base);
  auto differing = [&](const std::vector<float>& other) {
    size_t count = 0;
    for (size_t element = 0; element < base.size(); ++element) count += base[element] != other[element] ? 1 : 0;
    return count;
  };
  // Two independent masks at rate 0.5 differ in about half the elements.
  CHECK(differing(maskOf(1, 101)) > 4000);
  CHECK(differing(maskOf(2, 100)) > 4000);
}

TEST_CASE("a train step with dropout updates only the kept elements", "[jit]") {
  DropoutStep dropout = compileDropout(0.5f, 1);
  rt::StepRunner runner(dropout.step);
  std::vector<float> p(static_cast<size_t>(kRows * kCols), 1.0f);
  runner.parameter("p") = p;
  runner.setRngSeed(4242);
  const void* inputs[] = {dropout.r.data()};
  NnspecOptimizerParams opt{};
  opt.lr = 0.01f;
  opt.step = 1;
  REQUIRE(runner.trainStep(inputs, opt).status == kNnspecOk);
  size_t wrong = 0;
  for (size_t element = 0; element < p.size(); ++element) {
    const double expected = kept(4242, 1, element, 0.5f) ? 1.0 - 0.01 * 2.0 * dropout.r[element] : 1.0;
    if (std::fabs(runner.parameter("p")[element] - expected) > 1e-5) ++wrong;
  }
  CHECK(wrong == 0);
}

}  // namespace
}  // namespace nnspec::jit
