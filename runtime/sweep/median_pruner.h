#pragma once
// The median pruner, with the semantics of Optuna's MedianPruner (a PercentilePruner at
// the 50th percentile) and its defaults: n_startup_trials = 5, n_warmup_steps = 0,
// interval_steps = 1, n_min_trials = 1. Steps are epochs.
//
// When a running trial has reported its value for epoch `epoch`, it is pruned iff
//  - at least n_startup_trials trials have completed (running and pruned trials do not
//    count, and none at all never prunes),
//  - epoch >= n_warmup_steps,
//  - epoch is the first report at or after the latest pruning checkpoint
//    (n_warmup_steps + a multiple of interval_steps) — with interval 1, every epoch,
//  - and the trial's best value so far (min or max over its reports up to `epoch`,
//    NaNs ignored) is worse than the median of the completed trials' values at exactly
//    `epoch` (trials that did not report `epoch` are left out; NaNs ignored; fewer than
//    n_min_trials reports, or only NaNs, never prune). "Worse": above the median when
//    minimising, below it when maximising; equal is not worse.
//  A trial whose every report is NaN is pruned once the other conditions hold.
// Optuna compares the best value so far, not the value at `epoch` itself: a trial that
// was good early and has a bad epoch keeps running.

#include <map>
#include <vector>

namespace nnspec::rt {

struct PrunerSettings {
  int n_startup_trials = 5;
  int n_warmup_steps = 0;
  int interval_steps = 1;  // >= 1
  int n_min_trials = 1;    // >= 1
};

// One trial's per-epoch objective: epoch -> reported value.
struct TrialCurve {
  std::map<int, double> values;
};

// `completed`: the curves of the study's completed trials (not running, not pruned).
// `current`: the running trial's curve, holding its report for `epoch`.
bool shouldPrune(const PrunerSettings& settings, const std::vector<TrialCurve>& completed, const TrialCurve& current,
                 int epoch, bool minimize);

// numpy's nanpercentile(values, 50) (linear interpolation): NaN when empty or all NaN.
double computeMedian(std::vector<double> values);

}  // namespace nnspec::rt
