#pragma once
// Asynchronous successive halving (ASHA) as a pruner, with the verdicts of Optuna's
// SuccessiveHalvingPruner (min_early_stopping_rate 0, bootstrap_count 0) and Ray's
// ASHA stopping rule: rungs at epochs min_epochs * reduction^k. A trial that reports its
// objective at a rung goes on iff the value is among the best 1/reduction of the values
// every trial had at that rung so far, its own included: with n values, it must be at
// least as good as the (n / reduction)-th best (the best while n < reduction). A NaN
// value is pruned. Steps are epochs.

#include <vector>

namespace nnspec::rt {

struct AshaSettings {
  int min_epochs = 1;  // >= 1: the first rung
  int reduction = 3;   // >= 2: rungs are this many times apart; the best 1/reduction go on
};

// The rung `epoch` is (0 for min_epochs, 1 for min_epochs * reduction, ...), or -1 when
// it is none.
int ashaRung(const AshaSettings& settings, int epoch);

// Whether a trial with `value` at a rung goes on, given `rung_values`: the values of every
// trial that reached that rung (NaNs are left out), its own included.
bool ashaPromotes(const AshaSettings& settings, std::vector<double> rung_values, double value, bool minimize);

}  // namespace nnspec::rt
