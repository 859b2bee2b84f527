// Shape rules, printing and verification of the window ops (conv2d, pooling, padding).
#include <catch2/catch.hpp>

#include "compiler/ir/graph.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/shape_rules.h"
#include "compiler/ir/verifier.h"

namespace nnspec::ir {
namespace {

TEST_CASE("same padding follows TensorFlow: ceil(in/stride), the smaller half before", "[ir]") {
  CHECK(placeWindow(28, 5, 1, Padding::Same).out == 28);
  CHECK(placeWindow(28, 5, 1, Padding::Same).pad_low == 2);
  CHECK(placeWindow(5, 4, 2, Padding::Same).out == 3);
  CHECK(placeWindow(5, 4, 2, Padding::Same).pad_low == 1);  // total 3: 1 before, 2 after
  CHECK(placeWindow(6, 1, 2, Padding::Same).pad_low == 0);  // total would be negative
  CHECK(placeWindow(7, 3, 2, Padding::Valid).out == 3);
  CHECK(placeWindow(8, 4, 2, Padding::Valid).out == 3);
  CHECK(placeWindow(2, 3, 1, Padding::Valid).out == 0);
}

TEST_CASE("printer writes window and pad attributes", "[ir]") {
  Graph graph;
  ValueId x = graph.input("x", f32({8, 28, 28, 1}));
  ValueId kernel = graph.parameter("kernel", {5, 5, 1, 6});
  ValueId conv = graph.conv2d(x, kernel, {5, 5, 1, 1, Padding::Same});
  ValueId pooled = graph.maxPool(conv, {2, 2, 2, 2, Padding::Valid});
  ValueId averaged = graph.avgPool(pooled, {4, 4, 2, 2, Padding::Valid});
  graph.pad2d(averaged, {1, 0, 2, 3});
  CHECK(printGraph(graph) ==
        "%0 = input \"x\" : f32[8,28,28,1]\n"
        "%1 = parameter \"kernel\" : f32[5,5,1,6]\n"
        "%2 = conv2d(%0, %1) {kernel=5x5, stride=1x1, padding=same} : f32[8,28,28,6]\n"
        "%3 = max_pool(%2) {size=2x2, stride=2x2, padding=valid} : f32[8,14,14,6]\n"
        "%4 = avg_pool(%3) {size=4x4, stride=2x2, padding=valid} : f32[8,6,6,6]\n"
        "%5 = pad2d(%4) {top=1, bottom=0, left=2, right=3} : f32[8,7,11,6]\n");
  CHECK(verifyGraph(graph).empty());
}

TEST_CASE("conv2d rejects a kernel that does not fit the window or the channels", "[ir]") {
  Graph graph;
  ValueId x = graph.input("x", f32({2, 6, 6, 3}));
  ValueId wrong_channels = graph.parameter("k1", {3, 3, 2, 4});
  ValueId wrong_window = graph.parameter("k2", {3, 2, 3, 4});
  ValueId flat = graph.input("flat", f32({2, 36}));
  Window window{3, 3, 1, 1, Padding::Valid};
  CHECK_THROWS_WITH(graph.conv2d(x, wrong_channels, window),
                    Catch::Contains("conv2d kernel must be f32[3,3,3,cout]"));
  CHECK_THROWS_AS(graph.conv2d(x, wrong_window, window), IrError);
  CHECK_THROWS_WITH(graph.conv2d(flat, wrong_channels, window),
                    Catch::Contains("needs an f32[batch,h,w,c] image"));
  CHECK_THROWS_WITH(graph.maxPool(x, {7, 7, 1, 1, Padding::Valid}), Catch::Contains("does not fit"));
  CHECK_THROWS_WITH(graph.avgPool(x, {2, 2, 0, 2, Padding::Valid}),
                    Catch::Contains("non-positive window or stride"));
  CHECK_THROWS_WITH(graph.crop2d(x, {3, 3, 0, 0}), Catch::Contains("leaves nothing"));
}

TEST_CASE("gradient ops of the window ops get the forward input's shape", "[ir]") {
  Graph graph;
  ValueId x = graph.input("x", f32({2, 7, 6, 3}));
  ValueId kernel = graph.parameter("kernel", {3, 3, 3, 4});
  Window window{3, 3, 2, 2, Padding::Same};
  ValueId y = graph.conv2d(x, kernel, window);
  REQUIRE(graph.type(y) == f32({2, 4, 3, 4}));
  CHECK(graph.type(graph.conv2dInputGrad(y, kernel, window, {2, 7, 6, 3})) == graph.type(x));
  CHECK(graph.type(graph.conv2dKernelGrad(x, y, window)) == graph.type(kernel));
  // Stride 2 maps both 7 and 8 rows to 4: the input shape attribute decides.
  CHECK(graph.type(graph.conv2dInputGrad(y, kernel, window, {2, 8, 6, 3})) == f32({2, 8, 6, 3}));
  CHECK_THROWS_AS(graph.conv2dInputGrad(y, kernel, window, {2, 9, 6, 3}), IrError);
  ValueId pooled = graph.maxPool(x, {2, 2, 2, 2, Padding::Valid});
  CHECK(graph.type(graph.maxPoolGrad(x, pooled, {2, 2, 2, 2, Padding::Valid})) == graph.type(x));
  CHECK(graph.type(graph.avgPoolGrad(pooled, {2, 2, 2, 2, Padding::Valid}, {2, 7, 6, 3})) ==
        graph.type(x));
  CHECK_THROWS_AS(graph.maxPoolGrad(x, y, {2, 2, 2, 2, Padding::Valid}), IrError);
  CHECK(verifyGraph(graph).empty());
}

TEST_CASE("verifier reports a window op with a wrong result type", "[ir]") {
  Graph graph;
  ValueId x = graph.input("x", f32({1, 4, 4, 2}));
  Node pool{OpKind::MaxPool, {x}, {}, f32({1, 2, 2, 2})};
  pool.attrs.window = {2, 2, 1, 1, Padding::Valid};
  graph.appendUnchecked(pool);
  std::vector<std::string> problems = verifyGraph(graph);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "%1 = max_pool: result type f32[1,2,2,2] should be f32[1,3,3,2]");
}

}  // namespace
}  // namespace nnspec::ir
