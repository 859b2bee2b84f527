#include "compiler/ir/shape_rules.h"

#include <algorithm>
#include <array>

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

std::string windowText(const Window& window) {
  return std::to_string(window.height) + "x" + std::to_string(window.width) + " stride " +
         std::to_string(window.stride_h) + "x" + std::to_string(window.stride_w) +
         (window.padding == Padding::Same ? " padding same" : " padding valid");
}

bool isImage(const TensorType& type) { return type.rank() == 4; }

// Problems of the window itself, and of placing it over `image` (f32[n,h,w,c]).
std::string checkWindow(std::string_view op, const Window& window, const TensorType& image) {
  std::string name(op);
  if (!isImage(image)) return name + " needs an f32[batch,h,w,c] image, got " + typeString(image);
  if (window.height <= 0 || window.width <= 0 || window.stride_h <= 0 || window.stride_w <= 0)
    return name + " has a non-positive window or stride (" + windowText(window) + ")";
  Shape out = windowOutputShape(image.shape, window, 1);
  if (out[1] <= 0 || out[2] <= 0)
    return name + " window " + windowText(window) + " does not fit in " + typeString(image);
  return "";
}

TypeOrError inferConv2d(std::span<const TensorType> operands, const Attrs& attrs) {
  const TensorType& x = operands[0];
  const TensorType& kernel = operands[1];
  if (std::string problem = checkWindow("conv2d", attrs.window, x); !problem.empty())
    return fail(problem);
  if (kernel.rank() != 4 || kernel.shape[0] != attrs.window.height ||
      kernel.shape[1] != attrs.window.width || kernel.shape[2] != x.shape[3])
    return fail("conv2d kernel must be f32[" + std::to_string(attrs.window.height) + "," +
                std::to_string(attrs.window.width) + "," + std::to_string(x.shape[3]) +
                ",cout]: " + typesText(operands));
  return {f32(windowOutputShape(x.shape, attrs.window, kernel.shape[3])), ""};
}

// conv2d_input_grad(dy, kernel): attrs.shape is the forward input's shape.
TypeOrError inferConv2dInputGrad(std::span<const TensorType> operands, const Attrs& attrs) {
  TensorType x = f32(attrs.shape);
  std::array<TensorType, 2> forward{x, operands[1]};
  TypeOrError y = inferConv2d(forward, attrs);
  if (!y.type) return y;
  if (operands[0] != *y.type)
    return fail("conv2d_input_grad gradient should be " + typeString(*y.type) + ": " +
                typesText(operands));
  return {x, ""};
}

// conv2d_kernel_grad(x, dy).
TypeOrError inferConv2dKernelGrad(std::span<const TensorType> operands, const Attrs& attrs) {
  const TensorType& x = operands[0];
  const TensorType& dy = operands[1];
  if (std::string problem = checkWindow("conv2d_kernel_grad", attrs.window, x); !problem.empty())
    return fail(problem);
  if (dy.rank() != 4 || dy != f32(windowOutputShape(x.shape, attrs.window, dy.shape[3])))
    return fail("conv2d_kernel_grad gradient does not match the input: " + typesText(operands));
  return {f32({attrs.window.height, attrs.window.width, x.shape[3], dy.shape[3]}), ""};
}

TypeOrError inferPool(std::string_view op, const TensorType& x, const Attrs& attrs) {
  if (std::string problem = checkWindow(op, attrs.window, x); !problem.empty()) return fail(problem);
  return {f32(windowOutputShape(x.shape, attrs.window, x.shape[3])), ""};
}

// max_pool_grad(x, dy) and avg_pool_grad(dy) {shape = x's shape}.
TypeOrError inferPoolGrad(std::string_view op, const TensorType& x, const TensorType& dy,
                          const Attrs& attrs) {
  TypeOrError y = inferPool(op, x, attrs);
  if (!y.type) return y;
  if (dy != *y.type)
    return fail(std::string(op) + " gradient should be " + typeString(*y.type) + ", got " +
                typeString(dy));
  return {x, ""};
}

TypeOrError inferPad(std::string_view op, const TensorType& x, const Pads& pads, int64_t sign) {
  if (!isImage(x)) return fail(std::string(op) + " needs an f32[batch,h,w,c] image, got " + typeString(x));
  if (pads.top < 0 || pads.bottom < 0 || pads.left < 0 || pads.right < 0)
    return fail(std::string(op) + " has a negative padding");
  Shape shape = x.shape;
  shape[1] += sign * (pads.top + pads.bottom);
  shape[2] += sign * (pads.left + pads.right);
  if (!positiveDims(shape))
    return fail(std::string(op) + " leaves nothing of " + typeString(x));
  return {f32(shape), ""};
}

}  // namespace

WindowPlacement placeWindow(int64_t in, int64_t size, int64_t stride, Padding padding) {
  if (padding == Padding::Valid) return {in >= size ? (in - size) / stride + 1 : 0, 0};
  int64_t out = (in + stride - 1) / stride;
  int64_t total = std::max<int64_t>((out - 1) * stride + size - in, 0);
  return {out, total / 2};
}

Shape windowOutputShape(const Shape& image, const Window& window, int64_t channels) {
  return {image[0], placeWindow(image[1], window.height, window.stride_h, window.padding).out,
          placeWindow(image[2], window.width, window.stride_w, window.padding).out, channels};
}

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
    case ShapeRule::Conv2d:
      return inferConv2d(operands, attrs);
    case ShapeRule::Conv2dInputGrad:
      return inferConv2dInputGrad(operands, attrs);
    case ShapeRule::Conv2dKernelGrad:
      return inferConv2dKernelGrad(operands, attrs);
    case ShapeRule::Pool:
      return inferPool(info.name, operands[0], attrs);
    case ShapeRule::MaxPoolGrad:
      return inferPoolGrad(info.name, operands[0], operands[1], attrs);
    case ShapeRule::AvgPoolGrad:
      return inferPoolGrad(info.name, f32(attrs.shape), operands[0], attrs);
    case ShapeRule::Pad2d:
      return inferPad(info.name, operands[0], attrs.pads, 1);
    case ShapeRule::Crop2d:
      return inferPad(info.name, operands[0], attrs.pads, -1);
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
    case OpKind::State:
      if (attrs.name.empty()) return "state has no name";
      if (type.dtype != DType::F32) return "state must be f32, not " + typeString(type);
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
