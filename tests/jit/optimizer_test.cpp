// Generated optimizer updates against a hand-written C++ reference (PyTorch semantics).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "compiler/codegen/step_plan.h"
#include "compiler/jit/jit_compiler.h"
#include "runtime/exec/step_runner.h"
#include "compiler/transforms/autodiff.h"
#include "tests/jit/mlp_builder.h"

namespace nnspec::jit {
namespace {

using ir::ValueId;

JitCompiler& testJit() {
  static std::unique_ptr<JitCompiler> compiler = [] {
    auto created = JitCompiler::create();
    REQUIRE(created.ok());
    return std::move(created.value());
  }();
  return *compiler;
}

// loss = mse(w + b, t) with w f32[2,3], b f32[3] (row broadcast), plus l2*sum(w^2).
// d/dw = 2(w+b-t)/6 + 2*l2*w, d/db = column sums of 2(w+b-t)/6.
struct Problem {
  transforms::GradientGraph gradient_graph;
  std::vector<float> target = {0.5f, -1.0f, 2.0f, 0.0f, 1.5f, -0.5f};
  std::vector<float> w0 = {0.3f, -0.2f, 0.8f, -1.1f, 0.4f, 0.9f};
  std::vector<float> b0 = {0.1f, -0.3f, 0.2f};
  float l2 = 0.05f;
};

Problem makeProblem() {
  ir::Graph graph;
  ValueId t = graph.input("t", ir::f32({2, 3}));
  ValueId w = graph.parameter("w", {2, 3});
  ValueId b = graph.parameter("b", {3});
  ValueId loss = graph.mse(graph.add(w, b), t);
  std::vector<transforms::Penalty> penalties = {{w, transforms::PenaltyKind::L2, "l2"}};
  return Problem{transforms::differentiate(graph, loss, penalties)};
}

struct Reference {
  std::vector<double> w, b;
};

void referenceGradients(const Problem& problem, const Reference& state, std::vector<double>& gw,
                        std::vector<double>& gb) {
  gw.assign(6, 0.0);
  gb.assign(3, 0.0);
  for (int row = 0; row < 2; ++row)
    for (int col = 0; col < 3; ++col) {
      int flat = row * 3 + col;
      double d = 2.0 * (state.w[flat] + state.b[col] - problem.target[flat]) / 6.0;
      gw[flat] = d + 2.0 * problem.l2 * state.w[flat];
      gb[col] += d;
    }
}

Reference initialReference(const Problem& problem) {
  return {{problem.w0.begin(), problem.w0.end()}, {problem.b0.begin(), problem.b0.end()}};
}

rt::StepRunner makeRunner(const Problem& problem, codegen::OptimizerKind kind) {
  auto compiled = testJit().compile(problem.gradient_graph, {kind});
  REQUIRE(compiled.ok());
  rt::StepRunner runner(compiled.value());
  runner.parameter("w") = problem.w0;
  runner.parameter("b") = problem.b0;
  runner.setHyperparam("l2", problem.l2);
  return runner;
}

void compare(rt::StepRunner& runner, const Reference& reference) {
  for (size_t element = 0; element < 6; ++element)
    CHECK_THAT(runner.parameter("w")[element], Catch::WithinAbs(reference.w[element], 2e-6));
  for (size_t element = 0; element < 3; ++element)
    CHECK_THAT(runner.parameter("b")[element], Catch::WithinAbs(reference.b[element], 2e-6));
}

void checkSgd(bool nesterov, float momentum, float weight_decay) {
  Problem problem = makeProblem();
  rt::StepRunner runner = makeRunner(problem, codegen::OptimizerKind::Sgd);
  NnspecOptimizerParams opt{};
  opt.lr = 0.1f;
  opt.momentum = momentum;
  opt.weight_decay = weight_decay;
  opt.nesterov = nesterov ? 1 : 0;
  Reference reference = initialReference(problem);
  std::vector<double> vw(6, 0.0), vb(3, 0.0), gw, gb;
  const void* inputs[] = {problem.target.data()};
  for (int step = 1; step <= 3; ++step) {
    opt.step = step;
    rt::StepResult result = runner.trainStep(inputs, opt);
    REQUIRE(result.status == kNnspecOk);
    referenceGradients(problem, reference, gw, gb);
    auto update = [&](std::vector<double>& w, std::vector<double>& g, std::vector<double>& v) {
      for (size_t element = 0; element < w.size(); ++element) {
        double grad = g[element] + weight_decay * w[element];
        v[element] = momentum * v[element] + grad;
        double direction = nesterov ? grad + momentum * v[element] : v[element];
        w[element] -= opt.lr * direction;
      }
    };
    update(reference.w, gw, vw);
    update(reference.b, gb, vb);
    INFO("step " << step);
    compare(runner, reference);
    // Without momentum there is no velocity (as in PyTorch): the state is never written.
    for (size_t element = 0; element < 6; ++element)
      CHECK_THAT(runner.optimizerState(0, 0)[element],
                 Catch::WithinAbs(momentum == 0.0f ? 0.0 : vw[element], 2e-6));
  }
}

TEST_CASE("sgd with momentum matches the reference for 3 steps", "[jit]") {
  checkSgd(false, 0.9f, 0.0f);
}

TEST_CASE("sgd with nesterov momentum and weight decay matches the reference", "[jit]") {
  checkSgd(true, 0.9f, 0.01f);
}

TEST_CASE("plain sgd matches the reference", "[jit]") { checkSgd(false, 0.0f, 0.0f); }

TEST_CASE("adam matches the reference for 3 steps", "[jit]") {
  Problem problem = makeProblem();
  rt::StepRunner runner = makeRunner(problem, codegen::OptimizerKind::Adam);
  NnspecOptimizerParams opt{};
  opt.lr = 0.01f;
  opt.beta1 = 0.9f;
  opt.beta2 = 0.999f;
  opt.eps = 1e-8f;
  opt.weight_decay = 0.02f;
  Reference reference = initialReference(problem);
  std::vector<double> mw(6, 0.0), vw(6, 0.0), mb(3, 0.0), vb(3, 0.0), gw, gb;
  const void* inputs[] = {problem.target.data()};
  for (int step = 1; step <= 3; ++step) {
    opt.step = step;
    rt::StepResult result = runner.trainStep(inputs, opt);
    REQUIRE(result.status == kNnspecOk);
    referenceGradients(problem, reference, gw, gb);
    double correction1 = 1.0 - std::pow(0.9, step);
    double correction2 = 1.0 - std::pow(0.999, step);
    auto update = [&](std::vector<double>& w, std::vector<double>& g, std::vector<double>& m,
                      std::vector<double>& v) {
      for (size_t element = 0; element < w.size(); ++element) {
        double grad = g[element] + opt.weight_decay * w[element];
        m[element] = 0.9 * m[element] + 0.1 * grad;
        v[element] = 0.999 * v[element] + 0.001 * grad * grad;
        double denominator = std::sqrt(v[element]) / std::sqrt(correction2) + 1e-8;
        w[element] -= opt.lr / correction1 * m[element] / denominator;
      }
    };
    update(reference.w, gw, mw, vw);
    update(reference.b, gb, mb, vb);
    INFO("step " << step);
    compare(runner, reference);
    for (size_t element = 0; element < 3; ++element) {
      CHECK_THAT(runner.optimizerState(0, 1)[element], Catch::WithinAbs(mb[element], 1e-6));
      CHECK_THAT(runner.optimizerState(1, 1)[element], Catch::WithinRel(vb[element], 1e-4));
    }
  }
}

TEST_CASE("train step reports the loss before the update", "[jit]") {
  Problem problem = makeProblem();
  rt::StepRunner runner = makeRunner(problem, codegen::OptimizerKind::Sgd);
  const void* inputs[] = {problem.target.data()};
  rt::StepResult before = runner.forward(inputs);
  NnspecOptimizerParams opt{};
  opt.lr = 0.1f;
  opt.step = 1;
  rt::StepResult trained = runner.trainStep(inputs, opt);
  CHECK_THAT(trained.total_loss, Catch::WithinRel(before.total_loss, 1e-6f));
  CHECK(runner.forward(inputs).total_loss < before.total_loss);
}

// ---- train steps of MLPs against nnspec_gradients and a reference update -------------

struct UpdateCase {
  codegen::OptimizerKind kind = codegen::OptimizerKind::Sgd;
  float lr = 0.1f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  float alpha = 0.99f;  // RMSprop
  float eps = 1e-8f;    // Adam, RMSprop, Adagrad
  bool decoupled = false;  // Adam: AdamW
};

// The PyTorch update of one parameter in double, from its gradient; `first` and `second`
// are the state slots: the velocity (SGD), the moments (Adam), the square average and
// the momentum buffer (RMSprop), the sum of squares (Adagrad).
void referenceUpdate(const UpdateCase& update, int step, const std::vector<float>& grad,
                     std::vector<double>& w, std::vector<double>& first,
                     std::vector<double>& second) {
  double correction1 = 1.0 - std::pow(0.9, step);
  double correction2 = 1.0 - std::pow(0.999, step);
  const double alpha = update.alpha;
  const double eps = update.eps;
  for (size_t element = 0; element < w.size(); ++element) {
    double g = grad[element] + (update.decoupled ? 0.0 : update.weight_decay * w[element]);
    // PyTorch AdamW: param.mul_(1 - lr * weight_decay) before the Adam step.
    if (update.decoupled) w[element] *= 1.0 - static_cast<double>(update.lr) * update.weight_decay;
    if (update.kind == codegen::OptimizerKind::Sgd) {
      first[element] = update.momentum * first[element] + g;
      double direction = update.nesterov ? g + update.momentum * first[element] : first[element];
      w[element] -= update.lr * direction;
      continue;
    }
    if (update.kind == codegen::OptimizerKind::RmsProp) {
      first[element] = alpha * first[element] + (1.0 - alpha) * g * g;
      double direction = g / (std::sqrt(first[element]) + eps);
      if (update.momentum != 0.0f) {
        second[element] = update.momentum * second[element] + direction;
        direction = second[element];
      }
      w[element] -= update.lr * direction;
      continue;
    }
    if (update.kind == codegen::OptimizerKind::Adagrad) {
      first[element] += g * g;
      w[element] -= update.lr * g / (std::sqrt(first[element]) + eps);
      continue;
    }
    first[element] = 0.9 * first[element] + 0.1 * g;
    second[element] = 0.999 * second[element] + 0.001 * g * g;
    double denominator = std::sqrt(second[element]) / std::sqrt(correction2) + 1e-8;
    w[element] -= update.lr / correction1 * first[element] / denominator;
  }
}

// Three train steps of `mlp` against three calls of nnspec_gradients on a second runner
// whose parameters follow the reference update.
void checkAgainstGradients(const transforms::GradientGraph& mlp, const std::vector<int64_t>& widths,
                           int64_t batch, const UpdateCase& update) {
  auto compiled = testJit().compile(mlp, {update.kind});
  REQUIRE(compiled.ok());
  rt::StepRunner trained(compiled.value());
  rt::StepRunner reference(compiled.value());
  std::vector<std::vector<float>> params = testing::randomMlpParameters(widths, 5);
  std::vector<std::vector<double>> w, first, second;
  for (size_t param_idx = 0; param_idx < params.size(); ++param_idx) {
    trained.parameter(param_idx) = params[param_idx];
    reference.parameter(param_idx) = params[param_idx];
    w.emplace_back(params[param_idx].begin(), params[param_idx].end());
    first.emplace_back(params[param_idx].size(), 0.0);
    second.emplace_back(params[param_idx].size(), 0.0);
  }
  if (!trained.layout().hyperparams.empty()) {
    trained.setHyperparam("l2", 1e-3f);
    reference.setHyperparam("l2", 1e-3f);
  }
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> pixel(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(batch * widths.front()));
  for (float& value : x) value = pixel(rng);
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  for (size_t row = 0; row < labels.size(); ++row)
    labels[row] = static_cast<int32_t>(row % static_cast<size_t>(widths.back()));
  const void* inputs[] = {x.data(), labels.data()};
  NnspecOptimizerParams opt{};
  opt.lr = update.lr;
  opt.momentum = update.momentum;
  opt.weight_decay = update.weight_decay;
  opt.nesterov = update.nesterov ? 1 : 0;
  opt.beta1 = 0.9f;
  opt.beta2 = 0.999f;
  opt.eps = update.eps;
  opt.alpha = update.alpha;
  opt.decoupled = update.decoupled ? 1 : 0;
  for (int step = 1; step <= 3; ++step) {
    opt.step = step;
    REQUIRE(reference.gradients(inputs).status == kNnspecOk);
    REQUIRE(trained.trainStep(inputs, opt).status == kNnspecOk);
    for (size_t param_idx = 0; param_idx < params.size(); ++param_idx) {
      referenceUpdate(update, step, reference.gradient(param_idx), w[param_idx],
                      first[param_idx], second[param_idx]);
      reference.parameter(param_idx).assign(w[param_idx].begin(), w[param_idx].end());
      INFO("step " << step << ", parameter " << trained.layout().parameters[param_idx].name);
      size_t wrong = 0;
      for (size_t element = 0; element < w[param_idx].size(); ++element)
        if (std::fabs(trained.parameter(param_idx)[element] - w[param_idx][element]) > 1e-5)
          ++wrong;
      CHECK(wrong == 0);
      // Without momentum SGD keeps no velocity and RMSprop no buffer (as PyTorch): that
      // slot is never written.
      int untouched_slot = -1;
      if (update.momentum == 0.0f && update.kind == codegen::OptimizerKind::Sgd) untouched_slot = 0;
      if (update.momentum == 0.0f && update.kind == codegen::OptimizerKind::RmsProp) untouched_slot = 1;
      if (untouched_slot >= 0)
        CHECK(trained.optimizerState(untouched_slot, param_idx) ==
              std::vector<float>(trained.parameter(param_idx).size(), 0.0f));
      bool squares_in_first = update.kind == codegen::OptimizerKind::RmsProp ||
                              update.kind == codegen::OptimizerKind::Adagrad;
      for (size_t element = 0; squares_in_first && element < w[param_idx].size(); ++element)
        CHECK_THAT(trained.optimizerState(0, param_idx)[element],
                   Catch::WithinRel(first[param_idx][element], 1e-3) ||
                       Catch::WithinAbs(first[param_idx][element], 1e-9));
    }
  }
}

constexpr int64_t kMlpBatch = 9;
const std::vector<int64_t> kMlpWidths = {13, 21, 4};

transforms::GradientGraph plainMlp() {
  return testing::buildPredictingMlp(kMlpBatch, kMlpWidths, testing::MlpLoss::SoftmaxCrossEntropy);
}

TEST_CASE("an sgd step adds the weight gradients of dense layers in place", "[jit]") {
  transforms::GradientGraph mlp = plainMlp();
  codegen::StepPlan plan = codegen::planStep(mlp, {codegen::OptimizerKind::Sgd});
  const codegen::FunctionPlan& train = plan.functions[2];
  REQUIRE(train.entry == codegen::EntryPoint::TrainStep);
  // The two weight gradients (x^T g, h^T g), not the bias gradients (reductions); their
  // gemm kernels run last.
  REQUIRE(train.in_place_updates.size() == 2);
  size_t kernel_count = train.fusion.kernels.size();
  for (size_t last = 0; last < 2; ++last)
    CHECK(std::count(train.in_place_updates.begin(), train.in_place_updates.end(),
                     train.fusion.kernels[kernel_count - 1 - last].members[0]) == 1);
  CHECK(plan.functions[0].in_place_updates.empty());
  CHECK(plan.functions[1].in_place_updates.empty());
  CHECK(codegen::planStep(mlp, {codegen::OptimizerKind::Adam}).functions[2].in_place_updates.empty());
  // With an L2 penalty the gradient is a matmul plus the penalty's: updated by the loop.
  CHECK(codegen::planStep(testing::buildMlp(kMlpBatch, kMlpWidths), {})
            .functions[2]
            .in_place_updates.empty());
}

TEST_CASE("a weight gradient that reads a parameter is not updated in place", "[jit]") {
  // loss = mse(u v, t): du = g v^T reads v and dv = u^T g reads u; updating either in
  // place would change what the other reads.
  ir::Graph graph;
  ValueId t = graph.input("t", ir::f32({3, 2}));
  ValueId u = graph.parameter("u", {3, 4});
  ValueId v = graph.parameter("v", {4, 2});
  transforms::GradientGraph factored =
      transforms::differentiate(graph, graph.mse(graph.matmul(u, v), t));
  CHECK(codegen::planStep(factored, {}).functions[2].in_place_updates.empty());
}

TEST_CASE("plain sgd with weight decay on an mlp matches gradients plus the update", "[jit]") {
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch, {codegen::OptimizerKind::Sgd, 0.1f, 0.0f, 0.01f});
}

TEST_CASE("sgd with momentum on an mlp matches gradients plus the update", "[jit]") {
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch, {codegen::OptimizerKind::Sgd, 0.1f, 0.9f, 0.0f});
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch, {codegen::OptimizerKind::Sgd, 0.05f, 0.5f, 0.01f});
}

TEST_CASE("nesterov sgd with weight decay on an mlp matches gradients plus the update", "[jit]") {
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch,
                        {codegen::OptimizerKind::Sgd, 0.1f, 0.9f, 0.01f, true});
}

TEST_CASE("adam with weight decay on an mlp matches gradients plus the update", "[jit]") {
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch, {codegen::OptimizerKind::Adam, 0.01f, 0.0f, 0.02f});
}

TEST_CASE("adamw (decoupled weight decay) on an mlp matches gradients plus the update", "[jit]") {
  UpdateCase adamw{codegen::OptimizerKind::Adam, 0.01f, 0.0f, 0.1f};
  adamw.decoupled = true;
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch, adamw);
}

TEST_CASE("rmsprop with weight decay on an mlp matches gradients plus the update", "[jit]") {
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch,
                        {codegen::OptimizerKind::RmsProp, 0.01f, 0.0f, 0.02f});
}

TEST_CASE("rmsprop with momentum and weight decay on an mlp matches gradients plus the update",
          "[jit]") {
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch,
                        {codegen::OptimizerKind::RmsProp, 0.01f, 0.9f, 0.02f, false, 0.9f});
}

TEST_CASE("adagrad with weight decay on an mlp matches gradients plus the update", "[jit]") {
  checkAgainstGradients(plainMlp(), kMlpWidths, kMlpBatch,
                        {codegen::OptimizerKind::Adagrad, 0.01f, 0.0f, 0.02f, false, 0.0f, 1e-10f});
}

TEST_CASE("the optimizer kind is part of the compile cache key", "[jit]") {
  auto created = JitCompiler::create();
  REQUIRE(created.ok());
  JitCompiler& jit = *created.value();
  transforms::GradientGraph mlp = plainMlp();
  const std::vector<std::pair<codegen::OptimizerKind, int>> kinds = {
      {codegen::OptimizerKind::Sgd, 1},
      {codegen::OptimizerKind::Adam, 2},
      {codegen::OptimizerKind::RmsProp, 2},
      {codegen::OptimizerKind::Adagrad, 1}};
  std::vector<std::shared_ptr<const rt::CompiledStep>> steps;
  for (const auto& [kind, slots] : kinds) {
    auto compiled = jit.compile(mlp, {kind});
    REQUIRE(compiled.ok());
    CHECK(compiled.value()->layout.state_slots == slots);
    steps.push_back(compiled.value());
  }
  CHECK(jit.compilationCount() == 4);
  for (size_t kind_idx = 0; kind_idx < kinds.size(); ++kind_idx) {
    auto again = jit.compile(mlp, {kinds[kind_idx].first});
    REQUIRE(again.ok());
    CHECK(again.value() == steps[kind_idx]);
  }
  CHECK(jit.compilationCount() == 4);
  CHECK(codegen::stepSignature(mlp, {codegen::OptimizerKind::RmsProp}) !=
        codegen::stepSignature(mlp, {codegen::OptimizerKind::Adagrad}));
  CHECK(codegen::planStep(mlp, {codegen::OptimizerKind::RmsProp}).functions[2].in_place_updates.empty());
  CHECK(codegen::planStep(mlp, {codegen::OptimizerKind::Adagrad}).functions[2].in_place_updates.empty());
}

TEST_CASE("sgd on an mlp with l2 penalties matches gradients plus the update", "[jit]") {
  transforms::GradientGraph penalized = testing::buildMlp(kMlpBatch, kMlpWidths);
  checkAgainstGradients(penalized, kMlpWidths, kMlpBatch, {codegen::OptimizerKind::Sgd, 0.1f, 0.0f, 0.01f});
  checkAgainstGradients(penalized, kMlpWidths, kMlpBatch, {codegen::OptimizerKind::Sgd, 0.1f, 0.9f, 0.0f});
}

}  // namespace
}  // namespace nnspec::jit
