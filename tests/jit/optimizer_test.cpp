// Generated optimizer updates against a hand-written C++ reference (PyTorch semantics).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "compiler/jit/jit_compiler.h"
#include "compiler/jit/step_runner.h"
#include "compiler/transforms/autodiff.h"

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

StepRunner makeRunner(const Problem& problem, codegen::OptimizerKind kind) {
  auto compiled = testJit().compile(problem.gradient_graph, {kind});
  REQUIRE(compiled.ok());
  StepRunner runner(compiled.value());
  runner.parameter("w") = problem.w0;
  runner.parameter("b") = problem.b0;
  runner.setHyperparam("l2", problem.l2);
  return runner;
}

void compare(StepRunner& runner, const Reference& reference) {
  for (size_t element = 0; element < 6; ++element)
    CHECK_THAT(runner.parameter("w")[element], Catch::WithinAbs(reference.w[element], 2e-6));
  for (size_t element = 0; element < 3; ++element)
    CHECK_THAT(runner.parameter("b")[element], Catch::WithinAbs(reference.b[element], 2e-6));
}

void checkSgd(bool nesterov, float momentum, float weight_decay) {
  Problem problem = makeProblem();
  StepRunner runner = makeRunner(problem, codegen::OptimizerKind::Sgd);
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
    StepResult result = runner.trainStep(inputs, opt);
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
    for (size_t element = 0; element < 6; ++element)
      CHECK_THAT(runner.optimizerState(0, 0)[element], Catch::WithinAbs(vw[element], 2e-6));
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
  StepRunner runner = makeRunner(problem, codegen::OptimizerKind::Adam);
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
    StepResult result = runner.trainStep(inputs, opt);
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
  StepRunner runner = makeRunner(problem, codegen::OptimizerKind::Sgd);
  const void* inputs[] = {problem.target.data()};
  StepResult before = runner.forward(inputs);
  NnspecOptimizerParams opt{};
  opt.lr = 0.1f;
  opt.step = 1;
  StepResult trained = runner.trainStep(inputs, opt);
  CHECK_THAT(trained.total_loss, Catch::WithinRel(before.total_loss, 1e-6f));
  CHECK(runner.forward(inputs).total_loss < before.total_loss);
}

}  // namespace
}  // namespace nnspec::jit
