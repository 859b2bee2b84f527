// K-fold and stratified k-fold splits with scikit-learn's semantics.
#include "runtime/pipeline/folds.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <set>
#include <vector>

#include "runtime/data/sources.h"
#include "runtime/pipeline/labels.h"
#include "runtime/pipeline/selection.h"

namespace {

namespace rt = nnspec::rt;

rt::PartLabels handLabels(std::vector<int32_t> labels, int64_t num_classes) {
  rt::PartLabels out;
  out.count = static_cast<int64_t>(labels.size());
  out.num_classes = num_classes;
  out.labels = std::move(labels);
  return out;
}

std::vector<int64_t> iota(int64_t count, int64_t first = 0) {
  std::vector<int64_t> out(static_cast<size_t>(count));
  std::iota(out.begin(), out.end(), first);
  return out;
}

// Held-out folds are disjoint, cover `indices` exactly once, and each fit set is the rest.
void checkPartition(const std::vector<int64_t>& indices, const std::vector<rt::Fold>& folds) {
  std::vector<int64_t> covered;
  for (const auto& fold : folds) {
    covered.insert(covered.end(), fold.held_out.begin(), fold.held_out.end());
    CHECK(fold.fit.size() + fold.held_out.size() == indices.size());
    std::set<int64_t> fit(fold.fit.begin(), fold.fit.end());
    for (const int64_t sample : fold.held_out) CHECK(fit.count(sample) == 0);
  }
  std::vector<int64_t> expected = indices;
  std::sort(expected.begin(), expected.end());
  std::sort(covered.begin(), covered.end());
  CHECK(covered == expected);
}

std::vector<rt::Fold> allFolds(const std::vector<int64_t>& indices, const rt::FoldAssignment& assignment) {
  std::vector<rt::Fold> folds;
  for (int64_t fold = 0; fold < assignment.folds; ++fold) folds.push_back(rt::splitFold(indices, assignment, fold));
  return folds;
}

}  // namespace

TEST_CASE("folds: k-fold has sklearn's contiguous fold sizes", "[runtime]") {
  const std::vector<int64_t> indices = iota(10, 100);
  auto assignment = rt::assignKFold(10, 3);
  REQUIRE(assignment.ok());
  const auto folds = allFolds(indices, assignment.value());
  REQUIRE(folds.size() == 3);
  CHECK(folds[0].held_out == std::vector<int64_t>{100, 101, 102, 103});
  CHECK(folds[1].held_out == std::vector<int64_t>{104, 105, 106});
  CHECK(folds[2].held_out == std::vector<int64_t>{107, 108, 109});
  CHECK(folds[1].fit == std::vector<int64_t>{100, 101, 102, 103, 107, 108, 109});
  checkPartition(indices, folds);
}

TEST_CASE("folds: k-fold covers every index once for many sizes", "[runtime]") {
  for (int64_t count = 5; count < 40; count += 7) {
    for (int64_t k = 2; k <= 5; ++k) {
      std::vector<int64_t> indices = iota(count);
      rt::shuffleIndices(indices, static_cast<uint64_t>(count * 10 + k));
      auto assignment = rt::assignKFold(count, k);
      REQUIRE(assignment.ok());
      const auto folds = allFolds(indices, assignment.value());
      checkPartition(indices, folds);
      for (int64_t fold = 0; fold < k; ++fold) {
        CHECK(static_cast<int64_t>(folds[static_cast<size_t>(fold)].held_out.size()) ==
              count / k + (fold < count % k ? 1 : 0));
      }
    }
  }
}

TEST_CASE("folds: fold counts are checked", "[runtime]") {
  auto too_many = rt::assignKFold(3, 5);
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().message == "cannot make 5 folds from 3 samples");
  CHECK_FALSE(rt::assignKFold(10, 1).ok());
  const rt::PartLabels labels = handLabels({0, 0, 1, 1, 2, 2}, 3);
  auto stratified = rt::assignStratifiedKFold(iota(6), labels, 3);
  REQUIRE_FALSE(stratified.ok());
  CHECK(stratified.error().message == "3 folds need more samples than any class has here (at most 2)");
  rt::PartLabels regression;
  regression.count = 6;
  CHECK_FALSE(rt::assignStratifiedKFold(iota(6), regression, 2).ok());
  CHECK_FALSE(rt::selectFold(iota(6), labels, 2, 2, false).ok());
}

TEST_CASE("folds: stratified k-fold reproduces sklearn's assignment", "[runtime]") {
  // Worked through sklearn's StratifiedKFold(3)._make_test_folds by hand: classes by
  // first appearance 1, 0, 2 with 4, 5, 3 samples; round robin over the sorted codes
  // gives folds (2,1,1), (1,2,1), (1,2,1); test_folds = [0,0,0,1,1,0,1,2,1,2,2,2].
  const std::vector<int32_t> y = {1, 1, 0, 0, 0, 2, 1, 0, 2, 1, 2, 0};
  const rt::PartLabels labels = handLabels(y, 3);
  auto assignment = rt::assignStratifiedKFold(iota(12), labels, 3);
  REQUIRE(assignment.ok());
  CHECK(assignment.value().fold_of == std::vector<int32_t>{0, 0, 0, 1, 1, 0, 1, 2, 1, 2, 2, 2});
  CHECK(assignment.value().warning.empty());
  // The same labels at even positions of a bigger part, odd positions never selected.
  std::vector<int32_t> spread;
  for (const int32_t label : y) {
    spread.push_back(label);
    spread.push_back(2);
  }
  const rt::PartLabels spread_labels = handLabels(spread, 3);
  std::vector<int64_t> evens;
  for (int64_t slot = 0; slot < 12; ++slot) evens.push_back(2 * slot);
  auto fold = rt::selectFold(evens, spread_labels, 3, 2, true);
  REQUIRE(fold.ok());
  CHECK(fold.value().held_out == std::vector<int64_t>{14, 18, 20, 22});
  CHECK(fold.value().fit == std::vector<int64_t>{0, 2, 4, 6, 8, 10, 12, 16});
}

TEST_CASE("folds: stratified k-fold warns when a class is smaller than k", "[runtime]") {
  const rt::PartLabels labels = handLabels({0, 0, 0, 0, 1, 0, 0, 0}, 2);
  auto assignment = rt::assignStratifiedKFold(iota(8), labels, 3);
  REQUIRE(assignment.ok());
  CHECK(assignment.value().warning == "the least populated class has only 1 members, fewer than the 3 folds");
}

TEST_CASE("folds: stratified k-fold on Fashion-MNIST keeps class counts within one", "[runtime]") {
  auto data = rt::loadFashionMnist("/usr/share/datasets/fashion-mnist", "test");
  REQUIRE(data.ok());
  auto labels = rt::labelsOf(data.value());
  REQUIRE(labels.ok());
  // A skewed training vector: classes 0..9 keep 100, 150, ..., 550 samples.
  std::vector<int64_t> shuffled = iota(labels.value().count);
  rt::shuffleIndices(shuffled, 12);
  std::vector<int64_t> per_class(10, 0), indices;
  for (const int64_t sample : shuffled) {
    const int32_t cls = labels.value().labels[static_cast<size_t>(sample)];
    if (per_class[static_cast<size_t>(cls)] >= 100 + 50 * cls) continue;
    ++per_class[static_cast<size_t>(cls)];
    indices.push_back(sample);
  }
  constexpr int64_t kFolds = 7;
  auto assignment = rt::assignStratifiedKFold(indices, labels.value(), kFolds);
  REQUIRE(assignment.ok());
  const auto folds = allFolds(indices, assignment.value());
  checkPartition(indices, folds);
  const int64_t count = static_cast<int64_t>(indices.size());
  for (int64_t fold = 0; fold < kFolds; ++fold) {
    const auto& held_out = folds[static_cast<size_t>(fold)].held_out;
    CHECK(static_cast<int64_t>(held_out.size()) == count / kFolds + (fold < count % kFolds ? 1 : 0));
    const auto counts = rt::countClasses(labels.value(), held_out);
    for (size_t cls = 0; cls < counts.size(); ++cls) {
      const double proportional = static_cast<double>(per_class[cls]) / kFolds;
      CHECK(std::abs(static_cast<double>(counts[cls]) - proportional) <= 1.0);
    }
  }
}
