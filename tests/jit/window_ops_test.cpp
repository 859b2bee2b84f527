// The window ops (conv2d, max_pool, avg_pool, pad2d) through the JIT against plain C++
// reference loops, and a convolutional network whose train step lowers its loss.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "compiler/codegen/step_plan.h"
#include "compiler/ir/verifier.h"
#include "compiler/jit/jit_compiler.h"
#include "runtime/exec/step_runner.h"
#include "compiler/transforms/autodiff.h"

namespace nnspec::jit {
namespace {

using ir::Padding;
using ir::ValueId;
using ir::Window;

JitCompiler& windowJit() {
  static std::unique_ptr<JitCompiler> compiler = [] {
    auto created = JitCompiler::create();
    REQUIRE(created.ok());
    return std::move(created.value());
  }();
  return *compiler;
}

std::vector<float> randomFloats(std::mt19937& rng, int64_t count) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& element : values) element = value(rng);
  return values;
}

// One spatial axis, written out independently of the compiler's placeWindow: the output
// length and the padding before the first element (TensorFlow's rule for same).
struct Axis {
  int64_t out;
  int64_t pad_low;
};

Axis referenceAxis(int64_t in, int64_t size, int64_t stride, Padding padding) {
  if (padding == Padding::Valid) return {(in - size) / stride + 1, 0};
  int64_t out = (in + stride - 1) / stride;
  int64_t total = (out - 1) * stride + size - in;
  return {out, total > 0 ? total / 2 : 0};
}

// An image f32[n,h,w,c], indexable by (batch, row, col, channel).
struct Image {
  int64_t batch, height, width, channels;
  std::vector<float> values;
  float at(int64_t n, int64_t row, int64_t col, int64_t channel) const {
    return values[static_cast<size_t>(((n * height + row) * width + col) * channels + channel)];
  }
  bool inside(int64_t row, int64_t col) const {
    return row >= 0 && row < height && col >= 0 && col < width;
  }
};

enum class Reference { Conv, MaxPool, AvgPool };

// The naive forward of conv2d (kernel [kh,kw,cin,cout]) or a pooling op, in double.
std::vector<double> referenceForward(Reference op, const Image& x, const std::vector<float>& kernel,
                                     const Window& window, int64_t out_channels) {
  Axis rows = referenceAxis(x.height, window.height, window.stride_h, window.padding);
  Axis cols = referenceAxis(x.width, window.width, window.stride_w, window.padding);
  std::vector<double> y;
  for (int64_t n = 0; n < x.batch; ++n)
    for (int64_t out_row = 0; out_row < rows.out; ++out_row)
      for (int64_t out_col = 0; out_col < cols.out; ++out_col)
        for (int64_t out_channel = 0; out_channel < out_channels; ++out_channel) {
          double sum = 0.0;
          double max = -std::numeric_limits<double>::infinity();
          int64_t taps = 0;
          for (int64_t kernel_row = 0; kernel_row < window.height; ++kernel_row)
            for (int64_t kernel_col = 0; kernel_col < window.width; ++kernel_col) {
              int64_t row = out_row * window.stride_h + kernel_row - rows.pad_low;
              int64_t col = out_col * window.stride_w + kernel_col - cols.pad_low;
              if (!x.inside(row, col)) continue;
              ++taps;
              if (op != Reference::Conv) {
                sum += x.at(n, row, col, out_channel);
                max = std::max<double>(max, x.at(n, row, col, out_channel));
                continue;
              }
              for (int64_t in_channel = 0; in_channel < x.channels; ++in_channel)
                sum += static_cast<double>(x.at(n, row, col, in_channel)) *
                       kernel[static_cast<size_t>(
                           ((kernel_row * window.width + kernel_col) * x.channels + in_channel) *
                               out_channels +
                           out_channel)];
            }
          y.push_back(op == Reference::MaxPool ? max
                      : op == Reference::AvgPool ? sum / static_cast<double>(taps)
                                                 : sum);
        }
  return y;
}

// Compiles `graph` with `output` as the prediction (loss: its mean), sets the parameters in
// order and runs forward; returns the output values.
std::vector<float> runForward(ir::Graph& graph, ValueId output,
                              const std::vector<std::vector<float>>& params) {
  ValueId loss = graph.reduceMean(output);
  transforms::GradientGraph gradient_graph = transforms::differentiate(graph, loss, {}, output);
  REQUIRE(ir::verifyGraph(gradient_graph.graph).empty());
  auto compiled = windowJit().compile(gradient_graph, {});
  if (!compiled) FAIL(compiled.error().message);
  rt::StepRunner runner(compiled.value());
  for (size_t param_idx = 0; param_idx < params.size(); ++param_idx)
    runner.parameter(param_idx) = params[param_idx];
  std::vector<float> predictions(static_cast<size_t>(runner.layout().predictionFloats()));
  rt::StepResult result = runner.forward({}, predictions.data());
  REQUIRE(result.status == kNnspecOk);
  return predictions;
}

void checkNear(const std::vector<float>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t element = 0; element < actual.size(); ++element) {
    INFO("element " << element);
    CHECK_THAT(actual[element], Catch::WithinAbs(expected[element], 1e-4));
  }
}

struct ForwardCase {
  const char* name;
  ir::Shape image;
  Window window;
  int64_t out_channels;
};

const ForwardCase kForwardCases[] = {
    {"valid 3x3 stride 1", {2, 6, 5, 3}, {3, 3, 1, 1, Padding::Valid}, 4},
    {"same 5x5 stride 1", {1, 7, 6, 2}, {5, 5, 1, 1, Padding::Same}, 3},
    {"valid 3x2 stride 2x1", {2, 7, 6, 2}, {3, 2, 2, 1, Padding::Valid}, 2},
    {"same 4x3 stride 2, uneven pads", {2, 5, 8, 3}, {4, 3, 2, 2, Padding::Same}, 5},
};

TEST_CASE("conv2d forward matches a naive reference", "[jit]") {
  for (const ForwardCase& conv : kForwardCases) {
    INFO(conv.name);
    std::mt19937 rng(31);
    ir::Graph graph;
    ValueId x = graph.parameter("x", conv.image);
    ValueId kernel = graph.parameter(
        "kernel", {conv.window.height, conv.window.width, conv.image[3], conv.out_channels});
    ValueId y = graph.conv2d(x, kernel, conv.window);
    Image image{conv.image[0], conv.image[1], conv.image[2], conv.image[3],
                randomFloats(rng, graph.type(x).numElements())};
    std::vector<float> weights = randomFloats(rng, graph.type(kernel).numElements());
    std::vector<float> actual = runForward(graph, y, {image.values, weights});
    checkNear(actual, referenceForward(Reference::Conv, image, weights, conv.window, conv.out_channels));
  }
}

TEST_CASE("max_pool and avg_pool forward match a naive reference", "[jit]") {
  for (Reference op : {Reference::MaxPool, Reference::AvgPool})
    for (const ForwardCase& pool : kForwardCases) {
      INFO((op == Reference::MaxPool ? "max_pool " : "avg_pool ") << pool.name);
      std::mt19937 rng(41);
      ir::Graph graph;
      ValueId x = graph.parameter("x", pool.image);
      ValueId y = op == Reference::MaxPool ? graph.maxPool(x, pool.window) : graph.avgPool(x, pool.window);
      Image image{pool.image[0], pool.image[1], pool.image[2], pool.image[3],
                  randomFloats(rng, graph.type(x).numElements())};
      std::vector<float> actual = runForward(graph, y, {image.values});
      checkNear(actual, referenceForward(op, image, {}, pool.window, pool.image[3]));
    }
}

TEST_CASE("pad2d surrounds the image with zeros and crop2d takes it back", "[jit]") {
  std::mt19937 rng(51);
  ir::Graph graph;
  ValueId x = graph.parameter("x", {2, 3, 4, 2});
  ir::Pads pads{1, 2, 3, 0};
  ValueId padded = graph.pad2d(x, pads);
  REQUIRE(graph.type(padded) == ir::f32({2, 6, 7, 2}));
  std::vector<float> values = randomFloats(rng, graph.type(x).numElements());
  std::vector<float> actual = runForward(graph, padded, {values});
  Image image{2, 3, 4, 2, values};
  std::vector<double> expected;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t row = 0; row < 6; ++row)
      for (int64_t col = 0; col < 7; ++col)
        for (int64_t channel = 0; channel < 2; ++channel)
          expected.push_back(image.inside(row - 1, col - 3) ? image.at(n, row - 1, col - 3, channel) : 0.0);
  checkNear(actual, expected);

  ir::Graph round_trip;
  ValueId y = round_trip.crop2d(round_trip.pad2d(round_trip.parameter("x", {2, 3, 4, 2}), pads), pads);
  checkNear(runForward(round_trip, y, {values}), std::vector<double>(values.begin(), values.end()));
}

// conv2d + bias + activation (+ dropout), the loss a weighted sum of the squares of its 2x2
// average pool:
// compiled with the bias and activation fused into the convolution's epilogue and
// without, on a direct-path geometry (2 input channels) and an im2col one (7 channels,
// stride 2, several chunks).
struct EpilogueCase {
  const char* name;
  ir::OpKind activation;
  float alpha;
};

const EpilogueCase kEpilogueCases[] = {
    {"relu", ir::OpKind::Relu, 0.0f},       {"elu", ir::OpKind::Elu, 1.0f},
    {"tanh", ir::OpKind::Tanh, 0.0f},       {"sigmoid", ir::OpKind::Sigmoid, 0.0f},
    {"leaky_relu", ir::OpKind::LeakyRelu, 0.1f},
};

struct EpilogueGeometry {
  const char* name;
  ir::Shape image;
  Window window;
  int64_t out_channels;
};

const EpilogueGeometry kEpilogueGeometries[] = {
    {"direct path", {3, 11, 12, 2}, {5, 5, 1, 1, Padding::Same}, 6},
    {"im2col path", {2, 40, 37, 7}, {3, 3, 2, 2, Padding::Same}, 16},
};

struct EpilogueRun {
  std::string plan;
  float forward_loss = 0.0f;
  float gradients_loss = 0.0f;
  std::vector<std::vector<float>> grads;
};

EpilogueRun runEpilogueCase(const EpilogueGeometry& geometry, const EpilogueCase& activation, bool dropout,
                            bool fuse) {
  ir::Graph graph;
  ValueId x = graph.input("x", ir::f32(geometry.image));
  const int64_t in_c = geometry.image[3];
  ValueId kernel = graph.parameter("kernel", {geometry.window.height, geometry.window.width, in_c, geometry.out_channels});
  ValueId bias = graph.parameter("bias", {geometry.out_channels});
  ValueId conv = graph.add(graph.conv2d(x, kernel, geometry.window), bias);
  ValueId result = graph.unary(activation.activation, conv, activation.alpha);
  if (dropout) result = graph.dropout(result, 0.25f, 0);
  // A pooling call between the activation and the loss, as in LeNet-5: the loss's
  // reduction would otherwise share the activation's loop (a loop with a reduction is not
  // an epilogue).
  result = graph.avgPool(result, {2, 2, 2, 2, Padding::Valid});
  ValueId r = graph.input("r", ir::f32(graph.type(result).shape));
  // Quadratic: the backward reads the forward values (as a real loss does), so the
  // forward's loop is not merged with the backward's.
  ValueId loss = graph.reduceSum(graph.mul(graph.mul(result, result), r));
  transforms::GradientGraph gradient_graph = transforms::differentiate(graph, loss);
  REQUIRE(ir::verifyGraph(gradient_graph.graph).empty());
  codegen::StepConfig config;
  config.conv_epilogues = fuse;
  EpilogueRun run;
  run.plan = codegen::printStepPlan(codegen::planStep(gradient_graph, config));
  auto compiled = windowJit().compile(gradient_graph, config);
  if (!compiled) FAIL(compiled.error().message);
  rt::StepRunner runner(compiled.value());
  runner.setRngSeed(7);
  std::mt19937 rng(71);
  for (size_t param_idx = 0; param_idx < 2; ++param_idx)
    for (float& value : runner.parameter(param_idx)) value = 0.5f * randomFloats(rng, 1)[0];
  std::vector<float> images = randomFloats(rng, graph.type(x).numElements());
  std::vector<float> weights = randomFloats(rng, graph.type(r).numElements());
  const void* inputs[] = {images.data(), weights.data()};
  rt::StepResult forward = runner.forward(inputs);
  REQUIRE(forward.status == kNnspecOk);
  run.forward_loss = forward.data_loss;
  rt::StepResult gradients = runner.gradients(inputs);
  REQUIRE(gradients.status == kNnspecOk);
  run.gradients_loss = gradients.data_loss;
  for (size_t param_idx = 0; param_idx < 2; ++param_idx) run.grads.push_back(runner.gradient(param_idx));
  return run;
}

TEST_CASE("conv2d with bias and activation fused into its epilogue matches the unfused plan", "[jit]") {
  for (const EpilogueGeometry& geometry : kEpilogueGeometries)
    for (const EpilogueCase& activation : kEpilogueCases)
      for (bool dropout : {false, true}) {
        INFO(geometry.name << ", " << activation.name << (dropout ? ", dropout" : ""));
        EpilogueRun fused = runEpilogueCase(geometry, activation, dropout, true);
        EpilogueRun plain = runEpilogueCase(geometry, activation, dropout, false);
        INFO("fused plan:\n" << fused.plan);
        // Every entry point fuses its forward convolution; the unfused plan has no epilogue.
        size_t epilogues = 0;
        for (size_t at = fused.plan.find(" epilogue loop"); at != std::string::npos;
             at = fused.plan.find(" epilogue loop", at + 1))
          ++epilogues;
        CHECK(epilogues == 3);
        CHECK(plain.plan.find("epilogue") == std::string::npos);
        // The same element-wise code on the same convolution sums: equal up to the
        // vector math's last-bit differences between vector and scalar remainders.
        CHECK_THAT(fused.forward_loss, Catch::WithinRel(plain.forward_loss, 1e-5f));
        CHECK_THAT(fused.gradients_loss, Catch::WithinRel(plain.gradients_loss, 1e-5f));
        for (size_t param_idx = 0; param_idx < 2; ++param_idx) {
          REQUIRE(fused.grads[param_idx].size() == plain.grads[param_idx].size());
          float largest = 0.0f;
          for (float value : plain.grads[param_idx]) largest = std::max(largest, std::abs(value));
          for (size_t element = 0; element < plain.grads[param_idx].size(); ++element) {
            INFO("gradient " << param_idx << " element " << element);
            CHECK_THAT(fused.grads[param_idx][element],
                       Catch::WithinAbs(plain.grads[param_idx][element], 1e-5 * std::max(1.0f, largest)));
          }
        }
      }
}

TEST_CASE("sgd train steps of a pad-conv-relu-max_pool-dense network lower its loss", "[jit]") {
  constexpr int64_t kBatch = 8;
  constexpr int32_t kClasses = 3;
  ir::Graph graph;
  ValueId x = graph.input("x", ir::f32({kBatch, 8, 8, 1}));
  ValueId labels = graph.input("labels", ir::i32({kBatch}));
  ValueId kernel = graph.parameter("kernel", {3, 3, 1, 4});
  ValueId bias = graph.parameter("bias", {4});
  ValueId w = graph.parameter("w", {64, kClasses});
  ValueId b = graph.parameter("b", {kClasses});
  ValueId padded = graph.pad2d(x, ir::Pads{1, 1, 1, 1});
  ValueId conv = graph.add(graph.conv2d(padded, kernel, {3, 3, 1, 1, Padding::Valid}), bias);
  ValueId pooled = graph.maxPool(graph.unary(ir::OpKind::Relu, conv), {2, 2, 2, 2, Padding::Valid});
  ValueId logits = graph.add(graph.matmul(graph.reshape(pooled, {kBatch, 64}), w), b);
  ValueId loss = graph.softmaxCrossEntropy(logits, labels);
  transforms::GradientGraph gradient_graph = transforms::differentiate(graph, loss);
  REQUIRE(ir::verifyGraph(gradient_graph.graph).empty());
  auto compiled = windowJit().compile(gradient_graph, {});
  if (!compiled) FAIL(compiled.error().message);
  rt::StepRunner runner(compiled.value());
  std::mt19937 rng(61);
  for (size_t param_idx = 0; param_idx < 4; ++param_idx)
    for (float& value : runner.parameter(param_idx)) value = 0.3f * randomFloats(rng, 1)[0];
  std::vector<float> images = randomFloats(rng, kBatch * 64);
  std::vector<int32_t> classes;
  for (int64_t row = 0; row < kBatch; ++row) classes.push_back(static_cast<int32_t>(row % kClasses));
  const void* inputs[] = {images.data(), classes.data()};
  NnspecOptimizerParams opt{};
  opt.lr = 0.2f;
  float first = runner.forward(inputs).data_loss;
  float last = first;
  for (int32_t step = 1; step <= 30; ++step) {
    opt.step = step;
    rt::StepResult result = runner.trainStep(inputs, opt);
    REQUIRE(result.status == kNnspecOk);
    REQUIRE(std::isfinite(result.data_loss));
    last = result.data_loss;
  }
  CHECK(last < 0.5f * first);
}

}  // namespace
}  // namespace nnspec::jit
