// The libsvm wrapper (runtime/svm): fitting, predicting, gamma rules and the one-epoch
// trial result.

#include <catch2/catch.hpp>

#include <random>
#include <variant>

#include "runtime/svm/svm_classifier.h"
#include "runtime/svm/svm_trial.h"

namespace nnspec::rt {
namespace {

// Two features; class 0 around (-1, -1), class 1 around (1, 1), class 2 around (1, -1):
// separable by any of the kernels.
Dataset threeBlobs() {
  Dataset data;
  data.sample_shape = {2};
  data.num_classes = 3;
  const float centers[3][2] = {{-1, -1}, {1, 1}, {1, -1}};
  const float offsets[4][2] = {{0.1f, 0.0f}, {-0.1f, 0.05f}, {0.0f, -0.1f}, {0.05f, 0.1f}};
  for (int label = 0; label < 3; ++label) {
    for (const auto& offset : offsets) {
      data.x.push_back(centers[label][0] + offset[0]);
      data.x.push_back(centers[label][1] + offset[1]);
      data.y.push_back(static_cast<float>(label));
      ++data.count;
    }
  }
  return data;
}

std::vector<int64_t> allOf(const Dataset& data) {
  std::vector<int64_t> indices;
  for (int64_t index = 0; index < data.count; ++index) indices.push_back(index);
  return indices;
}

// Overlapping classes in 20 dimensions with many zero inputs (as images have): a fit with
// many support vectors and decision values near 0.
Dataset noisyClasses(int64_t count, uint32_t seed) {
  Dataset data;
  data.sample_shape = {4, 5};
  data.num_classes = 4;
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.8f);
  std::uniform_int_distribution<int> label_of(0, 3);
  for (int64_t sample = 0; sample < count; ++sample) {
    const int label = label_of(rng);
    for (int feature = 0; feature < 20; ++feature) {
      const float value = (feature % 4 == label ? 1.0f : 0.0f) + noise(rng);
      data.x.push_back(value < 0.2f ? 0.0f : value);
    }
    data.y.push_back(static_cast<float>(label));
    ++data.count;
  }
  return data;
}

}  // namespace

TEST_CASE("an svm's block prediction equals libsvm's svm_predict for every kernel", "[svm]") {
  const Dataset train = noisyClasses(300, 7);
  const Dataset test = noisyClasses(700, 8);
  for (SvmKernel kernel : {SvmKernel::kRbf, SvmKernel::kLinear, SvmKernel::kPoly, SvmKernel::kSigmoid}) {
    SvmParams params;
    params.kernel = kernel;
    params.c = 3;
    params.coef0 = kernel == SvmKernel::kSigmoid ? -1 : 0.5;
    params.gamma_rule = kernel == SvmKernel::kSigmoid ? SvmGamma::kAuto : SvmGamma::kScale;
    auto fitted = SvmClassifier::fit(train, allOf(train), params);
    REQUIRE(std::holds_alternative<SvmClassifier>(fitted));
    const auto& classifier = std::get<SvmClassifier>(fitted);
    CHECK(classifier.supportVectors() > 50);
    const std::vector<int32_t> reference = classifier.predictWithLibsvm(test, allOf(test));
    CHECK(classifier.predict(test, allOf(test), 1) == reference);
    CHECK(classifier.predict(test, allOf(test), 3) == reference);
  }
}

TEST_CASE("an svm fits a separable three-class problem and predicts every sample right", "[svm]") {
  const Dataset data = threeBlobs();
  for (SvmKernel kernel : {SvmKernel::kRbf, SvmKernel::kLinear, SvmKernel::kPoly}) {
    SvmParams params;
    params.kernel = kernel;
    params.c = 10;
    params.gamma_rule = SvmGamma::kValue;
    params.gamma = 0.5;
    params.coef0 = 1;
    auto fitted = SvmClassifier::fit(data, allOf(data), params);
    REQUIRE(std::holds_alternative<SvmClassifier>(fitted));
    const auto& classifier = std::get<SvmClassifier>(fitted);
    const std::vector<int32_t> predicted = classifier.predict(data, allOf(data), 2);
    for (int64_t index = 0; index < data.count; ++index) CHECK(predicted[index] == static_cast<int32_t>(data.y[index]));
    CHECK(classifier.supportVectors() >= 3);
    CHECK(classifier.supportVectors() <= data.count);
  }
}

TEST_CASE("an svm predicts held-out points by their side of the margin", "[svm]") {
  const Dataset data = threeBlobs();
  SvmParams params;
  params.c = 10;
  auto fitted = SvmClassifier::fit(data, allOf(data), params);
  REQUIRE(std::holds_alternative<SvmClassifier>(fitted));
  Dataset probes;
  probes.sample_shape = {2};
  probes.x = {-0.8f, -1.2f, 1.3f, 0.9f, 0.9f, -1.3f};
  probes.y = {0, 1, 2};
  probes.count = 3;
  const auto predicted = std::get<SvmClassifier>(fitted).predict(probes, {0, 1, 2});
  CHECK(predicted == std::vector<int32_t>{0, 1, 2});
}

TEST_CASE("svm gamma: scale is 1 / (features x variance), auto 1 / features, a value itself", "[svm]") {
  Dataset data;
  data.sample_shape = {2};
  data.x = {0, 2, 2, 0};  // mean 1, variance 1
  data.y = {0, 1};
  data.count = 2;
  SvmParams params;
  params.gamma_rule = SvmGamma::kScale;
  CHECK_THAT(svmGamma(params, data, {0, 1}), Catch::Matchers::WithinRel(0.5, 1e-12));
  params.gamma_rule = SvmGamma::kAuto;
  CHECK_THAT(svmGamma(params, data, {0, 1}), Catch::Matchers::WithinRel(0.5, 1e-12));
  data.x = {0, 4, 4, 0};  // variance 4
  params.gamma_rule = SvmGamma::kScale;
  CHECK_THAT(svmGamma(params, data, {0, 1}), Catch::Matchers::WithinRel(0.125, 1e-12));
  params.gamma_rule = SvmGamma::kValue;
  params.gamma = 0.01;
  CHECK_THAT(svmGamma(params, data, {0, 1}), Catch::Matchers::WithinRel(0.01, 1e-12));
}

TEST_CASE("an svm fit that libsvm rejects is a message, not a crash", "[svm]") {
  const Dataset data = threeBlobs();
  SvmParams params;
  params.c = -1;
  auto fitted = SvmClassifier::fit(data, allOf(data), params);
  REQUIRE(std::holds_alternative<std::string>(fitted));
  CHECK(std::get<std::string>(fitted).find("C <= 0") != std::string::npos);
  CHECK(std::holds_alternative<std::string>(SvmClassifier::fit(data, {}, SvmParams{})));
}

TEST_CASE("an svm trial is one epoch with accuracy, error and held-out metrics, and one-hot predictions", "[svm]") {
  const Dataset data = threeBlobs();
  SvmTrialSettings settings;
  settings.params.c = 10;
  settings.classes = 3;
  settings.extra_metrics = {"f1_macro"};
  settings.keep_test_predictions = true;
  const DataView fit{&data, {0, 1, 2, 4, 5, 6, 8, 9, 10}};
  const DataView test{&data, {3, 7, 11}};
  const TrialResult result = runSvmTrial(fit, {}, test, settings);
  REQUIRE(result.end == TrialEnd::kFinished);
  REQUIRE(result.epochs.size() == 1);
  CHECK(result.epochs[0].epoch == 1);
  CHECK_THAT(result.final_metrics.at("train.accuracy"), Catch::Matchers::WithinAbs(1.0, 1e-12));
  CHECK_THAT(result.final_metrics.at("test.accuracy"), Catch::Matchers::WithinAbs(1.0, 1e-12));
  CHECK_THAT(result.final_metrics.at("test.error"), Catch::Matchers::WithinAbs(0.0, 1e-12));
  CHECK_THAT(result.final_metrics.at("test.f1_macro"), Catch::Matchers::WithinAbs(1.0, 1e-12));
  CHECK(result.final_metrics.count("train.loss") == 0);
  CHECK(result.final_metrics.count("val.accuracy") == 0);
  CHECK(result.test_predictions == std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1});
}

TEST_CASE("an svm trial that libsvm cannot fit fails with the reason", "[svm]") {
  const Dataset data = threeBlobs();
  SvmTrialSettings settings;
  settings.params.c = 0;
  settings.classes = 3;
  const TrialResult result = runSvmTrial(DataView{&data, {0, 4, 8}}, {}, {}, settings);
  CHECK(result.end == TrialEnd::kFailed);
  CHECK(result.reason.find("libsvm could not fit the svm") != std::string::npos);
}

}  // namespace nnspec::rt
