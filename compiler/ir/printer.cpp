#include "compiler/ir/printer.h"

#include <cstdio>
#include <cstdlib>

namespace nnspec::ir {

std::string printFloat(float value) {
  char text[32];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, static_cast<double>(value));
    if (std::strtof(text, nullptr) == value) break;
  }
  return text;
}

namespace {

std::string pairText(int64_t first, int64_t second) {
  return std::to_string(first) + "x" + std::to_string(second);
}

std::string windowText(const Window& window, const char* size_name) {
  return std::string(" {") + size_name + "=" + pairText(window.height, window.width) +
         ", stride=" + pairText(window.stride_h, window.stride_w) +
         ", padding=" + (window.padding == Padding::Same ? "same" : "valid") + "}";
}

std::string attrText(const Node& node) {
  switch (opInfo(node.op).attr) {
    case OpAttr::None:
    case OpAttr::Name:
      return "";
    case OpAttr::Value:
      return " {value=" + printFloat(node.attrs.value) + "}";
    case OpAttr::Alpha:
      return " {alpha=" + printFloat(node.attrs.alpha) + "}";
    case OpAttr::Axis:
      return node.attrs.axis == kAllAxes ? " {axis=all}"
                                         : " {axis=" + std::to_string(node.attrs.axis) + "}";
    case OpAttr::Transpose:
      if (node.attrs.transpose_a && node.attrs.transpose_b) return " {transpose_a, transpose_b}";
      if (node.attrs.transpose_a) return " {transpose_a}";
      if (node.attrs.transpose_b) return " {transpose_b}";
      return "";
    case OpAttr::Conv:
      return windowText(node.attrs.window, "kernel");
    case OpAttr::Pool:
      return windowText(node.attrs.window, "size");
    case OpAttr::Dropout:
      return " {rate=" + printFloat(node.attrs.rate) + ", stream=" + std::to_string(node.attrs.stream) +
             (node.attrs.point >= 0 ? ", point=" + std::to_string(node.attrs.point) : std::string()) + "}";
    case OpAttr::Pads: {
      const Pads& pads = node.attrs.pads;
      return " {top=" + std::to_string(pads.top) + ", bottom=" + std::to_string(pads.bottom) +
             ", left=" + std::to_string(pads.left) + ", right=" + std::to_string(pads.right) + "}";
    }
  }
  return "";
}

}  // namespace

std::string printNode(const Graph& graph, ValueId id) {
  const Node& node = graph.node(id);
  std::string text = "%" + std::to_string(id) + " = " + std::string(opName(node.op));
  if (opInfo(node.op).attr == OpAttr::Name) text += " \"" + node.attrs.name + "\"";
  if (opInfo(node.op).arity > 0 || !node.operands.empty()) {
    text += "(";
    for (size_t operand_idx = 0; operand_idx < node.operands.size(); ++operand_idx) {
      if (operand_idx > 0) text += ", ";
      text += "%" + std::to_string(node.operands[operand_idx]);
    }
    text += ")";
  }
  return text + attrText(node) + " : " + typeString(node.type);
}

std::string printGraph(const Graph& graph) {
  std::string text;
  for (ValueId id = 0; id < graph.size(); ++id) text += printNode(graph, id) + "\n";
  return text;
}

}  // namespace nnspec::ir
