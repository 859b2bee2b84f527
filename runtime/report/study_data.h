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
#include "runtime/sweep/ranking.h"

namespace nnspec::rt {

struct TrialData {
  TrialRow row;
  std::vector<EpochRow> epochs;
  std::vector<OutputInfo> outputs;
  bool hasOutput(const std::string& name) const;
};

struct SweepData {
  SweepRow info;              // from the store, or pieced together from the trials
  bool planned = false;       // info came from the store
  std::string rank_metric;    // the objective, else the first of val.accuracy, test.accuracy, ... present
  bool maximize = true;
  std::vector<PointSummary> points;  // best first (rankSweep); trials index StudyData::trials
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

}  // namespace nnspec::rt
