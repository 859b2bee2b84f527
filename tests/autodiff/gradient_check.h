#pragma once
// Finite-difference gradient checks of JIT-compiled steps: the JIT'd gradients against
// central differences, in double precision, of the JIT'd forward loss.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "compiler/ir/verifier.h"
#include "compiler/jit/jit_compiler.h"
#include "runtime/exec/step_runner.h"
#include "compiler/transforms/autodiff.h"

namespace nnspec::testing {

// The data of one input leaf: floats, or int32 labels.
struct InputData {
  std::vector<float> floats;
  std::vector<int32_t> labels;
  const void* data() const {
    return labels.empty() ? static_cast<const void*>(floats.data()) : labels.data();
  }
};

// Uniform values in [low, high] with a random sign when `signed_values`: magnitudes stay
// at least `low` away from 0, clear of the kinks of relu, abs and friends.
inline std::vector<float> randomValues(std::mt19937& rng, size_t count, float low, float high,
                                       bool signed_values = true) {
  std::uniform_real_distribution<float> magnitude(low, high);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> values(count);
  for (float& value : values)
    value = magnitude(rng) * (signed_values && negative(rng) ? -1.0f : 1.0f);
  return values;
}

struct GradCheckOptions {
  double step = 1e-2;           // h of the central difference (w±h)
  double abs_tolerance = 5e-4;
  double rel_tolerance = 2e-3;
  // Take the losses of the differences from nnspec_gradients instead of nnspec_forward:
  // for graphs with dropout, whose masks only the training entries draw.
  bool training_losses = false;
  uint64_t rng_seed = 0;  // the dropout seed OpCheck::check gives its runner
};

struct GradCheckReport {
  double max_abs_error = 0.0;
  double max_gradient = 0.0;
  int checked = 0;
};

inline jit::JitCompiler& sharedJit() {
  static std::unique_ptr<jit::JitCompiler> compiler = [] {
    auto created = jit::JitCompiler::create();
    if (!created) FAIL("jit: " << created.error().message);
    return std::move(created.value());
  }();
  return *compiler;
}

inline std::shared_ptr<const rt::CompiledStep> compileOrFail(
    const transforms::GradientGraph& gradient_graph,
    codegen::StepConfig config = {}) {
  std::vector<std::string> problems = ir::verifyGraph(gradient_graph.graph);
  for (const std::string& problem : problems) INFO(problem);
  REQUIRE(problems.empty());
  auto compiled = sharedJit().compile(gradient_graph, config);
  if (!compiled) FAIL(compiled.error().message);
  return compiled.value();
}

inline GradCheckReport checkGradients(rt::StepRunner& runner,
                                      std::span<const void* const> inputs,
                                      const GradCheckOptions& options = {});

// A forward graph under test: parameters and inputs with their values, and a loss
// sum(result * r) with r a random input, so every element of `result` counts differently.
class OpCheck {
 public:
  explicit OpCheck(uint32_t seed) : rng_(seed) {}

  ir::Graph& graph() { return graph_; }
  std::mt19937& rng() { return rng_; }

  ir::ValueId param(const std::string& name, ir::Shape shape, float low = 0.2f,
                    float high = 1.0f, bool signed_values = true) {
    ir::ValueId id = graph_.parameter(name, shape);
    params_.push_back(randomValues(rng_, static_cast<size_t>(graph_.type(id).numElements()),
                                   low, high, signed_values));
    return id;
  }

  // A parameter with the given values (one per element), e.g. kept apart from each other.
  ir::ValueId paramWithValues(const std::string& name, ir::Shape shape, std::vector<float> values) {
    ir::ValueId id = graph_.parameter(name, shape);
    REQUIRE(static_cast<int64_t>(values.size()) == graph_.type(id).numElements());
    params_.push_back(std::move(values));
    return id;
  }

  ir::ValueId input(const std::string& name, ir::Shape shape) {
    ir::ValueId id = graph_.input(name, ir::f32(shape));
    inputs_.push_back({randomValues(rng_, static_cast<size_t>(graph_.type(id).numElements()),
                                    0.1f, 1.0f), {}});
    return id;
  }

  ir::ValueId labels(const std::string& name, int64_t count, int32_t classes) {
    ir::ValueId id = graph_.input(name, ir::i32({count}));
    std::uniform_int_distribution<int32_t> label(0, classes - 1);
    InputData data;
    for (int64_t row = 0; row < count; ++row) data.labels.push_back(label(rng_));
    inputs_.push_back(std::move(data));
    return id;
  }

  // loss = reduce_sum(result * r), r a fresh random input shaped like `result`.
  ir::ValueId weightedSum(ir::ValueId result) {
    ir::ValueId weights = input("r", graph_.type(result).shape);
    return graph_.reduceSum(graph_.mul(result, weights));
  }

  // Differentiates `loss` (plus penalties), compiles it, sets parameters and hyperparams,
  // and checks every gradient element.
  GradCheckReport check(ir::ValueId loss, std::vector<transforms::Penalty> penalties = {},
                        std::vector<std::pair<std::string, float>> hyper = {},
                        GradCheckOptions options = {}) {
    transforms::GradientGraph gradient_graph = transforms::differentiate(graph_, loss, penalties);
    rt::StepRunner runner(compileOrFail(gradient_graph));
    runner.setRngSeed(options.rng_seed);
    for (size_t param_idx = 0; param_idx < params_.size(); ++param_idx)
      runner.parameter(param_idx) = params_[param_idx];
    for (const auto& [name, value] : hyper) runner.setHyperparam(name, value);
    std::vector<const void*> pointers;
    for (const InputData& data : inputs_) pointers.push_back(data.data());
    return checkGradients(runner, pointers, options);
  }

 private:
  std::mt19937 rng_;
  ir::Graph graph_;
  std::vector<std::vector<float>> params_;
  std::vector<InputData> inputs_;
};

// Checks d total_loss / d parameter for every parameter element. Parameters must be set
// on `runner` already; `inputs` one pointer per input leaf.
inline GradCheckReport checkGradients(rt::StepRunner& runner,
                                      std::span<const void* const> inputs,
                                      const GradCheckOptions& options) {
  rt::StepResult analytic = runner.gradients(inputs);
  REQUIRE(analytic.status == kNnspecOk);
  REQUIRE(std::isfinite(analytic.total_loss));
  GradCheckReport report;
  const auto& parameters = runner.layout().parameters;
  // Taken before any difference: with training_losses each one rewrites the gradients.
  std::vector<std::vector<float>> gradients;
  for (size_t param_idx = 0; param_idx < parameters.size(); ++param_idx)
    gradients.push_back(runner.gradient(param_idx));
  for (size_t param_idx = 0; param_idx < parameters.size(); ++param_idx) {
    std::vector<float>& weights = runner.parameter(param_idx);
    const std::vector<float>& gradient = gradients[param_idx];
    for (size_t element = 0; element < weights.size(); ++element) {
      float original = weights[element];
      float above = static_cast<float>(original + options.step);
      float below = static_cast<float>(original - options.step);
      auto loss = [&] {
        return options.training_losses ? runner.gradients(inputs).total_loss : runner.forward(inputs).total_loss;
      };
      weights[element] = above;
      double upper = loss();
      weights[element] = below;
      double lower = loss();
      weights[element] = original;
      double numeric = (upper - lower) / (static_cast<double>(above) - below);
      double error = std::abs(numeric - gradient[element]);
      INFO("parameter " << parameters[param_idx].name << "[" << element << "]: analytic "
                        << gradient[element] << ", numeric " << numeric);
      CHECK(error <= options.abs_tolerance + options.rel_tolerance * std::abs(numeric));
      report.max_abs_error = std::max(report.max_abs_error, error);
      report.max_gradient = std::max(report.max_gradient, std::abs(numeric));
      ++report.checked;
    }
  }
  return report;
}

}  // namespace nnspec::testing
