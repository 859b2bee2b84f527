#include "runtime/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace nnspec::rt {

double scheduledLr(const LrSchedule& schedule, double base_lr, int64_t epoch, int64_t epochs) {
  switch (schedule.kind) {
    case LrSchedule::Kind::kConstant:
      return base_lr;
    case LrSchedule::Kind::kStep:
      return base_lr * std::pow(schedule.gamma, static_cast<double>(epoch / std::max<int64_t>(schedule.every, 1)));
    case LrSchedule::Kind::kExponential:
      return base_lr * std::pow(schedule.gamma, static_cast<double>(epoch));
    case LrSchedule::Kind::kCosine: {
      const double span = static_cast<double>(std::max<int64_t>(epochs, 1));
      const double phase = std::numbers::pi * static_cast<double>(epoch) / span;
      return schedule.min_lr + (base_lr - schedule.min_lr) * (1.0 + std::cos(phase)) / 2.0;
    }
  }
  return base_lr;
}

}  // namespace nnspec::rt
