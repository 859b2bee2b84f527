// The held-out metrics (runtime/train/metrics.h) against scikit-learn 1.2's values for the
// same inputs (precision/recall/f1_score with zero_division=0, top_k_accuracy_score,
// roc_auc_score one class against the rest on softmax probabilities, r2_score), computed
// once by hand-run Python and written here.
#include <catch2/catch.hpp>

#include "runtime/train/metrics.h"

using nnspec::rt::classificationMetrics;

TEST_CASE("metrics: precision, recall, F1, top-k and AUC as scikit-learn computes them", "[metrics]") {
  // 12 samples, 4 classes; class 3 is neither a label nor a prediction (left out of the
  // macro averages, as sklearn's labels=None does).
  const std::vector<float> logits = {
      2.04f,  -2.56f, 0.42f,  -0.57f, -0.45f, -0.22f, -2.02f, -0.23f, -0.87f, 3.32f,  0.23f,  -0.35f,
      -0.28f, -0.67f, -1.06f, -0.39f, 0.48f,  -0.24f, 0.96f,  -0.2f,  0.02f,  1.55f,  0.55f,  -0.51f,
      -0.18f, 0.54f,  1.94f,  -0.27f, -0.24f, 1.0f,   -0.89f, -0.29f, 0.88f,  0.58f,  0.09f,  0.67f,
      -2.83f, 1.02f,  -0.96f, -1.67f, 0.28f,  0.7f,   -0.44f, -1.08f, 0.03f,  -0.05f, 1.41f,  0.75f};
  const std::vector<int32_t> labels = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0};
  const auto got = classificationMetrics(logits, labels, 4,
                                         {"precision_macro", "recall_macro", "f1_macro", "precision_weighted",
                                          "recall_weighted", "f1_weighted", "top2_accuracy", "auc_ovr"});
  CHECK(got.at("precision_macro") == Approx(0.38888888888888884).epsilon(1e-12));
  CHECK(got.at("recall_macro") == Approx(0.3833333333333333).epsilon(1e-12));
  CHECK(got.at("f1_macro") == Approx(0.3666666666666667).epsilon(1e-12));
  CHECK(got.at("precision_weighted") == Approx(0.4444444444444444).epsilon(1e-12));
  CHECK(got.at("recall_weighted") == Approx(0.4166666666666667).epsilon(1e-12));
  CHECK(got.at("f1_weighted") == Approx(0.4083333333333334).epsilon(1e-12));
  CHECK(got.at("top2_accuracy") == Approx(0.5833333333333334).epsilon(1e-12));
  // Classes 0..2 (class 3 has no positive sample, so no AUC), from float32 logits.
  CHECK(got.at("auc_ovr") == Approx(0.4529210758377425).epsilon(1e-9));
  CHECK(nnspec::rt::metricMaximized("val.f1_macro"));
  CHECK_FALSE(nnspec::rt::metricMaximized("val.loss"));
  CHECK(nnspec::rt::topK("top7_accuracy") == 7);
  CHECK_FALSE(nnspec::rt::topK("top1_accuracy").has_value());
}

TEST_CASE("metrics: R² averaged over the outputs as scikit-learn's r2_score", "[metrics]") {
  const std::vector<float> targets = {1, 2, 2, 1, 3, 5, 4, 3};
  const std::vector<float> outputs = {1.1f, 2.5f, 1.9f, 0.5f, 3.2f, 4.0f, 3.7f, 3.5f};
  CHECK(nnspec::rt::rSquared(outputs, targets, 2) == Approx(0.885).epsilon(1e-6));
}
