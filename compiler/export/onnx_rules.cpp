#include "compiler/export/onnx_rules.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "compiler/export/onnx_export.h"

namespace nnspec::exporting {
namespace {

using ir::OpKind;
using ir::ValueId;
using Result = std::optional<ExportError>;

std::string shapeText(const ir::Shape& shape) { return ir::typeString(ir::f32(shape)); }

// Channels first when the result is an image and every operand computed from the input
// already has that form (host values broadcast in either layout); else channels last.
Layout commonLayout(const OnnxEmitter& emitter, ValueId id) {
  if (emitter.shape(id).size() != 4) return Layout::kChannelsLast;
  for (const ValueId operand : emitter.node(id).operands) {
    if (emitter.host(operand) != nullptr) continue;
    if (emitter.shape(operand).size() != 4 || !emitter.has(operand, Layout::kChannelsFirst)) {
      return Layout::kChannelsLast;
    }
  }
  return Layout::kChannelsFirst;
}

Result emitInput(OnnxEmitter& emitter, ValueId id, std::string_view) {
  const ir::Node& node = emitter.node(id);
  if (node.attrs.name != kOnnxInput) {
    return ExportError{fmt::format("the model's output reads input '{}'; only the samples '{}' can be an input of "
                                   "an exported model",
                                   node.attrs.name, kOnnxInput)};
  }
  // Bound already when the model standardizes its input first (exportOnnx).
  if (!emitter.has(id, Layout::kChannelsLast)) emitter.bind(id, Layout::kChannelsLast, std::string(kOnnxInput));
  return std::nullopt;
}

Result emitHostValue(OnnxEmitter& emitter, ValueId id, std::string_view) {
  return ExportError{fmt::format("internal error: {} %{} was not computed on the host",
                                 ir::opName(emitter.node(id).op), id)};
}

// Element-wise ops (unary, binary with ops.def's broadcast, which is numpy's for these
// shapes), in the layout their operands share.
Result emitElementwise(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  const Layout layout = commonLayout(emitter, id);
  std::vector<std::string> inputs;
  for (const ValueId operand : node.operands) inputs.push_back(emitter.name(operand, layout));
  const std::string output = emitter.outputName(id, layout);
  onnx::NodeProto& made = emitter.addNode(onnx_op, inputs, output);
  if (node.op == OpKind::LeakyRelu || node.op == OpKind::Elu) setAttribute(made, "alpha", node.attrs.alpha);
  emitter.bind(id, layout, output);
  return std::nullopt;
}

// dropout in evaluation is the identity; train_select in evaluation is its second operand.
Result emitAlias(OnnxEmitter& emitter, ValueId id, std::string_view) {
  const ir::Node& node = emitter.node(id);
  emitter.alias(id, node.op == OpKind::TrainSelect ? node.operands[1] : node.operands[0]);
  return std::nullopt;
}

std::string matmulOperand(OnnxEmitter& emitter, ValueId id, bool transpose) {
  if (!transpose) return emitter.name(id);
  if (const HostTensor* host = emitter.host(id)) {
    return emitter.addInitializer(emitter.tensorBase(id) + "_t", transposed(*host));
  }
  const std::string output = emitter.fresh(fmt::format("v{}_t", id));
  setAttribute(emitter.addNode("Transpose", {emitter.name(id)}, output), "perm", std::vector<int64_t>{1, 0});
  return output;
}

Result emitMatmul(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  const std::string a = matmulOperand(emitter, node.operands[0], node.attrs.transpose_a);
  const std::string b = matmulOperand(emitter, node.operands[1], node.attrs.transpose_b);
  const std::string output = emitter.outputName(id, Layout::kChannelsLast);
  emitter.addNode(onnx_op, {a, b}, output);
  emitter.bind(id, Layout::kChannelsLast, output);
  return std::nullopt;
}

// The batch axis stays first and symbolic: the target's first dimension becomes -1.
Result emitReshape(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  const ir::Shape& from = emitter.shape(node.operands[0]);
  const ir::Shape& to = node.type.shape;
  const int64_t batch = emitter.batch();
  if (from.empty() || to.empty() || from[0] % batch != 0 || to[0] % batch != 0) {
    return ExportError{fmt::format("reshape from {} to {} does not keep the batch axis first", shapeText(from),
                                   shapeText(to))};
  }
  std::vector<int64_t> target(to.begin(), to.end());
  target[0] = -1;
  const std::string shape = emitter.addInt64s(fmt::format("v{}_shape", id), target);
  const std::string output = emitter.outputName(id, Layout::kChannelsLast);
  emitter.addNode(onnx_op, {emitter.name(node.operands[0]), shape}, output);
  emitter.bind(id, Layout::kChannelsLast, output);
  return std::nullopt;
}

// reduce_sum reads its axes as an input since opset 13, reduce_mean as an attribute
// until opset 18.
Result emitReduce(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  std::vector<std::string> inputs = {emitter.name(node.operands[0])};
  const bool all = node.attrs.axis == ir::kAllAxes;
  const std::vector<int64_t> axes = {node.attrs.axis};
  if (node.op == OpKind::ReduceSum && !all) inputs.push_back(emitter.addInt64s(fmt::format("v{}_axes", id), axes));
  const std::string output = emitter.outputName(id, Layout::kChannelsLast);
  onnx::NodeProto& made = emitter.addNode(onnx_op, inputs, output);
  setAttribute(made, "keepdims", int64_t{0});
  if (node.op == OpKind::ReduceMean && !all) setAttribute(made, "axes", axes);
  emitter.bind(id, Layout::kChannelsLast, output);
  return std::nullopt;
}

// Repeats along an inserted axis after the batch one: Unsqueeze, then Expand (whose 1s
// keep the operand's own dimensions, the symbolic batch among them).
Result emitBroadcast(OnnxEmitter& emitter, ValueId id, std::string_view) {
  const ir::Node& node = emitter.node(id);
  const int axis = node.attrs.axis;
  if (axis == ir::kAllAxes || axis == 0) {
    return ExportError{fmt::format("broadcast of {} to {} along the batch axis has no ONNX form here",
                                   shapeText(emitter.shape(node.operands[0])), shapeText(node.type.shape))};
  }
  const std::string axes = emitter.addInt64s(fmt::format("v{}_axes", id), {axis});
  const std::string unsqueezed = emitter.fresh(fmt::format("v{}_unsqueezed", id));
  emitter.addNode("Unsqueeze", {emitter.name(node.operands[0]), axes}, unsqueezed);
  std::vector<int64_t> repeats(node.type.shape.size(), 1);
  repeats[static_cast<size_t>(axis)] = node.type.shape[static_cast<size_t>(axis)];
  const std::string shape = emitter.addInt64s(fmt::format("v{}_shape", id), repeats);
  const std::string output = emitter.outputName(id, Layout::kChannelsLast);
  emitter.addNode("Expand", {unsqueezed, shape}, output);
  emitter.bind(id, Layout::kChannelsLast, output);
  return std::nullopt;
}

// Softmax over the IR's last axis (since opset 13 ONNX normalizes along `axis` alone):
// axis -1, or the channel axis 1 of an image already kept channels first.
Result emitSoftmax(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  const Layout layout = commonLayout(emitter, id);
  const std::string output = emitter.outputName(id, layout);
  onnx::NodeProto& made = emitter.addNode(onnx_op, {emitter.name(node.operands[0], layout)}, output);
  setAttribute(made, "axis", int64_t{layout == Layout::kChannelsFirst ? 1 : -1});
  emitter.bind(id, layout, output);
  return std::nullopt;
}

// ONNX pads [top, left, bottom, right] of a window over an image (ops.def: same is
// TensorFlow's, the low side gets total/2).
std::vector<int64_t> windowPads(const ir::Window& window, const ir::Shape& image) {
  if (window.padding == ir::Padding::Valid) return {0, 0, 0, 0};
  auto sides = [](int64_t in, int64_t size, int64_t stride) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + size - in, 0);
    return std::array<int64_t, 2>{total / 2, total - total / 2};
  };
  const auto rows = sides(image[1], window.height, window.stride_h);
  const auto cols = sides(image[2], window.width, window.stride_w);
  return {rows[0], cols[0], rows[1], cols[1]};
}

void setWindow(onnx::NodeProto& node, const ir::Window& window, const ir::Shape& image) {
  setAttribute(node, "kernel_shape", std::vector<int64_t>{window.height, window.width});
  setAttribute(node, "strides", std::vector<int64_t>{window.stride_h, window.stride_w});
  setAttribute(node, "pads", windowPads(window, image));
}

// Conv reads the kernel as O x I x kh x kw: a trained kernel is transposed once, here.
Result emitConv(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  const ValueId image = node.operands[0];
  const HostTensor* kernel = emitter.host(node.operands[1]);
  if (kernel == nullptr) return ExportError{"a conv2d kernel computed from the input has no ONNX form here"};
  const std::string weights = emitter.addInitializer(emitter.tensorBase(node.operands[1]), toOihw(*kernel));
  const std::string output = emitter.outputName(id, Layout::kChannelsFirst);
  onnx::NodeProto& made = emitter.addNode(onnx_op, {emitter.name(image, Layout::kChannelsFirst), weights}, output);
  setWindow(made, node.attrs.window, emitter.shape(image));
  emitter.bind(id, Layout::kChannelsFirst, output);
  return std::nullopt;
}

// avg_pool averages the in-image part of a window: count_include_pad = 0.
Result emitPool(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  const ValueId image = node.operands[0];
  const std::string output = emitter.outputName(id, Layout::kChannelsFirst);
  onnx::NodeProto& made = emitter.addNode(onnx_op, {emitter.name(image, Layout::kChannelsFirst)}, output);
  setWindow(made, node.attrs.window, emitter.shape(image));
  if (node.op == OpKind::AvgPool) setAttribute(made, "count_include_pad", int64_t{0});
  emitter.bind(id, Layout::kChannelsFirst, output);
  return std::nullopt;
}

Result emitPad(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  const ir::Pads& pads = node.attrs.pads;
  const std::string amounts =
      emitter.addInt64s(fmt::format("v{}_pads", id), {0, 0, pads.top, pads.left, 0, 0, pads.bottom, pads.right});
  const std::string output = emitter.outputName(id, Layout::kChannelsFirst);
  onnx::NodeProto& made =
      emitter.addNode(onnx_op, {emitter.name(node.operands[0], Layout::kChannelsFirst), amounts}, output);
  setAttribute(made, "mode", std::string_view("constant"));
  emitter.bind(id, Layout::kChannelsFirst, output);
  return std::nullopt;
}

Result emitCrop(OnnxEmitter& emitter, ValueId id, std::string_view onnx_op) {
  const ir::Node& node = emitter.node(id);
  const ir::Pads& pads = node.attrs.pads;
  const ir::Shape& image = emitter.shape(node.operands[0]);
  const std::string starts = emitter.addInt64s(fmt::format("v{}_starts", id), {pads.top, pads.left});
  const std::string ends =
      emitter.addInt64s(fmt::format("v{}_ends", id), {image[1] - pads.bottom, image[2] - pads.right});
  const std::string axes = emitter.addInt64s(fmt::format("v{}_axes", id), {2, 3});
  const std::string output = emitter.outputName(id, Layout::kChannelsFirst);
  emitter.addNode(onnx_op, {emitter.name(node.operands[0], Layout::kChannelsFirst), starts, ends, axes}, output);
  emitter.bind(id, Layout::kChannelsFirst, output);
  return std::nullopt;
}

}  // namespace

// The table. Every op of ops.def is listed (the switch has no default, so a new op is a
// compiler warning here until it gets a row).
OnnxRule onnxRule(ir::OpKind op) {
  switch (op) {
    case OpKind::Input: return {emitInput, ""};
    case OpKind::Parameter:
    case OpKind::State:
    case OpKind::Constant: return {emitHostValue, ""};  // initializers (host_fold.h)
    case OpKind::Hyperparam: return {};                 // a runtime argument of training only
    case OpKind::Matmul: return {emitMatmul, "MatMul"};
    case OpKind::Add: return {emitElementwise, "Add"};
    case OpKind::Sub: return {emitElementwise, "Sub"};
    case OpKind::Mul: return {emitElementwise, "Mul"};
    case OpKind::Div: return {emitElementwise, "Div"};
    case OpKind::Neg: return {emitElementwise, "Neg"};
    case OpKind::Exp: return {emitElementwise, "Exp"};
    case OpKind::Log: return {emitElementwise, "Log"};
    case OpKind::Abs: return {emitElementwise, "Abs"};
    case OpKind::Sign: return {emitElementwise, "Sign"};
    case OpKind::Relu: return {emitElementwise, "Relu"};
    case OpKind::LeakyRelu: return {emitElementwise, "LeakyRelu"};
    case OpKind::Elu: return {emitElementwise, "Elu"};
    case OpKind::Sigmoid: return {emitElementwise, "Sigmoid"};
    case OpKind::Tanh: return {emitElementwise, "Tanh"};
    case OpKind::Sqrt: return {emitElementwise, "Sqrt"};
    case OpKind::TrainSelect:
    case OpKind::Dropout: return {emitAlias, ""};
    case OpKind::ReluGrad:
    case OpKind::LeakyReluGrad:
    case OpKind::EluGrad:
    case OpKind::SigmoidGrad:
    case OpKind::TanhGrad: return {};
    case OpKind::ReduceSum: return {emitReduce, "ReduceSum"};
    case OpKind::ReduceMean: return {emitReduce, "ReduceMean"};
    case OpKind::Broadcast: return {emitBroadcast, "Expand"};
    case OpKind::Reshape: return {emitReshape, "Reshape"};
    case OpKind::Softmax: return {emitSoftmax, "Softmax"};
    case OpKind::SoftmaxGrad: return {};
    case OpKind::SoftmaxCrossEntropy:
    case OpKind::SoftmaxCrossEntropyGrad:
    case OpKind::Mse: return {};
    case OpKind::Conv2d: return {emitConv, "Conv"};
    case OpKind::Conv2dInputGrad:
    case OpKind::Conv2dKernelGrad: return {};
    case OpKind::MaxPool: return {emitPool, "MaxPool"};
    case OpKind::AvgPool: return {emitPool, "AveragePool"};
    case OpKind::MaxPoolGrad:
    case OpKind::AvgPoolGrad: return {};
    case OpKind::Pad2d: return {emitPad, "Pad"};
    case OpKind::Crop2d: return {emitCrop, "Slice"};
  }
  return {};
}

}  // namespace nnspec::exporting
