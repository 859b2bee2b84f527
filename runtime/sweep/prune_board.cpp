#include "runtime/sweep/prune_board.h"

namespace nnspec::rt {

void PruneBoard::load(const TrialRow& row, const std::vector<EpochRow>& epochs) {
  if (row.key.fold < 0) return;  // a refit is judged by no one
  std::lock_guard<std::mutex> lock(mutex_);
  Trial& trial = trials_[{row.key.point_key, row.key.fold, row.key.replicate}];
  for (const EpochRow& epoch : epochs) {
    const auto it = epoch.metrics.find(objective_);
    if (it != epoch.metrics.end()) trial.curve.values[epoch.epoch] = it->second;
  }
  trial.finished = row.status == TrialStatus::kFinished;
  if (row.status == TrialStatus::kPruned) pruned_points_.insert(row.key.point_key);
}

void PruneBoard::finish(const TrialKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  trials_[{key.point_key, key.fold, key.replicate}].finished = true;
}

void PruneBoard::prunePoint(const std::string& point_key) {
  std::lock_guard<std::mutex> lock(mutex_);
  pruned_points_.insert(point_key);
}

bool PruneBoard::pointPruned(const std::string& point_key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pruned_points_.count(point_key) != 0;
}

bool PruneBoard::judge(const TrialKey& key, const EpochRecord& record, int64_t epochs) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pruned_points_.count(key.point_key) != 0) return true;  // another trial of its point was pruned
  const auto it = record.metrics.find(objective_);
  if (it == record.metrics.end()) return false;
  const int epoch = static_cast<int>(record.epoch);
  Trial& trial = trials_[{key.point_key, key.fold, key.replicate}];
  trial.curve.values[epoch] = it->second;
  const bool pruned = judgeLocked(key, epoch, epochs, trial.curve);
  if (pruned) pruned_points_.insert(key.point_key);
  return pruned;
}

bool PruneBoard::judgeLocked(const TrialKey& key, int epoch, int64_t epochs, const TrialCurve& curve) const {
  if (pruner_.kind == PrunerChoice::Kind::kMedian) {
    std::vector<TrialCurve> completed;
    for (const auto& [slot, other] : trials_) {
      const auto& [point, fold, replicate] = slot;
      if (!other.finished || point == key.point_key || fold != key.fold || replicate != key.replicate) continue;
      completed.push_back(other.curve);
    }
    return shouldPrune(pruner_.median, completed, curve, epoch, minimize_);
  }
  if (epoch >= epochs || ashaRung(pruner_.asha, epoch) < 0) return false;
  std::vector<double> at_rung;
  for (const auto& [slot, other] : trials_) {
    const auto& [point, fold, replicate] = slot;
    if (fold != key.fold || replicate != key.replicate) continue;
    const auto found = other.curve.values.find(epoch);
    if (found != other.curve.values.end()) at_rung.push_back(found->second);
  }
  return !ashaPromotes(pruner_.asha, std::move(at_rung), curve.values.at(epoch), minimize_);
}

}  // namespace nnspec::rt
