#include "compiler/ir/verifier.h"

#include <map>
#include <utility>

#include "compiler/ir/shape_rules.h"

namespace nnspec::ir {
namespace {

// Problems of one node; `where` prefixes each.
std::vector<std::string> verifyNode(const Graph& graph, ValueId id) {
  const Node& node = graph.node(id);
  const OpInfo& info = opInfo(node.op);
  std::string where = "%" + std::to_string(id) + " = " + std::string(info.name) + ": ";
  if (static_cast<int>(node.operands.size()) != info.arity)
    return {where + "takes " + std::to_string(info.arity) + " operands, has " +
            std::to_string(node.operands.size())};
  std::vector<TensorType> operand_types;
  for (ValueId operand : node.operands) {
    if (operand < 0 || operand >= id)
      return {where + "operand %" + std::to_string(operand) +
              " is not defined before its use (values are numbered in topological order)"};
    operand_types.push_back(graph.type(operand));
  }
  if (info.shape_rule == ShapeRule::Leaf) {
    std::string problem = checkLeaf(node.op, node.type, node.attrs);
    if (!problem.empty()) return {where + problem};
    return {};
  }
  TypeOrError inferred = inferType(node.op, operand_types, node.attrs);
  if (!inferred.type) return {where + inferred.error};
  if (*inferred.type != node.type)
    return {where + "result type " + typeString(node.type) + " should be " +
            typeString(*inferred.type)};
  return {};
}

}  // namespace

std::vector<std::string> verifyGraph(const Graph& graph) {
  std::vector<std::string> problems;
  std::map<std::pair<OpKind, std::string>, ValueId> named;
  for (ValueId id = 0; id < graph.size(); ++id) {
    for (std::string& problem : verifyNode(graph, id)) problems.push_back(std::move(problem));
    const Node& node = graph.node(id);
    if (opInfo(node.op).attr != OpAttr::Name) continue;
    auto [it, inserted] = named.emplace(std::make_pair(node.op, node.attrs.name), id);
    if (!inserted)
      problems.push_back("%" + std::to_string(id) + " = " + std::string(opName(node.op)) +
                         ": name \"" + node.attrs.name + "\" already used by %" +
                         std::to_string(it->second));
  }
  return problems;
}

}  // namespace nnspec::ir
