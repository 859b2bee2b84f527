#include "compiler/transforms/autodiff.h"

#include "compiler/ir/printer.h"

namespace nnspec::transforms {
namespace {

using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::Shape;
using ir::ValueId;

class Differentiator {
 public:
  explicit Differentiator(Graph& graph) : graph_(graph) {}

  // Fills grad_ by walking the nodes from `root` down to 0.
  void run(ValueId root) {
    markNeeded(root);
    grad_.assign(static_cast<size_t>(root) + 1, -1);
    grad_[static_cast<size_t>(root)] = graph_.constant(1.0f);
    for (ValueId id = root; id >= 0; --id) {
      ValueId incoming = grad_[static_cast<size_t>(id)];
      if (incoming >= 0 && needs_[static_cast<size_t>(id)]) backprop(id, incoming);
    }
  }

  // The gradient of a parameter as a non-leaf value of the parameter's shape.
  ValueId gradientOf(ValueId parameter) {
    const Shape& shape = graph_.type(parameter).shape;
    ValueId grad = static_cast<size_t>(parameter) < grad_.size()
                       ? grad_[static_cast<size_t>(parameter)]
                       : -1;
    if (grad < 0) return graph_.broadcast(graph_.constant(0.0f), shape);
    if (ir::opInfo(graph_.node(grad).op).emitter == ir::Emitter::Leaf)
      return graph_.reshape(grad, shape);
    return grad;
  }

 private:
  // needs_[id]: a parameter reaches `id`, so its gradient is worth computing.
  void markNeeded(ValueId root) {
    needs_.assign(static_cast<size_t>(root) + 1, false);
    for (ValueId id = 0; id <= root; ++id) {
      const Node& node = graph_.node(id);
      bool needed = node.op == OpKind::Parameter;
      for (ValueId operand : node.operands) needed = needed || needs_[static_cast<size_t>(operand)];
      needs_[static_cast<size_t>(id)] = needed;
    }
  }

  void accumulate(ValueId target, ValueId contribution) {
    if (!needs_[static_cast<size_t>(target)]) return;
    ValueId& slot = grad_[static_cast<size_t>(target)];
    slot = slot < 0 ? contribution : graph_.add(slot, contribution);
  }

  // Sums a gradient of the broadcast result down to the shape of a broadcast operand.
  ValueId unbroadcast(ValueId contribution, const Shape& target) {
    const Shape& shape = graph_.type(contribution).shape;
    if (shape == target) return contribution;
    if (target.empty()) return graph_.reduceSum(contribution);
    if (shape.size() == 2) return graph_.reduceSum(contribution, 0);
    int64_t rows = graph_.type(contribution).numElements() / shape.back();
    return graph_.reduceSum(graph_.reshape(contribution, {rows, shape.back()}), 0);
  }

  bool needs(ValueId id) const { return needs_[static_cast<size_t>(id)]; }

  void backprop(ValueId id, ValueId g) {
    // Copies: appending nodes may reallocate the node list.
    const Node node = graph_.node(id);
    const std::vector<ValueId>& x = node.operands;
    auto shapeOf = [&](ValueId value) { return graph_.type(value).shape; };
    switch (node.op) {
      case OpKind::Input:
      case OpKind::Parameter:
      case OpKind::State:
      case OpKind::Hyperparam:
      case OpKind::Constant:
      case OpKind::Sign:
        return;
      case OpKind::Matmul:
        backpropMatmul(node, g);
        return;
      case OpKind::Add:
        accumulate(x[0], g);
        if (needs(x[1])) accumulate(x[1], unbroadcast(g, shapeOf(x[1])));
        return;
      case OpKind::Sub:
        accumulate(x[0], g);
        if (needs(x[1])) accumulate(x[1], unbroadcast(graph_.unary(OpKind::Neg, g), shapeOf(x[1])));
        return;
      case OpKind::Mul:
        if (needs(x[0])) accumulate(x[0], graph_.mul(g, x[1]));
        if (needs(x[1])) accumulate(x[1], unbroadcast(graph_.mul(g, x[0]), shapeOf(x[1])));
        return;
      case OpKind::Div:
        if (needs(x[0])) accumulate(x[0], graph_.div(g, x[1]));
        if (needs(x[1])) {
          ValueId quotient = graph_.div(graph_.mul(g, id), x[1]);
          accumulate(x[1], unbroadcast(graph_.unary(OpKind::Neg, quotient), shapeOf(x[1])));
        }
        return;
      case OpKind::Neg:
        accumulate(x[0], graph_.unary(OpKind::Neg, g));
        return;
      case OpKind::Exp:
        accumulate(x[0], graph_.mul(g, id));
        return;
      case OpKind::Log:
        accumulate(x[0], graph_.div(g, x[0]));
        return;
      case OpKind::Abs:
        accumulate(x[0], graph_.mul(g, graph_.unary(OpKind::Sign, x[0])));
        return;
      case OpKind::Relu:
        accumulate(x[0], graph_.binary(OpKind::ReluGrad, id, g));  // [A>0] = [Y>0]
        return;
      case OpKind::LeakyRelu:
        accumulate(x[0], graph_.binary(OpKind::LeakyReluGrad, x[0], g, node.attrs.alpha));
        return;
      case OpKind::Elu:
        accumulate(x[0], graph_.binary(OpKind::EluGrad, x[0], g, node.attrs.alpha));
        return;
      case OpKind::Sigmoid:
        accumulate(x[0], graph_.binary(OpKind::SigmoidGrad, id, g));
        return;
      case OpKind::Tanh:
        accumulate(x[0], graph_.binary(OpKind::TanhGrad, id, g));
        return;
      case OpKind::Softmax:
        accumulate(x[0], graph_.softmaxGrad(id, g));  // Y (G - sum(G Y)) per row
        return;
      case OpKind::Dropout:
        accumulate(x[0], graph_.dropout(g, node.attrs.rate, node.attrs.stream, node.attrs.point));
        return;
      case OpKind::Sqrt:
        accumulate(x[0], graph_.div(graph_.mul(g, graph_.constant(0.5f)), id));
        return;
      case OpKind::TrainSelect:
        accumulate(x[0], g);
        return;
      case OpKind::ReduceSum:
        accumulate(x[0], graph_.broadcast(g, shapeOf(x[0]), node.attrs.axis));
        return;
      case OpKind::ReduceMean: {
        float count = static_cast<float>(graph_.type(x[0]).numElements() /
                                         graph_.type(id).numElements());
        ValueId spread = graph_.broadcast(g, shapeOf(x[0]), node.attrs.axis);
        accumulate(x[0], graph_.mul(spread, graph_.constant(1.0f / count)));
        return;
      }
      case OpKind::Broadcast:
        accumulate(x[0], graph_.reduceSum(g, node.attrs.axis));
        return;
      case OpKind::Reshape:
        accumulate(x[0], graph_.reshape(g, shapeOf(x[0])));
        return;
      case OpKind::SoftmaxCrossEntropy:
        accumulate(x[0], graph_.softmaxCrossEntropyGrad(x[0], x[1], g));
        return;
      case OpKind::Mse: {
        float count = static_cast<float>(graph_.type(x[0]).numElements());
        ValueId scale = graph_.mul(g, graph_.constant(2.0f / count));
        ValueId d_first = graph_.mul(graph_.sub(x[0], x[1]), scale);
        if (needs(x[0])) accumulate(x[0], d_first);
        if (needs(x[1])) accumulate(x[1], graph_.unary(OpKind::Neg, d_first));
        return;
      }
      case OpKind::Conv2d: {
        const ir::Window& window = node.attrs.window;
        if (needs(x[0])) accumulate(x[0], graph_.conv2dInputGrad(g, x[1], window, shapeOf(x[0])));
        if (needs(x[1])) accumulate(x[1], graph_.conv2dKernelGrad(x[0], g, window));
        return;
      }
      case OpKind::MaxPool:
        accumulate(x[0], graph_.maxPoolGrad(x[0], g, node.attrs.window));
        return;
      case OpKind::AvgPool:
        accumulate(x[0], graph_.avgPoolGrad(g, node.attrs.window, shapeOf(x[0])));
        return;
      case OpKind::Pad2d:
        accumulate(x[0], graph_.crop2d(g, node.attrs.pads));
        return;
      case OpKind::Crop2d:
        accumulate(x[0], graph_.pad2d(g, node.attrs.pads));
        return;
      case OpKind::Conv2dInputGrad:
      case OpKind::Conv2dKernelGrad:
      case OpKind::MaxPoolGrad:
      case OpKind::AvgPoolGrad:
      case OpKind::ReluGrad:
      case OpKind::LeakyReluGrad:
      case OpKind::EluGrad:
      case OpKind::SigmoidGrad:
      case OpKind::TanhGrad:
      case OpKind::SoftmaxGrad:
      case OpKind::SoftmaxCrossEntropyGrad:
        break;
    }
    throw ir::IrError("%" + std::to_string(id) + " = " + std::string(ir::opName(node.op)) +
                      ": no gradient rule (a gradient would flow through it)");
  }

  // Y = op(A) op(B); each case is the transpose-adjusted form of dA = G B^T, dB = A^T G.
  void backpropMatmul(const Node& node, ValueId g) {
    ValueId a = node.operands[0];
    ValueId b = node.operands[1];
    bool ta = node.attrs.transpose_a;
    bool tb = node.attrs.transpose_b;
    if (needs(a)) {
      ValueId da = !ta ? (!tb ? graph_.matmul(g, b, false, true) : graph_.matmul(g, b))
                       : (!tb ? graph_.matmul(b, g, false, true) : graph_.matmul(b, g, true, true));
      accumulate(a, da);
    }
    if (needs(b)) {
      ValueId db = !tb ? (!ta ? graph_.matmul(a, g, true, false) : graph_.matmul(a, g))
                       : (!ta ? graph_.matmul(g, a, true, false) : graph_.matmul(g, a, true, true));
      accumulate(b, db);
    }
  }

  Graph& graph_;
  std::vector<bool> needs_;
  std::vector<ValueId> grad_;
};

// One leaf per hyperparameter name: layers sharing an L2 factor share its value.
ValueId findOrAddHyperparam(Graph& graph, const std::string& name) {
  for (ValueId id : graph.leaves(OpKind::Hyperparam))
    if (graph.node(id).attrs.name == name) return id;
  return graph.hyperparam(name);
}

// The model output: any f32 value of the forward graph with a batch axis.
void checkPrediction(const Graph& forward, ValueId prediction) {
  std::string what = "differentiate: prediction %" + std::to_string(prediction);
  if (prediction < 0 || prediction >= forward.size())
    throw ir::IrError(what + " is not a value of the graph");
  const ir::TensorType& type = forward.type(prediction);
  if (type.dtype != ir::DType::F32 || type.isScalar())
    throw ir::IrError(what + " is " + ir::typeString(type) + ", not an f32 value of rank >= 1");
}

}  // namespace

GradientGraph differentiate(const ir::Graph& forward, ir::ValueId loss,
                            std::span<const Penalty> penalties,
                            std::optional<ir::ValueId> prediction) {
  if (loss < 0 || loss >= forward.size() || forward.type(loss) != ir::f32({}))
    throw ir::IrError("differentiate: the loss must be an f32[] value of the graph");
  if (prediction) checkPrediction(forward, *prediction);
  GradientGraph result{forward, loss, loss, forward.leaves(OpKind::Parameter), {}, prediction, {}, {}, {}, {}};
  Graph& graph = result.graph;
  for (const Penalty& penalty : penalties) {
    if (graph.node(penalty.parameter).op != OpKind::Parameter)
      throw ir::IrError("differentiate: penalty on %" + std::to_string(penalty.parameter) +
                        ", which is not a parameter");
    ValueId w = penalty.parameter;
    ValueId magnitude = penalty.kind == PenaltyKind::L2 ? graph.mul(w, w)
                                                        : graph.unary(OpKind::Abs, w);
    ValueId term = graph.mul(graph.reduceSum(magnitude), findOrAddHyperparam(graph, penalty.factor));
    result.total_loss = graph.add(result.total_loss, term);
  }
  Differentiator differentiator(graph);
  differentiator.run(result.total_loss);
  for (ValueId parameter : result.parameters)
    result.gradients.push_back(differentiator.gradientOf(parameter));
  return result;
}

std::string printGradientGraph(const GradientGraph& gradient_graph) {
  const Graph& graph = gradient_graph.graph;
  std::string text = ir::printGraph(graph);
  text += "data_loss %" + std::to_string(gradient_graph.data_loss) + "\n";
  text += "total_loss %" + std::to_string(gradient_graph.total_loss) + "\n";
  if (gradient_graph.prediction)
    text += "prediction %" + std::to_string(*gradient_graph.prediction) + "\n";
  for (const auto& [name, value] : gradient_graph.exports)
    text += "export \"" + name + "\" %" + std::to_string(value) + "\n";
  for (const auto& [name, value] : gradient_graph.taps)
    text += "tap \"" + name + "\" %" + std::to_string(value) + "\n";
  for (size_t point = 0; point < gradient_graph.points.size(); ++point) {
    const PointValues& values = gradient_graph.points[point];
    text += "point " + std::to_string(point) + ": data_loss %" + std::to_string(values.data_loss) + " total_loss %" +
            std::to_string(values.total_loss);
    if (values.prediction) text += " prediction %" + std::to_string(*values.prediction);
    text += "\n";
  }
  for (size_t param_idx = 0; param_idx < gradient_graph.parameters.size(); ++param_idx)
    text += "grad \"" + graph.node(gradient_graph.parameters[param_idx]).attrs.name + "\" %" +
            std::to_string(gradient_graph.gradients[param_idx]) + "\n";
  return text;
}

}  // namespace nnspec::transforms
