// Whole-model checks of the JIT'd reference CNNs, built from their spec files by the front
// end and the lowering: the float losses and gradients of nnspec_gradients (dropout masks
// drawn) and the losses of nnspec_forward (dropout off) against the double-precision
// reference interpreter (cnn_reference.h) on the same graph, parameters and inputs. The
// reference's own gradient graph is checked against central differences in
// tests/autodiff/cnn_gradients_test.cpp.

#include <sstream>

#include "tests/autodiff/gradient_check.h"
#include "tests/jit/cnn_models.h"

namespace nnspec::testing {
namespace {

// Float32 against double: a gradient element is a sum of many products (a conv kernel's
// over batch x image positions), so its float error scales with the sum of the terms'
// magnitudes rather than with the element itself. Each element must be within
// kRelTolerance of its reference value, or within kScaleTolerance of the largest
// reference gradient of its tensor (for elements that nearly cancel).
constexpr double kRelTolerance = 1e-3;
constexpr double kScaleTolerance = 1e-5;
constexpr double kLossTolerance = 1e-5;  // relative, losses

struct JitReport {
  double max_rel_error = 0.0;     // over elements with |reference| >= 1e-3 * scale
  double max_scaled_error = 0.0;  // |error| / scale
};

std::vector<const void*> inputPointers(const rt::StepRunner& runner, const CnnCase& model) {
  std::vector<const void*> inputs;
  for (const rt::LeafSlot& slot : runner.layout().inputs) {
    REQUIRE((slot.name == "x" || slot.name == "labels"));
    inputs.push_back(slot.name == "x" ? static_cast<const void*>(model.x.data()) : model.labels.data());
  }
  return inputs;
}

JitReport checkJitAgainstReference(const CnnCase& model) {
  const transforms::GradientGraph& gradient_graph = model.step.graph;
  rt::StepRunner runner(compileOrFail(gradient_graph, model.step.config));
  for (size_t param_idx = 0; param_idx < model.params.size(); ++param_idx)
    runner.parameter(model.paramName(param_idx)) = model.params[param_idx];
  for (const auto& [name, value] : model.step.hyper_values) runner.setHyperparam(name, value);
  runner.setRngSeed(model.rng_seed);
  for (const auto& [name, values] : model.states) runner.state(name) = values;
  const std::vector<const void*> inputs = inputPointers(runner, model);

  const rt::StepResult result = runner.gradients(inputs);
  REQUIRE(result.status == kNnspecOk);
  ReferenceEvaluator reference(gradient_graph.graph, model.bindings(/*training=*/true));
  reference.evaluate(gradient_graph.graph.size() - 1);
  CHECK_THAT(result.data_loss, Catch::Matchers::WithinRel(reference.scalar(gradient_graph.data_loss), kLossTolerance));
  CHECK_THAT(result.total_loss,
             Catch::Matchers::WithinRel(reference.scalar(gradient_graph.total_loss), kLossTolerance));

  JitReport report;
  std::ostringstream summary;
  const auto& slots = runner.layout().parameters;
  for (size_t slot_idx = 0; slot_idx < slots.size(); ++slot_idx) {
    size_t param_idx = 0;
    while (param_idx < model.params.size() && model.paramName(param_idx) != slots[slot_idx].name) ++param_idx;
    REQUIRE(param_idx < model.params.size());
    const std::vector<float>& computed = runner.gradient(slot_idx);
    const std::vector<double>& expected = reference.value(gradient_graph.gradients[param_idx]);
    REQUIRE(computed.size() == expected.size());
    double scale = 0.0;
    for (double value : expected) scale = std::max(scale, std::abs(value));
    REQUIRE(scale > 0.0);
    int failed = 0;
    std::string first;
    double max_rel = 0.0;
    double max_scaled = 0.0;
    for (size_t element = 0; element < expected.size(); ++element) {
      const double error = std::abs(static_cast<double>(computed[element]) - expected[element]);
      max_scaled = std::max(max_scaled, error / scale);
      if (std::abs(expected[element]) >= 1e-3 * scale) max_rel = std::max(max_rel, error / std::abs(expected[element]));
      if (error <= kRelTolerance * std::abs(expected[element]) + kScaleTolerance * scale) continue;
      if (failed++ == 0) {
        std::ostringstream text;
        text << slots[slot_idx].name << "[" << element << "]: jit " << computed[element] << ", reference "
             << expected[element];
        first = text.str();
      }
    }
    summary << slots[slot_idx].name << ": max |error|/scale " << max_scaled << ", max relative error " << max_rel
            << "\n";
    INFO(failed << " elements of " << slots[slot_idx].name << " outside tolerance; first " << first);
    CHECK(failed == 0);
    report.max_rel_error = std::max(report.max_rel_error, max_rel);
    report.max_scaled_error = std::max(report.max_scaled_error, max_scaled);
  }
  WARN(summary.str());

  // Evaluation: nnspec_forward passes dropout through.
  const rt::StepResult evaluation = runner.forward(inputs);
  REQUIRE(evaluation.status == kNnspecOk);
  ReferenceEvaluator evaluation_reference(gradient_graph.graph, model.bindings(/*training=*/false));
  evaluation_reference.evaluate(gradient_graph.total_loss);
  CHECK_THAT(evaluation.total_loss,
             Catch::Matchers::WithinRel(evaluation_reference.scalar(gradient_graph.total_loss), kLossTolerance));
  return report;
}

TEST_CASE("LeNet-5 of dat565 at batch 4: JIT'd float gradients match the double reference", "[jit]") {
  CnnCase model = makeCnnCase(lowerSpecSweep("dat565_mnist.nnspec", "lenet", 4), 5650);
  REQUIRE(hasOp(model.graph(), ir::OpKind::Dropout));
  checkJitAgainstReference(model);
}

TEST_CASE("LeNet-5: dropout masks differ between seeds and the gradient follows the mask", "[jit]") {
  CnnCase model = makeCnnCase(lowerSpecSweep("dat565_mnist.nnspec", "lenet", 2), 5651);
  const double first = [&] {
    ReferenceEvaluator reference(model.graph(), model.bindings());
    reference.evaluate(model.step.graph.data_loss);
    return reference.scalar(model.step.graph.data_loss);
  }();
  model.rng_seed += 1;
  ReferenceEvaluator reference(model.graph(), model.bindings());
  reference.evaluate(model.step.graph.data_loss);
  CHECK(reference.scalar(model.step.graph.data_loss) != first);
  checkJitAgainstReference(model);
}

// Batch normalization after a convolution (statistics over batch, rows and columns) and
// after a dense layer: batch statistics in the training entries, moving ones in forward.
lowering::LoweredStep lenetWithBatchNorm(int64_t batch) {
  return lowerSpecSweep("dat565_mnist.nnspec", "lenet", batch,
                        {{"  conv2d(16, 5, activation: relu)\n", "  conv2d(16, 5, activation: relu)\n  batchnorm()\n"},
                         {"  dense(84, relu, l2: 1e-4)\n", "  dense(84, relu, l2: 1e-4)\n  batchnorm(momentum: 0.9)\n"}});
}

TEST_CASE("LeNet-5 with batch normalization: JIT'd gradients, exports and evaluation match the reference", "[jit]") {
  CnnCase model = makeCnnCase(lenetWithBatchNorm(4), 5652);
  REQUIRE(model.states.size() == 4);
  REQUIRE(model.step.graph.exports.size() == 4);
  REQUIRE(model.step.moving_stats.size() == 2);
  CHECK(model.step.moving_stats[1].momentum == 0.9);
  checkJitAgainstReference(model);
  // The exported batch statistics are the reference's.
  rt::StepRunner runner(compileOrFail(model.step.graph, model.step.config));
  for (size_t param_idx = 0; param_idx < model.params.size(); ++param_idx)
    runner.parameter(model.paramName(param_idx)) = model.params[param_idx];
  for (const auto& [name, value] : model.step.hyper_values) runner.setHyperparam(name, value);
  for (const auto& [name, values] : model.states) runner.state(name) = values;
  runner.setRngSeed(model.rng_seed);
  REQUIRE(runner.gradients(inputPointers(runner, model)).status == kNnspecOk);
  ReferenceEvaluator reference(model.graph(), model.bindings());
  reference.evaluate(model.graph().size() - 1);
  for (const auto& [name, value] : model.step.graph.exports) {
    const std::vector<float>& computed = runner.exported(name);
    const std::vector<double>& expected = reference.value(value);
    REQUIRE(computed.size() == expected.size());
    for (size_t element = 0; element < expected.size(); ++element) {
      INFO(name << "[" << element << "]");
      CHECK_THAT(computed[element], Catch::Matchers::WithinAbs(expected[element], 1e-5 + 1e-5 * std::abs(expected[element])));
    }
  }
}

TEST_CASE("the amath482 CNN at batch 4: JIT'd float gradients match the double reference", "[jit]") {
  CnnCase model = makeCnnCase(lowerSpecSweep("amath482_fashion.nnspec", "convolutional", 4), 4820);
  checkJitAgainstReference(model);
}

}  // namespace
}  // namespace nnspec::testing
