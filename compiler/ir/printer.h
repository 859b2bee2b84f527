#pragma once
// The text form of the graph IR (`--emit=ir`):
//   %3 = matmul(%1, %2) {transpose_b} : f32[128,500]
// lowercase op names, values numbered in topological order, no pointers.

#include <string>

#include "compiler/ir/graph.h"

namespace nnspec::ir {

// One node without a trailing newline.
std::string printNode(const Graph& graph, ValueId id);
// Every node, one per line.
std::string printGraph(const Graph& graph);
// A float the way the printer writes it: shortest text that reads back to the same float.
std::string printFloat(float value);

}  // namespace nnspec::ir
