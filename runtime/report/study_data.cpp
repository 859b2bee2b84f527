#include "runtime/report/study_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <set>

namespace nnspec::rt {
namespace {

// A sweep that the store has no plan of (an older store): what its trials tell.
SweepRow sweepFromTrials(const std::string& name, const std::vector<TrialData>& trials) {
  SweepRow row;
  row.name = name;
  row.method = "grid";
  std::set<std::string> seen_points;
  int64_t folds = 1, replicates = 1;
  for (const auto& trial : trials) {
    if (trial.row.key.sweep != name) continue;
    seen_points.insert(trial.row.key.point_key);
    folds = std::max<int64_t>(folds, trial.row.key.fold + 1);
    replicates = std::max<int64_t>(replicates, trial.row.key.replicate + 1);
    if (trial.row.key.point_key.rfind("#", 0) == 0) row.method = "sampled";
  }
  row.folds = folds;
  row.replicates = replicates;
  row.trials = static_cast<int64_t>(seen_points.size()) * folds * replicates;
  return row;
}

SweepData summarizeSweep(const SweepRow& info, bool planned,
                         const std::vector<TrialRow>& rows) {
  SweepData sweep;
  sweep.info = info;
  sweep.planned = planned;
  std::set<std::string> metrics;
  for (const TrialRow& row : rows) {
    if (row.key.sweep != info.name) continue;
    for (const auto& [name, value] : row.final_metrics) metrics.insert(name);
    for (const auto& param : row.params) {
      if (std::find(sweep.param_names.begin(), sweep.param_names.end(), param.name) == sweep.param_names.end()) {
        sweep.param_names.push_back(param.name);
      }
    }
  }
  sweep.metrics.assign(metrics.begin(), metrics.end());
  SweepRanking ranking = rankSweep(info.name, rows, info.objective, info.maximize);
  sweep.rank_metric = ranking.metric;
  sweep.maximize = ranking.maximize;
  sweep.points = std::move(ranking.points);
  sweep.refit = ranking.refit;
  return sweep;
}

}  // namespace

bool TrialData::hasOutput(const std::string& name) const {
  return std::any_of(outputs.begin(), outputs.end(), [&](const OutputInfo& output) { return output.name == name; });
}

StoreResult<StudyRow> chooseStudy(Store& store, const std::string& which) {
  auto studies = store.listStudies();
  if (!studies.ok()) return studies.error();
  if (studies.value().empty()) {
    return StoreError{store.path(), "the store holds no study yet", "run a spec with `nnspec run FILE --store PATH` first"};
  }
  if (which.empty()) return studies.value().back();
  std::string names;
  for (auto it = studies.value().rbegin(); it != studies.value().rend(); ++it) {
    if (it->name == which || std::to_string(it->id) == which) return *it;
    names += fmt::format("{}{} (id {})", names.empty() ? "" : ", ", it->name, it->id);
  }
  return StoreError{store.path(), fmt::format("no study named '{}'", which),
                    fmt::format("pass --study with one of: {}", names)};
}

StoreResult<StudyData> loadStudy(Store& store, const StudyRow& study) {
  StudyData data;
  data.store_path = store.path();
  data.study = study;
  auto studies = store.listStudies();
  if (!studies.ok()) return studies.error();
  for (const auto& other : studies.value()) {
    if (other.id != study.id) data.other_studies.push_back(other);
  }
  auto info = store.readStudyInfo(study.id);
  if (!info.ok()) return info.error();
  data.info = std::move(info.value());
  auto rows = store.listTrials(study.id);
  if (!rows.ok()) return rows.error();
  for (auto& row : rows.value()) {
    TrialData trial;
    auto epochs = store.listEpochs(TrialHandle{row.id});
    if (!epochs.ok()) return epochs.error();
    auto outputs = store.listOutputs(TrialHandle{row.id});
    if (!outputs.ok()) return outputs.error();
    trial.epochs = std::move(epochs.value());
    trial.outputs = std::move(outputs.value());
    data.seconds += row.seconds.value_or(0);
    switch (row.status) {
      case TrialStatus::kRunning: ++data.counts.running; break;
      case TrialStatus::kFinished: ++data.counts.finished; break;
      case TrialStatus::kFailed: ++data.counts.failed; break;
      case TrialStatus::kPruned: ++data.counts.pruned; break;
      case TrialStatus::kQueued: ++data.counts.queued; break;
      case TrialStatus::kTimedOut: ++data.counts.timed_out; break;
    }
    trial.row = std::move(row);
    data.trials.push_back(std::move(trial));
  }
  std::vector<TrialRow> trial_rows;  // in the order of data.trials, as the ranking indexes them
  for (const auto& trial : data.trials) trial_rows.push_back(trial.row);
  std::vector<std::string> names;
  if (data.info) {
    for (const auto& sweep : data.info->sweeps) names.push_back(sweep.name);
  }
  std::vector<std::string> unplanned;
  for (const auto& trial : data.trials) {
    const std::string& name = trial.row.key.sweep;
    if (std::find(names.begin(), names.end(), name) == names.end() &&
        std::find(unplanned.begin(), unplanned.end(), name) == unplanned.end()) {
      unplanned.push_back(name);
    }
  }
  if (data.info) {
    for (const auto& sweep : data.info->sweeps) {
      // A sweep planned in an earlier run of some other sweeps and never run is left out.
      const bool ran = std::any_of(data.trials.begin(), data.trials.end(),
                                   [&](const TrialData& trial) { return trial.row.key.sweep == sweep.name; });
      if (ran) data.sweeps.push_back(summarizeSweep(sweep, true, trial_rows));
    }
  }
  for (const auto& name : unplanned) data.sweeps.push_back(summarizeSweep(sweepFromTrials(name, data.trials), false, trial_rows));
  return data;
}

}  // namespace nnspec::rt
