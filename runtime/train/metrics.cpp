#include "runtime/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace nnspec::rt {
namespace {

const std::vector<std::string> kAveraged = {"precision_macro", "precision_weighted", "recall_macro",
                                            "recall_weighted", "f1_macro",           "f1_weighted"};

int64_t argmax(const float* row, int64_t classes) {
  int64_t best = 0;
  for (int64_t k = 1; k < classes; ++k) {
    if (row[k] > row[best]) best = k;
  }
  return best;
}

// One-vs-rest AUC of class `positive` from probabilities: the Mann-Whitney U statistic
// with tied scores given their average rank; nullopt when the class or its rest is absent.
std::optional<double> classAuc(const std::vector<double>& probability, const std::vector<int32_t>& labels,
                               int32_t positive) {
  const size_t rows = labels.size();
  std::vector<size_t> order(rows);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probability[a] < probability[b]; });
  double positive_rank_sum = 0;
  int64_t positives = 0;
  for (size_t start = 0; start < rows;) {
    size_t end = start;
    while (end < rows && probability[order[end]] == probability[order[start]]) ++end;
    const double rank = (static_cast<double>(start + 1) + static_cast<double>(end)) / 2.0;  // 1-based average
    for (size_t index = start; index < end; ++index) {
      if (labels[order[index]] == positive) {
        positive_rank_sum += rank;
        ++positives;
      }
    }
    start = end;
  }
  const int64_t negatives = static_cast<int64_t>(rows) - positives;
  if (positives == 0 || negatives == 0) return std::nullopt;
  const double u = positive_rank_sum - static_cast<double>(positives) * static_cast<double>(positives + 1) / 2.0;
  return u / (static_cast<double>(positives) * static_cast<double>(negatives));
}

}  // namespace

std::optional<int64_t> topK(const std::string& name) {
  const std::string prefix = "top";
  const std::string suffix = "_accuracy";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 4 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return std::nullopt;
  const int64_t k = std::stoll(digits);
  if (k < 2 || digits[0] == '0') return std::nullopt;
  return k;
}

bool isExtraMetric(const std::string& name) {
  return std::find(kAveraged.begin(), kAveraged.end(), name) != kAveraged.end() || name == "auc_ovr" ||
         name == "r2" || topK(name).has_value();
}

bool extraMetricForClasses(const std::string& name) { return name != "r2"; }

bool metricMaximized(const std::string& name) {
  const std::string metric = name.substr(name.find('.') == std::string::npos ? 0 : name.find('.') + 1);
  return metric.find("accuracy") != std::string::npos || isExtraMetric(metric);
}

ClassFigures classFigures(const std::vector<float>& scores, const std::vector<int32_t>& labels, int64_t classes) {
  ClassFigures figures;
  const size_t count = static_cast<size_t>(classes);
  std::vector<int64_t> predicted(count, 0), correct(count, 0);
  figures.support.assign(count, 0);
  for (size_t row = 0; row < labels.size(); ++row) {
    const int64_t guess = argmax(scores.data() + static_cast<int64_t>(row) * classes, classes);
    const int32_t label = labels[row];
    if (label < 0 || label >= classes) continue;
    ++predicted[static_cast<size_t>(guess)];
    ++figures.support[static_cast<size_t>(label)];
    if (guess == label) ++correct[static_cast<size_t>(label)];
  }
  for (size_t k = 0; k < count; ++k) {
    // sklearn's zero_division=0: a class never predicted has precision 0, never present recall 0.
    const double precision = predicted[k] == 0 ? 0.0 : static_cast<double>(correct[k]) / static_cast<double>(predicted[k]);
    const double recall =
        figures.support[k] == 0 ? 0.0 : static_cast<double>(correct[k]) / static_cast<double>(figures.support[k]);
    figures.precision.push_back(precision);
    figures.recall.push_back(recall);
    figures.f1.push_back(precision + recall == 0 ? 0.0 : 2 * precision * recall / (precision + recall));
  }
  // Which classes count in a macro average: those in the labels or the predictions.
  for (size_t k = 0; k < count; ++k) {
    if (figures.support[k] == 0 && predicted[k] == 0) figures.precision[k] = figures.recall[k] = figures.f1[k] = NAN;
  }
  return figures;
}

std::map<std::string, double> classificationMetrics(const std::vector<float>& scores, const std::vector<int32_t>& labels,
                                                    int64_t classes, const std::vector<std::string>& wanted) {
  std::map<std::string, double> out;
  if (labels.empty() || classes <= 0) return out;
  const ClassFigures figures = classFigures(scores, labels, classes);
  const double total = static_cast<double>(labels.size());
  auto average = [&](const std::vector<double>& values, bool weighted) {
    double sum = 0, weight = 0;
    for (size_t k = 0; k < values.size(); ++k) {
      if (std::isnan(values[k])) continue;  // a class neither present nor predicted
      const double w = weighted ? static_cast<double>(figures.support[k]) : 1.0;
      sum += w * values[k];
      weight += w;
    }
    return weight == 0 ? 0.0 : sum / weight;
  };
  for (const std::string& name : wanted) {
    if (name == "precision_macro") out[name] = average(figures.precision, false);
    if (name == "precision_weighted") out[name] = average(figures.precision, true);
    if (name == "recall_macro") out[name] = average(figures.recall, false);
    if (name == "recall_weighted") out[name] = average(figures.recall, true);
    if (name == "f1_macro") out[name] = average(figures.f1, false);
    if (name == "f1_weighted") out[name] = average(figures.f1, true);
    if (const auto k = topK(name)) {
      int64_t hits = 0;
      for (size_t row = 0; row < labels.size(); ++row) {
        const float* scores_row = scores.data() + static_cast<int64_t>(row) * classes;
        const int32_t label = labels[row];
        if (label < 0 || label >= classes) continue;
        // The label is among the top k when fewer than k classes score higher (ties
        // before it in class order count as higher, as a stable sort by score would).
        int64_t above = 0;
        for (int64_t c = 0; c < classes; ++c) {
          if (scores_row[c] > scores_row[label] || (scores_row[c] == scores_row[label] && c < label)) ++above;
        }
        hits += above < *k ? 1 : 0;
      }
      out[name] = static_cast<double>(hits) / total;
    }
    if (name == "auc_ovr") {
      // Softmax probabilities, in double precision.
      std::vector<std::vector<double>> probability(static_cast<size_t>(classes), std::vector<double>(labels.size()));
      for (size_t row = 0; row < labels.size(); ++row) {
        const float* logits = scores.data() + static_cast<int64_t>(row) * classes;
        double top = logits[0];
        for (int64_t c = 1; c < classes; ++c) top = std::max(top, static_cast<double>(logits[c]));
        double sum = 0;
        for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(logits[c]) - top);
        for (int64_t c = 0; c < classes; ++c)
          probability[static_cast<size_t>(c)][row] = std::exp(static_cast<double>(logits[c]) - top) / sum;
      }
      double sum = 0;
      int64_t counted = 0;
      for (int64_t c = 0; c < classes; ++c) {
        if (const auto auc = classAuc(probability[static_cast<size_t>(c)], labels, static_cast<int32_t>(c))) {
          sum += *auc;
          ++counted;
        }
      }
      out[name] = counted == 0 ? NAN : sum / static_cast<double>(counted);
    }
  }
  return out;
}

double rSquared(const std::vector<float>& outputs, const std::vector<float>& targets, int64_t width) {
  if (width <= 0 || targets.empty()) return NAN;
  const int64_t rows = static_cast<int64_t>(targets.size()) / width;
  double sum = 0;
  for (int64_t column = 0; column < width; ++column) {
    double mean = 0;
    for (int64_t row = 0; row < rows; ++row) mean += targets[static_cast<size_t>(row * width + column)];
    mean /= static_cast<double>(rows);
    double residual = 0, spread = 0;
    for (int64_t row = 0; row < rows; ++row) {
      const double target = targets[static_cast<size_t>(row * width + column)];
      const double difference = target - outputs[static_cast<size_t>(row * width + column)];
      residual += difference * difference;
      spread += (target - mean) * (target - mean);
    }
    // sklearn: a constant target scores 1 when predicted exactly, else 0.
    sum += spread == 0 ? (residual == 0 ? 1.0 : 0.0) : 1.0 - residual / spread;
  }
  return sum / static_cast<double>(width);
}

}  // namespace nnspec::rt
