#include "compiler/ir/graph.h"

#include "compiler/ir/shape_rules.h"

namespace nnspec::ir {

ValueId Graph::appendLeaf(OpKind op, TensorType type, Attrs attrs) {
  std::string problem = checkLeaf(op, type, attrs);
  if (!problem.empty()) throw IrError("%" + std::to_string(size()) + ": " + problem);
  return appendUnchecked(Node{op, {}, std::move(attrs), std::move(type)});
}

ValueId Graph::input(std::string name, TensorType type) {
  Attrs attrs;
  attrs.name = std::move(name);
  return appendLeaf(OpKind::Input, std::move(type), std::move(attrs));
}

ValueId Graph::parameter(std::string name, Shape shape) {
  Attrs attrs;
  attrs.name = std::move(name);
  return appendLeaf(OpKind::Parameter, f32(std::move(shape)), std::move(attrs));
}

ValueId Graph::state(std::string name, Shape shape) {
  Attrs attrs;
  attrs.name = std::move(name);
  return appendLeaf(OpKind::State, f32(std::move(shape)), std::move(attrs));
}

ValueId Graph::hyperparam(std::string name) {
  Attrs attrs;
  attrs.name = std::move(name);
  return appendLeaf(OpKind::Hyperparam, f32({}), std::move(attrs));
}

ValueId Graph::constant(float value, Shape shape) {
  Attrs attrs;
  attrs.value = value;
  return appendLeaf(OpKind::Constant, f32(std::move(shape)), std::move(attrs));
}

ValueId Graph::matmul(ValueId a, ValueId b, bool transpose_a, bool transpose_b) {
  Attrs attrs;
  attrs.transpose_a = transpose_a;
  attrs.transpose_b = transpose_b;
  return append(OpKind::Matmul, {a, b}, std::move(attrs));
}

ValueId Graph::unary(OpKind op, ValueId x, float alpha) {
  Attrs attrs;
  attrs.alpha = alpha;
  return append(op, {x}, std::move(attrs));
}

ValueId Graph::dropout(ValueId x, float rate, int32_t stream, int32_t point) {
  if (!(rate >= 0.0f && rate < 1.0f)) throw IrError("dropout rate must be in [0, 1)");
  Attrs attrs;
  attrs.rate = rate;
  attrs.stream = stream;
  attrs.point = point;
  return append(OpKind::Dropout, {x}, std::move(attrs));
}

ValueId Graph::binary(OpKind op, ValueId a, ValueId b, float alpha) {
  Attrs attrs;
  attrs.alpha = alpha;
  return append(op, {a, b}, std::move(attrs));
}

ValueId Graph::reduceSum(ValueId x, int axis) {
  Attrs attrs;
  attrs.axis = axis;
  return append(OpKind::ReduceSum, {x}, std::move(attrs));
}

ValueId Graph::reduceMean(ValueId x, int axis) {
  Attrs attrs;
  attrs.axis = axis;
  return append(OpKind::ReduceMean, {x}, std::move(attrs));
}

ValueId Graph::broadcast(ValueId x, Shape shape, int axis) {
  Attrs attrs;
  attrs.axis = axis;
  attrs.shape = std::move(shape);
  return append(OpKind::Broadcast, {x}, std::move(attrs));
}

ValueId Graph::reshape(ValueId x, Shape shape) {
  Attrs attrs;
  attrs.shape = std::move(shape);
  return append(OpKind::Reshape, {x}, std::move(attrs));
}

ValueId Graph::softmaxCrossEntropy(ValueId logits, ValueId labels) {
  return append(OpKind::SoftmaxCrossEntropy, {logits, labels}, {});
}

ValueId Graph::softmaxCrossEntropyGrad(ValueId logits, ValueId labels, ValueId grad) {
  return append(OpKind::SoftmaxCrossEntropyGrad, {logits, labels, grad}, {});
}

ValueId Graph::mse(ValueId a, ValueId b) { return append(OpKind::Mse, {a, b}, {}); }

namespace {

Attrs windowAttrs(Window window, Shape input_shape = {}) {
  Attrs attrs;
  attrs.window = window;
  attrs.shape = std::move(input_shape);
  return attrs;
}

Attrs padAttrs(Pads pads) {
  Attrs attrs;
  attrs.pads = pads;
  return attrs;
}

}  // namespace

ValueId Graph::conv2d(ValueId x, ValueId kernel, Window window) {
  return append(OpKind::Conv2d, {x, kernel}, windowAttrs(window));
}

ValueId Graph::conv2dInputGrad(ValueId dy, ValueId kernel, Window window, Shape input_shape) {
  return append(OpKind::Conv2dInputGrad, {dy, kernel}, windowAttrs(window, std::move(input_shape)));
}

ValueId Graph::conv2dKernelGrad(ValueId x, ValueId dy, Window window) {
  return append(OpKind::Conv2dKernelGrad, {x, dy}, windowAttrs(window));
}

ValueId Graph::maxPool(ValueId x, Window window) {
  return append(OpKind::MaxPool, {x}, windowAttrs(window));
}

ValueId Graph::avgPool(ValueId x, Window window) {
  return append(OpKind::AvgPool, {x}, windowAttrs(window));
}

ValueId Graph::maxPoolGrad(ValueId x, ValueId dy, Window window) {
  return append(OpKind::MaxPoolGrad, {x, dy}, windowAttrs(window));
}

ValueId Graph::avgPoolGrad(ValueId dy, Window window, Shape input_shape) {
  return append(OpKind::AvgPoolGrad, {dy}, windowAttrs(window, std::move(input_shape)));
}

ValueId Graph::pad2d(ValueId x, Pads pads) { return append(OpKind::Pad2d, {x}, padAttrs(pads)); }

ValueId Graph::crop2d(ValueId x, Pads pads) { return append(OpKind::Crop2d, {x}, padAttrs(pads)); }

ValueId Graph::append(OpKind op, std::vector<ValueId> operands, Attrs attrs) {
  std::string where = "%" + std::to_string(size()) + " = " + std::string(opName(op)) + ": ";
  std::vector<TensorType> operand_types;
  for (ValueId operand : operands) {
    if (operand < 0 || operand >= size())
      throw IrError(where + "operand %" + std::to_string(operand) + " does not exist");
    operand_types.push_back(type(operand));
  }
  TypeOrError result = inferType(op, operand_types, attrs);
  if (!result.type) throw IrError(where + result.error);
  return appendUnchecked(Node{op, std::move(operands), std::move(attrs), *result.type});
}

ValueId Graph::appendUnchecked(Node node) {
  nodes_.push_back(std::move(node));
  return size() - 1;
}

std::vector<ValueId> Graph::leaves(OpKind op) const {
  std::vector<ValueId> ids;
  for (ValueId id = 0; id < size(); ++id)
    if (node(id).op == op) ids.push_back(id);
  return ids;
}

std::vector<std::vector<ValueId>> Graph::users() const {
  std::vector<std::vector<ValueId>> result(nodes_.size());
  for (ValueId id = 0; id < size(); ++id)
    for (ValueId operand : node(id).operands)
      if (operand >= 0 && operand < size()) result[static_cast<size_t>(operand)].push_back(id);
  return result;
}

}  // namespace nnspec::ir
