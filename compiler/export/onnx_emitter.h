#pragma once
// The state of one ONNX export: the GraphProto being filled and, for each IR value, its
// ONNX tensor names. nnspec's images are channels last [n,h,w,c]; ONNX's Conv and pools
// read channels first [n,c,h,w]. A 4-D value may therefore have two names, one per layout,
// and the other form is made by a Transpose (or, for a value computed on the host, a
// transposed initializer) the first time a rule asks for it, so a chain of convolutions,
// pools and element-wise ops stays channels first without a Transpose between each two.
// Private to compiler/export (the protobuf types stay inside it).

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/export/host_fold.h"
#include "compiler/ir/graph.h"
#include "onnx/onnx_pb.h"

namespace nnspec::exporting {

enum class Layout { kChannelsLast, kChannelsFirst };

class OnnxEmitter {
 public:
  // `batch`: the graph's batch size (the first dimension of its input), exported as the
  // symbolic dimension.
  OnnxEmitter(const ir::Graph& graph, const HostValues& host, onnx::GraphProto& proto, int64_t batch)
      : graph_(graph), host_(host), proto_(proto), batch_(batch), names_(static_cast<size_t>(graph.size())) {}

  const ir::Graph& graph() const { return graph_; }
  const ir::Node& node(ir::ValueId id) const { return graph_.node(id); }
  const ir::Shape& shape(ir::ValueId id) const { return graph_.type(id).shape; }
  int64_t batch() const { return batch_; }
  const HostTensor* host(ir::ValueId id) const;

  // The ONNX name of `id` in `layout`, made the first time it is asked for. For a value
  // computed on the host, channels first means the form that broadcasts against a
  // channels-first 4-D value: f32[c] becomes f32[c,1,1], a scalar stays one.
  std::string name(ir::ValueId id, Layout layout = Layout::kChannelsLast);
  bool has(ir::ValueId id, Layout layout) const;
  void bind(ir::ValueId id, Layout layout, std::string onnx_name);
  // The result shares its operand's names (dropout, train_select in evaluation).
  void alias(ir::ValueId id, ir::ValueId operand);

  // A new node with one output named `output`.
  onnx::NodeProto& addNode(std::string_view op_type, const std::vector<std::string>& inputs, const std::string& output);
  // Initializers; the name is made unique when taken.
  std::string addInitializer(std::string_view name, const HostTensor& tensor);
  std::string addInt64s(std::string_view name, const std::vector<int64_t>& values);
  // "v12", "v12_nchw" ...: a name no other tensor has.
  std::string fresh(std::string_view base);
  // What an initializer made from a host value is called: a parameter's or state's own
  // name ("conv1.kernel"), else "c<id>".
  std::string tensorBase(ir::ValueId id) const;
  // The ONNX name of the value's output in `layout`, by the value's id.
  std::string outputName(ir::ValueId id, Layout layout);

 private:
  std::string hostName(ir::ValueId id, Layout layout);

  const ir::Graph& graph_;
  const HostValues& host_;
  onnx::GraphProto& proto_;
  int64_t batch_;
  std::vector<std::array<std::optional<std::string>, 2>> names_;  // by value, by layout
  std::set<std::string> taken_;
};

void setAttribute(onnx::NodeProto& node, std::string_view name, int64_t value);
void setAttribute(onnx::NodeProto& node, std::string_view name, float value);
void setAttribute(onnx::NodeProto& node, std::string_view name, std::string_view value);
void setAttribute(onnx::NodeProto& node, std::string_view name, const std::vector<int64_t>& values);

}  // namespace nnspec::exporting
