#include <catch2/catch.hpp>

#include "compiler/ir/verifier.h"
#include "compiler/transforms/autodiff.h"

namespace nnspec::transforms {
namespace {

using ir::OpKind;
using ir::ValueId;

TEST_CASE("differentiate appends the backward nodes after the forward graph", "[autodiff]") {
  ir::Graph graph;
  ValueId x = graph.input("x", ir::f32({2}));
  ValueId w = graph.parameter("w", {2});
  ValueId loss = graph.reduceSum(graph.mul(w, x));
  GradientGraph result = differentiate(graph, loss);
  CHECK(ir::verifyGraph(result.graph).empty());
  CHECK(printGradientGraph(result) ==
        "%0 = input \"x\" : f32[2]\n"
        "%1 = parameter \"w\" : f32[2]\n"
        "%2 = mul(%1, %0) : f32[2]\n"
        "%3 = reduce_sum(%2) {axis=all} : f32[]\n"
        "%4 = constant {value=1} : f32[]\n"
        "%5 = broadcast(%4) {axis=all} : f32[2]\n"
        "%6 = mul(%5, %0) : f32[2]\n"
        "data_loss %3\n"
        "total_loss %3\n"
        "grad \"w\" %6\n");
}

TEST_CASE("penalties add runtime-factor terms to the total loss", "[autodiff]") {
  ir::Graph graph;
  ValueId w = graph.parameter("w", {3});
  ValueId v = graph.parameter("v", {3});
  ValueId loss = graph.reduceMean(graph.add(w, v));
  std::vector<Penalty> penalties = {{w, PenaltyKind::L2, "l2"}, {v, PenaltyKind::L2, "l2"},
                                    {v, PenaltyKind::L1, "l1"}};
  GradientGraph result = differentiate(graph, loss, penalties);
  CHECK(ir::verifyGraph(result.graph).empty());
  CHECK(result.data_loss == loss);
  CHECK(result.total_loss != loss);
  // One hyperparam leaf per factor name, none of them a constant.
  std::vector<ValueId> factors = result.graph.leaves(OpKind::Hyperparam);
  REQUIRE(factors.size() == 2);
  CHECK(result.graph.node(factors[0]).attrs.name == "l2");
  CHECK(result.graph.node(factors[1]).attrs.name == "l1");
  CHECK(result.gradients.size() == 2);
}

TEST_CASE("a parameter the loss does not use gets a zero gradient", "[autodiff]") {
  ir::Graph graph;
  ValueId used = graph.parameter("used", {2});
  graph.parameter("unused", {2, 2});
  GradientGraph result = differentiate(graph, graph.reduceSum(used));
  CHECK(ir::verifyGraph(result.graph).empty());
  const ir::Node& zero = result.graph.node(result.gradients[1]);
  CHECK(zero.op == OpKind::Broadcast);
  CHECK(zero.type == ir::f32({2, 2}));
  CHECK(result.graph.node(zero.operands[0]).attrs.value == 0.0f);
}

TEST_CASE("differentiate rejects a loss that is not a scalar", "[autodiff]") {
  ir::Graph graph;
  ValueId w = graph.parameter("w", {2});
  CHECK_THROWS_AS(differentiate(graph, graph.unary(OpKind::Exp, w)), ir::IrError);
}

TEST_CASE("differentiate rejects a gradient through a gradient-only op", "[autodiff]") {
  ir::Graph graph;
  ValueId w = graph.parameter("w", {2});
  ValueId g = graph.binary(OpKind::ReluGrad, w, w);
  CHECK_THROWS_WITH(differentiate(graph, graph.reduceSum(g)),
                    Catch::Contains("relu_grad: no gradient rule"));
}

TEST_CASE("inputs get no gradient nodes", "[autodiff]") {
  ir::Graph graph;
  ValueId x = graph.input("x", ir::f32({4, 3}));
  ValueId w = graph.parameter("w", {3, 2});
  GradientGraph result = differentiate(graph, graph.reduceSum(graph.matmul(x, w)));
  // Only d/dw = x^T G: one backward matmul, with transpose_a.
  int backward_matmuls = 0;
  for (ValueId id = 4; id < result.graph.size(); ++id)
    if (result.graph.node(id).op == OpKind::Matmul) {
      ++backward_matmuls;
      CHECK(result.graph.node(id).attrs.transpose_a);
    }
  CHECK(backward_matmuls == 1);
}

TEST_CASE("differentiate marks a prediction and prints it after the losses", "[autodiff]") {
  ir::Graph graph;
  ValueId x = graph.input("x", ir::f32({2, 3}));
  ValueId w = graph.parameter("w", {3});
  ValueId y = graph.mul(x, w);
  ValueId loss = graph.reduceMean(y);
  GradientGraph result = differentiate(graph, loss, {}, y);
  CHECK(ir::verifyGraph(result.graph).empty());
  CHECK(result.prediction == y);
  CHECK_THAT(printGradientGraph(result), Catch::Contains("total_loss %3\nprediction %2\n"));
  CHECK_FALSE(differentiate(graph, loss).prediction.has_value());
}

TEST_CASE("differentiate rejects a prediction that is not an f32 batch value", "[autodiff]") {
  ir::Graph graph;
  ValueId labels = graph.input("labels", ir::i32({4}));
  ValueId w = graph.parameter("w", {4, 2});
  ValueId loss = graph.reduceSum(w);
  CHECK_THROWS_WITH(differentiate(graph, loss, {}, labels),
                    Catch::Contains("is i32[4], not an f32 value of rank >= 1"));
  CHECK_THROWS_WITH(differentiate(graph, loss, {}, loss),
                    Catch::Contains("is f32[], not an f32 value"));
  CHECK_THROWS_WITH(differentiate(graph, loss, {}, 99),
                    Catch::Contains("is not a value of the graph"));
}

}  // namespace
}  // namespace nnspec::transforms
