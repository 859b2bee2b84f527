#pragma once
// The class labels of one part of a data set, as the selections, folds and batches
// need them: one int32 per sample, or none for real-valued targets.

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

struct PartLabels {
  int64_t count = 0;            // samples in the part
  int64_t num_classes = 0;      // 0 for real-valued (regression) targets
  std::vector<int32_t> labels;  // count entries in [0, num_classes); empty when num_classes == 0

  bool hasClasses() const { return num_classes > 0; }
};

// Labels of `data`: its targets when they are one column of class numbers, the
// position of the largest value of each row when they are one-hot (target_width ==
// num_classes > 1), none when num_classes == 0. Fails on a label outside the classes.
DataResult<PartLabels> labelsOf(const Dataset& data);

// How many samples of each class `positions` (indices into the part) hold.
std::vector<int64_t> countClasses(const PartLabels& labels, std::span<const int64_t> positions);

}  // namespace nnspec::rt
