#pragma once
// Op kinds and their static properties, generated from ops.def.

#include <string_view>

namespace nnspec::ir {

enum class OpKind {
#define NNSPEC_OP(Enum, name, arity, shape_rule, attr, emitter) Enum,
#include "compiler/ir/ops.def"
#undef NNSPEC_OP
};

// How the result type of an op follows from its operands.
enum class ShapeRule {
  Leaf,           // given by the node itself
  Unary,          // same as the operand
  Binary,         // the lhs; rhs equal, scalar or row-broadcast
  SameShape,      // both operands and the result share one type
  Matmul,         // [m,k] x [k,n] -> [m,n] after the transpose flags
  Reduce,         // the operand without the reduced axis (f32[] for all axes)
  Broadcast,      // the target shape; the operand is it without the axis
  Reshape,        // the target shape; same element count
  SoftmaxCe,      // f32[b,c], i32[b] -> f32[]
  SoftmaxCeGrad,  // f32[b,c], i32[b], f32[] -> f32[b,c]
  Mse,            // two equal f32 shapes -> f32[]
  Conv2d,            // f32[n,h,w,cin], f32[kh,kw,cin,cout] -> f32[n,oh,ow,cout]
  Conv2dInputGrad,   // dy f32[n,oh,ow,cout], kernel -> f32[n,h,w,cin] (attrs.shape)
  Conv2dKernelGrad,  // x f32[n,h,w,cin], dy f32[n,oh,ow,cout] -> f32[kh,kw,cin,cout]
  Pool,              // f32[n,h,w,c] -> f32[n,oh,ow,c]
  MaxPoolGrad,       // x f32[n,h,w,c], dy f32[n,oh,ow,c] -> f32[n,h,w,c]
  AvgPoolGrad,       // dy f32[n,oh,ow,c] -> f32[n,h,w,c] (attrs.shape)
  Pad2d,             // f32[n,h,w,c] -> f32[n,h+top+bottom,w+left+right,c]
  Crop2d,            // f32[n,h,w,c] -> f32[n,h-top-bottom,w-left-right,c]
};

// The one attribute an op carries.
enum class OpAttr { None, Name, Value, Alpha, Axis, Transpose, Conv, Pool, Pads, Dropout };

// How codegen lowers an op.
enum class Emitter { Leaf, Map, Reduce, Gemm, Softmax, SoftmaxGrad, SoftmaxCe, SoftmaxCeGrad, Mse, Call };

struct OpInfo {
  std::string_view name;
  int arity;
  ShapeRule shape_rule;
  OpAttr attr;
  Emitter emitter;
};

const OpInfo& opInfo(OpKind op);
inline std::string_view opName(OpKind op) { return opInfo(op).name; }
inline int opArity(OpKind op) { return opInfo(op).arity; }

}  // namespace nnspec::ir
