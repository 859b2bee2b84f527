#pragma once
// A study read back from the store for reports and exports: its plan (when the run
// recorded one), every trial with its epochs and the outputs it kept, and each sweep's
// points ranked like `nnspec run`'s table (mean of the objective over folds and
// replicates; refits of the best point are kept apart).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/store/store.h"

namespace nnspec::rt {

struct TrialData {
  TrialRow row;
  std::vector<EpochRow> epochs;
  std::vector<OutputInfo> outputs;
  bool hasOutput(const std::string& name) const;
};

// `text` with every number of more than 10 characters written with 6 significant
// digits, e.g. "lr=0.00025075000000000005" -> "lr=0.00025075".
std::string readableNumbers(const std::string& text);

struct PointSummary {
  std::string sweep;
  std::string key;                 // the point's params as text ("" for a single point)
  std::vector<Param> params;
  std::vector<size_t> trials;      // into StudyData::trials, folds and replicates (not refits)
  std::map<std::string, std::vector<double>> values;  // final metric -> one value per finished trial
  std::map<int, std::vector<double>> fold_values;      // fold -> the rank metric of its trials
  int64_t finished = 0, failed = 0, pruned = 0, running = 0;
  std::string reason;              // of a failed trial
  int pruned_epoch = 0;
  double seconds = 0;              // training time of its trials
  int rank = 0;                    // 1 = best; 0 when no trial finished

  double mean(const std::string& metric) const;    // NaN when missing
  double stddev(const std::string& metric) const;  // population std (numpy's), 0 for one value
  // For people: "(one point)", and float noise cut ("decay=0.0005005000000000001" -> "decay=0.0005005").
  std::string label() const { return key.empty() ? "(one point)" : readableNumbers(key); }
};

struct SweepData {
  SweepRow info;              // from the store, or pieced together from the trials
  bool planned = false;       // info came from the store
  std::string rank_metric;    // the objective, else the first of val.accuracy, test.accuracy, ... present
  bool maximize = true;
  std::vector<PointSummary> points;  // best first
  std::optional<size_t> refit;       // the refit trial of the best point, if any
  std::vector<std::string> metrics;  // final metrics any trial has, sorted
  std::vector<std::string> param_names;

  std::string label() const { return info.name.empty() ? "results" : info.name; }
  const PointSummary* best() const { return points.empty() || points[0].rank != 1 ? nullptr : &points[0]; }
};

struct StudyData {
  std::string store_path;
  StudyRow study;
  std::optional<StudyInfo> info;
  std::vector<TrialData> trials;
  std::vector<SweepData> sweeps;
  std::vector<StudyRow> other_studies;  // in the same store
  TrialCounts counts;
  double seconds = 0;  // training time of every trial
};

// The study a report is about: `which` is a name or an id; "" means the newest study.
StoreResult<StudyRow> chooseStudy(Store& store, const std::string& which);

StoreResult<StudyData> loadStudy(Store& store, const StudyRow& study);

double meanOf(const std::vector<double>& values);
double stddevOf(const std::vector<double>& values);

}  // namespace nnspec::rt
