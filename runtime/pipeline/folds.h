#pragma once
// K-fold cross-validation splits of a training index vector, with scikit-learn's
// semantics for KFold(shuffle=False) and StratifiedKFold(shuffle=False).
//
// KFold: contiguous folds; the first n % k folds hold n / k + 1 samples, the rest n / k.
// StratifiedKFold: sklearn's own allocation (since 0.22), reproduced exactly: classes
// are numbered in order of first appearance, the sorted class sequence is dealt out
// round-robin to the k folds to decide how many of each class every fold gets, and each
// class's samples go to folds 0, 1, ... in blocks of those sizes, in index order.
// Differences from sklearn: there is no shuffle option (shuffle the selection itself
// with shuffle(seed) before the folds), and sklearn's "least populated class has only m
// members" UserWarning comes back as FoldAssignment::warning instead of being printed.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/data/dataset.h"
#include "runtime/pipeline/labels.h"

namespace nnspec::rt {

// Which fold holds each position of a training index vector out.
struct FoldAssignment {
  int64_t folds = 0;
  std::vector<int32_t> fold_of;  // one entry per position, in [0, folds)
  std::string warning;           // "" or why some folds lack a class
};

// One fold: positions into the part, both in the training vector's order.
struct Fold {
  std::vector<int64_t> fit;
  std::vector<int64_t> held_out;
};

DataResult<FoldAssignment> assignKFold(int64_t count, int64_t folds);
DataResult<FoldAssignment> assignStratifiedKFold(std::span<const int64_t> indices, const PartLabels& labels,
                                                 int64_t folds);

// Fold `fold` of `indices` under `assignment` (fold < assignment.folds).
Fold splitFold(std::span<const int64_t> indices, const FoldAssignment& assignment, int64_t fold);

// assign + split in one call.
DataResult<Fold> selectFold(std::span<const int64_t> indices, const PartLabels& labels, int64_t folds, int64_t fold,
                            bool stratified);

}  // namespace nnspec::rt
