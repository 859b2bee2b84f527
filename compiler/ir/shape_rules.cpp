#include "compiler/ir/shape_rules.h"

namespace nnspec::ir {
namespace {

TypeOrError fail(std::string message) { return {std::nullopt, std::move(message)}; }

std::string typesText(std::span<const TensorType> operands) {
  std::string text;
  for (size_t operand_idx = 0; operand_idx < operands.size(); ++operand_idx) {
    if (operand_idx > 0) text += ", ";
    text += typeString(operands[operand_idx]);
  }
  return text;
}

bool allF32(std::span<const TensorType> operands) {
  for (const TensorType& type : operands)
    if (type.dtype != DType::F32) return false;
  return true;
}

bool positiveDims(const Shape& shape) {
  for (int64_t dim : shape)
    if (dim <= 0) return false;
  return true;
}

Shape withoutAxis(const Shape& shape, int axis) {
  if (axis == kAllAxes) return {};
  Shape result = shape;
  result.erase(result.begin() + axis);
  return result;
}

TypeOrError inferBinary(std::span<const TensorType> operands) {
  const TensorType& lhs = operands[0];
  const TensorType& rhs = operands[1];
  if (lhs.shape == rhs.shape || rhs.isScalar()) return {lhs, ""};
  if (rhs.rank() == 1 && lhs.rank() >= 1 && rhs.shape[0] == lhs.shape.back()) return {lhs, ""};
  return fail("operand shapes do not broadcast: " + typesText(operands));
}

TypeOrError inferMatmul(std::span<const TensorType> operands, const Attrs& attrs) {
  const TensorType& a = operands[0];
  const TensorType& b = operands[1];
  if (a.rank() != 2 || b.rank() != 2) return fail("matmul needs two matrices: " + typesText(operands));
  int64_t rows = attrs.transpose_a ? a.shape[1] : a.shape[0];
  int64_t inner_a = attrs.transpose_a ? a.shape[0] : a.shape[1];
  int64_t inner_b = attrs.transpose_b ? b.shape[1] : b.shape[0];
  int64_t cols = attrs.transpose_b ? b.shape[0] : b.shape[1];
  if (inner_a != inner_b) return fail("matmul inner dimensions differ: " + typesText(operands));
  return {f32({rows, cols}), ""};
}

TypeOrError inferReduce(const TensorType& operand, const Attrs& attrs) {
  if (attrs.axis != kAllAxes && (attrs.axis < 0 || attrs.axis >= operand.rank()))
    return fail("axis " + std::to_string(attrs.axis) + " out of range for " + typeString(operand));
  return {f32(withoutAxis(operand.shape, attrs.axis)), ""};
}

TypeOrError inferBroadcast(const TensorType& operand, const Attrs& attrs) {
  const Shape& target = attrs.shape;
  int rank = static_cast<int>(target.size());
  if (attrs.axis != kAllAxes && (attrs.axis < 0 || attrs.axis >= rank))
    return fail("axis " + std::to_string(attrs.axis) + " out of range for " +
                typeString(f32(target)));
  if (!positiveDims(target)) return fail("broadcast to an empty shape " + typeString(f32(target)));
  if (withoutAxis(target, attrs.axis) != operand.shape)
    return fail("cannot broadcast " + typeString(operand) + " to " + typeString(f32(target)) +
                (attrs.axis == kAllAxes ? " (axis=all needs a scalar)"
                                        : " along axis " + std::to_string(attrs.axis)));
  return {f32(target), ""};
}

TypeOrError inferReshape(const TensorType& operand, const Attrs& attrs) {
  TensorType result = f32(attrs.shape);
  if (!positiveDims(attrs.shape) || result.numElements() != operand.numElements())
    return fail("cannot reshape " + typeString(operand) + " to " + typeString(result));
  return {result, ""};
}

TypeOrError inferSoftmaxCe(std::span<const TensorType> operands) {
  const TensorType& logits = operands[0];
  const TensorType& labels = operands[1];
  if (logits.dtype != DType::F32 || logits.rank() != 2 || labels.dtype != DType::I32 ||
      labels.rank() != 1 || labels.shape[0] != logits.shape[0])
    return fail("softmax_cross_entropy needs f32[b,c] logits and i32[b] labels: " +
                typesText(operands));
  if (operands.size() == 2) return {f32({}), ""};
  if (operands[2] != f32({}))
    return fail("softmax_cross_entropy_grad needs an f32[] gradient: " + typesText(operands));
  return {logits, ""};
}

}  // namespace

TypeOrError inferType(OpKind op, std::span<const TensorType> operands, const Attrs& attrs) {
  const OpInfo& info = opInfo(op);
  if (static_cast<int>(operands.size()) != info.arity)
    return fail(std::string(info.name) + " takes " + std::to_string(info.arity) +
                " operands, got " + std::to_string(operands.size()));
  bool labels_allowed = info.shape_rule == ShapeRule::SoftmaxCe ||
                        info.shape_rule == ShapeRule::SoftmaxCeGrad;
  if (!labels_allowed && !allF32(operands))
    return fail(std::string(info.name) + " needs f32 operands: " + typesText(operands));
  switch (info.shape_rule) {
    case ShapeRule::Leaf:
      return fail(std::string(info.name) + " is a leaf");
    case ShapeRule::Unary:
      return {operands[0], ""};
    case ShapeRule::Binary:
      return inferBinary(operands);
    case ShapeRule::SameShape:
      if (operands[0] != operands[1]) return fail("operand types differ: " + typesText(operands));
      return {operands[0], ""};
    case ShapeRule::Matmul:
      return inferMatmul(operands, attrs);
    case ShapeRule::Reduce:
      return inferReduce(operands[0], attrs);
    case ShapeRule::Broadcast:
      return inferBroadcast(operands[0], attrs);
    case ShapeRule::Reshape:
      return inferReshape(operands[0], attrs);
    case ShapeRule::SoftmaxCe:
    case ShapeRule::SoftmaxCeGrad:
      return inferSoftmaxCe(operands);
    case ShapeRule::Mse:
      if (operands[0] != operands[1]) return fail("mse operand types differ: " + typesText(operands));
      return {f32({}), ""};
  }
  return fail("unknown shape rule");
}

std::string checkLeaf(OpKind op, const TensorType& type, const Attrs& attrs) {
  std::string name(opName(op));
  if (!positiveDims(type.shape)) return name + " has an empty shape " + typeString(type);
  switch (op) {
    case OpKind::Input:
      if (attrs.name.empty()) return "input has no name";
      return "";
    case OpKind::Parameter:
      if (attrs.name.empty()) return "parameter has no name";
      if (type.dtype != DType::F32) return "parameter must be f32, not " + typeString(type);
      return "";
    case OpKind::Hyperparam:
      if (attrs.name.empty()) return "hyperparam has no name";
      if (type != f32({})) return "hyperparam must be f32[], not " + typeString(type);
      return "";
    case OpKind::Constant:
      if (type.dtype != DType::F32) return "constant must be f32, not " + typeString(type);
      return "";
    default:
      return name + " is not a leaf";
  }
}

}  // namespace nnspec::ir
