#pragma once
// The one ranking of a sweep's points, used by the run's table, the scheduler (which point
// is refit and ensembled) and the report: a point's score is the mean of the rank metric
// over its finished trials (folds and replicates; refits are kept apart), best first; a
// point with a pruned or timed-out trial is not ranked (listed after the ranked ones); the
// rank metric is the sweep's objective, else the first of kDefaultRankMetrics any trial has.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/store/store.h"

namespace nnspec::rt {

// Never a test figure: ranking by the test set is selecting on it (the leak an explicit
// `select ... test.*` is rejected for). Without validation, the points rank by a
// training figure, and the tables say so.
inline constexpr std::array<const char*, 4> kDefaultRankMetrics = {"val.accuracy", "val.loss", "train.accuracy",
                                                                   "train.loss"};

// Whether a larger value of `metric` is better (accuracies).
bool maximizedMetric(const std::string& metric);

// `text` with every number of more than 10 characters written with 6 significant
// digits, e.g. "lr=0.00025075000000000005" -> "lr=0.00025075".
std::string readableNumbers(const std::string& text);

double meanOf(const std::vector<double>& values);    // NaN when empty
double stddevOf(const std::vector<double>& values);  // population std (numpy's), 0 for one value

struct PointSummary {
  std::string sweep;
  std::string key;                 // the point's params as text ("" for a single point)
  std::vector<Param> params;
  std::vector<size_t> trials;      // into the ranked rows: folds and replicates (not refits)
  std::map<std::string, std::vector<double>> values;  // final metric -> one value per finished trial
  std::map<int, std::vector<double>> fold_values;      // fold -> the rank metric of its trials
  int64_t finished = 0, failed = 0, pruned = 0, running = 0, timed_out = 0;
  std::string reason;              // of a failed trial
  int pruned_epoch = 0;
  int timed_out_epochs = 0;        // the epochs a timed-out trial kept
  double seconds = 0;              // training time of its trials
  int rank = 0;                    // 1 = best; 0 when no finished trial has the rank metric

  double mean(const std::string& metric) const;    // NaN when missing
  double stddev(const std::string& metric) const;  // NaN when missing
  // Every trial of the point finished with the rank metric: it may be refit or ensembled.
  bool complete() const { return rank > 0 && failed == 0 && pruned == 0 && running == 0 && timed_out == 0; }
  // For people: "(one point)", and float noise cut ("decay=0.0005005000000000001" -> "decay=0.0005005").
  std::string label() const { return key.empty() ? "(one point)" : readableNumbers(key); }
};

struct SweepRanking {
  std::string metric;
  bool maximize = true;
  std::vector<PointSummary> points;  // best first; unranked points last, in listing order
  std::optional<size_t> refit;       // the finished refit trial of the best point, if any

  const PointSummary* best() const { return points.empty() || points[0].rank != 1 ? nullptr : &points[0]; }
  // The best point whose every trial finished: the one a sweep refits and ensembles.
  const PointSummary* bestComplete() const;
};

// Ranks the points of sweep `sweep` among `rows` (a study's trials; others are skipped).
// `objective` "" ranks by the default metrics. `point_order` lists points first in that
// order (a grid's, even those with no trial yet); points only the rows have follow in the
// order they first appear. Equal scores keep that order.
SweepRanking rankSweep(const std::string& sweep, const std::vector<TrialRow>& rows, const std::string& objective,
                       bool maximize, const std::vector<std::string>& point_order = {});

}  // namespace nnspec::rt
