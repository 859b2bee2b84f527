// The median pruner with Optuna's MedianPruner semantics.
#include "runtime/sweep/median_pruner.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace {

namespace rt = nnspec::rt;

rt::TrialCurve makeCurve(const std::vector<double>& values, int first_epoch = 0) {
  rt::TrialCurve curve;
  for (size_t index = 0; index < values.size(); ++index)
    curve.values[first_epoch + static_cast<int>(index)] = values[index];
  return curve;
}

// Completed loss curves whose median at every epoch is 1.0 / (epoch + 1).
std::vector<rt::TrialCurve> makeCompleted(int count) {
  std::vector<rt::TrialCurve> curves;
  for (int trial = 0; trial < count; ++trial) {
    std::vector<double> values;
    for (int epoch = 0; epoch < 10; ++epoch) values.push_back((0.5 + 0.25 * trial) / (epoch + 1));
    curves.push_back(makeCurve(values));
  }
  return curves;
}

}  // namespace

TEST_CASE("median pruner: prunes a clearly worse curve once startup trials completed", "[runtime]") {
  const rt::PrunerSettings settings;
  const rt::TrialCurve bad = makeCurve({5.0, 4.0, 3.0});
  CHECK(rt::shouldPrune(settings, makeCompleted(5), bad, 2, true));
  const rt::TrialCurve good = makeCurve({0.1, 0.05, 0.01});
  CHECK_FALSE(rt::shouldPrune(settings, makeCompleted(5), good, 2, true));
}

TEST_CASE("median pruner: never prunes before startup trials complete", "[runtime]") {
  const rt::PrunerSettings settings;
  const rt::TrialCurve bad = makeCurve({5.0, 4.0, 3.0});
  CHECK_FALSE(rt::shouldPrune(settings, {}, bad, 2, true));
  CHECK_FALSE(rt::shouldPrune(settings, makeCompleted(4), bad, 2, true));
  rt::PrunerSettings no_startup;
  no_startup.n_startup_trials = 0;
  CHECK_FALSE(rt::shouldPrune(no_startup, {}, bad, 2, true));
  CHECK(rt::shouldPrune(no_startup, makeCompleted(1), bad, 2, true));
}

TEST_CASE("median pruner: never prunes during warm-up and only on interval steps", "[runtime]") {
  rt::PrunerSettings settings;
  settings.n_warmup_steps = 3;
  const auto completed = makeCompleted(6);
  const rt::TrialCurve bad = makeCurve({9, 9, 9, 9, 9, 9, 9, 9});
  for (int epoch = 0; epoch < 3; ++epoch) CHECK_FALSE(rt::shouldPrune(settings, completed, bad, epoch, true));
  CHECK(rt::shouldPrune(settings, completed, bad, 3, true));
  settings.interval_steps = 2;
  // Checkpoints at 3, 5, 7: epoch 4 follows the report at 3, which already saw checkpoint 3.
  CHECK(rt::shouldPrune(settings, completed, bad, 3, true));
  CHECK_FALSE(rt::shouldPrune(settings, completed, bad, 4, true));
  CHECK(rt::shouldPrune(settings, completed, bad, 5, true));
  // A trial that skipped the checkpoint epoch is checked at its next report.
  rt::TrialCurve sparse;
  sparse.values = {{0, 9}, {2, 9}, {4, 9}, {6, 9}};
  CHECK(rt::shouldPrune(settings, completed, sparse, 4, true));
  CHECK(rt::shouldPrune(settings, completed, sparse, 6, true));
}

TEST_CASE("median pruner: honours the direction", "[runtime]") {
  const rt::PrunerSettings settings;
  std::vector<rt::TrialCurve> accuracies;
  for (int trial = 0; trial < 5; ++trial) accuracies.push_back(makeCurve({0.5 + 0.05 * trial, 0.6 + 0.05 * trial}));
  // Median at epoch 1 is 0.7.
  const rt::TrialCurve low = makeCurve({0.3, 0.4});
  const rt::TrialCurve high = makeCurve({0.8, 0.9});
  CHECK(rt::shouldPrune(settings, accuracies, low, 1, false));
  CHECK_FALSE(rt::shouldPrune(settings, accuracies, high, 1, false));
  CHECK_FALSE(rt::shouldPrune(settings, accuracies, low, 1, true));
  CHECK(rt::shouldPrune(settings, accuracies, high, 1, true));
  // Equal to the median is not worse.
  const double median = accuracies[2].values.at(1);
  CHECK_FALSE(rt::shouldPrune(settings, accuracies, makeCurve({0.6, median}), 1, false));
  CHECK_FALSE(rt::shouldPrune(settings, accuracies, makeCurve({median, median}), 1, true));
}

TEST_CASE("median pruner: ignores steps the completed trials did not report", "[runtime]") {
  const rt::PrunerSettings settings;
  std::vector<rt::TrialCurve> completed = makeCompleted(5);  // epochs 0..9
  // Two short trials with very low losses at epochs 0..2 only.
  completed.push_back(makeCurve({0.001, 0.001, 0.001}));
  completed.push_back(makeCurve({0.001, 0.001, 0.001}));
  // Epoch 5: the median of the five long trials is 1.0 / 6 ~ 0.167 (counting the short ones
  // with their last value would make it 0.125 and prune).
  const rt::TrialCurve current = makeCurve({0.9, 0.5, 0.3, 0.2, 0.16, 0.15});
  CHECK_FALSE(rt::shouldPrune(settings, completed, current, 5, true));
  // Epoch 1: the short trials count: the median of 0.001 0.001 0.25 0.375 0.5 0.625 0.75 is 0.375.
  CHECK(rt::shouldPrune(settings, completed, makeCurve({0.9, 0.5}), 1, true));
  // Nobody reported epoch 20: no median, no pruning.
  rt::TrialCurve late;
  late.values = {{20, 100.0}};
  CHECK_FALSE(rt::shouldPrune(settings, completed, late, 20, true));
}

TEST_CASE("median pruner: compares the best value so far as Optuna does", "[runtime]") {
  const rt::PrunerSettings settings;
  // Median at epoch 2 is 1.0 / 3; this trial's epoch 2 is bad but its epoch 0 beat it.
  const rt::TrialCurve was_good = makeCurve({0.2, 0.9, 0.9});
  CHECK_FALSE(rt::shouldPrune(settings, makeCompleted(5), was_good, 2, true));
}

TEST_CASE("median pruner: NaN reports", "[runtime]") {
  const rt::PrunerSettings settings;
  CHECK(rt::shouldPrune(settings, makeCompleted(5), makeCurve({NAN, NAN}), 1, true));
  CHECK_FALSE(rt::shouldPrune(settings, makeCompleted(5), makeCurve({NAN, 0.01}), 1, true));
  std::vector<rt::TrialCurve> all_nan(5, makeCurve({NAN, NAN}));
  CHECK_FALSE(rt::shouldPrune(settings, all_nan, makeCurve({5.0, 5.0}), 1, true));
}

TEST_CASE("median pruner: the median interpolates like numpy", "[runtime]") {
  CHECK(rt::computeMedian({3.0, 1.0, 2.0}) == 2.0);
  CHECK(rt::computeMedian({4.0, 1.0, 2.0, 3.0}) == 2.5);
  CHECK(rt::computeMedian({1.0, NAN, 3.0}) == 2.0);
  CHECK(std::isnan(rt::computeMedian({})));
}
