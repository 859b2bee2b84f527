#pragma once
// A dense relu MLP with softmax cross-entropy and L2 on every weight, for the JIT tests.

#include <string>
#include <vector>

#include "compiler/transforms/autodiff.h"

namespace nnspec::testing {

inline transforms::GradientGraph buildMlp(int64_t batch, const std::vector<int64_t>& widths) {
  ir::Graph graph;
  ir::ValueId activation = graph.input("x", ir::f32({batch, widths.front()}));
  ir::ValueId labels = graph.input("labels", ir::i32({batch}));
  std::vector<transforms::Penalty> penalties;
  for (size_t layer = 1; layer < widths.size(); ++layer) {
    std::string index = std::to_string(layer);
    ir::ValueId w = graph.parameter("w" + index, {widths[layer - 1], widths[layer]});
    ir::ValueId b = graph.parameter("b" + index, {widths[layer]});
    activation = graph.add(graph.matmul(activation, w), b);
    if (layer + 1 < widths.size()) activation = graph.unary(ir::OpKind::Relu, activation);
    penalties.push_back({w, transforms::PenaltyKind::L2, "l2"});
  }
  ir::ValueId loss = graph.softmaxCrossEntropy(activation, labels);
  return transforms::differentiate(graph, loss, penalties);
}

}  // namespace nnspec::testing
