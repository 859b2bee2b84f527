// The model output (GradientGraph::prediction) handed back through
// NnspecStepArgs::predictions, against a plain C++ forward pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "compiler/codegen/step_plan.h"
#include "compiler/ir/verifier.h"
#include "compiler/jit/jit_compiler.h"
#include "runtime/exec/step_runner.h"
#include "compiler/transforms/fusion.h"
#include "tests/jit/mlp_builder.h"

namespace nnspec::jit {
namespace {

using ir::ValueId;

constexpr int64_t kBatch = 5;
constexpr float kUnwritten = -12345.0f;  // a sentinel no forward pass produces here

JitCompiler& testJit() {
  static std::unique_ptr<JitCompiler> compiler = [] {
    auto created = JitCompiler::create();
    REQUIRE(created.ok());
    return std::move(created.value());
  }();
  return *compiler;
}

rt::StepRunner makeRunner(const transforms::GradientGraph& gradient_graph) {
  REQUIRE(ir::verifyGraph(gradient_graph.graph).empty());
  auto compiled = testJit().compile(gradient_graph, {});
  if (!compiled) FAIL(compiled.error().message);
  return rt::StepRunner(compiled.value());
}

std::vector<float> randomFloats(std::mt19937& rng, size_t count) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& element : values) element = value(rng);
  return values;
}

void checkNear(std::span<const float> actual, std::span<const double> expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t element = 0; element < actual.size(); ++element) {
    INFO("element " << element);
    CHECK_THAT(actual[element], Catch::WithinAbs(expected[element], 1e-4));
  }
}

// Untouched buffers are compared bit for bit, not within a tolerance.
bool sameBytes(const std::vector<float>& actual, const std::vector<float>& expected) {
  return actual.size() == expected.size() &&
         std::memcmp(actual.data(), expected.data(), actual.size() * sizeof(float)) == 0;
}

// Mean over rows of log(sum(exp(row))) - row[label], in double.
double hostSoftmaxCrossEntropy(std::span<const float> logits, std::span<const int32_t> labels,
                               int64_t classes) {
  double total = 0.0;
  for (size_t row = 0; row < labels.size(); ++row) {
    std::span<const float> values = logits.subspan(row * static_cast<size_t>(classes),
                                                   static_cast<size_t>(classes));
    double max = *std::max_element(values.begin(), values.end());
    double sum = 0.0;
    for (float value : values) sum += std::exp(value - max);
    total += std::log(sum) + max - values[static_cast<size_t>(labels[row])];
  }
  return total / static_cast<double>(labels.size());
}

double hostMse(std::span<const float> predictions, std::span<const float> target) {
  double total = 0.0;
  for (size_t element = 0; element < target.size(); ++element) {
    double diff = predictions[element] - target[element];
    total += diff * diff;
  }
  return total / static_cast<double>(target.size());
}

TEST_CASE("forward writes a classifier's logits, and its loss is their softmax-ce",
          "[jit]") {
  const std::vector<int64_t> widths = {6, 8, 4};
  rt::StepRunner runner = makeRunner(
      testing::buildPredictingMlp(kBatch, widths, testing::MlpLoss::SoftmaxCrossEntropy));
  REQUIRE(runner.layout().prediction_rows == kBatch);
  REQUIRE(runner.layout().prediction_width == 4);
  std::vector<std::vector<float>> params = testing::randomMlpParameters(widths, 11);
  for (size_t param_idx = 0; param_idx < params.size(); ++param_idx)
    runner.parameter(param_idx) = params[param_idx];
  std::mt19937 rng(12);
  std::vector<float> x = randomFloats(rng, kBatch * 6);
  std::vector<int32_t> labels = {0, 3, 1, 2, 3};
  const void* inputs[] = {x.data(), labels.data()};

  std::vector<float> predictions(kBatch * 4, kUnwritten);
  rt::StepResult result = runner.forward(inputs, predictions.data());
  REQUIRE(result.status == kNnspecOk);
  checkNear(predictions, testing::referenceMlpForward(params, x, kBatch, widths));
  double expected_loss = hostSoftmaxCrossEntropy(predictions, labels, 4);
  CHECK_THAT(result.data_loss, Catch::WithinAbs(expected_loss, 1e-4));
  CHECK_THAT(result.total_loss, Catch::WithinAbs(expected_loss, 1e-4));
}

TEST_CASE("forward writes a regression MLP's outputs, and its loss is their mse", "[jit]") {
  const std::vector<int64_t> widths = {3, 7, 2};
  rt::StepRunner runner =
      makeRunner(testing::buildPredictingMlp(kBatch, widths, testing::MlpLoss::Mse));
  REQUIRE(runner.layout().predictionFloats() == kBatch * 2);
  std::vector<std::vector<float>> params = testing::randomMlpParameters(widths, 21);
  for (size_t param_idx = 0; param_idx < params.size(); ++param_idx)
    runner.parameter(param_idx) = params[param_idx];
  std::mt19937 rng(22);
  std::vector<float> x = randomFloats(rng, kBatch * 3);
  std::vector<float> target = randomFloats(rng, kBatch * 2);
  const void* inputs[] = {x.data(), target.data()};

  std::vector<float> predictions(kBatch * 2, kUnwritten);
  rt::StepResult result = runner.forward(inputs, predictions.data());
  REQUIRE(result.status == kNnspecOk);
  checkNear(predictions, testing::referenceMlpForward(params, x, kBatch, widths));
  CHECK_THAT(result.data_loss, Catch::WithinAbs(hostMse(predictions, target), 1e-4));
}

TEST_CASE("without a predictions buffer nothing is written", "[jit]") {
  const std::vector<int64_t> widths = {6, 8, 4};
  rt::StepRunner runner = makeRunner(
      testing::buildPredictingMlp(kBatch, widths, testing::MlpLoss::SoftmaxCrossEntropy));
  std::vector<std::vector<float>> params = testing::randomMlpParameters(widths, 31);
  for (size_t param_idx = 0; param_idx < params.size(); ++param_idx)
    runner.parameter(param_idx) = params[param_idx];
  std::mt19937 rng(32);
  std::vector<float> x = randomFloats(rng, kBatch * 6);
  std::vector<int32_t> labels = {0, 1, 2, 3, 0};
  const void* inputs[] = {x.data(), labels.data()};
  std::vector<float> written(kBatch * 4, kUnwritten);
  REQUIRE(runner.forward(inputs, written.data()).status == kNnspecOk);
  const std::vector<float> first = written;

  // New inputs and a null NnspecStepArgs::predictions: the losses of the new inputs, and
  // the buffer of the last call keeps the old predictions.
  std::vector<float> next_x = randomFloats(rng, kBatch * 6);
  std::copy(next_x.begin(), next_x.end(), x.begin());  // in place: `inputs` points at x
  rt::StepResult without = runner.forward(inputs);
  REQUIRE(without.status == kNnspecOk);
  std::vector<double> expected = testing::referenceMlpForward(params, x, kBatch, widths);
  std::vector<float> expected_logits(expected.begin(), expected.end());
  CHECK_THAT(without.data_loss,
             Catch::WithinAbs(hostSoftmaxCrossEntropy(expected_logits, labels, 4), 1e-4));
  CHECK(sameBytes(written, first));

  // A failed call (a label out of range) does not write the buffer either.
  const std::vector<float> unwritten(kBatch * 4, kUnwritten);
  std::vector<float> untouched = unwritten;
  labels[2] = 4;
  CHECK(runner.forward(inputs, untouched.data()).status == kNnspecBadLabel);
  CHECK(sameBytes(untouched, unwritten));
}

TEST_CASE("gradients and train step write the predictions from before the update", "[jit]") {
  const std::vector<int64_t> widths = {3, 7, 2};
  rt::StepRunner runner =
      makeRunner(testing::buildPredictingMlp(kBatch, widths, testing::MlpLoss::Mse));
  std::vector<std::vector<float>> params = testing::randomMlpParameters(widths, 41);
  for (size_t param_idx = 0; param_idx < params.size(); ++param_idx)
    runner.parameter(param_idx) = params[param_idx];
  std::mt19937 rng(42);
  std::vector<float> x = randomFloats(rng, kBatch * 3);
  std::vector<float> target = randomFloats(rng, kBatch * 2);
  const void* inputs[] = {x.data(), target.data()};
  std::vector<double> expected = testing::referenceMlpForward(params, x, kBatch, widths);

  std::vector<float> from_gradients(kBatch * 2, kUnwritten);
  REQUIRE(runner.gradients(inputs, from_gradients.data()).status == kNnspecOk);
  checkNear(from_gradients, expected);
  NnspecOptimizerParams opt{};
  opt.lr = 0.1f;
  opt.step = 1;
  std::vector<float> from_train_step(kBatch * 2, kUnwritten);
  REQUIRE(runner.trainStep(inputs, opt, from_train_step.data()).status == kNnspecOk);
  checkNear(from_train_step, expected);
  std::vector<float> after(kBatch * 2, kUnwritten);
  REQUIRE(runner.forward(inputs, after.data()).status == kNnspecOk);
  CHECK(hostMse(after, target) < hostMse(from_train_step, target));
}

TEST_CASE("a predictions buffer for a graph that marks no prediction is rejected", "[jit]") {
  std::vector<float> x(kBatch * 6, 0.25f);
  std::vector<int32_t> labels = {0, 1, 2, 3, 0};
  const void* inputs[] = {x.data(), labels.data()};
  rt::StepRunner plain = makeRunner(testing::buildMlp(kBatch, {6, 8, 4}));
  CHECK(plain.layout().predictionFloats() == 0);
  std::vector<float> buffer(kBatch * 4);
  CHECK_THROWS_AS(plain.forward(inputs, buffer.data()), std::invalid_argument);
}

TEST_CASE("marking a prediction changes the compiled step's signature", "[jit]") {
  ir::Graph graph;
  ValueId x = graph.input("x", ir::f32({2, 3}));
  ValueId w = graph.parameter("w", {3, 3});
  ValueId y = graph.matmul(x, w);
  ValueId loss = graph.reduceMean(graph.mul(y, y));
  transforms::GradientGraph plain = transforms::differentiate(graph, loss);
  transforms::GradientGraph predicting = transforms::differentiate(graph, loss, {}, y);
  CHECK(predicting.prediction == y);
  CHECK_THAT(transforms::printGradientGraph(predicting),
             Catch::Contains("prediction %" + std::to_string(y) + "\n"));
  CHECK(codegen::stepSignature(plain, {}) != codegen::stepSignature(predicting, {}));
}

// sigmoid(x w + b) against a target, with the squared error written out as element-wise
// ops: the sigmoid is fused into the loop nest of the loss and, unmarked, never stored.
struct FusedRegression {
  ir::Graph graph;
  ValueId prediction = 0;
  ValueId loss = 0;
};

FusedRegression buildFusedRegression() {
  FusedRegression model;
  ir::Graph& graph = model.graph;
  ValueId x = graph.input("x", ir::f32({kBatch, 3}));
  ValueId target = graph.input("target", ir::f32({kBatch, 2}));
  ValueId w = graph.parameter("w", {3, 2});
  ValueId b = graph.parameter("b", {2});
  model.prediction = graph.unary(ir::OpKind::Sigmoid, graph.add(graph.matmul(x, w), b));
  ValueId diff = graph.sub(model.prediction, target);
  model.loss = graph.reduceMean(graph.mul(diff, diff));
  return model;
}

bool storedInForward(const codegen::StepPlan& plan, ValueId value) {
  const codegen::FunctionPlan& forward = plan.functions[0];
  REQUIRE(forward.entry == codegen::EntryPoint::Forward);
  return forward.workspace_offset[static_cast<size_t>(value)] >= 0;
}

TEST_CASE("a prediction fused into a loop nest is stored when marked", "[jit]") {
  FusedRegression model = buildFusedRegression();
  transforms::GradientGraph plain = transforms::differentiate(model.graph, model.loss);
  transforms::GradientGraph predicting =
      transforms::differentiate(model.graph, model.loss, {}, model.prediction);
  CHECK_FALSE(storedInForward(codegen::planStep(plain, {}), model.prediction));
  codegen::StepPlan plan = codegen::planStep(predicting, {});
  for (const codegen::FunctionPlan& function : plan.functions) {
    INFO(codegen::entrySymbol(function.entry));
    CHECK(function.workspace_offset[static_cast<size_t>(model.prediction)] >= 0);
  }
  // Still one loop nest: add, sigmoid, sub, mul with the mean accumulated inside.
  bool fused = false;
  for (const transforms::Kernel& kernel : plan.functions[0].fusion.kernels)
    fused = fused || (std::count(kernel.members.begin(), kernel.members.end(),
                                 model.prediction) == 1 &&
                      kernel.sinks == std::vector<ValueId>{model.loss});
  CHECK(fused);

  rt::StepRunner runner = makeRunner(predicting);
  std::vector<float> w = {0.4f, -0.7f, 0.1f, 0.9f, -0.3f, 0.5f};
  std::vector<float> b = {0.2f, -0.1f};
  runner.parameter("w") = w;
  runner.parameter("b") = b;
  std::mt19937 rng(51);
  std::vector<float> x = randomFloats(rng, kBatch * 3);
  std::vector<float> target = randomFloats(rng, kBatch * 2);
  const void* inputs[] = {x.data(), target.data()};
  std::vector<float> predictions(kBatch * 2, kUnwritten);
  rt::StepResult result = runner.forward(inputs, predictions.data());
  REQUIRE(result.status == kNnspecOk);
  std::vector<double> expected(kBatch * 2);
  for (int64_t row = 0; row < kBatch; ++row)
    for (int64_t col = 0; col < 2; ++col) {
      double sum = b[static_cast<size_t>(col)];
      for (int64_t in = 0; in < 3; ++in)
        sum += x[static_cast<size_t>(row * 3 + in)] * w[static_cast<size_t>(in * 2 + col)];
      expected[static_cast<size_t>(row * 2 + col)] = 1.0 / (1.0 + std::exp(-sum));
    }
  checkNear(predictions, expected);
  CHECK_THAT(result.data_loss, Catch::WithinAbs(hostMse(predictions, target), 1e-5));
}

}  // namespace
}  // namespace nnspec::jit
