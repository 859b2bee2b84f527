#pragma once
// Instantiates a model block for one sweep point: unrolls for/repeat, binds every
// layer's arguments and infers the output shape and parameter count of each layer.

#include <initializer_list>
#include <limits>
#include <optional>
#include <string>

#include "compiler/frontend/ast.h"
#include "compiler/sema/catalog.h"
#include "compiler/sema/checked_spec.h"

namespace nnspec::sema {

struct ModelDefaults {
  double l1 = 0;
  double l2 = 0;
  std::string init = "glorot_uniform";
};

// `data_shape` is one sample's shape as the split delivers it. Returns nullopt after
// reporting when a layer's arguments or shapes do not fit.
std::optional<ModelInstance> instantiateModel(const ast::ModelStmt& model, const Shape& data_shape,
                                              const NameLookup& params, const ModelDefaults& defaults,
                                              const Catalog& catalog, DiagnosticEngine& diagnostics);

// f32[?,28,28,1]: a batch of samples of `shape`, in IR syntax.
std::string formatBatchShape(const Shape& shape);

// What shapeElements and checkedProduct return when the product overflows int64.
inline constexpr int64_t kShapeOverflow = std::numeric_limits<int64_t>::max();
// The number of values of `shape`, or kShapeOverflow.
int64_t shapeElements(const Shape& shape);
// The product of non-negative factors, or kShapeOverflow.
int64_t checkedProduct(std::initializer_list<int64_t> factors);

// "unknown layer 'X'" with a did-you-mean or the list of layers; shape inference and the
// checker's pass over every layer name report it the same way (the engine keeps one).
void reportUnknownLayer(DiagnosticEngine& diagnostics, const Catalog& catalog, const ast::Ident& name);
// "unknown model kind 'X'" at `model NAME = X(...)`, reported the same way by the check of
// every model statement and by instantiating one.
void reportUnknownModelKind(DiagnosticEngine& diagnostics, const Catalog& catalog, const ast::ModelStmt& model,
                            const std::string& kind);

}  // namespace nnspec::sema
