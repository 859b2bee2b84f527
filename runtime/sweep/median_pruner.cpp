#include "runtime/sweep/median_pruner.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nnspec::rt {

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// Optuna's _is_first_in_interval_step: no earlier report since the latest checkpoint.
bool isFirstInInterval(const PrunerSettings& settings, const TrialCurve& current, int epoch) {
  const int checkpoint =
      (epoch - settings.n_warmup_steps) / settings.interval_steps * settings.interval_steps + settings.n_warmup_steps;
  int previous_epoch = -1;
  for (const auto& [reported_epoch, value] : current.values) {
    if (reported_epoch < epoch) previous_epoch = std::max(previous_epoch, reported_epoch);
  }
  return previous_epoch < checkpoint;
}

// The best non-NaN report up to `epoch`, NaN if there is none.
double findBestSoFar(const TrialCurve& current, int epoch, bool minimize) {
  double best = kNan;
  for (const auto& [reported_epoch, value] : current.values) {
    if (reported_epoch > epoch || std::isnan(value)) continue;
    if (std::isnan(best) || (minimize ? value < best : value > best)) best = value;
  }
  return best;
}

}  // namespace

double computeMedian(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double value) { return std::isnan(value); }),
               values.end());
  if (values.empty()) return kNan;
  std::sort(values.begin(), values.end());
  const size_t middle = (values.size() - 1) / 2;
  if (values.size() % 2 == 1) return values[middle];
  // numpy's _lerp at t = 0.5: b - (b - a) * 0.5.
  const double lower = values[middle];
  const double upper = values[middle + 1];
  return upper - (upper - lower) * 0.5;
}

bool shouldPrune(const PrunerSettings& settings, const std::vector<TrialCurve>& completed, const TrialCurve& current,
                 int epoch, bool minimize) {
  if (completed.empty()) return false;
  if (static_cast<int>(completed.size()) < settings.n_startup_trials) return false;
  if (current.values.empty() || current.values.begin()->first > epoch) return false;
  if (epoch < settings.n_warmup_steps) return false;
  if (!isFirstInInterval(settings, current, epoch)) return false;

  const double best = findBestSoFar(current, epoch, minimize);
  if (std::isnan(best)) return true;

  std::vector<double> at_epoch;
  for (const TrialCurve& curve : completed) {
    const auto found = curve.values.find(epoch);
    if (found != curve.values.end()) at_epoch.push_back(found->second);
  }
  if (static_cast<int>(at_epoch.size()) < settings.n_min_trials) return false;
  const double median = computeMedian(std::move(at_epoch));
  if (std::isnan(median)) return false;
  return minimize ? best > median : best < median;
}

}  // namespace nnspec::rt
