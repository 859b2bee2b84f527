#pragma once
// AST -> checked spec: resolves names, checks argument types, sweep spaces, data
// splits and protocols, and infers the shapes of every sweep point's model.

#include <optional>

#include "compiler/frontend/ast.h"
#include "compiler/sema/checked_spec.h"
#include "compiler/support/diagnostics.h"
#include "runtime/data/dataset.h"

namespace nnspec::sema {

struct CheckOptions {
  rt::DataPaths data_paths;
  // Grid points whose models are instantiated one by one; larger grids are checked
  // at evenly spread points.
  int64_t max_checked_points = 4096;
};

std::optional<CheckedSpec> checkSpec(const ast::Spec& spec, const CheckOptions& options,
                                     DiagnosticEngine& diagnostics);

// What `nnspec check` prints on success: datasets, the plan of every sweep and a
// summary of every distinct model.
std::string printPlan(const CheckedSpec& spec);

}  // namespace nnspec::sema
