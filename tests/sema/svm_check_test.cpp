// `model NAME = svm(...)` in the checked spec: the arguments of every sweep point, the
// train block's defaults, fusion and the memory estimate.

#include <catch2/catch.hpp>

#include "compiler/sema/fusion_size.h"
#include "compiler/sema/memory_estimate.h"
#include "tests/sema/check_text.h"

using namespace nnspec;

namespace {

std::optional<sema::CheckedSpec> checkText(const std::string& body, std::string* rendered) {
  const std::string text = "experiment e\n"
                           "data d = fashion_mnist() | scale(1/255)\n"
                           "split train = d.train.shuffle().take(500), test = d.test\n" +
                           body;
  testing::CheckedText checked = testing::checkSpecText(text);
  *rendered = checked.diagnostics;
  return std::move(checked.spec);
}

}  // namespace

TEST_CASE("an svm point carries its kernel, C and gamma; the train block defaults to accuracy", "[sema]") {
  std::string rendered;
  const auto spec = checkText("param C in [1, 100]\n"
                              "model svc = svm(kernel: rbf, C: C, gamma: 0.01)\n"
                              "train t { model svc }\n"
                              "sweep grid(C) cv 5 select max val.accuracy\n",
                              &rendered);
  INFO(rendered);
  REQUIRE(spec.has_value());
  const auto& points = spec->sweeps.at(0).checked;
  REQUIRE(points.size() == 2);
  for (size_t index = 0; index < points.size(); ++index) {
    const sema::TrainConfig& config = points[index].config;
    REQUIRE(config.model.isSvm());
    CHECK(config.model.layers.empty());
    CHECK(config.model.svm->kernel == "rbf");
    CHECK(config.model.svm->c == (index == 0 ? 1.0 : 100.0));
    CHECK(config.model.svm->gamma_rule.empty());
    CHECK(config.model.svm->gamma == 0.01);
    CHECK(config.loss.empty());
    CHECK(config.metrics == std::vector<std::string>{"accuracy"});
    CHECK(config.model.input_shape == sema::Shape{28, 28});
    CHECK_FALSE(sema::fusionBlocker(config).empty());
  }
  CHECK(points[0].config.model.signature() != points[1].config.model.signature());
  CHECK(spec->sweeps.at(0).select_metric == "val.accuracy");
  // libsvm's rows (dense at worst) and its kernel cache of 400 samples, not a network's buffers.
  const double bytes = sema::trialBytes(points[0].config, spec->splits.at(0));
  CHECK(bytes > 16.0 * 500 * 785);
  CHECK(bytes < 16.0 * 500 * 785 + 4.0 * 500 * 500 + 2e6);
}

TEST_CASE("svm defaults are scikit-learn SVC's: rbf, C 1, gamma scale, degree 3, coef0 0, tol 1e-3", "[sema]") {
  std::string rendered;
  const auto spec = checkText("model svc = svm()\ntrain { model svc }\n", &rendered);
  INFO(rendered);
  REQUIRE(spec.has_value());
  const sema::SvmSpec& svm = *spec->sweeps.at(0).checked.at(0).config.model.svm;
  CHECK(svm.kernel == "rbf");
  CHECK(svm.c == 1);
  CHECK(svm.gamma_rule == "scale");
  CHECK(svm.degree == 3);
  CHECK(svm.coef0 == 0);
  CHECK(svm.tol == 1e-3);
  CHECK(svm.describe() == "svm(kernel: rbf, C: 1, gamma: scale, tol: 0.001)");
}

TEST_CASE("an svm's train block rejects network settings and loss metrics", "[sema]") {
  std::string rendered;
  CHECK_FALSE(checkText("model svc = svm(kernel: linear)\ntrain { model svc epochs 3 }\n", &rendered).has_value());
  CHECK(rendered.find("'epochs' does not apply to model 'svc'") != std::string::npos);
  CHECK_FALSE(checkText("model svc = svm()\ntrain { model svc metrics loss }\n", &rendered).has_value());
  CHECK(rendered.find("'loss' does not apply to model 'svc', an svm") != std::string::npos);
  CHECK(checkText("model svc = svm()\ntrain { model svc metrics accuracy, f1_macro, precision_weighted }\n", &rendered)
            .has_value());
}
