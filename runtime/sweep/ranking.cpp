#include "runtime/sweep/ranking.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include <fmt/format.h>

namespace nnspec::rt {
namespace {

// Adds one trial row to its point's summary.
void addTrial(PointSummary& point, const TrialRow& row, size_t index) {
  point.params = row.params;
  point.trials.push_back(index);
  point.seconds += row.seconds.value_or(0);
  switch (row.status) {
    case TrialStatus::kFinished:
      ++point.finished;
      for (const auto& [name, value] : row.final_metrics) point.values[name].push_back(value);
      break;
    case TrialStatus::kFailed:
      ++point.failed;
      point.reason = row.reason;
      break;
    case TrialStatus::kPruned:
      ++point.pruned;
      point.pruned_epoch = row.end_epoch.value_or(0);
      break;
    case TrialStatus::kTimedOut:
      // Its kept epochs' figures are shown, but the point is not ranked with complete ones.
      ++point.timed_out;
      point.timed_out_epochs = row.end_epoch.value_or(0);
      for (const auto& [name, value] : row.final_metrics) point.values[name].push_back(value);
      break;
    case TrialStatus::kRunning:
    case TrialStatus::kQueued:  // not run yet: pending like a running one
      ++point.running;
      break;
  }
}

// The objective, else the first default metric a finished trial of the sweep has.
std::pair<std::string, bool> rankMetric(const std::string& objective, bool maximize,
                                        const std::vector<PointSummary>& points) {
  if (!objective.empty()) return {objective, maximize};
  for (const char* candidate : kDefaultRankMetrics) {
    for (const auto& point : points) {
      if (point.values.count(candidate) != 0) return {candidate, maximizedMetric(candidate)};
    }
  }
  return {"train.loss", false};
}

}  // namespace

bool maximizedMetric(const std::string& metric) { return metric.find("accuracy") != std::string::npos; }

std::string readableNumbers(const std::string& text) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    const char c = text[at];
    const bool starts = std::isdigit(static_cast<unsigned char>(c)) &&
                        (at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1])));
    if (!starts) {
      out += c;
      ++at;
      continue;
    }
    char* end = nullptr;
    const double number = std::strtod(text.c_str() + at, &end);
    const size_t length = static_cast<size_t>(end - (text.c_str() + at));
    out += length > 10 ? fmt::format("{:.6g}", number) : text.substr(at, length);
    at += std::max<size_t>(length, 1);
  }
  return out;
}

double meanOf(const std::vector<double>& values) {
  if (values.empty()) return std::nan("");
  double sum = 0;
  for (double value : values) sum += value;
  return sum / static_cast<double>(values.size());
}

double stddevOf(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  const double mean = meanOf(values);
  double sum = 0;
  for (double value : values) sum += (value - mean) * (value - mean);
  return std::sqrt(sum / static_cast<double>(values.size()));
}

double PointSummary::mean(const std::string& metric) const {
  const auto it = values.find(metric);
  return it == values.end() ? std::nan("") : meanOf(it->second);
}

double PointSummary::stddev(const std::string& metric) const {
  const auto it = values.find(metric);
  return it == values.end() ? std::nan("") : stddevOf(it->second);
}

const PointSummary* SweepRanking::bestComplete() const {
  for (const auto& point : points) {
    if (point.complete()) return &point;
  }
  return nullptr;
}

SweepRanking rankSweep(const std::string& sweep, const std::vector<TrialRow>& rows, const std::string& objective,
                       bool maximize, const std::vector<std::string>& point_order) {
  std::vector<PointSummary> points;
  std::map<std::string, size_t> by_key;
  auto pointOf = [&](const std::string& key) -> PointSummary& {
    const auto [it, added] = by_key.emplace(key, points.size());
    if (added) {
      PointSummary point;
      point.sweep = sweep;
      point.key = key;
      points.push_back(std::move(point));
    }
    return points[it->second];
  };
  for (const auto& key : point_order) pointOf(key);
  for (size_t index = 0; index < rows.size(); ++index) {
    const TrialRow& row = rows[index];
    if (row.key.sweep != sweep || row.key.fold < 0) continue;
    addTrial(pointOf(row.key.point_key), row, index);
  }
  SweepRanking ranking;
  std::tie(ranking.metric, ranking.maximize) = rankMetric(objective, maximize, points);
  for (auto& point : points) {
    for (size_t index : point.trials) {
      const TrialRow& row = rows[index];
      const auto it = row.final_metrics.find(ranking.metric);
      if (row.status == TrialStatus::kFinished && it != row.final_metrics.end()) {
        point.fold_values[row.key.fold].push_back(it->second);
      }
    }
  }
  // A point with a pruned or timed-out trial is ranked as such (after the complete ones),
  // not as a finished point with fewer folds.
  const auto unranked = [](const PointSummary& point) { return point.pruned > 0 || point.timed_out > 0; };
  const auto score = [&](const PointSummary& point) {
    if (unranked(point)) return -std::numeric_limits<double>::infinity();
    const double value = point.mean(ranking.metric);
    if (std::isnan(value)) return -std::numeric_limits<double>::infinity();
    return ranking.maximize ? value : -value;
  };
  std::stable_sort(points.begin(), points.end(),
                   [&](const PointSummary& a, const PointSummary& b) { return score(a) > score(b); });
  int rank = 0;
  for (auto& point : points) {
    if (!unranked(point) && !std::isnan(point.mean(ranking.metric))) point.rank = ++rank;
  }
  ranking.points = std::move(points);
  // A refit belongs to the best point; keep it only when it is that point's.
  const PointSummary* best = ranking.best();
  for (size_t index = 0; index < rows.size() && best != nullptr; ++index) {
    const TrialRow& row = rows[index];
    if (row.key.sweep == sweep && row.key.fold < 0 && row.status == TrialStatus::kFinished &&
        row.key.point_key == best->key) {
      ranking.refit = index;
    }
  }
  return ranking;
}

}  // namespace nnspec::rt
