#include "compiler/export/host_fold.h"

#include <cmath>
#include <functional>

#include <fmt/format.h>

namespace nnspec::exporting {
namespace {

using ir::OpKind;

int64_t elementsOf(const ir::Shape& shape) {
  int64_t count = 1;
  for (const int64_t dim : shape) count *= dim;
  return count;
}

std::string shapeText(const std::vector<int64_t>& shape) { return ir::typeString(ir::f32(shape)); }

const NamedTensor* tensorNamed(const std::vector<NamedTensor>& tensors, const std::string& name) {
  for (const NamedTensor& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

std::variant<HostTensor, ExportError> trainedLeaf(const ir::Node& node, const std::vector<NamedTensor>& tensors) {
  const char* what = node.op == OpKind::Parameter ? "parameter" : "state";
  const NamedTensor* tensor = tensorNamed(tensors, node.attrs.name);
  if (tensor == nullptr) {
    return ExportError{fmt::format("the model has no trained tensor for {} '{}'", what, node.attrs.name)};
  }
  if (tensor->shape != node.type.shape || static_cast<int64_t>(tensor->values.size()) != elementsOf(tensor->shape)) {
    return ExportError{fmt::format("trained tensor '{}' is {} with {} values, the model's {} is {}", tensor->name,
                                   shapeText(tensor->shape), tensor->values.size(), what,
                                   ir::typeString(node.type))};
  }
  return HostTensor{tensor->shape, tensor->values};
}

// The element-wise function of a unary map op, or null when it is not one.
std::function<float(float)> unaryFunction(const ir::Node& node) {
  const float alpha = node.attrs.alpha;
  switch (node.op) {
    case OpKind::Neg: return [](float x) { return -x; };
    case OpKind::Exp: return [](float x) { return std::exp(x); };
    case OpKind::Log: return [](float x) { return std::log(x); };
    case OpKind::Abs: return [](float x) { return std::fabs(x); };
    case OpKind::Sign: return [](float x) { return static_cast<float>((x > 0) - (x < 0)); };
    case OpKind::Relu: return [](float x) { return x > 0 ? x : 0.0f; };
    case OpKind::LeakyRelu: return [alpha](float x) { return x > 0 ? x : alpha * x; };
    case OpKind::Elu: return [alpha](float x) { return x > 0 ? x : alpha * (std::exp(x) - 1.0f); };
    case OpKind::Sigmoid: return [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
    case OpKind::Tanh: return [](float x) { return std::tanh(x); };
    case OpKind::Sqrt: return [](float x) { return std::sqrt(x); };
    default: return nullptr;
  }
}

std::function<float(float, float)> binaryFunction(OpKind op) {
  switch (op) {
    case OpKind::Add: return [](float a, float b) { return a + b; };
    case OpKind::Sub: return [](float a, float b) { return a - b; };
    case OpKind::Mul: return [](float a, float b) { return a * b; };
    case OpKind::Div: return [](float a, float b) { return a / b; };
    default: return nullptr;
  }
}

// The binary ops' broadcast (ops.def): B is A's shape, a scalar, or A's last dimension.
HostTensor applyBinary(const std::function<float(float, float)>& function, const HostTensor& a, const HostTensor& b) {
  HostTensor out{a.shape, std::vector<float>(a.values.size())};
  const size_t period = b.values.size();
  for (size_t index = 0; index < a.values.size(); ++index) {
    out.values[index] = function(a.values[index], b.values[index % period]);
  }
  return out;
}

// The node's value from its operands' host values, or nullopt when this op is not folded.
std::optional<HostTensor> foldNode(const ir::Node& node, const HostValues& host) {
  if (node.op == OpKind::Constant) {
    return HostTensor{node.type.shape, std::vector<float>(static_cast<size_t>(node.type.numElements()), node.attrs.value)};
  }
  if (node.operands.empty()) return std::nullopt;
  for (const ir::ValueId operand : node.operands) {
    if (!host[static_cast<size_t>(operand)]) return std::nullopt;
  }
  const HostTensor& first = *host[static_cast<size_t>(node.operands[0])];
  if (node.op == OpKind::Dropout) return first;
  if (node.op == OpKind::TrainSelect) return *host[static_cast<size_t>(node.operands[1])];
  if (node.op == OpKind::Reshape) return HostTensor{node.type.shape, first.values};
  if (const auto function = unaryFunction(node)) {
    HostTensor out{first.shape, first.values};
    for (float& value : out.values) value = function(value);
    return out;
  }
  if (const auto function = binaryFunction(node.op)) {
    return applyBinary(function, first, *host[static_cast<size_t>(node.operands[1])]);
  }
  return std::nullopt;
}

}  // namespace

std::vector<bool> evaluationNodes(const ir::Graph& graph, ir::ValueId output) {
  std::vector<bool> needed(static_cast<size_t>(graph.size()), false);
  needed[static_cast<size_t>(output)] = true;
  // Operands have smaller ids than their users: one backward sweep marks everything read.
  for (ir::ValueId id = output; id >= 0; --id) {
    if (!needed[static_cast<size_t>(id)]) continue;
    const ir::Node& node = graph.node(id);
    if (node.op == OpKind::TrainSelect) {
      needed[static_cast<size_t>(node.operands[1])] = true;
      continue;
    }
    for (const ir::ValueId operand : node.operands) needed[static_cast<size_t>(operand)] = true;
  }
  return needed;
}

std::variant<HostValues, ExportError> foldInputFree(const ir::Graph& graph, const std::vector<bool>& needed,
                                                    const std::vector<NamedTensor>& tensors) {
  HostValues host(static_cast<size_t>(graph.size()));
  for (ir::ValueId id = 0; id < graph.size(); ++id) {
    if (!needed[static_cast<size_t>(id)]) continue;
    const ir::Node& node = graph.node(id);
    if (node.op == OpKind::Parameter || node.op == OpKind::State) {
      auto leaf = trainedLeaf(node, tensors);
      if (auto* error = std::get_if<ExportError>(&leaf)) return std::move(*error);
      host[static_cast<size_t>(id)] = std::get<HostTensor>(std::move(leaf));
      continue;
    }
    host[static_cast<size_t>(id)] = foldNode(node, host);
  }
  return host;
}

HostTensor toChannelsFirst(const HostTensor& tensor) {
  const int64_t batch = tensor.shape[0], height = tensor.shape[1], width = tensor.shape[2], channels = tensor.shape[3];
  HostTensor out{{batch, channels, height, width}, std::vector<float>(tensor.values.size())};
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t row = 0; row < height; ++row) {
      for (int64_t col = 0; col < width; ++col) {
        for (int64_t channel = 0; channel < channels; ++channel) {
          out.values[static_cast<size_t>(((n * channels + channel) * height + row) * width + col)] =
              tensor.values[static_cast<size_t>(((n * height + row) * width + col) * channels + channel)];
        }
      }
    }
  }
  return out;
}

HostTensor toOihw(const HostTensor& kernel) {
  const int64_t rows = kernel.shape[0], cols = kernel.shape[1], in = kernel.shape[2], out_channels = kernel.shape[3];
  HostTensor out{{out_channels, in, rows, cols}, std::vector<float>(kernel.values.size())};
  for (int64_t ky = 0; ky < rows; ++ky) {
    for (int64_t kx = 0; kx < cols; ++kx) {
      for (int64_t in_channel = 0; in_channel < in; ++in_channel) {
        for (int64_t out_channel = 0; out_channel < out_channels; ++out_channel) {
          out.values[static_cast<size_t>(((out_channel * in + in_channel) * rows + ky) * cols + kx)] =
              kernel.values[static_cast<size_t>(((ky * cols + kx) * in + in_channel) * out_channels + out_channel)];
        }
      }
    }
  }
  return out;
}

HostTensor transposed(const HostTensor& matrix) {
  const int64_t rows = matrix.shape[0], cols = matrix.shape[1];
  HostTensor out{{cols, rows}, std::vector<float>(matrix.values.size())};
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t col = 0; col < cols; ++col) {
      out.values[static_cast<size_t>(col * rows + row)] = matrix.values[static_cast<size_t>(row * cols + col)];
    }
  }
  return out;
}

}  // namespace nnspec::exporting
