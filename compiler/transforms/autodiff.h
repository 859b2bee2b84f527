#pragma once
// Reverse-mode differentiation, one pass: the gradient graph of a scalar loss (plus L1/L2
// penalty terms) with respect to every parameter of a forward graph.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace nnspec::transforms {

enum class PenaltyKind { L1, L2 };

// factor * sum(|w|) (L1) or factor * sum(w^2) (L2) added to the loss. The factor is a
// runtime hyperparameter (an f32[] `hyperparam` leaf named `factor`), so points of a sweep
// that differ only in it share one compiled graph.
struct Penalty {
  ir::ValueId parameter = 0;
  PenaltyKind kind = PenaltyKind::L2;
  std::string factor;
};

// One sweep point of a fused step (compiler/lowering/fuse_points.h): its own losses and
// model output inside the graph of several points.
struct PointValues {
  ir::ValueId data_loss = 0;
  ir::ValueId total_loss = 0;  // data_loss plus this point's penalty terms
  std::optional<ir::ValueId> prediction;
};

struct GradientGraph {
  ir::Graph graph;                      // the forward nodes (same ids), penalties, backward
  ir::ValueId data_loss = 0;            // the loss as given
  ir::ValueId total_loss = 0;           // data_loss plus the penalty terms
  std::vector<ir::ValueId> parameters;  // every parameter, in id order
  std::vector<ir::ValueId> gradients;   // gradients[k] = d total_loss / d parameters[k]
  // The model output handed back to the caller (NnspecStepArgs::predictions), e.g. the
  // logits f32[batch,classes] of a classifier or f32[batch,width] of a regression; a
  // forward value, so it is computed and stored by every entry point. None when unmarked.
  std::optional<ir::ValueId> prediction;
  // Forward values the training entries copy out (NnspecStepArgs::exports), in order:
  // e.g. batch normalization's batch mean and variance, from which the caller updates the
  // moving statistics (state leaves). Set by the caller of differentiate.
  std::vector<std::pair<std::string, ir::ValueId>> exports;
  // Forward values every entry (nnspec_forward too) copies out after the exports, e.g. a
  // conv layer's feature maps for a report. Set by the caller of differentiate.
  std::vector<std::pair<std::string, ir::ValueId>> taps;
  // A fused step: each point's values (data_loss and total_loss above are then their sum,
  // the root differentiated), and the point each parameter belongs to (parameters' order).
  // Empty for a step of one point. Set by the caller of differentiate.
  std::vector<PointValues> points;
  std::vector<int32_t> parameter_points;
};

// `prediction`, when given, marks a forward value as the model output (see above).
// Throws ir::IrError when `loss` is not an f32[] value, `prediction` is not an f32 value
// of rank >= 1 of `forward`, or a gradient would have to flow through an op without a
// gradient rule.
GradientGraph differentiate(const ir::Graph& forward, ir::ValueId loss,
                            std::span<const Penalty> penalties = {},
                            std::optional<ir::ValueId> prediction = std::nullopt);

// `--emit=grad`: the graph, then the loss values, the prediction (when marked) and which
// value is which gradient.
std::string printGradientGraph(const GradientGraph& gradient_graph);

}  // namespace nnspec::transforms
