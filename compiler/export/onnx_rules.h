#pragma once
// The ONNX translation of the IR's ops: one rule per op kind (compiler/ir/ops.def), each
// adding the nodes that compute one IR value from its operands' ONNX names. An op without
// a rule (losses, gradients, runtime hyperparameters: nothing a model's evaluation forward
// reads) makes the export fail with its name. Private to compiler/export.

#include <optional>
#include <string_view>

#include "compiler/export/onnx_emitter.h"
#include "compiler/export/tensors.h"
#include "compiler/ir/op.h"

namespace nnspec::exporting {

using OnnxBuilder = std::optional<ExportError> (*)(OnnxEmitter& emitter, ir::ValueId id, std::string_view onnx_op);

struct OnnxRule {
  OnnxBuilder build = nullptr;  // null: the op has no ONNX form here
  std::string_view onnx_op;     // the ONNX op the builder emits, for the generic builders
};

OnnxRule onnxRule(ir::OpKind op);

}  // namespace nnspec::exporting
