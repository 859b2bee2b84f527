#pragma once
// What the pruners of one sweep know of its trials, shared by the trials a process runs
// at once: each trial's objective per epoch, which trials finished, and which points were
// pruned. Filled from the store when the sweep starts (the runs and workers before), then
// by this process's reports as the epochs end. Thread-safe.
//
// How pruning meets folds and replicates: a trial is judged against the trials of the
// same fold and replicate of other points (the median of those finished at the epoch; at
// an asha rung, the values of those that reached it), and a pruned trial prunes its point:
// the point's other trials are judged pruned at their next epoch and the ones not started
// are dropped.

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/store/store.h"
#include "runtime/sweep/asha_pruner.h"
#include "runtime/sweep/median_pruner.h"
#include "runtime/train/epoch_record.h"

namespace nnspec::rt {

// The pruner of a sweep: the median pruner's settings or asha's.
struct PrunerChoice {
  enum class Kind { kMedian, kAsha } kind = Kind::kMedian;
  PrunerSettings median;
  AshaSettings asha;
};

class PruneBoard {
 public:
  PruneBoard(PrunerChoice pruner, std::string objective, bool minimize)
      : pruner_(pruner), objective_(std::move(objective)), minimize_(minimize) {}

  // A trial as the store holds it: its status and per-epoch metrics.
  void load(const TrialRow& row, const std::vector<EpochRow>& epochs);
  // A trial finished (its curve then counts for the median pruner).
  void finish(const TrialKey& key);
  void prunePoint(const std::string& point_key);
  bool pointPruned(const std::string& point_key) const;

  // The verdict on trial `key` after `record` of its `epochs`: true prunes it (and its
  // point). Records the value first, so later trials see it. asha judges only at rungs
  // below `epochs` (a trial at its last epoch has trained all it will).
  bool judge(const TrialKey& key, const EpochRecord& record, int64_t epochs);

 private:
  using Slot = std::tuple<std::string, int, int>;  // point, fold, replicate
  struct Trial {
    TrialCurve curve;
    bool finished = false;
  };
  bool judgeLocked(const TrialKey& key, int epoch, int64_t epochs, const TrialCurve& curve) const;

  const PrunerChoice pruner_;
  const std::string objective_;
  const bool minimize_;
  mutable std::mutex mutex_;
  std::map<Slot, Trial> trials_;
  std::set<std::string> pruned_points_;
};

}  // namespace nnspec::rt
