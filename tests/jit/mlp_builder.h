#pragma once
// Dense relu MLPs for the JIT tests, and a plain C++ reference of their forward pass.

#include <random>
#include <span>
#include <string>
#include <vector>

#include "compiler/transforms/autodiff.h"

namespace nnspec::testing {

// Softmax cross-entropy and L2 on every weight.
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

enum class MlpLoss { SoftmaxCrossEntropy, Mse };

// No penalties; the last layer's output f32[batch, widths.back()] is the marked
// prediction. Inputs: x f32[batch, widths[0]], then labels i32[batch] (softmax
// cross-entropy) or target f32[batch, widths.back()] (mse). Parameters w1, b1, w2, ...
inline transforms::GradientGraph buildPredictingMlp(int64_t batch,
                                                    const std::vector<int64_t>& widths,
                                                    MlpLoss loss_kind) {
  ir::Graph graph;
  ir::ValueId activation = graph.input("x", ir::f32({batch, widths.front()}));
  ir::ValueId truth = loss_kind == MlpLoss::Mse
                          ? graph.input("target", ir::f32({batch, widths.back()}))
                          : graph.input("labels", ir::i32({batch}));
  for (size_t layer = 1; layer < widths.size(); ++layer) {
    std::string index = std::to_string(layer);
    ir::ValueId w = graph.parameter("w" + index, {widths[layer - 1], widths[layer]});
    ir::ValueId b = graph.parameter("b" + index, {widths[layer]});
    activation = graph.add(graph.matmul(activation, w), b);
    if (layer + 1 < widths.size()) activation = graph.unary(ir::OpKind::Relu, activation);
  }
  ir::ValueId loss = loss_kind == MlpLoss::Mse ? graph.mse(activation, truth)
                                               : graph.softmaxCrossEntropy(activation, truth);
  return transforms::differentiate(graph, loss, {}, activation);
}

// Parameters of an MLP in layout order (w1, b1, w2, b2, ...), uniform in [-scale, scale].
inline std::vector<std::vector<float>> randomMlpParameters(const std::vector<int64_t>& widths,
                                                           uint32_t seed, float scale = 0.5f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-scale, scale);
  std::vector<std::vector<float>> params;
  for (size_t layer = 1; layer < widths.size(); ++layer) {
    params.emplace_back(static_cast<size_t>(widths[layer - 1] * widths[layer]));
    params.emplace_back(static_cast<size_t>(widths[layer]));
    for (size_t last : {params.size() - 2, params.size() - 1})
      for (float& element : params[last]) element = value(rng);
  }
  return params;
}

// The forward pass of the MLPs above in double: the last layer's output, row-major.
inline std::vector<double> referenceMlpForward(std::span<const std::vector<float>> params,
                                               std::span<const float> x, int64_t batch,
                                               const std::vector<int64_t>& widths) {
  std::vector<double> activation(x.begin(), x.end());
  for (size_t layer = 1; layer < widths.size(); ++layer) {
    int64_t fan_in = widths[layer - 1];
    int64_t fan_out = widths[layer];
    const std::vector<float>& w = params[2 * (layer - 1)];
    const std::vector<float>& b = params[2 * (layer - 1) + 1];
    std::vector<double> next(static_cast<size_t>(batch * fan_out));
    for (int64_t row = 0; row < batch; ++row)
      for (int64_t out = 0; out < fan_out; ++out) {
        double sum = b[static_cast<size_t>(out)];
        for (int64_t in = 0; in < fan_in; ++in)
          sum += activation[static_cast<size_t>(row * fan_in + in)] *
                 w[static_cast<size_t>(in * fan_out + out)];
        bool hidden = layer + 1 < widths.size();
        next[static_cast<size_t>(row * fan_out + out)] = hidden && sum < 0.0 ? 0.0 : sum;
      }
    activation = std::move(next);
  }
  return activation;
}

}  // namespace nnspec::testing
