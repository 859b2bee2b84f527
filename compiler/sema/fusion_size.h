#pragma once
// Sweep fusion's plan (compiler/lowering/fuse_points.h): which trials may train together
// in one compiled step and how many at most. Trials of one grid sweep fuse when they
// share a graph (model, batch, training-set size; they may differ in every runtime
// number: learning rate, momentum, L1/L2 factors, weight decay, seed, fold). A group is
// as large as the sweep's `fuse N` or `--fuse N` says; `fuse auto` (the default) takes as
// many trials as keep their steps' working sets (weights, gradients, optimizer state, a
// batch's activations) within the machine's L2 cache, at most kMaxAutoFusion, and
// fuses nothing when fewer than two fit: a fused step walks every point's tensors each
// step, and trials that no longer fit in the cache together train slower fused.

#include <cstdint>
#include <string>

#include "compiler/sema/checked_spec.h"

namespace nnspec::sema {

inline constexpr int64_t kMaxAutoFusion = 8;
inline constexpr int64_t kMaxFusion = 64;

// Why trials of `config` never fuse ("" when they may).
std::string fusionBlocker(const TrainConfig& config);

// Bytes a trial's step works through every step: its weights, their gradients and
// optimizer state, and one batch's activations and their gradients.
double fusedPointBytes(const TrainConfig& config);

// This machine's L2 cache per core: $NNSPEC_CACHE_BYTES when set (for tests), else
// /sys/devices/system/cpu/cpu0/cache (the unified level-2 cache), else 1 MiB.
double cacheBytes();

struct FusionSize {
  int64_t limit = 1;  // trials a group takes at most; 1: no fusion
  std::string why;    // "fuse 4", "auto: 5 trials' steps (190 KiB each) fit the 1 MiB L2 cache", ...
};

// `requested`: 0 auto, 1 off, N at most N (the sweep's fuse option or --fuse).
FusionSize fusionSize(const TrainConfig& config, int64_t requested);

}  // namespace nnspec::sema
