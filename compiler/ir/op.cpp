#include "compiler/ir/op.h"

#include <array>

namespace nnspec::ir {
namespace {

constexpr std::array kOpInfos = {
#define NNSPEC_OP(Enum, name, arity, shape_rule, attr, emitter) \
  OpInfo{name, arity, ShapeRule::shape_rule, OpAttr::attr, Emitter::emitter},
#include "compiler/ir/ops.def"
#undef NNSPEC_OP
};

}  // namespace

const OpInfo& opInfo(OpKind op) { return kOpInfos[static_cast<size_t>(op)]; }

}  // namespace nnspec::ir
