#pragma once
// Learning-rate schedules, stepped once per epoch (PyTorch's StepLR, ExponentialLR and
// CosineAnnealingLR with T_max = the trial's epochs). Shared by lowering (which reads
// them from the spec) and the trainer (which applies them).

#include <cstdint>

namespace nnspec::rt {

struct LrSchedule {
  enum class Kind { kConstant, kStep, kExponential, kCosine };
  Kind kind = Kind::kConstant;
  int64_t every = 1;   // step: epochs between decays
  double gamma = 0.1;  // step, exponential: the factor per decay
  double min_lr = 0;   // cosine: the learning rate reached after the last epoch

  bool constant() const { return kind == Kind::kConstant; }
};

// The learning rate of epoch `epoch` (0-based) of `epochs`, starting from `base_lr`:
//   step         base * gamma^floor(epoch / every)
//   exponential  base * gamma^epoch
//   cosine       min + (base - min) * (1 + cos(pi * epoch / epochs)) / 2
double scheduledLr(const LrSchedule& schedule, double base_lr, int64_t epoch, int64_t epochs);

}  // namespace nnspec::rt
