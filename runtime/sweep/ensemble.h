#pragma once
// Ensembles of a point's models (its folds and replicates) on the test set, from each
// model's stored test outputs: a majority vote of the predicted classes (ties go to the
// best single model) or the mean of the outputs.

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

enum class EnsembleKind { kNone, kVote, kMean };

struct EnsembleMember {
  std::vector<float> outputs;  // test rows x width
  double score = 0;            // larger is better: orders the members, the first breaks ties
};

struct EnsembleOutcome {
  std::string metric;  // test.accuracy or test.mse
  double value = 0;
  double best_single = 0;  // the same metric for the best member alone
  size_t members = 0;
};

// The ensemble's class for row `sample` of `members` (best member first): the mean of the
// outputs' argmax, or the majority vote with ties going to the first member's class.
int64_t ensembleClass(const std::vector<EnsembleMember>& members, size_t sample, int64_t width, EnsembleKind kind);

// `members` need at least one entry, each with rows = test.size().
EnsembleOutcome combineMembers(std::vector<EnsembleMember> members, int64_t width, const Dataset& data,
                               const std::vector<int64_t>& test, bool classification, EnsembleKind kind);

}  // namespace nnspec::rt
