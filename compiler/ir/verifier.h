#pragma once
// The IR verifier: arity, topological numbering, operand types, leaf rules, unique names.
// Runs after every pass in tests and debug builds; a failure is an internal error.

#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace nnspec::ir {

// Every problem found, one line each ("%3 = matmul: ..."); empty when the graph is valid.
std::vector<std::string> verifyGraph(const Graph& graph);

}  // namespace nnspec::ir
