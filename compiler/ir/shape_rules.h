#pragma once
// The shape rules of ops.def: the result type of an op from its operand types.

#include <optional>
#include <span>
#include <string>

#include "compiler/ir/graph.h"

namespace nnspec::ir {

struct TypeOrError {
  std::optional<TensorType> type;
  std::string error;  // lowercase, types in IR syntax; set when `type` is empty
};

// Where a window (conv2d kernel, pooling) sits along one spatial axis of `in` elements:
// the output length and the padding before the first element. Valid: out = (in-k)/s + 1,
// no padding (out <= 0 when the window does not fit). Same (TensorFlow): out = ceil(in/s),
// total padding max((out-1)*s + k - in, 0), of which total/2 before.
struct WindowPlacement {
  int64_t out = 0;
  int64_t pad_low = 0;
};
WindowPlacement placeWindow(int64_t in, int64_t size, int64_t stride, Padding padding);

// The output shape of a window op over an f32[n,h,w,c] image with `channels` output
// channels.
Shape windowOutputShape(const Shape& image, const Window& window, int64_t channels);

// For non-leaf ops; `operands` are the operand types in order.
TypeOrError inferType(OpKind op, std::span<const TensorType> operands, const Attrs& attrs);

// For leaves: "" when `type` and `attrs` fit the leaf kind, else the problem.
std::string checkLeaf(OpKind op, const TensorType& type, const Attrs& attrs);

}  // namespace nnspec::ir
