#pragma once
// AST -> checked spec: resolves names, checks argument types, sweep spaces, data
// splits and protocols, and infers the shapes of every sweep point's model.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/frontend/ast.h"
#include "compiler/sema/checked_spec.h"
#include "compiler/support/diagnostics.h"
#include "runtime/data/dataset.h"

namespace nnspec::sema {

// Probe results by source and paths, kept across checks of several specs (the CLI
// checking many files, tests checking many variants of one spec).
using ProbeCache = std::map<std::string, rt::DataResult<std::vector<rt::PartInfo>>>;

struct CheckOptions {
  rt::DataPaths data_paths;
  ProbeCache* probe_cache = nullptr;  // optional
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
