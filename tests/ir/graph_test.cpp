#include <catch2/catch.hpp>

#include "compiler/ir/graph.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"

namespace nnspec::ir {
namespace {

// A dense layer with relu and a softmax cross-entropy loss, batch 4, 3 -> 2.
Graph tinyGraph() {
  Graph graph;
  ValueId x = graph.input("x", f32({4, 3}));
  ValueId labels = graph.input("labels", i32({4}));
  ValueId w = graph.parameter("w", {3, 2});
  ValueId b = graph.parameter("b", {2});
  ValueId hidden = graph.unary(OpKind::Relu, graph.add(graph.matmul(x, w), b));
  ValueId scaled = graph.unary(OpKind::LeakyRelu, hidden, 0.01f);
  graph.softmaxCrossEntropy(scaled, labels);
  graph.reduceSum(graph.matmul(x, x, true, false), 1);
  return graph;
}

TEST_CASE("printer writes numbered nodes with ops, attributes and types", "[ir]") {
  const char* expected =
      "%0 = input \"x\" : f32[4,3]\n"
      "%1 = input \"labels\" : i32[4]\n"
      "%2 = parameter \"w\" : f32[3,2]\n"
      "%3 = parameter \"b\" : f32[2]\n"
      "%4 = matmul(%0, %2) : f32[4,2]\n"
      "%5 = add(%4, %3) : f32[4,2]\n"
      "%6 = relu(%5) : f32[4,2]\n"
      "%7 = leaky_relu(%6) {alpha=0.01} : f32[4,2]\n"
      "%8 = softmax_cross_entropy(%7, %1) : f32[]\n"
      "%9 = matmul(%0, %0) {transpose_a} : f32[3,3]\n"
      "%10 = reduce_sum(%9) {axis=1} : f32[3]\n";
  Graph graph;
  ValueId x = graph.input("x", f32({4, 3}));
  ValueId labels = graph.input("labels", i32({4}));
  ValueId w = graph.parameter("w", {3, 2});
  ValueId b = graph.parameter("b", {2});
  ValueId hidden = graph.unary(OpKind::Relu, graph.add(graph.matmul(x, w), b));
  ValueId leaky = graph.unary(OpKind::LeakyRelu, hidden, 0.01f);
  graph.softmaxCrossEntropy(leaky, labels);
  graph.reduceSum(graph.matmul(x, x, true, false), 1);
  CHECK(printGraph(graph) == expected);
  CHECK(verifyGraph(graph).empty());
}

TEST_CASE("printer shows leaves' attributes and scalar types", "[ir]") {
  Graph graph;
  ValueId factor = graph.hyperparam("l2");
  ValueId one = graph.constant(1.5f);
  graph.mul(graph.broadcast(one, {2, 3}), factor);
  CHECK(printGraph(graph) ==
        "%0 = hyperparam \"l2\" : f32[]\n"
        "%1 = constant {value=1.5} : f32[]\n"
        "%2 = broadcast(%1) {axis=all} : f32[2,3]\n"
        "%3 = mul(%2, %0) : f32[2,3]\n");
}

TEST_CASE("verifier accepts graphs built through the builder", "[ir]") {
  Graph graph = tinyGraph();
  CHECK(verifyGraph(graph).empty());
  CHECK(graph.leaves(OpKind::Parameter) == std::vector<ValueId>{2, 3});
}

TEST_CASE("builder rejects operands whose shapes do not fit", "[ir]") {
  Graph graph;
  ValueId a = graph.input("a", f32({4, 3}));
  ValueId b = graph.input("b", f32({4, 3}));
  CHECK_THROWS_AS(graph.matmul(a, b), IrError);
  CHECK_NOTHROW(graph.matmul(a, b, false, true));
  CHECK_THROWS_AS(graph.add(a, graph.input("c", f32({4}))), IrError);
  CHECK_NOTHROW(graph.add(a, graph.input("d", f32({3}))));
  CHECK_THROWS_AS(graph.reduceSum(a, 2), IrError);
  CHECK_THROWS_AS(graph.reshape(a, {5, 2}), IrError);
  CHECK_THROWS_AS(graph.parameter("w", {0, 3}), IrError);
}

TEST_CASE("verifier rejects a wrong result type", "[ir]") {
  Graph graph;
  ValueId a = graph.input("a", f32({4, 3}));
  ValueId w = graph.parameter("w", {3, 5});
  graph.appendUnchecked(Node{OpKind::Matmul, {a, w}, {}, f32({4, 3})});
  std::vector<std::string> problems = verifyGraph(graph);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "%2 = matmul: result type f32[4,3] should be f32[4,5]");
}

TEST_CASE("verifier rejects inner dimensions that differ", "[ir]") {
  Graph graph;
  ValueId a = graph.input("a", f32({4, 3}));
  ValueId w = graph.parameter("w", {4, 5});
  graph.appendUnchecked(Node{OpKind::Matmul, {a, w}, {}, f32({4, 5})});
  std::vector<std::string> problems = verifyGraph(graph);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "%2 = matmul: matmul inner dimensions differ: f32[4,3], f32[4,5]");
}

TEST_CASE("verifier rejects wrong arity", "[ir]") {
  Graph graph;
  ValueId a = graph.input("a", f32({2}));
  graph.appendUnchecked(Node{OpKind::Add, {a}, {}, f32({2})});
  std::vector<std::string> problems = verifyGraph(graph);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "%1 = add: takes 2 operands, has 1");
}

TEST_CASE("verifier rejects operands used before they are defined", "[ir]") {
  Graph graph;
  ValueId a = graph.input("a", f32({2}));
  graph.appendUnchecked(Node{OpKind::Add, {a, 2}, {}, f32({2})});
  graph.appendUnchecked(Node{OpKind::Neg, {a}, {}, f32({2})});
  std::vector<std::string> problems = verifyGraph(graph);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::StartsWith("%1 = add: operand %2 is not defined before its use"));
}

TEST_CASE("verifier rejects wrong element types", "[ir]") {
  Graph graph;
  ValueId labels = graph.input("labels", i32({4}));
  ValueId logits = graph.input("logits", f32({4, 3}));
  graph.appendUnchecked(Node{OpKind::Exp, {labels}, {}, i32({4})});
  graph.appendUnchecked(Node{OpKind::SoftmaxCrossEntropy, {logits, logits}, {}, f32({})});
  Node parameter{OpKind::Parameter, {}, {}, i32({3})};
  parameter.attrs.name = "w";
  graph.appendUnchecked(parameter);
  std::vector<std::string> problems = verifyGraph(graph);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "%2 = exp: exp needs f32 operands: i32[4]");
  CHECK_THAT(problems[1], Catch::Contains("needs f32[b,c] logits and i32[b] labels"));
  CHECK(problems[2] == "%4 = parameter: parameter must be f32, not i32[3]");
}

TEST_CASE("verifier rejects bad broadcasts, axes and duplicate names", "[ir]") {
  Graph graph;
  ValueId row = graph.input("row", f32({3}));
  Node broadcast{OpKind::Broadcast, {row}, {}, f32({3, 4})};
  broadcast.attrs.shape = {3, 4};
  broadcast.attrs.axis = 0;  // [3] broadcast along axis 0 needs a [4] operand
  graph.appendUnchecked(broadcast);
  Node reduce{OpKind::ReduceSum, {row}, {}, f32({})};
  reduce.attrs.axis = 1;
  graph.appendUnchecked(reduce);
  graph.parameter("row2", {3});
  Node duplicate{OpKind::Parameter, {}, {}, f32({3})};
  duplicate.attrs.name = "row2";
  graph.appendUnchecked(duplicate);
  std::vector<std::string> problems = verifyGraph(graph);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "%1 = broadcast: cannot broadcast f32[3] to f32[3,4] along axis 0");
  CHECK(problems[1] == "%2 = reduce_sum: axis 1 out of range for f32[3]");
  CHECK(problems[2] == "%4 = parameter: name \"row2\" already used by %3");
}

TEST_CASE("floats print as the shortest text that reads back", "[ir]") {
  CHECK(printFloat(0.01f) == "0.01");
  CHECK(printFloat(1.0f) == "1");
  CHECK(printFloat(1e-4f) == "0.0001");
  CHECK(printFloat(0.1f + 0.2f) == "0.3");
}

}  // namespace
}  // namespace nnspec::ir
