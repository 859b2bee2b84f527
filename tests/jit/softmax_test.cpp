// softmax (ops.def) through the JIT: the generated row loops of softmax and softmax_grad
// against the double reference interpreter (cnn_reference.h) on the same graph, values and
// gradients, with logits large enough that exp without the row maximum subtracted would
// overflow float (exp(89) > FLT_MAX).

#include <cmath>
#include <map>
#include <random>
#include <sstream>

#include "tests/autodiff/gradient_check.h"
#include "tests/jit/cnn_reference.h"

namespace nnspec::testing {
namespace {

using ir::ValueId;

// Float against double, as tests/jit/cnn_gradients_test.cpp: each element within
// kRelTolerance of its reference value, or within kScaleTolerance of the tensor's largest
// |value| (elements that nearly cancel: softmax_grad's G - sum(G Y)). Logits near 100
// carry float's rounding of 100 (~8e-6) into every exponent.
constexpr double kRelTolerance = 1e-3;
constexpr double kScaleTolerance = 1e-5;

struct SoftmaxModel {
  ir::Graph graph;
  ValueId loss = 0;
  ValueId prediction = 0;  // the softmax output
  std::map<std::string, std::vector<float>> params;
  std::map<std::string, std::vector<float>> inputs;
  std::vector<int32_t> labels;
};

std::vector<float> uniform(std::mt19937& rng, size_t count, float low, float high) {
  std::uniform_real_distribution<float> draw(low, high);
  std::vector<float> values(count);
  for (float& value : values) value = draw(rng);
  return values;
}

// Rows of logits shifted by `shift`: x[8,6] -> dense(12) + shift -> softmax -> dense(4) ->
// softmax cross-entropy. The prediction is the hidden softmax.
SoftmaxModel hiddenSoftmaxMlp(float shift, uint32_t seed) {
  SoftmaxModel model;
  std::mt19937 rng(seed);
  ir::Graph& graph = model.graph;
  const ValueId x = graph.input("x", ir::f32({8, 6}));
  const ValueId w1 = graph.parameter("w1", {6, 12});
  const ValueId b1 = graph.parameter("b1", {12});
  const ValueId w2 = graph.parameter("w2", {12, 4});
  const ValueId labels = graph.input("labels", ir::i32({8}));
  const ValueId pre = graph.add(graph.add(graph.matmul(x, w1), b1), graph.constant(shift));
  model.prediction = graph.softmax(pre);
  model.loss = graph.softmaxCrossEntropy(graph.matmul(model.prediction, w2), labels);
  model.inputs["x"] = uniform(rng, 48, -1.0f, 1.0f);
  model.params["w1"] = uniform(rng, 72, -2.0f, 2.0f);
  model.params["b1"] = uniform(rng, 12, -0.5f, 0.5f);
  model.params["w2"] = uniform(rng, 48, -2.0f, 2.0f);
  std::uniform_int_distribution<int32_t> label(0, 3);
  for (int row = 0; row < 8; ++row) model.labels.push_back(label(rng));
  return model;
}

// softmax over the channels of an image [2,3,3,5] plus `shift`, loss sum(softmax * r).
SoftmaxModel channelSoftmax(float shift, uint32_t seed) {
  SoftmaxModel model;
  std::mt19937 rng(seed);
  ir::Graph& graph = model.graph;
  const ValueId image = graph.parameter("image", {2, 3, 3, 5});
  const ValueId weights = graph.input("r", ir::f32({2, 3, 3, 5}));
  model.prediction = graph.softmax(graph.add(image, graph.constant(shift)));
  model.loss = graph.reduceSum(graph.mul(model.prediction, weights));
  model.params["image"] = uniform(rng, 90, -3.0f, 3.0f);
  model.inputs["r"] = uniform(rng, 90, -1.0f, 1.0f);
  return model;
}

void checkClose(const std::string& what, const std::vector<float>& jit, const std::vector<double>& reference) {
  REQUIRE(jit.size() == reference.size());
  double scale = 0.0;
  for (double value : reference) scale = std::max(scale, std::abs(value));
  REQUIRE(scale > 0.0);
  int failed = 0;
  std::ostringstream first;
  for (size_t element = 0; element < jit.size(); ++element) {
    const double error = std::abs(static_cast<double>(jit[element]) - reference[element]);
    REQUIRE(std::isfinite(jit[element]));
    if (error <= kRelTolerance * std::abs(reference[element]) || error <= kScaleTolerance * scale) continue;
    if (failed++ == 0)
      first << what << "[" << element << "]: jit " << jit[element] << ", reference " << reference[element];
  }
  INFO(what << ": " << failed << " of " << jit.size() << " elements off; first " << first.str());
  CHECK(failed == 0);
}

void checkAgainstReference(const SoftmaxModel& model) {
  const transforms::GradientGraph gradient_graph =
      transforms::differentiate(model.graph, model.loss, {}, model.prediction);
  bool has_softmax_grad = false;
  for (const ir::Node& node : gradient_graph.graph.nodes()) has_softmax_grad |= node.op == ir::OpKind::SoftmaxGrad;
  REQUIRE(has_softmax_grad);
  rt::StepRunner runner(compileOrFail(gradient_graph));
  ReferenceBindings bindings;
  for (const auto& [name, values] : model.params) {
    runner.parameter(name) = values;
    bindings.parameters[name] = std::vector<double>(values.begin(), values.end());
  }
  std::vector<const void*> pointers;
  for (const rt::LeafSlot& slot : runner.layout().inputs) {
    if (slot.name == "labels") {
      pointers.push_back(model.labels.data());
      continue;
    }
    const std::vector<float>& values = model.inputs.at(slot.name);
    pointers.push_back(values.data());
    bindings.inputs[slot.name] = std::vector<double>(values.begin(), values.end());
  }
  bindings.labels["labels"] = model.labels;
  std::vector<float> predictions(static_cast<size_t>(gradient_graph.graph.type(model.prediction).numElements()));
  const rt::StepResult result = runner.gradients(pointers, predictions.data());
  REQUIRE(result.status == kNnspecOk);

  ReferenceEvaluator reference(gradient_graph.graph, bindings);
  reference.evaluate(gradient_graph.graph.size() - 1);
  CHECK_THAT(result.data_loss, Catch::Matchers::WithinRel(reference.scalar(gradient_graph.data_loss), 1e-5));
  checkClose("softmax", predictions, reference.value(model.prediction));
  // Each row of the softmax sums to 1.
  const int64_t width = gradient_graph.graph.type(model.prediction).shape.back();
  for (size_t row = 0; row < predictions.size() / static_cast<size_t>(width); ++row) {
    double sum = 0.0;
    for (int64_t col = 0; col < width; ++col)
      sum += predictions[row * static_cast<size_t>(width) + static_cast<size_t>(col)];
    CHECK_THAT(sum, Catch::Matchers::WithinAbs(1.0, 1e-5));
  }
  for (size_t param_idx = 0; param_idx < gradient_graph.parameters.size(); ++param_idx) {
    const std::string& name = gradient_graph.graph.node(gradient_graph.parameters[param_idx]).attrs.name;
    checkClose("d loss / d " + name, runner.gradient(param_idx), reference.value(gradient_graph.gradients[param_idx]));
  }
}

TEST_CASE("a hidden softmax: JIT'd values and gradients match the double reference, logits near 0 and near 100",
          "[jit]") {
  for (float shift : {0.0f, 100.0f}) {
    INFO("logits shifted by " << shift);
    checkAgainstReference(hiddenSoftmaxMlp(shift, 31));
  }
}

TEST_CASE("softmax over an image's channels: JIT'd values and gradients match the double reference", "[jit]") {
  for (float shift : {0.0f, -100.0f, 100.0f}) {
    INFO("values shifted by " << shift);
    checkAgainstReference(channelSoftmax(shift, 32));
  }
}

}  // namespace
}  // namespace nnspec::testing
