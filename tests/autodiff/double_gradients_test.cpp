// Every differentiable op of ops.def checked in double precision: a small graph per case,
// differentiated by our autodiff, the gradient graph evaluated by the double reference
// interpreter (tests/jit/cnn_reference.h), against central differences of the same
// graph's total loss, also in double, with a tight tolerance.
//
// The table below names the ops each case is about (its subjects). A test walks the whole
// op list of ops.def: every op must be a leaf, the subject of a case, or a gradient-only op
// that some case's gradient graph evaluates (so its formula is checked too). Adding an op
// without adding a case here fails that test.
//
// Inputs are kept away from kinks (relu, leaky_relu, abs at 0; max-pool ties): magnitudes
// at least 0.2, continuous random values, a step of 1e-5. The reference records which
// branch each kinked op took; a difference straddling a kink would show as a changed branch
// signature, and none is allowed.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/ir/verifier.h"
#include "compiler/transforms/autodiff.h"
#include "tests/jit/cnn_reference.h"

namespace nnspec::testing {
namespace {

using ir::OpKind;
using ir::ValueId;

constexpr double kStep = 1e-5;
// |numeric - analytic| <= kAbsTolerance + kRelTolerance * |numeric|. Both sides are double;
// the difference errs by ~step^2 (truncation) plus ~1e-16 / step (rounding). Constants the
// gradient graph holds as f32 (1/n of reduce_mean, 2/n of mse) err by ~6e-8 relative.
constexpr double kAbsTolerance = 1e-9;
constexpr double kRelTolerance = 1e-6;

struct CaseReport {
  int checked = 0;
  int failed = 0;
  int straddled = 0;  // differences whose two sides took different branches of a kinked op
  double max_error = 0.0;
  double max_gradient = 0.0;
  std::string worst;
};

// What a case builds: the loss, its penalties, and the mode of the evaluation.
struct Built {
  ValueId loss = 0;
  std::vector<transforms::Penalty> penalties = {};
  bool training = true;   // dropout drops, train_select takes its first operand
  uint64_t rng_seed = 0;  // the dropout masks
};

// A forward graph under test with its leaves' values in double.
class DoubleCheck {
 public:
  explicit DoubleCheck(uint32_t seed) : rng_(seed) {}

  ir::Graph& graph() { return graph_; }

  // Uniform magnitudes in [low, high], a random sign when `signed_values`.
  std::vector<double> values(size_t count, double low, double high, bool signed_values) {
    std::uniform_real_distribution<double> magnitude(low, high);
    std::bernoulli_distribution negative(0.5);
    std::vector<double> out(count);
    for (double& value : out) value = magnitude(rng_) * (signed_values && negative(rng_) ? -1.0 : 1.0);
    return out;
  }

  ValueId param(const std::string& name, ir::Shape shape, double low = 0.2, double high = 1.0,
                bool signed_values = true) {
    const ValueId id = graph_.parameter(name, std::move(shape));
    bindings_.parameters[name] = values(count(id), low, high, signed_values);
    return id;
  }

  ValueId input(const std::string& name, ir::Shape shape) {
    const ValueId id = graph_.input(name, ir::f32(std::move(shape)));
    bindings_.inputs[name] = values(count(id), 0.1, 1.0, true);
    return id;
  }

  ValueId labels(const std::string& name, int64_t rows, int32_t classes) {
    const ValueId id = graph_.input(name, ir::i32({rows}));
    std::uniform_int_distribution<int32_t> label(0, classes - 1);
    std::vector<int32_t>& out = bindings_.labels[name];
    for (int64_t row = 0; row < rows; ++row) out.push_back(label(rng_));
    return id;
  }

  ValueId state(const std::string& name, ir::Shape shape, double low, double high) {
    const ValueId id = graph_.state(name, std::move(shape));
    bindings_.states[name] = values(count(id), low, high, false);
    return id;
  }

  void hyperparam(const std::string& name, double value) { bindings_.hyperparams[name] = value; }

  // reduce_sum(result * r), r a random input shaped like `result`: every element of the
  // result weighs differently in the loss.
  ValueId weightedSum(ValueId result) {
    const ValueId weights = input("r" + std::to_string(graph_.size()), graph_.type(result).shape);
    return graph_.reduceSum(graph_.mul(result, weights));
  }

  transforms::GradientGraph differentiate(const Built& built) const {
    return transforms::differentiate(graph_, built.loss, built.penalties);
  }

  // d total_loss / d parameter for every element of every parameter.
  CaseReport check(const Built& built) { return checkGradientGraph(differentiate(built), built); }

  // The same for a given gradient graph of this forward graph.
  CaseReport checkGradientGraph(const transforms::GradientGraph& gradient_graph, const Built& built) {
    const std::vector<std::string> problems = ir::verifyGraph(gradient_graph.graph);
    for (const std::string& problem : problems) INFO(problem);
    REQUIRE(problems.empty());
    ReferenceBindings bindings = bindings_;
    bindings.training = built.training;
    bindings.rng_seed = built.rng_seed;
    ReferenceEvaluator reference(gradient_graph.graph, bindings);
    reference.evaluate(gradient_graph.graph.size() - 1);
    CaseReport report;
    for (size_t param_idx = 0; param_idx < gradient_graph.parameters.size(); ++param_idx) {
      const ValueId parameter = gradient_graph.parameters[param_idx];
      const std::string& name = gradient_graph.graph.node(parameter).attrs.name;
      const std::vector<double> analytic = reference.value(gradient_graph.gradients[param_idx]);
      const std::vector<ValueId> affected = reference.dependents(parameter, gradient_graph.total_loss);
      std::vector<double>& weights = reference.parameter(name);
      for (size_t element = 0; element < weights.size(); ++element) {
        ReferenceEvaluator::Snapshot snapshot = reference.save(affected);
        const double original = weights[element];
        weights[element] = original + kStep;
        reference.evaluateNodes(affected);
        const double upper = reference.scalar(gradient_graph.total_loss);
        const uint64_t upper_branches = reference.branchSignature(affected);
        weights[element] = original - kStep;
        reference.evaluateNodes(affected);
        const double lower = reference.scalar(gradient_graph.total_loss);
        const uint64_t lower_branches = reference.branchSignature(affected);
        weights[element] = original;
        reference.restore(affected, snapshot);
        if (upper_branches != lower_branches) ++report.straddled;
        const double numeric = (upper - lower) / (2.0 * kStep);
        const double error = std::abs(numeric - analytic[element]);
        ++report.checked;
        report.max_error = std::max(report.max_error, error);
        report.max_gradient = std::max(report.max_gradient, std::abs(numeric));
        if (error > kAbsTolerance + kRelTolerance * std::abs(numeric) && report.failed++ == 0) {
          std::ostringstream worst;
          worst << name << "[" << element << "]: analytic " << analytic[element] << ", numeric " << numeric;
          report.worst = worst.str();
        }
      }
    }
    return report;
  }

 private:
  size_t count(ValueId id) const { return static_cast<size_t>(graph_.type(id).numElements()); }

  std::mt19937 rng_;
  ir::Graph graph_;
  ReferenceBindings bindings_;
};

struct OpCase {
  std::string name;
  std::vector<OpKind> subjects;  // the ops whose gradient rules this case is about
  std::function<Built(DoubleCheck&)> build;
};

ir::Window window(int64_t size, int64_t stride, ir::Padding padding) {
  ir::Window result;
  result.height = size;
  result.width = size;
  result.stride_h = stride;
  result.stride_w = stride;
  result.padding = padding;
  return result;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> table;
  for (int variant = 0; variant < 4; ++variant) {
    const bool transpose_a = (variant & 1) != 0;
    const bool transpose_b = (variant & 2) != 0;
    table.push_back(
        {"matmul, transpose_a " + std::to_string(transpose_a) + ", transpose_b " + std::to_string(transpose_b),
         {OpKind::Matmul},
         [=](DoubleCheck& check) {
           const ValueId a = check.param("a", transpose_a ? ir::Shape{4, 3} : ir::Shape{3, 4});
           const ValueId b = check.param("b", transpose_b ? ir::Shape{5, 4} : ir::Shape{4, 5});
           return Built{check.weightedSum(check.graph().matmul(a, b, transpose_a, transpose_b))};
         }});
  }
  // The binary ops with B of A's shape, a row broadcast over the last axis, and a scalar.
  for (OpKind op : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div})
    for (const ir::Shape& rhs : {ir::Shape{3, 4}, ir::Shape{4}, ir::Shape{}}) {
      table.push_back(
          {std::string(ir::opName(op)) + " with rhs " + ir::typeString(ir::f32(rhs)), {op}, [=](DoubleCheck& check) {
             const ValueId a = check.param("a", {3, 4});
             const ValueId b = check.param("b", rhs, 0.5, 1.5, op != OpKind::Div);
             return Built{check.weightedSum(check.graph().binary(op, a, b))};
           }});
    }
  struct UnaryCase {
    OpKind op;
    float alpha;
    double low;
    bool signed_values;
  };
  for (UnaryCase unary : {UnaryCase{OpKind::Neg, 0, 0.2, true}, UnaryCase{OpKind::Exp, 0, 0.2, true},
                          UnaryCase{OpKind::Log, 0, 0.5, false}, UnaryCase{OpKind::Abs, 0, 0.2, true},
                          UnaryCase{OpKind::Relu, 0, 0.2, true}, UnaryCase{OpKind::LeakyRelu, 0.1f, 0.2, true},
                          UnaryCase{OpKind::Elu, 0.7f, 0.2, true}, UnaryCase{OpKind::Sigmoid, 0, 0.2, true},
                          UnaryCase{OpKind::Tanh, 0, 0.2, true}, UnaryCase{OpKind::Sqrt, 0, 0.5, false}}) {
    table.push_back({std::string(ir::opName(unary.op)), {unary.op}, [=](DoubleCheck& check) {
                       const ValueId x = check.param("x", {4, 5}, unary.low, 2.0, unary.signed_values);
                       return Built{check.weightedSum(check.graph().unary(unary.op, x, unary.alpha))};
                     }});
  }
  table.push_back({"sign (sign(x) * x = |x|: no gradient through sign)", {OpKind::Sign}, [](DoubleCheck& check) {
                     const ValueId x = check.param("x", {6});
                     return Built{check.weightedSum(check.graph().mul(check.graph().unary(OpKind::Sign, x), x))};
                   }});
  for (OpKind op : {OpKind::ReduceSum, OpKind::ReduceMean}) {
    for (int axis : {ir::kAllAxes, 0, 1}) {
      table.push_back({std::string(ir::opName(op)) + " axis " + std::to_string(axis), {op}, [=](DoubleCheck& check) {
                         ir::Attrs attrs;
                         attrs.axis = axis;
                         const ValueId x = check.param("x", {3, 4});
                         return Built{check.weightedSum(check.graph().append(op, {x}, attrs))};
                       }});
    }
    table.push_back(
        {std::string(ir::opName(op)) + " over the last axis of a rank-3 value", {op}, [=](DoubleCheck& check) {
           ir::Attrs attrs;
           attrs.axis = 2;
           const ValueId x = check.param("x", {2, 3, 4});
           return Built{check.weightedSum(check.graph().append(op, {x}, attrs))};
         }});
  }
  for (auto [from, axis] :
       {std::pair{ir::Shape{}, ir::kAllAxes}, std::pair{ir::Shape{4}, 0}, std::pair{ir::Shape{3}, 1}}) {
    table.push_back({"broadcast along axis " + std::to_string(axis), {OpKind::Broadcast}, [=](DoubleCheck& check) {
                       const ValueId x = check.param("x", from);
                       return Built{check.weightedSum(check.graph().broadcast(x, {3, 4}, axis))};
                     }});
  }
  table.push_back({"reshape", {OpKind::Reshape}, [](DoubleCheck& check) {
                     const ValueId x = check.param("x", {2, 6});
                     const ValueId y = check.graph().reshape(check.graph().unary(OpKind::Tanh, x), {3, 4});
                     return Built{check.weightedSum(y)};
                   }});
  table.push_back({"softmax over the last axis of a matrix", {OpKind::Softmax}, [](DoubleCheck& check) {
                     const ValueId x = check.param("x", {3, 5}, 0.0, 2.0);
                     return Built{check.weightedSum(check.graph().softmax(x))};
                   }});
  table.push_back({"softmax over the channels of an image, shifted by 40", {OpKind::Softmax}, [](DoubleCheck& check) {
                     const ValueId x = check.param("x", {2, 2, 2, 3}, 0.0, 2.0);
                     const ValueId shifted = check.graph().add(x, check.graph().constant(40.0f));
                     return Built{check.weightedSum(check.graph().softmax(shifted))};
                   }});
  table.push_back({"softmax between two dense layers under mse", {OpKind::Softmax}, [](DoubleCheck& check) {
                     ir::Graph& graph = check.graph();
                     const ValueId x = check.input("x", {4, 3});
                     const ValueId hidden =
                         graph.softmax(graph.add(graph.matmul(x, check.param("w1", {3, 5})), check.param("b1", {5})));
                     const ValueId out = graph.matmul(hidden, check.param("w2", {5, 2}));
                     return Built{graph.mse(out, check.input("y", {4, 2}))};
                   }});
  table.push_back({"softmax_cross_entropy", {OpKind::SoftmaxCrossEntropy}, [](DoubleCheck& check) {
                     const ValueId logits = check.param("logits", {5, 4}, 0.0, 2.0);
                     return Built{check.graph().softmaxCrossEntropy(logits, check.labels("labels", 5, 4))};
                   }});
  table.push_back({"mse in both operands", {OpKind::Mse}, [](DoubleCheck& check) {
                     const ValueId a = check.param("a", {3, 4});
                     const ValueId b = check.param("b", {3, 4});
                     return Built{check.graph().mse(a, b)};
                   }});
  table.push_back({"L1 and L2 penalties with runtime factors", {OpKind::Abs, OpKind::Mul}, [](DoubleCheck& check) {
                     const ValueId w = check.param("w", {3, 4});
                     const ValueId v = check.param("v", {4});
                     check.hyperparam("l2", 0.3);
                     check.hyperparam("l1", 0.2);
                     const ValueId loss = check.weightedSum(check.graph().add(w, v));
                     return Built{loss,
                                  {{w, transforms::PenaltyKind::L2, "l2"},
                                   {v, transforms::PenaltyKind::L1, "l1"},
                                   {w, transforms::PenaltyKind::L1, "l1"}}};
                   }});
  for (uint64_t seed : {1u, 77u}) {
    table.push_back(
        {"dropout with the masks of seed " + std::to_string(seed), {OpKind::Dropout}, [=](DoubleCheck& check) {
           ir::Graph& graph = check.graph();
           const ValueId hidden = graph.unary(OpKind::Tanh, check.param("x", {6, 5}));
           const ValueId dropped = graph.dropout(hidden, 0.4f, 1);
           const ValueId out = graph.dropout(graph.matmul(dropped, check.param("w", {5, 3})), 0.25f, 2);
           Built built{check.weightedSum(out)};
           built.rng_seed = seed;
           return built;
         }});
  }
  // Batch normalization as lowering builds it (compiler/lowering/lower_model.cpp): batch
  // statistics in the training entries, which differentiate train_select's first operand
  // (the moving statistics, state leaves, serve evaluation only and get no gradient).
  table.push_back(
      {"batch normalization with the batch statistics", {OpKind::TrainSelect, OpKind::Sqrt}, [](DoubleCheck& check) {
         ir::Graph& graph = check.graph();
         const ValueId x = check.param("x", {5, 3});
         const ValueId gamma = check.param("gamma", {3}, 0.5, 1.5, false);
         const ValueId beta = check.param("beta", {3});
         const ValueId moving_mean = check.state("moving_mean", {3}, 0.1, 0.5);
         const ValueId moving_variance = check.state("moving_variance", {3}, 0.5, 1.5);
         const ValueId epsilon = graph.constant(1e-3f);
         const ValueId mean = graph.reduceMean(x, 0);
         const ValueId centered = graph.sub(x, mean);
         const ValueId variance = graph.reduceMean(graph.mul(centered, centered), 0);
         const ValueId batch_hat = graph.div(centered, graph.unary(OpKind::Sqrt, graph.add(variance, epsilon)));
         const ValueId moving_hat =
             graph.div(graph.sub(x, moving_mean), graph.unary(OpKind::Sqrt, graph.add(moving_variance, epsilon)));
         const ValueId normalized = graph.add(graph.mul(graph.trainSelect(batch_hat, moving_hat), gamma), beta);
         return Built{check.weightedSum(normalized)};
       }});
  for (auto [stride, padding] : {std::pair{int64_t{1}, ir::Padding::Valid}, std::pair{int64_t{2}, ir::Padding::Same}}) {
    const std::string how =
        std::string(padding == ir::Padding::Same ? "same" : "valid") + ", stride " + std::to_string(stride);
    table.push_back({"conv2d 3x3, " + how, {OpKind::Conv2d}, [=](DoubleCheck& check) {
                       const ValueId x = check.param("x", {2, 5, 5, 2});
                       const ValueId kernel = check.param("kernel", {3, 3, 2, 3});
                       return Built{check.weightedSum(check.graph().conv2d(x, kernel, window(3, stride, padding)))};
                     }});
    for (OpKind op : {OpKind::MaxPool, OpKind::AvgPool}) {
      table.push_back({std::string(ir::opName(op)) + " 2x2, " + how, {op}, [=](DoubleCheck& check) {
                         const ValueId x = check.param("x", {2, 5, 5, 2});
                         const ir::Window pool = window(2, stride, padding);
                         const ValueId y =
                             op == OpKind::MaxPool ? check.graph().maxPool(x, pool) : check.graph().avgPool(x, pool);
                         return Built{check.weightedSum(y)};
                       }});
    }
  }
  table.push_back({"pad2d", {OpKind::Pad2d}, [](DoubleCheck& check) {
                     const ValueId x = check.param("x", {2, 3, 4, 2});
                     return Built{check.weightedSum(check.graph().pad2d(x, ir::Pads{1, 0, 2, 1}))};
                   }});
  table.push_back({"crop2d", {OpKind::Crop2d}, [](DoubleCheck& check) {
                     const ValueId x = check.param("x", {2, 5, 6, 2});
                     return Built{check.weightedSum(check.graph().crop2d(x, ir::Pads{1, 2, 0, 1}))};
                   }});
  return table;
}

// Ops that appear only in gradient graphs (ops.def: "no gradient"): checked through the
// cases whose gradient graphs evaluate them.
const std::set<OpKind> kGradientOnly = {
    OpKind::ReluGrad,
    OpKind::LeakyReluGrad,
    OpKind::EluGrad,
    OpKind::SigmoidGrad,
    OpKind::TanhGrad,
    OpKind::SoftmaxGrad,
    OpKind::SoftmaxCrossEntropyGrad,
    OpKind::Conv2dInputGrad,
    OpKind::Conv2dKernelGrad,
    OpKind::MaxPoolGrad,
    OpKind::AvgPoolGrad,
};

const std::vector<OpKind> kEveryOp = {
#define NNSPEC_OP(Enum, name, arity, shape_rule, attr, emitter) OpKind::Enum,
#include "compiler/ir/ops.def"
#undef NNSPEC_OP
};

TEST_CASE("every op of ops.def has a double-precision gradient check or is a leaf", "[autodiff]") {
  std::set<OpKind> subjects;
  std::set<OpKind> evaluated;  // the ops of every case's gradient graph
  for (const OpCase& op_case : cases()) {
    subjects.insert(op_case.subjects.begin(), op_case.subjects.end());
    DoubleCheck check(1);
    const Built built = op_case.build(check);
    const transforms::GradientGraph gradient_graph = check.differentiate(built);
    std::set<OpKind> own;
    for (const ir::Node& node : gradient_graph.graph.nodes()) own.insert(node.op);
    for (OpKind subject : op_case.subjects) {
      INFO(op_case.name << ": its subject '" << ir::opName(subject) << "' is not in its graph");
      CHECK(own.count(subject) == 1);
    }
    evaluated.insert(own.begin(), own.end());
  }
  for (OpKind op : kEveryOp) {
    INFO("op '" << ir::opName(op) << "'");
    if (kGradientOnly.count(op) == 1) {
      INFO("a gradient-only op no case's gradient graph evaluates: add a case whose gradient uses it");
      CHECK(evaluated.count(op) == 1);
      CHECK(subjects.count(op) == 0);
      continue;
    }
    if (ir::opInfo(op).emitter == ir::Emitter::Leaf) continue;  // no gradient flows out of a leaf
    INFO(
        "no double-precision gradient check names this op: add a case to cases() in "
        "tests/autodiff/double_gradients_test.cpp, or list a gradient-only op in kGradientOnly");
    CHECK(subjects.count(op) == 1);
  }
}

TEST_CASE("every differentiable op: autodiff's gradient in double matches central differences", "[autodiff]") {
  const std::vector<OpCase> table = cases();
  uint32_t seed = 9000;
  int checked = 0;
  double worst_relative = 0.0;  // max |error| / max |gradient| over the cases
  std::string worst_case;
  for (const OpCase& op_case : table) {
    DoubleCheck check(seed++);
    const Built built = op_case.build(check);
    const CaseReport report = check.check(built);
    checked += report.checked;
    if (report.max_gradient > 0 && report.max_error / report.max_gradient > worst_relative) {
      worst_relative = report.max_error / report.max_gradient;
      worst_case = op_case.name;
    }
    INFO(op_case.name << ": " << report.checked << " checked, " << report.failed << " outside tolerance (first "
                      << report.worst << "), max |error| " << report.max_error << ", max |gradient| "
                      << report.max_gradient << ", " << report.straddled << " straddling a kink");
    CHECK(report.checked > 0);
    CHECK(report.failed == 0);
    CHECK(report.straddled == 0);
    CHECK(report.max_gradient > 1e-2);  // the check compared something
  }
  WARN(table.size() << " cases, " << checked << " gradient elements; the largest max |error| / max |gradient| "
                    << worst_relative << " (" << worst_case << ")");
}

// The check above can fail: softmax's gradient without the row sum (dA = Y G, the diagonal
// of the Jacobian alone), put in place of autodiff's, is caught.
TEST_CASE("the double-precision check rejects a softmax gradient without the row sum", "[autodiff]") {
  DoubleCheck check(42);
  ir::Graph& graph = check.graph();
  const ValueId x = check.param("x", {3, 5}, 0.0, 2.0);
  const ValueId y = graph.softmax(x);
  const ValueId weights = check.input("r", {3, 5});
  const Built built{graph.reduceSum(graph.mul(y, weights))};
  CHECK(check.check(built).failed == 0);
  transforms::GradientGraph wrong = check.differentiate(built);
  wrong.gradients[0] = wrong.graph.mul(y, weights);  // dLoss/dY = r, times Y only
  const CaseReport report = check.checkGradientGraph(wrong, built);
  CHECK(report.failed > 0);
}

}  // namespace
}  // namespace nnspec::testing
