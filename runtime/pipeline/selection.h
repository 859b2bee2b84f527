#pragma once
// Selections: which samples of a part a split role uses, as positions into the part.
//
// The runtime mirror of the checker's Selection: a list of ops applied in order to the
// part's positions 0..count-1. `val = train.holdout(...)` arrives as train's ops plus
// a final holdout op; applyHoldoutSelection returns both the shrunk train and the val.
//
// Choices that are ours (sklearn leaves them to a random generator):
//  - stratified counts use sklearn's `_approximate_mode` (floors, then the largest
//    remainders get one more), but ties between equal remainders go to the lower class
//    number instead of a random class;
//  - within a class, take keeps that class's first samples and holdout its last ones;
//  - every result keeps the samples in their order before the op.

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/data/dataset.h"
#include "runtime/pipeline/labels.h"

namespace nnspec::rt {

enum class SelectKind { kShuffle, kTake, kSkip, kHoldout };

struct SelectOp {
  SelectKind kind = SelectKind::kShuffle;
  int64_t n = 0;              // take/skip count, holdout count
  uint64_t seed = 0;          // shuffle
  bool stratified = false;    // take/holdout
  int64_t min_per_class = 0;  // take; when > 0 it decides the counts (stratified is ignored)
};

struct HoldoutSplit {
  std::vector<int64_t> train;  // what stays for fitting, in train's order
  std::vector<int64_t> val;    // the held-out samples, in train's order
};

// Positions selected by `ops` from a part described by `labels`. A holdout op may only
// come last; the result is then the held-out part.
DataResult<std::vector<int64_t>> applySelection(const PartLabels& labels, std::span<const SelectOp> ops);

// `ops` ends with a holdout: the positions of the rest of train and of the val part.
DataResult<HoldoutSplit> applyHoldoutSelection(const PartLabels& labels, std::span<const SelectOp> ops);

// The single steps, on positions into the part.
void shuffleIndices(std::vector<int64_t>& indices, uint64_t seed);  // Fisher–Yates with Rng(seed)
DataResult<std::vector<int64_t>> takeFirst(std::span<const int64_t> indices, int64_t n);
DataResult<std::vector<int64_t>> takeStratified(std::span<const int64_t> indices, const PartLabels& labels, int64_t n);
// Every class at least `min_per_class` times: first the earliest `min_per_class` of each
// class, then the earliest of the rest until there are n.
DataResult<std::vector<int64_t>> takeWithMinPerClass(std::span<const int64_t> indices, const PartLabels& labels,
                                                     int64_t n, int64_t min_per_class);
DataResult<std::vector<int64_t>> skipFirst(std::span<const int64_t> indices, int64_t n);
// val = the last n (stratified: the last n_c of each class c, n_c proportional).
DataResult<HoldoutSplit> holdOut(std::span<const int64_t> indices, const PartLabels& labels, int64_t n,
                                 bool stratified);

// sklearn's `_approximate_mode` without randomness: n draws spread over classes in
// proportion to `class_counts` (sum >= n), floors first, then one more for the largest
// remainders (ties: lower class first). Each result is <= its class count.
std::vector<int64_t> allocateProportionally(std::span<const int64_t> class_counts, int64_t n);

}  // namespace nnspec::rt
