#include "compiler/export/onnx_emitter.h"

#include <fmt/format.h>

namespace nnspec::exporting {
namespace {

constexpr std::array<int64_t, 4> kToChannelsFirst = {0, 3, 1, 2};
constexpr std::array<int64_t, 4> kToChannelsLast = {0, 2, 3, 1};

size_t slot(Layout layout) { return layout == Layout::kChannelsLast ? 0 : 1; }

onnx::AttributeProto& newAttribute(onnx::NodeProto& node, std::string_view name,
                                   onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto& attribute = *node.add_attribute();
  attribute.set_name(std::string(name));
  attribute.set_type(type);
  return attribute;
}

// How a host value broadcasts against a channels-first 4-D value.
HostTensor hostChannelsFirst(const HostTensor& tensor) {
  if (tensor.shape.size() == 4) return toChannelsFirst(tensor);
  if (tensor.shape.size() == 1) return HostTensor{{tensor.shape[0], 1, 1}, tensor.values};
  return tensor;
}

}  // namespace

const HostTensor* OnnxEmitter::host(ir::ValueId id) const {
  const auto& value = host_[static_cast<size_t>(id)];
  return value ? &*value : nullptr;
}

bool OnnxEmitter::has(ir::ValueId id, Layout layout) const {
  return names_[static_cast<size_t>(id)][slot(layout)].has_value();
}

void OnnxEmitter::bind(ir::ValueId id, Layout layout, std::string onnx_name) {
  names_[static_cast<size_t>(id)][slot(layout)] = std::move(onnx_name);
}

void OnnxEmitter::alias(ir::ValueId id, ir::ValueId operand) {
  names_[static_cast<size_t>(id)] = names_[static_cast<size_t>(operand)];
}

std::string OnnxEmitter::outputName(ir::ValueId id, Layout layout) {
  return fresh(layout == Layout::kChannelsLast ? fmt::format("v{}", id) : fmt::format("v{}_nchw", id));
}

std::string OnnxEmitter::tensorBase(ir::ValueId id) const {
  const ir::Node& leaf = node(id);
  const bool named = leaf.op == ir::OpKind::Parameter || leaf.op == ir::OpKind::State;
  return named ? leaf.attrs.name : fmt::format("c{}", id);
}

std::string OnnxEmitter::hostName(ir::ValueId id, Layout layout) {
  const std::string base = tensorBase(id);
  if (layout == Layout::kChannelsLast) return addInitializer(base, *host(id));
  return addInitializer(base + "_nchw", hostChannelsFirst(*host(id)));
}

std::string OnnxEmitter::name(ir::ValueId id, Layout layout) {
  auto& names = names_[static_cast<size_t>(id)];
  if (names[slot(layout)]) return *names[slot(layout)];
  if (host(id) != nullptr) {
    names[slot(layout)] = hostName(id, layout);
    return *names[slot(layout)];
  }
  // The other layout exists (rules bind every value they make): transpose it.
  const Layout other = layout == Layout::kChannelsLast ? Layout::kChannelsFirst : Layout::kChannelsLast;
  const std::string source = *names[slot(other)];
  const std::string output = outputName(id, layout);
  const auto& perm = layout == Layout::kChannelsFirst ? kToChannelsFirst : kToChannelsLast;
  setAttribute(addNode("Transpose", {source}, output), "perm", std::vector<int64_t>(perm.begin(), perm.end()));
  names[slot(layout)] = output;
  return output;
}

onnx::NodeProto& OnnxEmitter::addNode(std::string_view op_type, const std::vector<std::string>& inputs,
                                      const std::string& output) {
  onnx::NodeProto& node = *proto_.add_node();
  node.set_op_type(std::string(op_type));
  node.set_name(fmt::format("{}_{}", op_type, proto_.node_size()));
  for (const std::string& input : inputs) node.add_input(input);
  node.add_output(output);
  return node;
}

std::string OnnxEmitter::addInitializer(std::string_view name, const HostTensor& tensor) {
  onnx::TensorProto& initializer = *proto_.add_initializer();
  initializer.set_name(fresh(name));
  initializer.set_data_type(onnx::TensorProto::FLOAT);
  for (const int64_t dim : tensor.shape) initializer.add_dims(dim);
  initializer.set_raw_data(std::string(reinterpret_cast<const char*>(tensor.values.data()),
                                       tensor.values.size() * sizeof(float)));
  return initializer.name();
}

std::string OnnxEmitter::addInt64s(std::string_view name, const std::vector<int64_t>& values) {
  onnx::TensorProto& initializer = *proto_.add_initializer();
  initializer.set_name(fresh(name));
  initializer.set_data_type(onnx::TensorProto::INT64);
  initializer.add_dims(static_cast<int64_t>(values.size()));
  for (const int64_t value : values) initializer.add_int64_data(value);
  return initializer.name();
}

std::string OnnxEmitter::fresh(std::string_view base) {
  std::string candidate(base);
  for (int suffix = 1; taken_.count(candidate) != 0; ++suffix) candidate = fmt::format("{}_{}", base, suffix);
  taken_.insert(candidate);
  return candidate;
}

void setAttribute(onnx::NodeProto& node, std::string_view name, int64_t value) {
  newAttribute(node, name, onnx::AttributeProto::INT).set_i(value);
}

void setAttribute(onnx::NodeProto& node, std::string_view name, float value) {
  newAttribute(node, name, onnx::AttributeProto::FLOAT).set_f(value);
}

void setAttribute(onnx::NodeProto& node, std::string_view name, std::string_view value) {
  newAttribute(node, name, onnx::AttributeProto::STRING).set_s(std::string(value));
}

void setAttribute(onnx::NodeProto& node, std::string_view name, const std::vector<int64_t>& values) {
  onnx::AttributeProto& attribute = newAttribute(node, name, onnx::AttributeProto::INTS);
  for (const int64_t value : values) attribute.add_ints(value);
}

}  // namespace nnspec::exporting
