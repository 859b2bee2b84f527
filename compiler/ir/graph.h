#pragma once
// The graph IR: a list of nodes with static types, numbered in topological order
// (every operand id is smaller than the id of its user).

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/op.h"
#include "compiler/ir/types.h"

namespace nnspec::ir {

using ValueId = int32_t;

// reduce_*/broadcast over every axis (to or from a scalar).
constexpr int kAllAxes = -1;

enum class Padding { Valid, Same };

// conv2d (kernel) and pooling (size) windows, and their gradient ops.
struct Window {
  int64_t height = 1;
  int64_t width = 1;
  int64_t stride_h = 1;
  int64_t stride_w = 1;
  Padding padding = Padding::Valid;
};

// pad2d / crop2d: rows added or removed at the top and bottom, columns at left and right.
struct Pads {
  int64_t top = 0;
  int64_t bottom = 0;
  int64_t left = 0;
  int64_t right = 0;
};

// Attributes; each op uses the one named in ops.def (broadcast/reshape also `shape`).
struct Attrs {
  std::string name;          // input, parameter, hyperparam
  float value = 0.0f;        // constant
  float alpha = 0.0f;        // leaky_relu, elu and their gradients
  int axis = kAllAxes;       // reduce_sum, reduce_mean, broadcast
  bool transpose_a = false;  // matmul
  bool transpose_b = false;  // matmul
  Shape shape;               // broadcast, reshape: the target shape; conv2d_input_grad,
                             // avg_pool_grad: the shape of the forward input
  Window window;             // conv2d, max_pool, avg_pool and their gradients
  Pads pads;                 // pad2d, crop2d
  float rate = 0.0f;         // dropout: the probability of dropping an element
  int32_t stream = 0;        // dropout: which mask (one per dropout layer of a model)
  int32_t point = -1;        // dropout in a fused step: the point whose seed it draws with
                             // (NnspecStepArgs::point_seeds); -1: NnspecStepArgs::rng_seed
};

struct Node {
  OpKind op = OpKind::Constant;
  std::vector<ValueId> operands;
  Attrs attrs;
  TensorType type;
};

// A malformed graph built by compiler code: an internal error, never a user error.
class IrError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class Graph {
 public:
  // Leaves.
  ValueId input(std::string name, TensorType type);
  ValueId parameter(std::string name, Shape shape);
  ValueId hyperparam(std::string name);
  ValueId constant(float value, Shape shape = {});
  ValueId state(std::string name, Shape shape);

  ValueId matmul(ValueId a, ValueId b, bool transpose_a = false, bool transpose_b = false);
  ValueId add(ValueId a, ValueId b) { return binary(OpKind::Add, a, b); }
  ValueId sub(ValueId a, ValueId b) { return binary(OpKind::Sub, a, b); }
  ValueId mul(ValueId a, ValueId b) { return binary(OpKind::Mul, a, b); }
  ValueId div(ValueId a, ValueId b) { return binary(OpKind::Div, a, b); }
  ValueId unary(OpKind op, ValueId x, float alpha = 0.0f);
  ValueId binary(OpKind op, ValueId a, ValueId b, float alpha = 0.0f);
  ValueId reduceSum(ValueId x, int axis = kAllAxes);
  ValueId reduceMean(ValueId x, int axis = kAllAxes);
  ValueId broadcast(ValueId x, Shape shape, int axis = kAllAxes);
  ValueId reshape(ValueId x, Shape shape);
  // Softmax over the last axis (ops.def), and its gradient from the softmax `y` and `grad`.
  ValueId softmax(ValueId x) { return append(OpKind::Softmax, {x}, {}); }
  ValueId softmaxGrad(ValueId y, ValueId grad) { return append(OpKind::SoftmaxGrad, {y, grad}, {}); }
  ValueId softmaxCrossEntropy(ValueId logits, ValueId labels);
  ValueId softmaxCrossEntropyGrad(ValueId logits, ValueId labels, ValueId grad);
  ValueId mse(ValueId a, ValueId b);
  // Channels-last images f32[batch, h, w, c]; see ops.def.
  ValueId conv2d(ValueId x, ValueId kernel, Window window);
  ValueId conv2dInputGrad(ValueId dy, ValueId kernel, Window window, Shape input_shape);
  ValueId conv2dKernelGrad(ValueId x, ValueId dy, Window window);
  ValueId maxPool(ValueId x, Window window);
  ValueId avgPool(ValueId x, Window window);
  ValueId maxPoolGrad(ValueId x, ValueId dy, Window window);
  ValueId avgPoolGrad(ValueId dy, Window window, Shape input_shape);
  ValueId pad2d(ValueId x, Pads pads);
  // A in training entries, B in evaluation (ops.def).
  ValueId trainSelect(ValueId training, ValueId evaluation) { return binary(OpKind::TrainSelect, training, evaluation); }
  // Inverted dropout (ops.def); `stream` tells the masks of a model's layers apart.
  ValueId dropout(ValueId x, float rate, int32_t stream, int32_t point = -1);
  ValueId crop2d(ValueId x, Pads pads);

  // Appends a node after inferring its type; throws IrError when the operands do not fit.
  ValueId append(OpKind op, std::vector<ValueId> operands, Attrs attrs);
  // Appends a node as given, for tests of the verifier.
  ValueId appendUnchecked(Node node);

  const Node& node(ValueId id) const { return nodes_.at(static_cast<size_t>(id)); }
  const TensorType& type(ValueId id) const { return node(id).type; }
  const std::vector<Node>& nodes() const { return nodes_; }
  int32_t size() const { return static_cast<int32_t>(nodes_.size()); }

  // Ids of the leaves of one kind, in id order (the order of the step ABI's arrays).
  std::vector<ValueId> leaves(OpKind op) const;
  // users()[id]: the nodes that use `id`, once per operand slot.
  std::vector<std::vector<ValueId>> users() const;

 private:
  ValueId appendLeaf(OpKind op, TensorType type, Attrs attrs);

  std::vector<Node> nodes_;
};

}  // namespace nnspec::ir
