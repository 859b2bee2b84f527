// Finite-difference gradient checks of the window ops (conv2d, max_pool, avg_pool, pad2d,
// crop2d) through the JIT, and of a small convolutional network's whole train step.
#include "tests/autodiff/gradient_check.h"

#include <string>

#include "compiler/codegen/step_plan.h"

namespace nnspec::testing {
namespace {

using ir::OpKind;
using ir::Padding;
using ir::ValueId;
using ir::Window;

void report(const char* what, const GradCheckReport& result) {
  INFO(what);
  CHECK(result.checked > 0);
  CHECK(result.max_gradient > 1e-2);  // the check compared something
}

Window window(int64_t height, int64_t width, int64_t stride_h, int64_t stride_w, Padding padding) {
  return Window{height, width, stride_h, stride_w, padding};
}

struct ConvCase {
  const char* name;
  ir::Shape image;  // [n,h,w,cin]
  Window window;
  int64_t out_channels;
};

TEST_CASE("gradient of conv2d, valid and same padding, stride 1 and 2", "[autodiff]") {
  for (const ConvCase& conv : {
           ConvCase{"valid 3x3 stride 1", {2, 6, 5, 3}, window(3, 3, 1, 1, Padding::Valid), 4},
           ConvCase{"same 3x2 stride 1", {2, 5, 7, 2}, window(3, 2, 1, 1, Padding::Same), 3},
           ConvCase{"valid 3x3 stride 2", {1, 7, 6, 2}, window(3, 3, 2, 2, Padding::Valid), 3},
           ConvCase{"same 4x3 stride 2x1, uneven pads", {2, 5, 7, 2}, window(4, 3, 2, 1, Padding::Same), 2},
           ConvCase{"same 3x3 stride 2", {1, 6, 7, 1}, window(3, 3, 2, 2, Padding::Same), 2},
       }) {
    INFO(conv.name);
    OpCheck check(900 + static_cast<uint32_t>(conv.image[1] * 10 + conv.window.stride_h));
    ValueId x = check.param("x", conv.image);
    ValueId kernel = check.param(
        "kernel", {conv.window.height, conv.window.width, conv.image[3], conv.out_channels});
    ValueId y = check.graph().conv2d(x, kernel, conv.window);
    report(conv.name, check.check(check.weightedSum(y)));
  }
}

// conv2d + bias + activation: the bias and activation run as the convolution's epilogue
// (fusion.h); the forward entry and the training entries each fuse them.
TEST_CASE("gradient of conv2d with bias and an activation fused into its epilogue", "[autodiff]") {
  struct ActivationCase {
    const char* name;
    OpKind op;
    float alpha;
    bool kink;  // relu, leaky_relu: smaller steps, as pre-activations are not kept clear of 0
  };
  for (const ConvCase& conv : {
           ConvCase{"direct path: same 3x3 stride 1", {1, 4, 5, 2}, window(3, 3, 1, 1, Padding::Same), 3},
           ConvCase{"im2col path: valid 3x3 stride 2", {1, 7, 6, 6}, window(3, 3, 2, 2, Padding::Valid), 5},
       })
    for (const ActivationCase& activation : {ActivationCase{"relu", OpKind::Relu, 0.0f, true},
                                             ActivationCase{"leaky_relu", OpKind::LeakyRelu, 0.2f, true},
                                             ActivationCase{"elu", OpKind::Elu, 1.0f, false},
                                             ActivationCase{"tanh", OpKind::Tanh, 0.0f, false},
                                             ActivationCase{"sigmoid", OpKind::Sigmoid, 0.0f, false}}) {
      INFO(conv.name << ", " << activation.name);
      OpCheck check(950 + static_cast<uint32_t>(conv.image[3]));
      ValueId x = check.param("x", conv.image);
      ValueId kernel =
          check.param("kernel", {conv.window.height, conv.window.width, conv.image[3], conv.out_channels});
      ValueId bias = check.param("bias", {conv.out_channels});
      ValueId y = check.graph().unary(activation.op, check.graph().add(check.graph().conv2d(x, kernel, conv.window), bias),
                                      activation.alpha);
      // A 1x1 average pool before the loss keeps the loss's reduction out of the activation's
      // loop (a loop with a reduction is no epilogue); squared, so the backward reads the
      // forward values (as a real loss does) and the two loops stay apart.
      y = check.graph().avgPool(y, window(1, 1, 1, 1, Padding::Valid));
      ValueId loss = check.weightedSum(check.graph().mul(y, y));
      const std::string plan =
          codegen::printStepPlan(codegen::planStep(transforms::differentiate(check.graph(), loss), {}));
      INFO(plan);
      size_t epilogues = 0;
      for (size_t at = plan.find(" epilogue loop"); at != std::string::npos; at = plan.find(" epilogue loop", at + 1))
        ++epilogues;
      CHECK(epilogues == 3);  // the forward, gradients and train step entries
      GradCheckOptions options;
      if (activation.kink) {  // a step small enough to cross no kink, above the float noise
        options.step = 4e-3;
        options.abs_tolerance = 2e-3;
        options.rel_tolerance = 1e-2;
      }
      report(activation.name, check.check(loss, {}, {}, options));
    }
}

// Values 0.05 apart (shuffled, random signs): finite-difference steps never change which
// element of a window is its maximum.
std::vector<float> separatedValues(std::mt19937& rng, int64_t count) {
  std::vector<float> values;
  for (int64_t element = 0; element < count; ++element)
    values.push_back(0.05f * static_cast<float>(element - count / 2) + 0.025f);
  std::shuffle(values.begin(), values.end(), rng);
  return values;
}

struct PoolCase {
  const char* name;
  ir::Shape image;
  Window window;
};

const PoolCase kPoolCases[] = {
    {"2x2 stride 2", {2, 4, 6, 3}, window(2, 2, 2, 2, Padding::Valid)},
    {"overlapping 4x4 stride 2", {1, 8, 7, 2}, window(4, 4, 2, 2, Padding::Valid)},
    {"3x2 stride 1x2", {2, 5, 6, 2}, window(3, 2, 1, 2, Padding::Valid)},
    {"same 3x3 stride 2", {1, 5, 6, 2}, window(3, 3, 2, 2, Padding::Same)},
};

TEST_CASE("gradient of max_pool, disjoint and overlapping windows", "[autodiff]") {
  for (const PoolCase& pool : kPoolCases) {
    INFO(pool.name);
    OpCheck check(950 + static_cast<uint32_t>(pool.image[1]));
    int64_t count = ir::f32(pool.image).numElements();
    ValueId x = check.paramWithValues("x", pool.image, separatedValues(check.rng(), count));
    ValueId y = check.graph().maxPool(x, pool.window);
    GradCheckOptions options;
    options.step = 1e-2;  // below half the spacing of the values
    report(pool.name, check.check(check.weightedSum(y), {}, {}, options));
  }
}

TEST_CASE("gradient of avg_pool, disjoint and overlapping windows", "[autodiff]") {
  for (const PoolCase& pool : kPoolCases) {
    INFO(pool.name);
    OpCheck check(970 + static_cast<uint32_t>(pool.image[1]));
    ValueId x = check.param("x", pool.image);
    ValueId y = check.graph().avgPool(x, pool.window);
    report(pool.name, check.check(check.weightedSum(y)));
  }
}

TEST_CASE("gradient of pad2d and crop2d", "[autodiff]") {
  ir::Pads pads{1, 2, 0, 3};
  {
    OpCheck check(990);
    ValueId x = check.param("x", {2, 3, 4, 2});
    report("pad2d", check.check(check.weightedSum(check.graph().pad2d(x, pads))));
  }
  {
    OpCheck check(991);
    ValueId x = check.param("x", {2, 5, 6, 2});
    report("crop2d", check.check(check.weightedSum(check.graph().crop2d(x, pads))));
  }
}

// pad -> conv -> relu -> avg_pool -> reshape -> dense -> softmax cross-entropy.
struct SmallConvNet {
  static constexpr int64_t kBatch = 4;
  static constexpr int64_t kClasses = 3;
  OpCheck check{4242};
  ValueId loss = -1;

  SmallConvNet() {
    ir::Graph& graph = check.graph();
    ValueId x = check.input("x", {kBatch, 6, 6, 2});
    ValueId labels = check.labels("labels", kBatch, kClasses);
    ValueId kernel = check.param("kernel", {3, 3, 2, 4}, 0.05f, 0.5f);
    ValueId bias = check.param("bias", {4}, 0.0f, 0.1f);
    ValueId w = check.param("w", {36, kClasses}, 0.05f, 0.5f);
    ValueId b = check.param("b", {kClasses}, 0.0f, 0.1f);
    ValueId padded = graph.pad2d(x, ir::Pads{1, 1, 1, 1});
    ValueId conv = graph.add(graph.conv2d(padded, kernel, window(3, 3, 1, 1, Padding::Valid)), bias);
    ValueId pooled = graph.avgPool(graph.unary(OpKind::Relu, conv), window(2, 2, 2, 2, Padding::Valid));
    ValueId flat = graph.reshape(pooled, {kBatch, 3 * 3 * 4});
    loss = graph.softmaxCrossEntropy(graph.add(graph.matmul(flat, w), b), labels);
  }
};

TEST_CASE("gradient of a pad-conv-relu-avg_pool-dense network with softmax cross-entropy",
          "[autodiff]") {
  SmallConvNet net;
  GradCheckOptions options;
  options.step = 1e-3;  // small: pre-activations are not kept clear of kinks
  options.abs_tolerance = 1e-3;
  options.rel_tolerance = 1e-2;
  GradCheckReport result = net.check.check(net.loss, {}, {}, options);
  CHECK(result.checked == 3 * 3 * 2 * 4 + 4 + 36 * 3 + 3);
  WARN("conv net: max |error| " << result.max_abs_error << ", max |gradient| " << result.max_gradient);
}

}  // namespace
}  // namespace nnspec::testing
