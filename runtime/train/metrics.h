#pragma once
// Metrics of a model's outputs on held-out data beyond loss and accuracy, as
// scikit-learn defines them: precision, recall and F1 per class with their macro average
// (over the classes that occur in the labels or the predictions, sklearn's default) and
// their weighted average (by each class's count in the labels); top-k accuracy; one-vs-rest
// ROC AUC averaged over the classes present (roc_auc_score(multi_class="ovr"), on the
// softmax probabilities); R² for regressions (r2_score, averaged over the outputs).
// Names: precision_macro, precision_weighted, recall_macro, recall_weighted, f1_macro,
// f1_weighted, top2_accuracy .. top<classes>_accuracy, auc_ovr (classifiers); r2
// (regressions).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nnspec::rt {

// Whether `name` (without its part, e.g. "f1_macro") is one of these metrics.
bool isExtraMetric(const std::string& name);
// For a classifier (true) or a regression (false)?
bool extraMetricForClasses(const std::string& name);
// k of "top<k>_accuracy"; nullopt for another name.
std::optional<int64_t> topK(const std::string& name);
// Whether larger is better (accuracy, F1, AUC, R²...; not loss, error, mse, mae).
bool metricMaximized(const std::string& name);

// Per-class figures of a classifier's outputs (the report's per-class table).
struct ClassFigures {
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;  // samples of each class in the labels
};
ClassFigures classFigures(const std::vector<float>& scores, const std::vector<int32_t>& labels, int64_t classes);

// `wanted` (names as above) from every sample's scores (rows x classes logits) and label.
std::map<std::string, double> classificationMetrics(const std::vector<float>& scores, const std::vector<int32_t>& labels,
                                                    int64_t classes, const std::vector<std::string>& wanted);

// R² of `outputs` against `targets` (rows x width each), averaged over the outputs.
double rSquared(const std::vector<float>& outputs, const std::vector<float>& targets, int64_t width);

}  // namespace nnspec::rt
