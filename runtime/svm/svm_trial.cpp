#include "runtime/svm/svm_trial.h"

#include <chrono>

#include <fmt/format.h>

#include "runtime/train/metrics.h"

namespace nnspec::rt {
namespace {

using Clock = std::chrono::steady_clock;

// accuracy, error and the extra metrics of the predictions on `view` under `prefix`;
// the one-hot rows of the predictions in `kept` when it is given.
void measure(const SvmClassifier& classifier, const DataView& view, const std::string& prefix,
             const SvmTrialSettings& settings, const std::vector<std::string>& extra, std::map<std::string, double>& out,
             std::vector<float>* kept) {
  if (view.empty()) return;
  const std::vector<int32_t> predicted = classifier.predict(*view.data, view.indices, settings.threads);
  std::vector<int32_t> labels;
  labels.reserve(view.indices.size());
  for (int64_t sample : view.indices) {
    labels.push_back(static_cast<int32_t>(view.data->y[static_cast<size_t>(sample * view.data->target_width)]));
  }
  int64_t correct = 0;
  for (size_t row = 0; row < labels.size(); ++row) correct += predicted[row] == labels[row] ? 1 : 0;
  const double accuracy = static_cast<double>(correct) / static_cast<double>(labels.size());
  out[prefix + ".accuracy"] = accuracy;
  out[prefix + ".error"] = 1.0 - accuracy;
  const int64_t classes = settings.classes;
  if (extra.empty() && kept == nullptr) return;
  std::vector<float> scores(labels.size() * static_cast<size_t>(classes), 0.0f);
  for (size_t row = 0; row < predicted.size(); ++row) {
    if (predicted[row] >= 0 && predicted[row] < classes) scores[row * static_cast<size_t>(classes) + predicted[row]] = 1;
  }
  for (const auto& [name, value] : classificationMetrics(scores, labels, classes, extra)) out[prefix + "." + name] = value;
  if (kept != nullptr) *kept = std::move(scores);
}

}  // namespace

TrialResult runSvmTrial(const DataView& fit, const DataView& val, const DataView& test,
                        const SvmTrialSettings& settings) {
  TrialResult result;
  const auto start = Clock::now();
  auto fitted = SvmClassifier::fit(*fit.data, fit.indices, settings.params);
  if (const auto* problem = std::get_if<std::string>(&fitted)) {
    result.end = TrialEnd::kFailed;
    result.failed_epoch = 1;
    result.reason = fmt::format("libsvm could not fit the svm: {}", *problem);
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  }
  const SvmClassifier& classifier = std::get<SvmClassifier>(fitted);
  EpochRecord record;
  record.epoch = 1;
  measure(classifier, fit, "train", settings, {}, record.metrics, nullptr);
  measure(classifier, val, "val", settings, settings.extra_metrics, record.metrics,
          settings.keep_val_predictions ? &result.val_predictions : nullptr);
  measure(classifier, test, "test", settings, settings.extra_metrics, record.metrics,
          settings.keep_test_predictions ? &result.test_predictions : nullptr);
  record.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.seconds = record.seconds;
  result.final_metrics = record.metrics;
  result.epochs.push_back(std::move(record));
  return result;
}

}  // namespace nnspec::rt
