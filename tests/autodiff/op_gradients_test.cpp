// One finite-difference gradient check per op of ops.def that has a gradient rule (and the
// broadcast forms of the binary ops), each through the JIT.
#include "tests/autodiff/gradient_check.h"

namespace nnspec::testing {
namespace {

using ir::OpKind;
using ir::ValueId;

void report(const char* what, const GradCheckReport& result) {
  INFO(what);
  CHECK(result.checked > 0);
  CHECK(result.max_gradient > 1e-2);  // the check compared something
}

TEST_CASE("gradient of matmul, every transpose combination", "[autodiff]") {
  for (int variant = 0; variant < 4; ++variant) {
    bool transpose_a = (variant & 1) != 0;
    bool transpose_b = (variant & 2) != 0;
    OpCheck check(100 + variant);
    ValueId a = check.param("a", transpose_a ? ir::Shape{4, 3} : ir::Shape{3, 4});
    ValueId b = check.param("b", transpose_b ? ir::Shape{5, 4} : ir::Shape{4, 5});
    ValueId product = check.graph().matmul(a, b, transpose_a, transpose_b);
    INFO("transpose_a " << transpose_a << ", transpose_b " << transpose_b);
    report("matmul", check.check(check.weightedSum(product)));
  }
}

TEST_CASE("gradient of the binary ops with equal shapes", "[autodiff]") {
  for (OpKind op : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div}) {
    OpCheck check(200 + static_cast<int>(op));
    ValueId a = check.param("a", {3, 4});
    ValueId b = check.param("b", {3, 4}, 0.5f, 1.5f, op != OpKind::Div);
    INFO(ir::opName(op));
    report("binary", check.check(check.weightedSum(check.graph().binary(op, a, b))));
  }
}

TEST_CASE("gradient of the binary ops with a row-broadcast rhs", "[autodiff]") {
  for (OpKind op : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div}) {
    OpCheck check(300 + static_cast<int>(op));
    ValueId a = check.param("a", {3, 4});
    ValueId b = check.param("b", {4}, 0.5f, 1.5f, op != OpKind::Div);
    INFO(ir::opName(op));
    report("row broadcast", check.check(check.weightedSum(check.graph().binary(op, a, b))));
  }
}

TEST_CASE("gradient of the binary ops with a scalar rhs", "[autodiff]") {
  for (OpKind op : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div}) {
    OpCheck check(400 + static_cast<int>(op));
    ValueId a = check.param("a", {2, 3});
    ValueId b = check.param("b", {}, 0.5f, 1.5f, op != OpKind::Div);
    INFO(ir::opName(op));
    report("scalar rhs", check.check(check.weightedSum(check.graph().binary(op, a, b))));
  }
}

TEST_CASE("gradient of the unary ops", "[autodiff]") {
  struct UnaryCase {
    OpKind op;
    float alpha;
    float low;
    bool signed_values;
  };
  for (UnaryCase unary : {UnaryCase{OpKind::Neg, 0, 0.2f, true}, UnaryCase{OpKind::Exp, 0, 0.2f, true},
                          UnaryCase{OpKind::Log, 0, 0.5f, false}, UnaryCase{OpKind::Abs, 0, 0.2f, true},
                          UnaryCase{OpKind::Relu, 0, 0.2f, true},
                          UnaryCase{OpKind::LeakyRelu, 0.1f, 0.2f, true},
                          UnaryCase{OpKind::Elu, 0.7f, 0.2f, true},
                          UnaryCase{OpKind::Sigmoid, 0, 0.2f, true},
                          UnaryCase{OpKind::Tanh, 0, 0.2f, true}}) {
    OpCheck check(500 + static_cast<int>(unary.op));
    ValueId x = check.param("x", {4, 5}, unary.low, 2.0f, unary.signed_values);
    ValueId y = check.graph().unary(unary.op, x, unary.alpha);
    INFO(ir::opName(unary.op));
    report("unary", check.check(check.weightedSum(y)));
  }
}

TEST_CASE("gradient through sign is zero away from 0", "[autodiff]") {
  OpCheck check(600);
  ValueId x = check.param("x", {6});
  ValueId y = check.graph().mul(check.graph().unary(OpKind::Sign, x), x);  // |x|
  report("sign", check.check(check.weightedSum(y)));
}

TEST_CASE("gradient of reduce_sum and reduce_mean over each axis and all", "[autodiff]") {
  for (OpKind op : {OpKind::ReduceSum, OpKind::ReduceMean})
    for (int axis : {ir::kAllAxes, 0, 1}) {
      OpCheck check(700 + axis + 10 * static_cast<int>(op));
      ValueId x = check.param("x", {3, 4});
      ir::Attrs attrs;
      attrs.axis = axis;
      ValueId reduced = check.graph().append(op, {x}, attrs);
      INFO(ir::opName(op) << " axis " << axis);
      report("reduce", check.check(check.weightedSum(reduced)));
    }
}

TEST_CASE("gradient of a reduction of a fused expression over a rank-3 value", "[autodiff]") {
  OpCheck check(750);
  ValueId x = check.param("x", {2, 3, 4});
  ValueId squared = check.graph().mul(x, x);
  report("rank-3 reduce", check.check(check.weightedSum(check.graph().reduceMean(squared, 2))));
}

TEST_CASE("gradient of broadcast from a scalar, a row and a column", "[autodiff]") {
  struct BroadcastCase {
    ir::Shape from;
    int axis;
  };
  for (BroadcastCase broadcast : {BroadcastCase{{}, ir::kAllAxes}, BroadcastCase{{4}, 0},
                                  BroadcastCase{{3}, 1}}) {
    OpCheck check(800 + broadcast.axis);
    ValueId x = check.param("x", broadcast.from);
    ValueId y = check.graph().broadcast(x, {3, 4}, broadcast.axis);
    INFO("axis " << broadcast.axis);
    report("broadcast", check.check(check.weightedSum(y)));
  }
}

TEST_CASE("gradient of reshape", "[autodiff]") {
  OpCheck check(900);
  ValueId x = check.param("x", {2, 6});
  ValueId y = check.graph().reshape(check.graph().unary(OpKind::Tanh, x), {3, 4});
  report("reshape", check.check(check.weightedSum(check.graph().mul(y, y))));
}

TEST_CASE("gradient of softmax over the last axis of a matrix and of an image's channels", "[autodiff]") {
  for (const ir::Shape& shape : {ir::Shape{4, 5}, ir::Shape{2, 2, 3, 4}}) {
    OpCheck check(950 + static_cast<int>(shape.size()));
    ValueId x = check.param("x", shape, 0.0f, 2.0f);
    INFO(ir::typeString(ir::f32(shape)));
    report("softmax", check.check(check.weightedSum(check.graph().softmax(x))));
  }
}

TEST_CASE("gradient of softmax_cross_entropy", "[autodiff]") {
  OpCheck check(1000);
  ValueId logits = check.param("logits", {5, 4}, 0.0f, 2.0f);
  ValueId labels = check.labels("labels", 5, 4);
  report("softmax_cross_entropy",
         check.check(check.graph().softmaxCrossEntropy(logits, labels)));
}

TEST_CASE("gradient of mse in both operands", "[autodiff]") {
  OpCheck check(1100);
  ValueId a = check.param("a", {3, 4});
  ValueId b = check.param("b", {3, 4});
  report("mse", check.check(check.graph().mse(a, b)));
}

TEST_CASE("gradient of L1 and L2 penalties with runtime factors", "[autodiff]") {
  OpCheck check(1200);
  ValueId w = check.param("w", {3, 4});
  ValueId v = check.param("v", {4});
  ValueId loss = check.weightedSum(check.graph().add(w, v));
  std::vector<transforms::Penalty> penalties = {{w, transforms::PenaltyKind::L2, "l2"},
                                                {v, transforms::PenaltyKind::L1, "l1"},
                                                {w, transforms::PenaltyKind::L1, "l1"}};
  report("penalties", check.check(loss, penalties, {{"l2", 0.3f}, {"l1", 0.2f}}));
}

TEST_CASE("penalty terms are added to the total loss, not the data loss", "[autodiff]") {
  OpCheck check(1300);
  ValueId w = check.param("w", {2, 2});
  ir::Graph& graph = check.graph();
  ValueId loss = graph.reduceSum(w);
  std::vector<transforms::Penalty> penalties = {{w, transforms::PenaltyKind::L2, "l2"},
                                                {w, transforms::PenaltyKind::L1, "l1"}};
  transforms::GradientGraph gradient_graph = transforms::differentiate(graph, loss, penalties);
  CHECK(gradient_graph.graph.leaves(OpKind::Hyperparam).size() == 2);
  rt::StepRunner runner(compileOrFail(gradient_graph));
  runner.parameter("w") = {1.0f, -2.0f, 3.0f, -0.5f};
  runner.setHyperparam("l2", 0.1f);
  runner.setHyperparam("l1", 0.01f);
  rt::StepResult result = runner.gradients({});
  REQUIRE(result.status == kNnspecOk);
  CHECK_THAT(result.data_loss, Catch::WithinAbs(1.5, 1e-6));
  // 1.5 + 0.1*(1+4+9+0.25) + 0.01*(1+2+3+0.5)
  CHECK_THAT(result.total_loss, Catch::WithinAbs(1.5 + 1.425 + 0.065, 1e-5));
  // 1 + 2*0.1*w + 0.01*sign(w)
  std::vector<float> expected = {1.21f, 0.59f, 1.61f, 0.89f};
  for (size_t element = 0; element < expected.size(); ++element)
    CHECK_THAT(runner.gradient(0)[element], Catch::WithinAbs(expected[element], 1e-6));
}

TEST_CASE("gradient of dropout through dense layers, the losses taken with the training masks", "[autodiff]") {
  for (uint64_t seed : {1u, 77u}) {
    OpCheck check(1400 + static_cast<int>(seed));
    ir::Graph& graph = check.graph();
    ValueId x = check.input("x", {6, 5});
    ValueId w1 = check.param("w1", {5, 8});
    ValueId hidden = graph.unary(OpKind::Tanh, graph.matmul(x, w1));
    ValueId dropped = graph.dropout(hidden, 0.4f, 1);
    ValueId w2 = check.param("w2", {8, 3});
    ValueId out = graph.dropout(graph.matmul(dropped, w2), 0.25f, 2);
    GradCheckOptions options;
    options.training_losses = true;
    options.rng_seed = seed;
    INFO("seed " << seed);
    report("dropout", check.check(check.weightedSum(out), {}, {}, options));
  }
}

}  // namespace
}  // namespace nnspec::testing
