#pragma once
// The evaluation form of a forward graph, as the exporters need it: which nodes the model's
// output reads in evaluation (train_select takes its evaluation operand, so batch
// normalization uses its moving statistics, and dropout is the identity), and the values
// that depend on no input (trained tensors, constants and what is computed from them only,
// such as sqrt(moving_variance + epsilon)), computed here once so an exported model carries
// them as plain weights.

#include <optional>
#include <variant>
#include <vector>

#include "compiler/export/tensors.h"
#include "compiler/ir/graph.h"

namespace nnspec::exporting {

struct HostTensor {
  ir::Shape shape;
  std::vector<float> values;
};

// needed[id]: whether `output` reads node `id` in the evaluation entry.
std::vector<bool> evaluationNodes(const ir::Graph& graph, ir::ValueId output);

// host[id]: the value of a needed node that depends on no input, when it is one of the ops
// computed here (leaves, element-wise maps, reshape, train_select, dropout); nullopt for the
// others. A parameter or state leaf without a tensor of its name and shape is an error.
using HostValues = std::vector<std::optional<HostTensor>>;
std::variant<HostValues, ExportError> foldInputFree(const ir::Graph& graph, const std::vector<bool>& needed,
                                                    const std::vector<NamedTensor>& tensors);

// A channels-last tensor f32[n,h,w,c] as channels-first f32[n,c,h,w]; a conv2d kernel
// f32[kh,kw,cin,cout] as ONNX's f32[cout,cin,kh,kw].
HostTensor toChannelsFirst(const HostTensor& tensor);
HostTensor toOihw(const HostTensor& kernel);
// A matrix f32[m,n] as f32[n,m].
HostTensor transposed(const HostTensor& matrix);

}  // namespace nnspec::exporting
