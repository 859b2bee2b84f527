#pragma once
// A double-precision reference interpreter of the graph IR, for whole-model gradient
// checks: it evaluates a forward or gradient graph node by node, following the formulas
// written in compiler/ir/ops.def directly (naive loops, no kernels shared with codegen),
// so the IR autodiff graph can be checked against central differences in double, and the
// JIT's float gradients against the double result.
//
// Besides values it records which branch every kinked op took (relu and leaky_relu: the
// sign of each input; abs: its sign; max_pool: the position of each window's maximum).
// Two evaluations with the same branch signature lie on one smooth piece of the loss, so
// a central difference between them is valid; a differing signature means the difference
// straddles a kink and the coordinate is skipped.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/ir/shape_rules.h"
#include "runtime/abi/step_abi.h"

namespace nnspec::testing {

// The leaves' values, by name.
struct ReferenceBindings {
  std::map<std::string, std::vector<double>> parameters;
  std::map<std::string, std::vector<double>> inputs;   // f32 inputs
  std::map<std::string, std::vector<int32_t>> labels;  // i32 inputs
  std::map<std::string, double> hyperparams;
  std::map<std::string, std::vector<double>> states;  // state leaves (moving statistics)
  uint64_t rng_seed = 0;  // dropout masks (NnspecStepArgs::rng_seed)
  bool training = true;   // dropout drops and train_select takes its first operand
                          // (nnspec_gradients/train_step), or not (nnspec_forward)
};

class ReferenceEvaluator {
 public:
  ReferenceEvaluator(const ir::Graph& graph, ReferenceBindings bindings)
      : graph_(graph), bindings_(std::move(bindings)) {
    values_.resize(static_cast<size_t>(graph.size()));
    signatures_.assign(static_cast<size_t>(graph.size()), 0);
  }

  // Evaluates every node with an id up to `last`.
  void evaluate(ir::ValueId last) {
    for (ir::ValueId id = 0; id <= last; ++id) evaluateNode(id);
  }

  const std::vector<double>& value(ir::ValueId id) const { return values_.at(static_cast<size_t>(id)); }
  double scalar(ir::ValueId id) const { return value(id).at(0); }

  // The values of a parameter leaf; after changing them, evaluateNodes(dependents(...)).
  std::vector<double>& parameter(const std::string& name) { return bindings_.parameters.at(name); }

  // The nodes up to `last` that depend on `leaf` (itself included), in id order.
  std::vector<ir::ValueId> dependents(ir::ValueId leaf, ir::ValueId last) const {
    std::vector<bool> reached(static_cast<size_t>(last) + 1, false);
    std::vector<ir::ValueId> out;
    for (ir::ValueId id = leaf; id <= last; ++id) {
      bool hit = id == leaf;
      for (ir::ValueId operand : graph_.node(id).operands) hit = hit || reached[static_cast<size_t>(operand)];
      if (!hit) continue;
      reached[static_cast<size_t>(id)] = true;
      out.push_back(id);
    }
    return out;
  }

  void evaluateNodes(const std::vector<ir::ValueId>& ids) {
    for (ir::ValueId id : ids) evaluateNode(id);
  }

  // Saves and restores the values and signatures of `ids` (around a perturbation).
  struct Snapshot {
    std::vector<std::vector<double>> values;
    std::vector<uint64_t> signatures;
  };
  Snapshot save(const std::vector<ir::ValueId>& ids) const {
    Snapshot snapshot;
    for (ir::ValueId id : ids) {
      snapshot.values.push_back(values_[static_cast<size_t>(id)]);
      snapshot.signatures.push_back(signatures_[static_cast<size_t>(id)]);
    }
    return snapshot;
  }
  void restore(const std::vector<ir::ValueId>& ids, Snapshot& snapshot) {
    for (size_t slot = 0; slot < ids.size(); ++slot) {
      values_[static_cast<size_t>(ids[slot])].swap(snapshot.values[slot]);
      signatures_[static_cast<size_t>(ids[slot])] = snapshot.signatures[slot];
    }
  }

  // A hash of the branches taken by the kinked ops among `ids`.
  uint64_t branchSignature(const std::vector<ir::ValueId>& ids) const {
    uint64_t hash = 0;
    for (ir::ValueId id : ids) hash = mix(hash ^ signatures_[static_cast<size_t>(id)]);
    return hash;
  }

 private:
  using Shape = ir::Shape;

  static uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  const std::vector<double>& in(const ir::Node& node, size_t operand) const {
    return values_[static_cast<size_t>(node.operands[operand])];
  }
  const Shape& shapeOf(ir::ValueId id) const { return graph_.type(id).shape; }

  // Number of elements before, along and after `axis` of `shape`.
  struct AxisSplit {
    int64_t outer = 1, length = 1, inner = 1;
  };
  static AxisSplit splitAt(const Shape& shape, int axis) {
    AxisSplit split;
    for (int dim = 0; dim < static_cast<int>(shape.size()); ++dim) {
      if (dim < axis) split.outer *= shape[static_cast<size_t>(dim)];
      if (dim == axis) split.length = shape[static_cast<size_t>(dim)];
      if (dim > axis) split.inner *= shape[static_cast<size_t>(dim)];
    }
    return split;
  }

  // The geometry of a window op: the forward input `image` [n,h,w,c] under `window`.
  struct Geometry {
    int64_t batch, in_h, in_w, in_c, out_h, out_w, pad_top, pad_left;
    const ir::Window* window;
  };
  static Geometry geometryOf(const Shape& image, const ir::Window& window) {
    ir::WindowPlacement rows = ir::placeWindow(image[1], window.height, window.stride_h, window.padding);
    ir::WindowPlacement cols = ir::placeWindow(image[2], window.width, window.stride_w, window.padding);
    return {image[0], image[1], image[2], image[3], rows.out, cols.out, rows.pad_low, cols.pad_low, &window};
  }

  void evaluateNode(ir::ValueId id) {
    const ir::Node& node = graph_.node(id);
    std::vector<double>& out = values_[static_cast<size_t>(id)];
    const size_t count = static_cast<size_t>(node.type.numElements());
    out.assign(count, 0.0);
    uint64_t& signature = signatures_[static_cast<size_t>(id)];
    signature = 0;
    const double alpha = node.attrs.alpha;
    auto map1 = [&](auto function) {
      const std::vector<double>& a = in(node, 0);
      for (size_t element = 0; element < count; ++element) out[element] = function(a[element]);
    };
    auto map2 = [&](auto function) {
      const std::vector<double>& a = in(node, 0);
      const std::vector<double>& b = in(node, 1);
      // b: the same shape, a scalar, or a row broadcast over the last axis.
      for (size_t element = 0; element < count; ++element)
        out[element] = function(a[element], b.size() == count ? b[element] : b[element % b.size()]);
    };
    auto branch = [&](bool taken) { signature = mix(signature ^ (taken ? 1u : 2u)); };
    switch (node.op) {
      case ir::OpKind::Input:
        if (node.type.dtype == ir::DType::I32) {
          const std::vector<int32_t>& labels = bindings_.labels.at(node.attrs.name);
          for (size_t element = 0; element < count; ++element) out[element] = labels.at(element);
        } else {
          out = bindings_.inputs.at(node.attrs.name);
        }
        break;
      case ir::OpKind::Parameter:
        out = bindings_.parameters.at(node.attrs.name);
        break;
      case ir::OpKind::Hyperparam:
        out.assign(1, bindings_.hyperparams.at(node.attrs.name));
        break;
      case ir::OpKind::State:
        out = bindings_.states.at(node.attrs.name);
        break;
      case ir::OpKind::Sqrt:
        map1([](double a) { return std::sqrt(a); });
        break;
      case ir::OpKind::TrainSelect:
        out = in(node, bindings_.training ? 0 : 1);
        break;
      case ir::OpKind::Constant:
        std::fill(out.begin(), out.end(), static_cast<double>(node.attrs.value));
        break;
      case ir::OpKind::Matmul:
        evaluateMatmul(node, out);
        break;
      case ir::OpKind::Add:
        map2([](double a, double b) { return a + b; });
        break;
      case ir::OpKind::Sub:
        map2([](double a, double b) { return a - b; });
        break;
      case ir::OpKind::Mul:
        map2([](double a, double b) { return a * b; });
        break;
      case ir::OpKind::Div:
        map2([](double a, double b) { return a / b; });
        break;
      case ir::OpKind::Neg:
        map1([](double a) { return -a; });
        break;
      case ir::OpKind::Exp:
        map1([](double a) { return std::exp(a); });
        break;
      case ir::OpKind::Log:
        map1([](double a) { return std::log(a); });
        break;
      case ir::OpKind::Abs:
        map1([&](double a) {
          branch(a > 0);
          return std::abs(a);
        });
        break;
      case ir::OpKind::Sign:
        map1([](double a) { return a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0; });
        break;
      case ir::OpKind::Relu:
        map1([&](double a) {
          branch(a > 0);
          return a > 0 ? a : 0.0;
        });
        break;
      case ir::OpKind::LeakyRelu:
        map1([&](double a) {
          branch(a > 0);
          return a > 0 ? a : alpha * a;
        });
        break;
      case ir::OpKind::Elu:
        map1([&](double a) { return a > 0 ? a : alpha * (std::exp(a) - 1.0); });
        break;
      case ir::OpKind::Sigmoid:
        map1([](double a) { return 1.0 / (1.0 + std::exp(-a)); });
        break;
      case ir::OpKind::Tanh:
        map1([](double a) { return std::tanh(a); });
        break;
      case ir::OpKind::Dropout:
        evaluateDropout(node, out);
        break;
      case ir::OpKind::ReluGrad:
        map2([](double y, double g) { return y > 0 ? g : 0.0; });
        break;
      case ir::OpKind::LeakyReluGrad:
        map2([&](double a, double g) { return a > 0 ? g : alpha * g; });
        break;
      case ir::OpKind::EluGrad:
        map2([&](double a, double g) { return a > 0 ? g : g * alpha * std::exp(a); });
        break;
      case ir::OpKind::SigmoidGrad:
        map2([](double y, double g) { return g * y * (1.0 - y); });
        break;
      case ir::OpKind::TanhGrad:
        map2([](double y, double g) { return g * (1.0 - y * y); });
        break;
      case ir::OpKind::ReduceSum:
      case ir::OpKind::ReduceMean:
        evaluateReduce(node, out);
        break;
      case ir::OpKind::Broadcast:
        evaluateBroadcast(node, out);
        break;
      case ir::OpKind::Reshape:
        out = in(node, 0);
        break;
      case ir::OpKind::Softmax:
      case ir::OpKind::SoftmaxGrad:
        evaluateSoftmax(node, out);
        break;
      case ir::OpKind::SoftmaxCrossEntropy:
      case ir::OpKind::SoftmaxCrossEntropyGrad:
        evaluateSoftmaxCe(node, out);
        break;
      case ir::OpKind::Mse: {
        const std::vector<double>& a = in(node, 0);
        const std::vector<double>& b = in(node, 1);
        double sum = 0.0;
        for (size_t element = 0; element < a.size(); ++element)
          sum += (a[element] - b[element]) * (a[element] - b[element]);
        out[0] = sum / static_cast<double>(a.size());
        break;
      }
      case ir::OpKind::Conv2d:
      case ir::OpKind::Conv2dInputGrad:
      case ir::OpKind::Conv2dKernelGrad:
        evaluateConv(node, out);
        break;
      case ir::OpKind::MaxPool:
      case ir::OpKind::AvgPool:
      case ir::OpKind::MaxPoolGrad:
      case ir::OpKind::AvgPoolGrad:
        evaluatePool(node, out, signature);
        break;
      case ir::OpKind::Pad2d:
      case ir::OpKind::Crop2d:
        evaluatePad(node, out);
        break;
    }
  }

  void evaluateMatmul(const ir::Node& node, std::vector<double>& out) const {
    const std::vector<double>& a = in(node, 0);
    const std::vector<double>& b = in(node, 1);
    const Shape& a_shape = shapeOf(node.operands[0]);
    const Shape& b_shape = shapeOf(node.operands[1]);
    const bool ta = node.attrs.transpose_a;
    const bool tb = node.attrs.transpose_b;
    const int64_t rows = node.type.shape[0];
    const int64_t cols = node.type.shape[1];
    const int64_t inner = ta ? a_shape[0] : a_shape[1];
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t inner_idx = 0; inner_idx < inner; ++inner_idx) {
        const double a_value = ta ? a[static_cast<size_t>(inner_idx * a_shape[1] + row)]
                                  : a[static_cast<size_t>(row * a_shape[1] + inner_idx)];
        if (a_value == 0.0) continue;
        for (int64_t col = 0; col < cols; ++col) {
          const double b_value = tb ? b[static_cast<size_t>(col * b_shape[1] + inner_idx)]
                                    : b[static_cast<size_t>(inner_idx * b_shape[1] + col)];
          out[static_cast<size_t>(row * cols + col)] += a_value * b_value;
        }
      }
  }

  // ops.def: Y = A * m / (1 - rate) with the mask of nnspec_dropout_bits, training only.
  void evaluateDropout(const ir::Node& node, std::vector<double>& out) const {
    const std::vector<double>& a = in(node, 0);
    const float rate = node.attrs.rate;
    if (!bindings_.training || rate == 0.0f) {
      out = a;
      return;
    }
    const uint32_t threshold = nnspec_dropout_threshold(rate);
    const double scale = 1.0 / (1.0 - static_cast<double>(rate));
    for (size_t element = 0; element < a.size(); ++element) {
      const bool keep =
          nnspec_dropout_bits(bindings_.rng_seed, static_cast<uint32_t>(node.attrs.stream), element) >= threshold;
      out[element] = keep ? a[element] * scale : 0.0;
    }
  }

  void evaluateReduce(const ir::Node& node, std::vector<double>& out) const {
    const std::vector<double>& a = in(node, 0);
    const bool mean = node.op == ir::OpKind::ReduceMean;
    if (node.attrs.axis == ir::kAllAxes) {
      double sum = 0.0;
      for (double value : a) sum += value;
      out[0] = mean ? sum / static_cast<double>(a.size()) : sum;
      return;
    }
    const AxisSplit split = splitAt(shapeOf(node.operands[0]), node.attrs.axis);
    for (int64_t outer = 0; outer < split.outer; ++outer)
      for (int64_t inner = 0; inner < split.inner; ++inner) {
        double sum = 0.0;
        for (int64_t along = 0; along < split.length; ++along)
          sum += a[static_cast<size_t>((outer * split.length + along) * split.inner + inner)];
        out[static_cast<size_t>(outer * split.inner + inner)] = mean ? sum / static_cast<double>(split.length) : sum;
      }
  }

  void evaluateBroadcast(const ir::Node& node, std::vector<double>& out) const {
    const std::vector<double>& a = in(node, 0);
    if (node.attrs.axis == ir::kAllAxes) {
      std::fill(out.begin(), out.end(), a.at(0));
      return;
    }
    const AxisSplit split = splitAt(node.type.shape, node.attrs.axis);
    for (int64_t outer = 0; outer < split.outer; ++outer)
      for (int64_t along = 0; along < split.length; ++along)
        for (int64_t inner = 0; inner < split.inner; ++inner)
          out[static_cast<size_t>((outer * split.length + along) * split.inner + inner)] =
              a[static_cast<size_t>(outer * split.inner + inner)];
  }

  // ops.def, per row of the last axis: Y = exp(A - max) / sum(exp(A - max)); the
  // gradient Y (G - sum(G Y)) from operands Y and G.
  void evaluateSoftmax(const ir::Node& node, std::vector<double>& out) const {
    const std::vector<double>& a = in(node, 0);
    const int64_t width = node.type.shape.empty() ? 1 : node.type.shape.back();
    const size_t rows = out.size() / static_cast<size_t>(width);
    for (size_t row = 0; row < rows; ++row) {
      const double* x = a.data() + row * static_cast<size_t>(width);
      double* y = out.data() + row * static_cast<size_t>(width);
      if (node.op == ir::OpKind::SoftmaxGrad) {
        const double* g = in(node, 1).data() + row * static_cast<size_t>(width);
        double dot = 0.0;
        for (int64_t col = 0; col < width; ++col) dot += g[col] * x[col];
        for (int64_t col = 0; col < width; ++col) y[col] = x[col] * (g[col] - dot);
        continue;
      }
      const double top = *std::max_element(x, x + width);
      double sum = 0.0;
      for (int64_t col = 0; col < width; ++col) sum += y[col] = std::exp(x[col] - top);
      for (int64_t col = 0; col < width; ++col) y[col] /= sum;
    }
  }

  // Mean over rows of -log softmax(logits)[label]; the gradient G*(softmax - onehot)/b.
  void evaluateSoftmaxCe(const ir::Node& node, std::vector<double>& out) const {
    const std::vector<double>& logits = in(node, 0);
    const std::vector<double>& labels = in(node, 1);
    const Shape& shape = shapeOf(node.operands[0]);
    const int64_t rows = shape[0];
    const int64_t classes = shape[1];
    const bool gradient = node.op == ir::OpKind::SoftmaxCrossEntropyGrad;
    const double incoming = gradient ? in(node, 2).at(0) : 0.0;
    double loss = 0.0;
    for (int64_t row = 0; row < rows; ++row) {
      const double* logit = logits.data() + row * classes;
      const int64_t label = static_cast<int64_t>(labels[static_cast<size_t>(row)]);
      if (label < 0 || label >= classes) throw std::out_of_range("label outside the classes");
      const double top = *std::max_element(logit, logit + classes);
      double sum = 0.0;
      for (int64_t class_idx = 0; class_idx < classes; ++class_idx) sum += std::exp(logit[class_idx] - top);
      loss += std::log(sum) + top - logit[label];
      if (!gradient) continue;
      for (int64_t class_idx = 0; class_idx < classes; ++class_idx) {
        const double probability = std::exp(logit[class_idx] - top) / sum;
        out[static_cast<size_t>(row * classes + class_idx)] =
            incoming * (probability - (class_idx == label ? 1.0 : 0.0)) / static_cast<double>(rows);
      }
    }
    if (!gradient) out[0] = loss / static_cast<double>(rows);
  }

  // ops.def: Y[n,oy,ox,co] = sum X[n, oy*sh+ky-pt, ox*sw+kx-pl, ci] K[ky,kx,ci,co], and the
  // transposed sums for the input and kernel gradients.
  void evaluateConv(const ir::Node& node, std::vector<double>& out) const {
    const ir::Window& window = node.attrs.window;
    Shape image;
    int64_t out_c = 0;
    if (node.op == ir::OpKind::Conv2d) {
      image = shapeOf(node.operands[0]);
      out_c = node.type.shape[3];
    } else if (node.op == ir::OpKind::Conv2dInputGrad) {
      image = node.attrs.shape;
      out_c = shapeOf(node.operands[0])[3];
    } else {
      image = shapeOf(node.operands[0]);
      out_c = shapeOf(node.operands[1])[3];
    }
    const Geometry g = geometryOf(image, window);
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t oy = 0; oy < g.out_h; ++oy)
        for (int64_t ox = 0; ox < g.out_w; ++ox)
          for (int64_t ky = 0; ky < window.height; ++ky) {
            const int64_t iy = oy * window.stride_h + ky - g.pad_top;
            if (iy < 0 || iy >= g.in_h) continue;
            for (int64_t kx = 0; kx < window.width; ++kx) {
              const int64_t ix = ox * window.stride_w + kx - g.pad_left;
              if (ix < 0 || ix >= g.in_w) continue;
              for (int64_t ci = 0; ci < g.in_c; ++ci) {
                const size_t x_at = static_cast<size_t>(((n * g.in_h + iy) * g.in_w + ix) * g.in_c + ci);
                const size_t k_at = static_cast<size_t>(((ky * window.width + kx) * g.in_c + ci) * out_c);
                const size_t y_at = static_cast<size_t>(((n * g.out_h + oy) * g.out_w + ox) * out_c);
                for (int64_t co = 0; co < out_c; ++co) {
                  if (node.op == ir::OpKind::Conv2d) {
                    out[y_at + co] += in(node, 0)[x_at] * in(node, 1)[k_at + co];
                  } else if (node.op == ir::OpKind::Conv2dInputGrad) {
                    out[x_at] += in(node, 0)[y_at + co] * in(node, 1)[k_at + co];
                  } else {
                    out[k_at + co] += in(node, 0)[x_at] * in(node, 1)[y_at + co];
                  }
                }
              }
            }
          }
  }

  // ops.def: max / mean over the in-image part of each window; the max gradient goes to
  // the first maximum of a row-major scan, the mean gradient spreads evenly.
  void evaluatePool(const ir::Node& node, std::vector<double>& out, uint64_t& signature) const {
    const ir::Window& window = node.attrs.window;
    const bool is_max = node.op == ir::OpKind::MaxPool || node.op == ir::OpKind::MaxPoolGrad;
    const bool is_grad = node.op == ir::OpKind::MaxPoolGrad || node.op == ir::OpKind::AvgPoolGrad;
    const Shape image = node.op == ir::OpKind::AvgPoolGrad ? node.attrs.shape : shapeOf(node.operands[0]);
    const std::vector<double>* x = node.op == ir::OpKind::AvgPoolGrad ? nullptr : &in(node, 0);
    const std::vector<double>* dy = !is_grad ? nullptr : &in(node, node.op == ir::OpKind::MaxPoolGrad ? 1 : 0);
    const Geometry g = geometryOf(image, window);
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t oy = 0; oy < g.out_h; ++oy)
        for (int64_t ox = 0; ox < g.out_w; ++ox)
          for (int64_t c = 0; c < g.in_c; ++c) {
            const size_t y_at = static_cast<size_t>(((n * g.out_h + oy) * g.out_w + ox) * g.in_c + c);
            double best = -INFINITY;
            size_t best_at = 0;
            double sum = 0.0;
            int64_t members = 0;
            std::vector<size_t> cells;
            for (int64_t ky = 0; ky < window.height; ++ky) {
              const int64_t iy = oy * window.stride_h + ky - g.pad_top;
              if (iy < 0 || iy >= g.in_h) continue;
              for (int64_t kx = 0; kx < window.width; ++kx) {
                const int64_t ix = ox * window.stride_w + kx - g.pad_left;
                if (ix < 0 || ix >= g.in_w) continue;
                const size_t x_at = static_cast<size_t>(((n * g.in_h + iy) * g.in_w + ix) * g.in_c + c);
                cells.push_back(x_at);
                ++members;
                if (x == nullptr) continue;
                sum += (*x)[x_at];
                if ((*x)[x_at] > best) best = (*x)[x_at], best_at = x_at;
              }
            }
            if (is_max) signature = mix(signature ^ best_at);
            if (!is_grad) {
              out[y_at] = is_max ? best : sum / static_cast<double>(members);
            } else if (is_max) {
              out[best_at] += (*dy)[y_at];
            } else {
              for (size_t x_at : cells) out[x_at] += (*dy)[y_at] / static_cast<double>(members);
            }
          }
  }

  void evaluatePad(const ir::Node& node, std::vector<double>& out) const {
    const std::vector<double>& a = in(node, 0);
    const Shape& from = shapeOf(node.operands[0]);
    const Shape& to = node.type.shape;
    const bool pad = node.op == ir::OpKind::Pad2d;
    const Shape& small = pad ? from : to;
    const Shape& large = pad ? to : from;
    const ir::Pads& pads = node.attrs.pads;
    for (int64_t n = 0; n < small[0]; ++n)
      for (int64_t row = 0; row < small[1]; ++row)
        for (int64_t col = 0; col < small[2]; ++col)
          for (int64_t c = 0; c < small[3]; ++c) {
            const size_t small_at = static_cast<size_t>(((n * small[1] + row) * small[2] + col) * small[3] + c);
            const size_t large_at =
                static_cast<size_t>(((n * large[1] + row + pads.top) * large[2] + col + pads.left) * large[3] + c);
            if (pad)
              out[large_at] = a[small_at];
            else
              out[small_at] = a[large_at];
          }
  }

  const ir::Graph& graph_;
  ReferenceBindings bindings_;
  std::vector<std::vector<double>> values_;
  std::vector<uint64_t> signatures_;  // per node: the branches its kinked op took
};

}  // namespace nnspec::testing
