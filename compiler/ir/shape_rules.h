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

// For non-leaf ops; `operands` are the operand types in order.
TypeOrError inferType(OpKind op, std::span<const TensorType> operands, const Attrs& attrs);

// For leaves: "" when `type` and `attrs` fit the leaf kind, else the problem.
std::string checkLeaf(OpKind op, const TensorType& type, const Attrs& attrs);

}  // namespace nnspec::ir
