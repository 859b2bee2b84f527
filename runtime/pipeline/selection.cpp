#include "runtime/pipeline/selection.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <string>

#include "runtime/pipeline/random.h"

namespace nnspec::rt {

namespace {

DataError selectionError(std::string message, std::string hint = "") {
  return DataError{"", std::move(message), std::move(hint)};
}

std::optional<DataError> requireClasses(const PartLabels& labels, const char* what) {
  if (labels.hasClasses() && static_cast<int64_t>(labels.labels.size()) == labels.count) return std::nullopt;
  return selectionError(fmt::format("{} needs class labels, but this data has real-valued targets", what));
}

std::optional<DataError> requireCount(const char* what, int64_t n, int64_t available) {
  if (n < 0) return selectionError(fmt::format("{}({}) needs a count of at least 0", what, n));
  if (n <= available) return std::nullopt;
  return selectionError(fmt::format("{}({}) needs {} samples, but only {} are left here", what, n, n, available),
                        fmt::format("use at most {}", available));
}

int32_t labelAt(const PartLabels& labels, int64_t position) { return labels.labels[static_cast<size_t>(position)]; }

// The samples of `indices` whose flag is set, in order.
std::vector<int64_t> keepFlagged(std::span<const int64_t> indices, const std::vector<char>& flags, bool wanted) {
  std::vector<int64_t> out;
  for (size_t slot = 0; slot < indices.size(); ++slot) {
    if ((flags[slot] != 0) == wanted) out.push_back(indices[slot]);
  }
  return out;
}

}  // namespace

std::vector<int64_t> allocateProportionally(std::span<const int64_t> class_counts, int64_t n) {
  const int64_t total = std::accumulate(class_counts.begin(), class_counts.end(), int64_t{0});
  std::vector<int64_t> allocation(class_counts.size(), 0);
  if (total == 0) return allocation;
  // Exact rational remainders: count * n = floor * total + remainder.
  std::vector<int64_t> remainder(class_counts.size(), 0);
  int64_t given = 0;
  for (size_t cls = 0; cls < class_counts.size(); ++cls) {
    // Sample counts stay far below 2^31, so the product fits in 64 bits.
    const int64_t product = class_counts[cls] * n;
    allocation[cls] = product / total;
    remainder[cls] = product % total;
    given += allocation[cls];
  }
  std::vector<size_t> order(class_counts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return remainder[a] > remainder[b]; });
  for (size_t rank = 0; rank < order.size() && given < n; ++rank) {
    if (remainder[order[rank]] == 0) break;
    ++allocation[order[rank]];
    ++given;
  }
  return allocation;
}

void shuffleIndices(std::vector<int64_t>& indices, uint64_t seed) {
  Rng rng(seed);
  for (size_t last = indices.size(); last > 1; --last) {
    const size_t pick = static_cast<size_t>(rng.uniformBelow(last));
    std::swap(indices[last - 1], indices[pick]);
  }
}

DataResult<std::vector<int64_t>> takeFirst(std::span<const int64_t> indices, int64_t n) {
  if (auto error = requireCount("take", n, static_cast<int64_t>(indices.size()))) return *error;
  return std::vector<int64_t>(indices.begin(), indices.begin() + n);
}

DataResult<std::vector<int64_t>> skipFirst(std::span<const int64_t> indices, int64_t n) {
  if (auto error = requireCount("skip", n, static_cast<int64_t>(indices.size()))) return *error;
  return std::vector<int64_t>(indices.begin() + n, indices.end());
}

DataResult<std::vector<int64_t>> takeStratified(std::span<const int64_t> indices, const PartLabels& labels, int64_t n) {
  if (auto error = requireClasses(labels, "take(stratified: true)")) return *error;
  if (auto error = requireCount("take", n, static_cast<int64_t>(indices.size()))) return *error;
  const std::vector<int64_t> counts = countClasses(labels, indices);
  std::vector<int64_t> wanted = allocateProportionally(counts, n);
  std::vector<char> chosen(indices.size(), 0);
  for (size_t slot = 0; slot < indices.size(); ++slot) {
    int64_t& left = wanted[static_cast<size_t>(labelAt(labels, indices[slot]))];
    if (left == 0) continue;
    --left;
    chosen[slot] = 1;
  }
  return keepFlagged(indices, chosen, true);
}

DataResult<std::vector<int64_t>> takeWithMinPerClass(std::span<const int64_t> indices, const PartLabels& labels,
                                                     int64_t n, int64_t min_per_class) {
  if (auto error = requireClasses(labels, "take(min_per_class: ...)")) return *error;
  if (auto error = requireCount("take", n, static_cast<int64_t>(indices.size()))) return *error;
  if (min_per_class * labels.num_classes > n) {
    return selectionError(fmt::format("{} classes x {} per class need {} samples, but take({}) keeps {}",
                                      labels.num_classes, min_per_class, labels.num_classes * min_per_class, n, n));
  }
  const std::vector<int64_t> counts = countClasses(labels, indices);
  for (size_t cls = 0; cls < counts.size(); ++cls) {
    if (counts[cls] < min_per_class) {
      return selectionError(
          fmt::format("class {} has {} samples here, fewer than min_per_class: {}", cls, counts[cls], min_per_class),
          "lower min_per_class or select from more data");
    }
  }
  std::vector<int64_t> taken_per_class(counts.size(), 0);
  std::vector<char> chosen(indices.size(), 0);
  int64_t taken = 0;
  for (size_t slot = 0; slot < indices.size(); ++slot) {
    int64_t& taken_here = taken_per_class[static_cast<size_t>(labelAt(labels, indices[slot]))];
    if (taken_here == min_per_class) continue;
    ++taken_here;
    chosen[slot] = 1;
    ++taken;
  }
  for (size_t slot = 0; slot < indices.size() && taken < n; ++slot) {
    if (chosen[slot] != 0) continue;
    chosen[slot] = 1;
    ++taken;
  }
  return keepFlagged(indices, chosen, true);
}

DataResult<HoldoutSplit> holdOut(std::span<const int64_t> indices, const PartLabels& labels, int64_t n,
                                 bool stratified) {
  const int64_t size = static_cast<int64_t>(indices.size());
  if (n < 1) return selectionError(fmt::format("holdout({}) must hold out at least 1 sample", n));
  if (n >= size) {
    return selectionError(fmt::format("holdout of {} leaves no training data from {} samples", n, size),
                          "hold out fewer samples");
  }
  std::vector<char> held(indices.size(), 0);
  if (!stratified) {
    std::fill(held.end() - n, held.end(), 1);
  } else {
    if (auto error = requireClasses(labels, "holdout(stratified: true)")) return *error;
    std::vector<int64_t> wanted = allocateProportionally(countClasses(labels, indices), n);
    for (size_t slot = indices.size(); slot-- > 0;) {
      int64_t& left = wanted[static_cast<size_t>(labelAt(labels, indices[slot]))];
      if (left == 0) continue;
      --left;
      held[slot] = 1;
    }
  }
  return HoldoutSplit{keepFlagged(indices, held, false), keepFlagged(indices, held, true)};
}

namespace {

// Runs every op before a final holdout; `holdout` gets that op, if any.
DataResult<std::vector<int64_t>> applyUntilHoldout(const PartLabels& labels, std::span<const SelectOp> ops,
                                                   const SelectOp** holdout) {
  std::vector<int64_t> indices(static_cast<size_t>(labels.count));
  std::iota(indices.begin(), indices.end(), int64_t{0});
  for (size_t step = 0; step < ops.size(); ++step) {
    const SelectOp& op = ops[step];
    if (op.kind == SelectKind::kHoldout) {
      if (step + 1 != ops.size()) return selectionError("holdout(...) must be the last step of a selection");
      *holdout = &op;
      break;
    }
    if (op.kind == SelectKind::kShuffle) {
      shuffleIndices(indices, op.seed);
      continue;
    }
    DataResult<std::vector<int64_t>> next = op.kind == SelectKind::kSkip ? skipFirst(indices, op.n)
                                            : op.min_per_class > 0
                                                ? takeWithMinPerClass(indices, labels, op.n, op.min_per_class)
                                            : op.stratified ? takeStratified(indices, labels, op.n)
                                                            : takeFirst(indices, op.n);
    if (!next.ok()) return next.error();
    indices = std::move(next.value());
  }
  return indices;
}

}  // namespace

DataResult<std::vector<int64_t>> applySelection(const PartLabels& labels, std::span<const SelectOp> ops) {
  const SelectOp* holdout = nullptr;
  auto indices = applyUntilHoldout(labels, ops, &holdout);
  if (!indices.ok() || holdout == nullptr) return indices;
  auto split = holdOut(indices.value(), labels, holdout->n, holdout->stratified);
  if (!split.ok()) return split.error();
  return std::move(split.value().val);
}

DataResult<HoldoutSplit> applyHoldoutSelection(const PartLabels& labels, std::span<const SelectOp> ops) {
  const SelectOp* holdout = nullptr;
  auto indices = applyUntilHoldout(labels, ops, &holdout);
  if (!indices.ok()) return indices.error();
  if (holdout == nullptr) return selectionError("this selection has no holdout(...) step");
  return holdOut(indices.value(), labels, holdout->n, holdout->stratified);
}

}  // namespace nnspec::rt
