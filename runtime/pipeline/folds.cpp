#include "runtime/pipeline/folds.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace nnspec::rt {

namespace {

DataError foldError(std::string message, std::string hint = "") {
  return DataError{"", std::move(message), std::move(hint)};
}

std::optional<DataError> checkFoldCount(int64_t count, int64_t folds) {
  if (folds < 2) return foldError(fmt::format("cross-validation needs at least 2 folds, not {}", folds));
  if (folds > count) {
    return foldError(fmt::format("cannot make {} folds from {} samples", folds, count),
                     fmt::format("use at most {} folds", count));
  }
  return std::nullopt;
}

// How many p in [0, end) have p % folds == fold.
int64_t countCongruent(int64_t end, int64_t folds, int64_t fold) {
  return end > fold ? (end - fold - 1) / folds + 1 : 0;
}

}  // namespace

DataResult<FoldAssignment> assignKFold(int64_t count, int64_t folds) {
  if (auto error = checkFoldCount(count, folds)) return *error;
  FoldAssignment out;
  out.folds = folds;
  out.fold_of.reserve(static_cast<size_t>(count));
  for (int64_t fold = 0; fold < folds; ++fold) {
    const int64_t size = count / folds + (fold < count % folds ? 1 : 0);
    out.fold_of.insert(out.fold_of.end(), static_cast<size_t>(size), static_cast<int32_t>(fold));
  }
  return out;
}

DataResult<FoldAssignment> assignStratifiedKFold(std::span<const int64_t> indices, const PartLabels& labels,
                                                 int64_t folds) {
  const int64_t count = static_cast<int64_t>(indices.size());
  if (auto error = checkFoldCount(count, folds)) return *error;
  if (!labels.hasClasses() || static_cast<int64_t>(labels.labels.size()) != labels.count) {
    return foldError("stratified folds need class labels, but this data has real-valued targets");
  }
  // Classes numbered by first appearance (sklearn's y_encoded).
  std::vector<int32_t> code_of_label(static_cast<size_t>(labels.num_classes), -1);
  std::vector<int32_t> encoded(indices.size());
  std::vector<int64_t> class_counts;
  for (size_t slot = 0; slot < indices.size(); ++slot) {
    int32_t& code = code_of_label[static_cast<size_t>(labels.labels[static_cast<size_t>(indices[slot])])];
    if (code < 0) {
      code = static_cast<int32_t>(class_counts.size());
      class_counts.push_back(0);
    }
    encoded[slot] = code;
    ++class_counts[static_cast<size_t>(code)];
  }
  const int64_t smallest = *std::min_element(class_counts.begin(), class_counts.end());
  const int64_t largest = *std::max_element(class_counts.begin(), class_counts.end());
  if (largest < folds) {
    return foldError(fmt::format("{} folds need more samples than any class has here (at most {})", folds, largest),
                     fmt::format("use at most {} folds", largest));
  }
  FoldAssignment out;
  out.folds = folds;
  if (smallest < folds) {
    out.warning =
        fmt::format("the least populated class has only {} members, fewer than the {} folds", smallest, folds);
  }
  // Class c covers [start, start + count) of the sorted class sequence; fold f gets the
  // positions congruent to f modulo folds. Each class then fills its folds in blocks.
  std::vector<std::vector<int32_t>> folds_for_class(class_counts.size());
  int64_t start = 0;
  for (size_t code = 0; code < class_counts.size(); ++code) {
    const int64_t end = start + class_counts[code];
    folds_for_class[code].reserve(static_cast<size_t>(class_counts[code]));
    for (int64_t fold = 0; fold < folds; ++fold) {
      const int64_t share = countCongruent(end, folds, fold) - countCongruent(start, folds, fold);
      folds_for_class[code].insert(folds_for_class[code].end(), static_cast<size_t>(share), static_cast<int32_t>(fold));
    }
    start = end;
  }
  std::vector<size_t> next_of_class(class_counts.size(), 0);
  out.fold_of.resize(indices.size());
  for (size_t slot = 0; slot < indices.size(); ++slot) {
    const size_t code = static_cast<size_t>(encoded[slot]);
    out.fold_of[slot] = folds_for_class[code][next_of_class[code]++];
  }
  return out;
}

Fold splitFold(std::span<const int64_t> indices, const FoldAssignment& assignment, int64_t fold) {
  Fold out;
  for (size_t slot = 0; slot < indices.size(); ++slot) {
    (assignment.fold_of[slot] == fold ? out.held_out : out.fit).push_back(indices[slot]);
  }
  return out;
}

DataResult<Fold> selectFold(std::span<const int64_t> indices, const PartLabels& labels, int64_t folds, int64_t fold,
                            bool stratified) {
  auto assignment = stratified ? assignStratifiedKFold(indices, labels, folds)
                               : assignKFold(static_cast<int64_t>(indices.size()), folds);
  if (!assignment.ok()) return assignment.error();
  if (fold < 0 || fold >= folds) return foldError(fmt::format("fold {} is not in 0..{}", fold, folds - 1));
  return splitFold(indices, assignment.value(), fold);
}

}  // namespace nnspec::rt
