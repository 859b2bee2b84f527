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
