// The whole train step of a small MLP, checked by finite differences.
#include "tests/autodiff/gradient_check.h"

namespace nnspec::testing {
namespace {

using ir::OpKind;
using ir::ValueId;

TEST_CASE("gradient of an 8-16-16-4 relu MLP with softmax cross-entropy, L2 and L1", "[autodiff]") {
  constexpr int64_t kBatch = 8;
  OpCheck check(2024);
  ir::Graph& graph = check.graph();
  ValueId x = check.input("x", {kBatch, 8});
  ValueId labels = check.labels("labels", kBatch, 4);
  std::vector<transforms::Penalty> penalties;
  ValueId activation = x;
  int64_t fan_in = 8;
  int layer = 0;
  for (int64_t width : {16, 16, 4}) {
    std::string index = std::to_string(++layer);
    ValueId w = check.param("w" + index, {fan_in, width}, 0.05f, 0.6f);
    ValueId b = check.param("b" + index, {width}, 0.0f, 0.1f);
    activation = graph.add(graph.matmul(activation, w), b);
    if (width != 4) activation = graph.unary(OpKind::Relu, activation);
    penalties.push_back({w, transforms::PenaltyKind::L2, "l2"});
    fan_in = width;
  }
  penalties.push_back({graph.leaves(OpKind::Parameter)[0], transforms::PenaltyKind::L1, "l1"});
  ValueId loss = graph.softmaxCrossEntropy(activation, labels);
  GradCheckOptions options;
  options.step = 1e-3;  // small: pre-activations are not kept clear of kinks
  options.abs_tolerance = 1e-3;
  options.rel_tolerance = 1e-2;
  GradCheckReport result = check.check(loss, penalties, {{"l2", 0.01f}, {"l1", 0.003f}}, options);
  CHECK(result.checked == 8 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4);
  WARN("mlp: max |error| " << result.max_abs_error << ", max |gradient| " << result.max_gradient);
}

TEST_CASE("gradient of a tanh/sigmoid/elu/leaky_relu MLP with an mse loss", "[autodiff]") {
  OpCheck check(77);
  ir::Graph& graph = check.graph();
  ValueId x = check.input("x", {6, 5});
  ValueId target = check.input("target", {6, 3});
  ValueId w1 = check.param("w1", {5, 7}, 0.05f, 0.5f);
  ValueId b1 = check.param("b1", {7}, 0.0f, 0.1f);
  ValueId w2 = check.param("w2", {7, 3}, 0.05f, 0.5f);
  ValueId b2 = check.param("b2", {3}, 0.0f, 0.1f);
  ValueId pre = graph.add(graph.matmul(x, w1), b1);
  ValueId mixed = graph.add(graph.unary(OpKind::Tanh, pre), graph.unary(OpKind::Sigmoid, pre));
  ValueId hidden = graph.unary(OpKind::Elu, graph.unary(OpKind::LeakyRelu, mixed, 0.2f), 0.5f);
  ValueId out = graph.add(graph.matmul(hidden, w2), b2);
  ValueId loss = graph.mse(out, target);
  GradCheckOptions options;
  options.step = 1e-3;  // small: pre-activations are not kept clear of kinks
  options.abs_tolerance = 1e-3;
  options.rel_tolerance = 1e-2;
  GradCheckReport result = check.check(loss, {{w2, transforms::PenaltyKind::L2, "l2"}},
                                       {{"l2", 0.05f}}, options);
  WARN("smooth mlp: max |error| " << result.max_abs_error);
}

}  // namespace
}  // namespace nnspec::testing
