#include "compiler/export/onnx_export.h"

#include <climits>
#include <optional>

#include <fmt/format.h>

#include "compiler/export/host_fold.h"
#include "compiler/export/onnx_emitter.h"
#include "compiler/export/onnx_rules.h"
#include "runtime/pipeline/transforms.h"

namespace nnspec::exporting {
namespace {

std::optional<ir::ValueId> inputNamed(const ir::Graph& graph, std::string_view name) {
  for (const ir::ValueId id : graph.leaves(ir::OpKind::Input)) {
    if (graph.node(id).attrs.name == name) return id;
  }
  return std::nullopt;
}

// Every value the output reads that is not computed on the host, in graph order.
std::optional<ExportError> emitNodes(OnnxEmitter& emitter, const std::vector<bool>& needed) {
  for (ir::ValueId id = 0; id < emitter.graph().size(); ++id) {
    if (!needed[static_cast<size_t>(id)] || emitter.host(id) != nullptr) continue;
    const ir::OpKind op = emitter.node(id).op;
    const OnnxRule rule = onnxRule(op);
    if (rule.build == nullptr) {
      return ExportError{fmt::format("op '{}' (%{}) has no ONNX export rule", ir::opName(op), id)};
    }
    if (auto error = rule.build(emitter, id, rule.onnx_op)) return error;
  }
  return std::nullopt;
}

// A model trained on standardized data keeps its training rows' statistics: the graph
// standardizes the rows it is given first, (x - mean) / stddev, as `nnspec predict` does.
std::optional<ExportError> standardizeInput(OnnxEmitter& emitter, ir::ValueId input,
                                            const std::vector<NamedTensor>& tensors) {
  const auto find = [&](const char* name) -> const NamedTensor* {
    for (const auto& tensor : tensors) {
      if (tensor.name == name) return &tensor;
    }
    return nullptr;
  };
  const NamedTensor* mean = find(rt::kStandardizeMeanTensor);
  const NamedTensor* stddev = find(rt::kStandardizeStddevTensor);
  if (mean == nullptr && stddev == nullptr) return std::nullopt;
  const int64_t features = emitter.shape(input)[1];
  if (mean == nullptr || stddev == nullptr || static_cast<int64_t>(mean->values.size()) != features ||
      stddev->values.size() != mean->values.size()) {
    return ExportError{fmt::format("the stored standardize statistics do not fit the model's {} inputs", features)};
  }
  const std::string centered = emitter.fresh("x_centered");
  emitter.addNode("Sub", {std::string(kOnnxInput), emitter.addInitializer(mean->name, {{features}, mean->values})},
                  centered);
  const std::string standardized = emitter.fresh("x_standardized");
  emitter.addNode("Div", {centered, emitter.addInitializer(stddev->name, {{features}, stddev->values})}, standardized);
  emitter.bind(input, Layout::kChannelsLast, standardized);
  return std::nullopt;
}

void setTensorType(onnx::ValueInfoProto& info, std::string_view name, int64_t width) {
  info.set_name(std::string(name));
  onnx::TypeProto::Tensor& tensor = *info.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(onnx::TensorProto::FLOAT);
  tensor.mutable_shape()->add_dim()->set_dim_param(std::string(kOnnxBatchDim));
  tensor.mutable_shape()->add_dim()->set_dim_value(width);
}

void setHeader(onnx::ModelProto& model, const OnnxSource& source) {
  model.set_ir_version(kOnnxIrVersion);
  model.set_producer_name("nnspec");
  model.set_producer_version("0.1.0");
  onnx::OperatorSetIdProto& opset = *model.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOnnxOpset);
  model.mutable_graph()->set_name(source.model_name.empty() ? "nnspec_model" : source.model_name);
}

// The output node: softmax over the classes, or the regression values as they are.
void emitOutput(OnnxEmitter& emitter, const OnnxSource& source, std::string_view output) {
  const std::string values = emitter.name(source.prediction);
  if (!source.classification) {
    emitter.addNode("Identity", {values}, std::string(output));
    return;
  }
  setAttribute(emitter.addNode("Softmax", {values}, std::string(output)), "axis", int64_t{-1});
}

}  // namespace

std::variant<std::string, ExportError> exportOnnx(const OnnxSource& source, const std::vector<NamedTensor>& tensors) {
  const ir::Graph& graph = *source.forward;
  const std::optional<ir::ValueId> input = inputNamed(graph, kOnnxInput);
  if (!input || graph.type(*input).rank() != 2) {
    return ExportError{fmt::format("the model has no input '{}' of rank 2 (samples x features)", kOnnxInput)};
  }
  const ir::Shape& prediction_shape = graph.type(source.prediction).shape;
  if (prediction_shape.size() != 2) {
    return ExportError{fmt::format("the model's output is {}, not rows x outputs",
                                   ir::typeString(graph.type(source.prediction)))};
  }
  const std::vector<bool> needed = evaluationNodes(graph, source.prediction);
  auto host = foldInputFree(graph, needed, tensors);
  if (auto* error = std::get_if<ExportError>(&host)) return std::move(*error);
  const HostValues& host_values = std::get<HostValues>(host);
  if (host_values[static_cast<size_t>(source.prediction)]) {
    return ExportError{"the model's output does not depend on its input"};
  }
  onnx::ModelProto model;
  setHeader(model, source);
  onnx::GraphProto& proto = *model.mutable_graph();
  OnnxEmitter emitter(graph, host_values, proto, graph.type(*input).shape[0]);
  const std::string_view output = source.classification ? kOnnxProbabilities : kOnnxOutputs;
  emitter.fresh(kOnnxInput);
  emitter.fresh(output);
  if (auto error = standardizeInput(emitter, *input, tensors)) return *error;
  if (auto error = emitNodes(emitter, needed)) return *error;
  emitOutput(emitter, source, output);
  setTensorType(*proto.add_input(), kOnnxInput, graph.type(*input).shape[1]);
  setTensorType(*proto.add_output(), output, prediction_shape[1]);
  if (model.ByteSizeLong() > static_cast<size_t>(INT_MAX)) {
    return ExportError{fmt::format("the model is {} bytes, over the 2 GiB a protobuf file can hold",
                                   model.ByteSizeLong())};
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) return ExportError{"protobuf could not serialize the ONNX model"};
  return bytes;
}

}  // namespace nnspec::exporting
