// Whole-model gradient checks of the reference CNNs, built from their spec files by the
// front end and the lowering: the gradient graph autodiff makes, evaluated in double by
// the reference interpreter (tests/jit/cnn_reference.h), against central differences of
// the same graph's total loss (data loss plus L2 penalties), on every parameter tensor.
//
// Kinks: relu and max-pool make the loss piecewise smooth. Inputs are continuous random
// values (no max-pool ties) and the step is small (1e-5, in double), and a coordinate
// whose two evaluations took different relu/max-pool branches (the difference straddles a
// kink, where it means nothing) is skipped and counted; the skips must stay rare.

#include <algorithm>
#include <numeric>
#include <sstream>

#include "tests/jit/cnn_models.h"

namespace nnspec::testing {
namespace {

struct CentralDifferenceOptions {
  size_t samples_per_tensor = 500;  // elements checked per tensor; all of smaller ones
  double step = 1e-5;
  // |numeric - analytic| <= abs + rel * |analytic|: both are double, so the only errors
  // are the difference's truncation (~step^2) and rounding (~1e-16 / step).
  double abs_tolerance = 1e-8;
  double rel_tolerance = 1e-5;
};

struct TensorReport {
  std::string name;
  int checked = 0;
  int skipped = 0;  // straddling a kink
  int failed = 0;
  double max_error = 0.0;
  double max_gradient = 0.0;
  std::string worst;  // the worst failure, for the message
};

std::vector<size_t> sampleElements(size_t count, size_t samples, std::mt19937& rng) {
  std::vector<size_t> elements(count);
  std::iota(elements.begin(), elements.end(), size_t{0});
  if (count <= samples) return elements;
  std::shuffle(elements.begin(), elements.end(), rng);
  elements.resize(samples);
  std::sort(elements.begin(), elements.end());
  return elements;
}

std::vector<TensorReport> checkCentralDifferences(const CnnCase& model, const CentralDifferenceOptions& options) {
  const transforms::GradientGraph& gradient_graph = model.step.graph;
  ReferenceEvaluator reference(gradient_graph.graph, model.bindings());
  reference.evaluate(gradient_graph.graph.size() - 1);
  std::mt19937 rng(7);
  std::vector<TensorReport> reports;
  for (size_t param_idx = 0; param_idx < gradient_graph.parameters.size(); ++param_idx) {
    TensorReport report;
    report.name = model.paramName(param_idx);
    const std::vector<double> analytic = reference.value(gradient_graph.gradients[param_idx]);
    const std::vector<ir::ValueId> affected =
        reference.dependents(gradient_graph.parameters[param_idx], gradient_graph.total_loss);
    std::vector<double>& weights = reference.parameter(report.name);
    for (size_t element : sampleElements(weights.size(), options.samples_per_tensor, rng)) {
      ReferenceEvaluator::Snapshot snapshot = reference.save(affected);
      const double original = weights[element];
      weights[element] = original + options.step;
      reference.evaluateNodes(affected);
      const double upper = reference.scalar(gradient_graph.total_loss);
      const uint64_t upper_branches = reference.branchSignature(affected);
      weights[element] = original - options.step;
      reference.evaluateNodes(affected);
      const double lower = reference.scalar(gradient_graph.total_loss);
      const uint64_t lower_branches = reference.branchSignature(affected);
      weights[element] = original;
      reference.restore(affected, snapshot);
      if (upper_branches != lower_branches) {
        ++report.skipped;
        continue;
      }
      const double numeric = (upper - lower) / (2.0 * options.step);
      const double error = std::abs(numeric - analytic[element]);
      ++report.checked;
      report.max_error = std::max(report.max_error, error);
      report.max_gradient = std::max(report.max_gradient, std::abs(numeric));
      if (error > options.abs_tolerance + options.rel_tolerance * std::abs(analytic[element])) {
        if (report.failed++ == 0) {
          std::ostringstream worst;
          worst << report.name << "[" << element << "]: analytic " << analytic[element] << ", numeric " << numeric;
          report.worst = worst.str();
        }
      }
    }
    reports.push_back(report);
  }
  return reports;
}

// Every tensor checked, no failures, few kink skips (at most one in `skip_ratio` checks).
void requireClean(const std::vector<TensorReport>& reports, size_t parameters, int skip_ratio = 20) {
  REQUIRE(reports.size() == parameters);
  std::ostringstream summary;
  for (const TensorReport& report : reports) {
    summary << report.name << ": " << report.checked << " checked, " << report.skipped << " skipped, max |error| "
            << report.max_error << ", max |gradient| " << report.max_gradient << "\n";
  }
  WARN(summary.str());
  for (const TensorReport& report : reports) {
    INFO(report.name << ": " << report.failed << " of " << report.checked << " outside tolerance; first "
                     << report.worst);
    CHECK(report.failed == 0);
    CHECK(report.checked > 0);
    CHECK(report.skipped * skip_ratio <= report.checked);
    CHECK(report.max_gradient > 0.0);
  }
}

// "name f32[...]" for every parameter, in graph order.
std::vector<std::string> parameterList(const CnnCase& model) {
  std::vector<std::string> list;
  for (ir::ValueId parameter : model.step.graph.parameters) {
    const ir::Node& node = model.graph().node(parameter);
    list.push_back(node.attrs.name + " " + ir::typeString(node.type));
  }
  return list;
}

// total_loss - data_loss, recomputed: Keras' L2, factor * sum(w^2) per regularized kernel.
double expectedPenalty(const CnnCase& model) {
  double penalty = 0.0;
  for (const auto& [name, factor] : model.step.hyper_values) {
    const std::string kernel = name.substr(0, name.rfind('.')) + ".kernel";
    REQUIRE(name.substr(name.rfind('.')) == ".l2");
    for (size_t param_idx = 0; param_idx < model.params.size(); ++param_idx) {
      if (model.paramName(param_idx) != kernel) continue;
      double sum = 0.0;
      for (float weight : model.params[param_idx]) sum += static_cast<double>(weight) * weight;
      penalty += static_cast<double>(factor) * sum;
    }
  }
  return penalty;
}

void checkPenalty(const CnnCase& model) {
  ReferenceEvaluator reference(model.graph(), model.bindings());
  reference.evaluate(model.step.graph.total_loss);
  const double penalty = reference.scalar(model.step.graph.total_loss) - reference.scalar(model.step.graph.data_loss);
  CHECK_THAT(penalty, Catch::Matchers::WithinRel(expectedPenalty(model), 1e-9));
}

TEST_CASE("LeNet-5 of dat565 at batch 3: the gradient graph in double matches central differences", "[autodiff]") {
  CnnCase model = makeCnnCase(lowerSpecSweep("dat565_mnist.nnspec", "lenet", 3), 565);
  CHECK(parameterList(model) == std::vector<std::string>{"conv1.kernel f32[5,5,1,6]", "conv1.bias f32[6]",
                                                         "conv2.kernel f32[5,5,6,16]", "conv2.bias f32[16]",
                                                         "dense1.kernel f32[400,120]", "dense1.bias f32[120]",
                                                         "dense2.kernel f32[120,84]", "dense2.bias f32[84]",
                                                         "dense3.kernel f32[84,10]", "dense3.bias f32[10]"});
  CHECK(hasOp(model.graph(), ir::OpKind::Pad2d));
  CHECK(hasOp(model.graph(), ir::OpKind::AvgPool));
  CHECK(hasOp(model.graph(), ir::OpKind::Dropout));  // training masks: the reference draws the same
  CHECK(model.step.hyper_values ==
        std::vector<std::pair<std::string, float>>{{"dense1.l2", 1e-4f}, {"dense2.l2", 1e-4f}});
  checkPenalty(model);
  requireClean(checkCentralDifferences(model, {}), 10);
}

TEST_CASE("the amath482 CNN at batch 2: the gradient graph in double matches central differences", "[autodiff]") {
  CnnCase model = makeCnnCase(lowerSpecSweep("amath482_fashion.nnspec", "convolutional", 2), 482);
  CHECK(parameterList(model) == std::vector<std::string>{"conv1.kernel f32[5,5,1,10]", "conv1.bias f32[10]",
                                                         "conv2.kernel f32[5,5,10,32]", "conv2.bias f32[32]",
                                                         "conv3.kernel f32[5,5,32,120]", "conv3.bias f32[120]",
                                                         "dense1.kernel f32[120,64]", "dense1.bias f32[64]",
                                                         "dense2.kernel f32[64,10]", "dense2.bias f32[10]"});
  CHECK(hasOp(model.graph(), ir::OpKind::MaxPool));
  CHECK(hasOp(model.graph(), ir::OpKind::Elu));
  CHECK(model.step.hyper_values ==
        std::vector<std::pair<std::string, float>>{{"dense1.l2", 1e-4f}, {"dense2.l2", 1e-4f}});
  checkPenalty(model);
  requireClean(checkCentralDifferences(model, {}), 10);
}

TEST_CASE("LeNet-5 with batch normalization at batch 3: the gradient graph matches central differences", "[autodiff]") {
  CnnCase model = makeCnnCase(
      lowerSpecSweep("dat565_mnist.nnspec", "lenet", 3,
                     {{"  conv2d(16, 5, activation: relu)\n", "  conv2d(16, 5, activation: relu)\n  batchnorm()\n"},
                      {"  dense(84, relu, l2: 1e-4)\n", "  dense(84, relu, l2: 1e-4)\n  batchnorm()\n"}}),
      566);
  CHECK(hasOp(model.graph(), ir::OpKind::TrainSelect));
  CHECK(hasOp(model.graph(), ir::OpKind::Sqrt));
  // gamma and beta of each batchnorm are trainable; the moving statistics are states.
  CHECK(parameterList(model).size() == 14);
  CHECK(model.states.size() == 4);
  // A bias before a batchnorm shifts a whole channel (every row and column of every
  // image) across relu's kink at once, so small tensors see a skip more often.
  // A bias right before a batchnorm has a zero gradient (the batch mean removes it): its
  // analytic value is rounding noise ~1e-8, hence the looser absolute tolerance.
  CentralDifferenceOptions options;
  options.abs_tolerance = 1e-7;
  requireClean(checkCentralDifferences(model, options), 14, 8);
}

// The skips above are only trustworthy if a straddled kink is seen: with a large step,
// relu (LeNet) and max-pool (the amath482 CNN, whose elu has no kink) branches change.
TEST_CASE("central differences across relu or max-pool branch changes are detected and skipped", "[autodiff]") {
  CentralDifferenceOptions coarse;
  coarse.samples_per_tensor = 10;
  coarse.step = 0.5;
  for (auto [spec, sweep] :
       {std::pair{"dat565_mnist.nnspec", "lenet"}, std::pair{"amath482_fashion.nnspec", "convolutional"}}) {
    CnnCase model = makeCnnCase(lowerSpecSweep(spec, sweep, 2), 11);
    int skipped = 0;
    for (const TensorReport& report : checkCentralDifferences(model, coarse)) skipped += report.skipped;
    INFO(spec);
    CHECK(skipped > 0);
  }
}

}  // namespace
}  // namespace nnspec::testing
