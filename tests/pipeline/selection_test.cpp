// Selections: shuffle, take (plain, stratified, min_per_class), skip and holdout.
#include "runtime/pipeline/selection.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "runtime/data/sources.h"
#include "runtime/pipeline/labels.h"

namespace {

namespace rt = nnspec::rt;
using rt::SelectKind;
using rt::SelectOp;

constexpr const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

rt::PartLabels fashionTestLabels() {
  auto data = rt::loadFashionMnist(kFashionDir, "test");
  REQUIRE(data.ok());
  auto labels = rt::labelsOf(data.value());
  REQUIRE(labels.ok());
  return labels.value();
}

rt::PartLabels handLabels(std::vector<int32_t> labels, int64_t num_classes) {
  rt::PartLabels out;
  out.count = static_cast<int64_t>(labels.size());
  out.num_classes = num_classes;
  out.labels = std::move(labels);
  return out;
}

// Labels with `counts[c]` samples of class c, classes interleaved round-robin while they last.
rt::PartLabels interleavedLabels(const std::vector<int64_t>& counts) {
  std::vector<int32_t> labels;
  std::vector<int64_t> left = counts;
  bool added = true;
  while (added) {
    added = false;
    for (size_t cls = 0; cls < left.size(); ++cls) {
      if (left[cls] == 0) continue;
      --left[cls];
      labels.push_back(static_cast<int32_t>(cls));
      added = true;
    }
  }
  return handLabels(std::move(labels), static_cast<int64_t>(counts.size()));
}

std::vector<int64_t> iota(int64_t count) {
  std::vector<int64_t> out(static_cast<size_t>(count));
  std::iota(out.begin(), out.end(), int64_t{0});
  return out;
}

SelectOp shuffle(uint64_t seed) { return SelectOp{SelectKind::kShuffle, 0, seed, false, 0}; }
SelectOp take(int64_t n, bool stratified = false, int64_t min_per_class = 0) {
  return SelectOp{SelectKind::kTake, n, 0, stratified, min_per_class};
}
SelectOp skip(int64_t n) { return SelectOp{SelectKind::kSkip, n, 0, false, 0}; }
SelectOp holdout(int64_t n, bool stratified = false) { return SelectOp{SelectKind::kHoldout, n, 0, stratified, 0}; }

bool disjoint(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::set<int64_t> seen(a.begin(), a.end());
  return std::none_of(b.begin(), b.end(), [&](int64_t value) { return seen.count(value) != 0; });
}

}  // namespace

TEST_CASE("selection: shuffle is a seed-dependent permutation", "[runtime]") {
  std::vector<int64_t> first = iota(1000), again = iota(1000), other = iota(1000);
  rt::shuffleIndices(first, 17);
  rt::shuffleIndices(again, 17);
  rt::shuffleIndices(other, 18);
  CHECK(first == again);
  CHECK(first != other);
  CHECK(first != iota(1000));
  std::vector<int64_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == iota(1000));
}

TEST_CASE("selection: shuffle has a fixed order for a fixed seed", "[runtime]") {
  // Golden: Fisher–Yates from the back with Rng(42); changes here change every split.
  std::vector<int64_t> indices = iota(10);
  rt::shuffleIndices(indices, 42);
  CHECK(indices == std::vector<int64_t>{7, 3, 8, 9, 5, 6, 4, 1, 0, 2});
  std::vector<int64_t> empty;
  rt::shuffleIndices(empty, 1);
  CHECK(empty.empty());
}

TEST_CASE("selection: take and skip after the same shuffle are disjoint and cover the part", "[runtime]") {
  const rt::PartLabels labels = interleavedLabels({40, 40, 20});
  const std::vector<SelectOp> train_ops = {shuffle(3), take(70)};
  const std::vector<SelectOp> test_ops = {shuffle(3), skip(70)};
  auto train = rt::applySelection(labels, train_ops);
  auto test = rt::applySelection(labels, test_ops);
  REQUIRE(train.ok());
  REQUIRE(test.ok());
  CHECK(train.value().size() == 70);
  CHECK(test.value().size() == 30);
  CHECK(disjoint(train.value(), test.value()));
  std::vector<int64_t> all = train.value();
  all.insert(all.end(), test.value().begin(), test.value().end());
  std::sort(all.begin(), all.end());
  CHECK(all == iota(100));
}

TEST_CASE("selection: without shuffle take keeps the first samples", "[runtime]") {
  const rt::PartLabels labels = interleavedLabels({5, 5});
  const std::vector<SelectOp> ops = {skip(2), take(3)};
  auto selected = rt::applySelection(labels, ops);
  REQUIRE(selected.ok());
  CHECK(selected.value() == std::vector<int64_t>{2, 3, 4});
}

TEST_CASE("selection: asking for more samples than are left is an error", "[runtime]") {
  const rt::PartLabels labels = interleavedLabels({5, 5});
  const std::vector<SelectOp> too_many = {skip(4), take(7)};
  auto result = rt::applySelection(labels, too_many);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message == "take(7) needs 7 samples, but only 6 are left here");
  CHECK(result.error().hint == "use at most 6");
  const std::vector<SelectOp> skip_all = {skip(11)};
  CHECK_FALSE(rt::applySelection(labels, skip_all).ok());
}

TEST_CASE("selection: proportional allocation follows sklearn's rounding", "[runtime]") {
  const std::vector<int64_t> counts = {50, 30, 20};
  CHECK(rt::allocateProportionally(counts, 10) == std::vector<int64_t>{5, 3, 2});
  // 7 * (50, 30, 20) / 100 = (3.5, 2.1, 1.4): floors (3, 2, 1), one more for the largest remainder.
  CHECK(rt::allocateProportionally(counts, 7) == std::vector<int64_t>{4, 2, 1});
  // Equal remainders: the lower class gets the extra sample.
  const std::vector<int64_t> equal = {10, 10, 10};
  CHECK(rt::allocateProportionally(equal, 4) == std::vector<int64_t>{2, 1, 1});
  CHECK(rt::allocateProportionally(equal, 30) == std::vector<int64_t>{10, 10, 10});
}

TEST_CASE("selection: stratified take keeps class proportions within one", "[runtime]") {
  const rt::PartLabels labels = interleavedLabels({500, 300, 150, 50});
  const std::vector<SelectOp> ops = {shuffle(9), take(333, true)};
  auto selected = rt::applySelection(labels, ops);
  REQUIRE(selected.ok());
  CHECK(selected.value().size() == 333);
  const auto counts = rt::countClasses(labels, selected.value());
  const std::vector<double> share = {0.5, 0.3, 0.15, 0.05};
  for (size_t cls = 0; cls < counts.size(); ++cls) {
    CHECK(std::abs(static_cast<double>(counts[cls]) - 333 * share[cls]) <= 1.0);
  }
  CHECK(std::set<int64_t>(selected.value().begin(), selected.value().end()).size() == 333);
}

TEST_CASE("selection: stratified take on Fashion-MNIST", "[runtime]") {
  const rt::PartLabels labels = fashionTestLabels();
  const std::vector<SelectOp> ops = {shuffle(1), take(555, true)};
  auto selected = rt::applySelection(labels, ops);
  REQUIRE(selected.ok());
  CHECK(selected.value().size() == 555);
  for (const int64_t count : rt::countClasses(labels, selected.value())) {
    CHECK(count >= 55);
    CHECK(count <= 56);
  }
}

TEST_CASE("selection: take with min_per_class guarantees every class on Fashion-MNIST", "[runtime]") {
  const rt::PartLabels labels = fashionTestLabels();
  const std::vector<SelectOp> ops = {shuffle(4), take(500, false, 10)};
  auto selected = rt::applySelection(labels, ops);
  REQUIRE(selected.ok());
  CHECK(selected.value().size() == 500);
  CHECK(std::set<int64_t>(selected.value().begin(), selected.value().end()).size() == 500);
  for (const int64_t count : rt::countClasses(labels, selected.value())) CHECK(count >= 10);
  // Small takes too: 10 classes x 3 in 30 samples means exactly 3 each.
  const std::vector<SelectOp> tight = {shuffle(4), take(30, false, 3)};
  auto exact = rt::applySelection(labels, tight);
  REQUIRE(exact.ok());
  for (const int64_t count : rt::countClasses(labels, exact.value())) CHECK(count == 3);
}

TEST_CASE("selection: min_per_class reaches rare classes and then fills with the earliest", "[runtime]") {
  // Class 1 appears only at the end: plain take(4) would miss it.
  const rt::PartLabels labels = handLabels({0, 0, 0, 0, 0, 0, 1, 1}, 2);
  auto selected = rt::takeWithMinPerClass(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}, labels, 4, 2);
  REQUIRE(selected.ok());
  CHECK(selected.value() == std::vector<int64_t>{0, 1, 6, 7});
  auto filled = rt::takeWithMinPerClass(std::vector<int64_t>{7, 0, 1, 2, 3, 4, 5, 6}, labels, 5, 1);
  REQUIRE(filled.ok());
  CHECK(filled.value() == std::vector<int64_t>{7, 0, 1, 2, 3});
}

TEST_CASE("selection: min_per_class fails when a class is too small", "[runtime]") {
  const rt::PartLabels labels = interleavedLabels({20, 20, 3});
  const std::vector<SelectOp> ops = {take(30, false, 4)};
  auto result = rt::applySelection(labels, ops);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message == "class 2 has 3 samples here, fewer than min_per_class: 4");
  const std::vector<SelectOp> too_many = {take(10, false, 4)};
  CHECK_FALSE(rt::applySelection(labels, too_many).ok());
}

TEST_CASE("selection: class-based takes need class labels", "[runtime]") {
  rt::PartLabels regression;
  regression.count = 10;
  const std::vector<SelectOp> stratified = {take(5, true)};
  auto result = rt::applySelection(regression, stratified);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message == "take(stratified: true) needs class labels, but this data has real-valued targets");
  const std::vector<SelectOp> plain = {shuffle(1), take(5)};
  CHECK(rt::applySelection(regression, plain).ok());
}

TEST_CASE("selection: holdout takes the last n of train as val", "[runtime]") {
  const rt::PartLabels labels = interleavedLabels({30, 30, 40});
  const std::vector<SelectOp> train_ops = {shuffle(5), take(80)};
  const std::vector<SelectOp> val_ops = {shuffle(5), take(80), holdout(20)};
  auto train = rt::applySelection(labels, train_ops);
  auto split = rt::applyHoldoutSelection(labels, val_ops);
  auto val_only = rt::applySelection(labels, val_ops);
  REQUIRE(train.ok());
  REQUIRE(split.ok());
  REQUIRE(val_only.ok());
  const auto& [fit, val] = split.value();
  CHECK(fit.size() == 60);
  CHECK(val.size() == 20);
  CHECK(val == val_only.value());
  CHECK(disjoint(fit, val));
  CHECK(std::vector<int64_t>(train.value().begin(), train.value().begin() + 60) == fit);
  CHECK(std::vector<int64_t>(train.value().begin() + 60, train.value().end()) == val);
}

TEST_CASE("selection: stratified holdout keeps class proportions", "[runtime]") {
  const rt::PartLabels labels = interleavedLabels({600, 300, 100});
  const std::vector<SelectOp> val_ops = {shuffle(8), holdout(101, true)};
  auto split = rt::applyHoldoutSelection(labels, val_ops);
  REQUIRE(split.ok());
  const auto& [fit, val] = split.value();
  CHECK(val.size() == 101);
  CHECK(fit.size() == 899);
  CHECK(disjoint(fit, val));
  const auto counts = rt::countClasses(labels, val);
  CHECK(std::abs(counts[0] - 60.6) <= 1);
  CHECK(std::abs(counts[1] - 30.3) <= 1);
  CHECK(std::abs(counts[2] - 10.1) <= 1);
}

TEST_CASE("selection: holdout must be last and leave training data", "[runtime]") {
  const rt::PartLabels labels = interleavedLabels({5, 5});
  const std::vector<SelectOp> not_last = {holdout(2), take(3)};
  auto result = rt::applySelection(labels, not_last);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message == "holdout(...) must be the last step of a selection");
  const std::vector<SelectOp> everything = {holdout(10)};
  CHECK_FALSE(rt::applyHoldoutSelection(labels, everything).ok());
  const std::vector<SelectOp> no_holdout = {take(3)};
  CHECK_FALSE(rt::applyHoldoutSelection(labels, no_holdout).ok());
}

TEST_CASE("selection: labels come from one column or one-hot rows", "[runtime]") {
  rt::Dataset data;
  data.sample_shape = {1};
  data.count = 3;
  data.num_classes = 3;
  data.x = {0, 0, 0};
  data.y = {2, 0, 1};
  auto labels = rt::labelsOf(data);
  REQUIRE(labels.ok());
  CHECK(labels.value().labels == std::vector<int32_t>{2, 0, 1});
  data.target_width = 3;
  data.y = {0, 0, 1, 1, 0, 0, 0, 1, 0};
  auto one_hot = rt::labelsOf(data);
  REQUIRE(one_hot.ok());
  CHECK(one_hot.value().labels == std::vector<int32_t>{2, 0, 1});
  data.target_width = 1;
  data.y = {2, 3, 1};
  auto bad = rt::labelsOf(data);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "sample 1 has label 3, not a class in 0..2");
}
