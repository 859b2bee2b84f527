#pragma once
// Sweep fusion's plan (compiler/lowering/fuse_points.h): which trials may train together
// in one compiled step and how many at most. Trials of one grid sweep fuse when they
// share a graph (model, batch, training-set size; they may differ in every runtime
// number: learning rate, momentum, L1/L2 factors, weight decay, seed, fold). A group is
// as large as the sweep's `fuse N` or `--fuse N` says; `fuse auto` (the default) takes as
// many trials as keep their steps' working sets (weights, gradients, optimizer state, a
// batch's activations) within a core's share of its largest cache, at most
// kMaxAutoFusion, and fuses nothing when fewer than two fit: a fused step walks every
// point's tensors each step, and trials that no longer fit in the cache together train
// slower fused. (Measured with a 32 MiB L3 shared by 2 cores and 1 MiB of L2 each: steps
// of 1.3 MiB (q3) and 2.9 MiB (lab3) train 1.13-1.35x faster a trial in groups of 2 to
// 8; steps of 8.6 MiB (dat565) 0.93x in pairs and 0.8x in fives.)

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

// The cache a core's fused step may fill: $NNSPEC_CACHE_BYTES when set (for tests), else
// the largest of /sys/devices/system/cpu/cpu0/cache's level-2 and level-3 caches, each
// divided among the cores that share it, else 1 MiB.
struct CacheShare {
  double bytes = 0;
  std::string text;  // "16.0 MiB share of the 32.0 MiB L3 cache of 2 cores"
};
CacheShare cacheShare();

// CPUs in a sysfs cpu list ("0-1", "0-7,16-23", "3"); 0 when it does not parse.
int64_t cpuListSize(const std::string& list);

struct FusionSize {
  int64_t limit = 1;  // trials a group takes at most; 1: no fusion
  std::string why;    // "fuse 4", "auto: 5 trials' steps (2.9 MiB each) fit the 16.0 MiB share of the ...", ...
};

// `requested`: 0 auto, 1 off, N at most N (the sweep's fuse option or --fuse).
FusionSize fusionSize(const TrainConfig& config, int64_t requested);

}  // namespace nnspec::sema
