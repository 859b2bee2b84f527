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

// What `nnspec run` ranks by when a sweep has no objective: the first of these present.
constexpr const char* kDefaultRankMetrics[] = {"val.accuracy", "test.accuracy", "val.loss", "test.loss", "train.loss"};

bool isMaximized(const std::string& metric) { return metric.find("accuracy") != std::string::npos; }

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

SweepData summarizeSweep(const SweepRow& info, bool planned, const std::vector<TrialData>& trials) {
  SweepData sweep;
  sweep.info = info;
  sweep.planned = planned;
  std::set<std::string> metrics;
  std::vector<std::string> order;
  std::map<std::string, PointSummary> points;
  for (size_t index = 0; index < trials.size(); ++index) {
    const TrialRow& row = trials[index].row;
    if (row.key.sweep != info.name) continue;
    for (const auto& [name, value] : row.final_metrics) metrics.insert(name);
    for (const auto& param : row.params) {
      if (std::find(sweep.param_names.begin(), sweep.param_names.end(), param.name) == sweep.param_names.end()) {
        sweep.param_names.push_back(param.name);
      }
    }
    if (row.key.fold < 0) {
      if (row.status == TrialStatus::kFinished) sweep.refit = index;
      continue;
    }
    if (points.count(row.key.point_key) == 0) {
      order.push_back(row.key.point_key);
      points[row.key.point_key].sweep = info.name;
      points[row.key.point_key].key = row.key.point_key;
    }
    PointSummary& point = points[row.key.point_key];
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
      case TrialStatus::kRunning: ++point.running; break;
    }
  }
  sweep.metrics.assign(metrics.begin(), metrics.end());
  if (!info.objective.empty()) {
    sweep.rank_metric = info.objective;
    sweep.maximize = info.maximize;
  } else {
    sweep.rank_metric = "train.loss";
    sweep.maximize = false;
    for (const char* candidate : kDefaultRankMetrics) {
      if (metrics.count(candidate) != 0) {
        sweep.rank_metric = candidate;
        sweep.maximize = isMaximized(candidate);
        break;
      }
    }
  }
  for (const auto& key : order) {
    PointSummary& point = points[key];
    for (size_t index : point.trials) {
      const TrialRow& row = trials[index].row;
      const auto it = row.final_metrics.find(sweep.rank_metric);
      if (row.status == TrialStatus::kFinished && it != row.final_metrics.end()) {
        point.fold_values[row.key.fold].push_back(it->second);
      }
    }
    sweep.points.push_back(std::move(point));
  }
  const auto score = [&](const PointSummary& point) {
    const double value = point.mean(sweep.rank_metric);
    if (std::isnan(value)) return -std::numeric_limits<double>::infinity();
    return sweep.maximize ? value : -value;
  };
  std::stable_sort(sweep.points.begin(), sweep.points.end(),
                   [&](const PointSummary& a, const PointSummary& b) { return score(a) > score(b); });
  int rank = 0;
  for (auto& point : sweep.points) {
    if (!std::isnan(point.mean(sweep.rank_metric))) point.rank = ++rank;
  }
  // A refit belongs to the best point; keep it only when it is that point's.
  if (sweep.refit && (sweep.best() == nullptr || trials[*sweep.refit].row.key.point_key != sweep.best()->key)) {
    sweep.refit.reset();
  }
  return sweep;
}

}  // namespace

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

bool TrialData::hasOutput(const std::string& name) const {
  return std::any_of(outputs.begin(), outputs.end(), [&](const OutputInfo& output) { return output.name == name; });
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
    }
    trial.row = std::move(row);
    data.trials.push_back(std::move(trial));
  }
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
      if (ran) data.sweeps.push_back(summarizeSweep(sweep, true, data.trials));
    }
  }
  for (const auto& name : unplanned) data.sweeps.push_back(summarizeSweep(sweepFromTrials(name, data.trials), false, data.trials));
  return data;
}

}  // namespace nnspec::rt
