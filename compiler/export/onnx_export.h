#pragma once
// Exports a model as ONNX (IR version 8, opset 17): the evaluation form of its lowered
// forward graph (compiler/lowering: batch normalization with its moving statistics,
// dropout the identity), translated op by op (onnx_rules.h), with its trained tensors as
// initializers. The batch dimension is symbolic ("N").
//
//   input  "x"              f32[N, features]  samples as nnspec reads them: flat, images
//                                             row-major channels last [h, w, c]
//   output "probabilities"  f32[N, classes]   a classifier: softmax of the logits
//          "outputs"        f32[N, width]     a regression model: its values
//
// Convolutions and pools run channels first in ONNX; Transposes sit where the layout
// changes, so a flatten keeps nnspec's channels-last order. A conv2d kernel is stored
// O x I x kh x kw under its nnspec name; every other initializer keeps nnspec's layout.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "compiler/export/tensors.h"
#include "compiler/ir/graph.h"

namespace nnspec::exporting {

inline constexpr std::string_view kOnnxInput = "x";
inline constexpr std::string_view kOnnxProbabilities = "probabilities";
inline constexpr std::string_view kOnnxOutputs = "outputs";
inline constexpr std::string_view kOnnxBatchDim = "N";
inline constexpr int64_t kOnnxIrVersion = 8;
inline constexpr int64_t kOnnxOpset = 17;

struct OnnxSource {
  const ir::Graph* forward = nullptr;  // the lowered forward graph (pipeline Artifacts::step.forward)
  ir::ValueId prediction = 0;          // its model output, logits or regression values [batch, width]
  bool classification = true;
  std::string model_name;              // the graph's name, e.g. the experiment's
};

// The serialized ModelProto, or why the model cannot be exported (an op with no ONNX rule,
// a tensor missing or of the wrong shape, a model over protobuf's 2 GiB).
std::variant<std::string, ExportError> exportOnnx(const OnnxSource& source, const std::vector<NamedTensor>& tensors);

}  // namespace nnspec::exporting
