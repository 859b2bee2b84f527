#include "runtime/sweep/asha_pruner.h"

#include <algorithm>
#include <cmath>

namespace nnspec::rt {

int ashaRung(const AshaSettings& settings, int epoch) {
  int rung = 0;
  for (long long at = settings.min_epochs; at <= epoch; at *= settings.reduction, ++rung) {
    if (at == epoch) return rung;
  }
  return -1;
}

bool ashaPromotes(const AshaSettings& settings, std::vector<double> rung_values, double value, bool minimize) {
  if (std::isnan(value)) return false;
  rung_values.erase(std::remove_if(rung_values.begin(), rung_values.end(), [](double v) { return std::isnan(v); }),
                    rung_values.end());
  if (rung_values.empty()) return true;
  // Optuna's _is_trial_promotable_to_next_rung: index n / reduction - 1 of the sorted
  // values, best first (0 when that is -1).
  const long long promotable = std::max<long long>(
      0, static_cast<long long>(rung_values.size()) / settings.reduction - 1);
  std::sort(rung_values.begin(), rung_values.end());
  if (minimize) return value <= rung_values[static_cast<size_t>(promotable)];
  return value >= rung_values[rung_values.size() - 1 - static_cast<size_t>(promotable)];
}

}  // namespace nnspec::rt
