// Minibatches: every sample once per epoch, partial last batch, per-epoch orders.
#include "runtime/pipeline/batches.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <vector>

namespace {

namespace rt = nnspec::rt;

// `count` samples of 3 features; sample s has inputs (s, s + 0.25, s + 0.5) and label s % 4.
rt::Dataset numberedDataset(int64_t count) {
  rt::Dataset data;
  data.sample_shape = {3};
  data.count = count;
  data.num_classes = 4;
  for (int64_t sample = 0; sample < count; ++sample) {
    const float base = static_cast<float>(sample);
    data.x.insert(data.x.end(), {base, base + 0.25f, base + 0.5f});
    data.y.push_back(static_cast<float>(sample % 4));
  }
  return data;
}

std::vector<int64_t> iota(int64_t count) {
  std::vector<int64_t> out(static_cast<size_t>(count));
  std::iota(out.begin(), out.end(), int64_t{0});
  return out;
}

struct Buffers {
  explicit Buffers(int64_t batch) : x(static_cast<size_t>(batch * 3)), labels(static_cast<size_t>(batch)) {}
  rt::BatchBuffers view() { return {x, labels, {}}; }
  std::vector<float> x;
  std::vector<int32_t> labels;
};

// The samples of one epoch, read back from the copied inputs; batch sizes in `sizes`.
std::vector<int64_t> readEpoch(rt::BatchIterator& batches, int64_t epoch, std::vector<int64_t>* sizes = nullptr) {
  batches.startEpoch(epoch);
  Buffers buffers(batches.batchSize());
  std::vector<int64_t> seen;
  for (int64_t samples; (samples = batches.nextBatch(buffers.view())) > 0;) {
    if (sizes != nullptr) sizes->push_back(samples);
    for (int64_t row = 0; row < samples; ++row) {
      const int64_t sample = static_cast<int64_t>(buffers.x[static_cast<size_t>(row * 3)]);
      CHECK(buffers.x[static_cast<size_t>(row * 3 + 2)] == Approx(sample + 0.5));
      CHECK(buffers.labels[static_cast<size_t>(row)] == sample % 4);
      seen.push_back(sample);
    }
  }
  return seen;
}

// Reads the rest of the epoch without copying anything: the samples it held.
int64_t samplesLeft(rt::BatchIterator& batches) {
  int64_t left = 0;
  for (int64_t samples; (samples = batches.nextBatch({})) > 0;) left += samples;
  return left;
}

}  // namespace

TEST_CASE("batches: every index once per epoch and the last partial batch kept", "[runtime]") {
  const rt::Dataset data = numberedDataset(30);
  const std::vector<int64_t> indices = {3, 5, 7, 9, 11, 13, 15, 17, 19, 21};
  auto batches = rt::makeBatchIterator(data, indices, {4, true, 99});
  REQUIRE(batches.ok());
  CHECK(batches.value().batchesPerEpoch() == 3);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> sizes;
    std::vector<int64_t> seen = readEpoch(batches.value(), epoch, &sizes);
    CHECK(sizes == std::vector<int64_t>{4, 4, 2});
    std::sort(seen.begin(), seen.end());
    CHECK(seen == indices);
  }
}

TEST_CASE("batches: orders differ between epochs and repeat for the same seed", "[runtime]") {
  const rt::Dataset data = numberedDataset(50);
  auto first = rt::makeBatchIterator(data, iota(50), {8, true, 7});
  auto second = rt::makeBatchIterator(data, iota(50), {8, true, 7});
  auto other = rt::makeBatchIterator(data, iota(50), {8, true, 8});
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  REQUIRE(other.ok());
  const auto epoch0 = readEpoch(first.value(), 0);
  const auto epoch1 = readEpoch(first.value(), 1);
  CHECK(epoch0 != epoch1);
  CHECK(epoch0 != iota(50));
  // Epoch 1's order does not depend on whether epoch 0 ran.
  CHECK(readEpoch(second.value(), 1) == epoch1);
  CHECK(readEpoch(second.value(), 0) == epoch0);
  CHECK(readEpoch(other.value(), 0) != epoch0);
}

TEST_CASE("batches: without shuffle and for evaluation the order is the given one", "[runtime]") {
  const rt::Dataset data = numberedDataset(20);
  const std::vector<int64_t> indices = {9, 2, 17, 4, 0};
  auto in_order = rt::makeBatchIterator(data, indices, {2, false, 5});
  auto evaluation = rt::makeEvaluationIterator(data, indices, 3);
  REQUIRE(in_order.ok());
  REQUIRE(evaluation.ok());
  CHECK(readEpoch(in_order.value(), 0) == indices);
  CHECK(readEpoch(in_order.value(), 4) == indices);
  std::vector<int64_t> sizes;
  CHECK(readEpoch(evaluation.value(), 0, &sizes) == indices);
  CHECK(sizes == std::vector<int64_t>{3, 2});
}

TEST_CASE("batches: targets are copied as rows for regression", "[runtime]") {
  rt::Dataset data = numberedDataset(5);
  data.num_classes = 0;
  data.target_width = 2;
  data.y.clear();
  for (int sample = 0; sample < 5; ++sample) data.y.insert(data.y.end(), {sample * 1.5f, -sample * 1.0f});
  auto batches = rt::makeEvaluationIterator(data, {4, 1}, 2);
  REQUIRE(batches.ok());
  std::vector<float> x(6), targets(4);
  CHECK(batches.value().nextBatch({x, {}, targets}) == 2);
  CHECK(targets == std::vector<float>{6.0f, -4.0f, 1.5f, -1.0f});
  CHECK(x[3] == 1.0f);
  CHECK(batches.value().nextBatch({x, {}, targets}) == 0);
  std::vector<int32_t> labels(2);
  batches.value().startEpoch(0);
  CHECK(batches.value().nextBatch({x, labels, {}}) == rt::BatchIterator::kBuffersDoNotFit);
}

TEST_CASE("batches: bad batch sizes and indices and small buffers are refused", "[runtime]") {
  const rt::Dataset data = numberedDataset(5);
  CHECK_FALSE(rt::makeBatchIterator(data, {0, 1}, {0, true, 1}).ok());
  auto outside = rt::makeBatchIterator(data, {0, 5}, {2, true, 1});
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().message == "sample 5 is outside the 5 samples of this part");
  auto batches = rt::makeBatchIterator(data, {0, 1, 2}, {2, true, 1});
  REQUIRE(batches.ok());
  std::vector<float> small(5);
  CHECK_FALSE(batches.value().fits({small, {}, {}}));
  CHECK(batches.value().nextBatch({small, {}, {}}) == rt::BatchIterator::kBuffersDoNotFit);
}

TEST_CASE("batches: a full batch of consecutive rows is offered in place, others are not", "[runtime]") {
  const rt::Dataset data = numberedDataset(12);
  // Batches of 3 over rows 4..11 then 0: [4,5,6] and [7,8,9] are consecutive, [10,11,0]
  // is not, and nothing is offered once fewer than a full batch remain.
  auto batches = rt::makeEvaluationIterator(data, {4, 5, 6, 7, 8, 9, 10, 11, 0, 1}, 3);
  REQUIRE(batches.ok());
  rt::BatchIterator& iterator = batches.value();
  std::vector<int32_t> labels(3);
  for (int64_t first : {4, 7}) {
    const float* in_place = iterator.inputsInPlace();
    REQUIRE(in_place == data.x.data() + first * 3);
    CHECK(in_place[3] == static_cast<float>(first + 1));
    // The labels are still copied; the inputs need not be.
    CHECK(iterator.nextBatch({{}, labels, {}}) == 3);
    CHECK(labels[0] == first % 4);
  }
  CHECK(iterator.inputsInPlace() == nullptr);
  Buffers buffers(3);
  CHECK(iterator.nextBatch(buffers.view()) == 3);
  CHECK(buffers.x[6] == 0.0f);
  CHECK(iterator.inputsInPlace() == nullptr);  // one sample left: a partial batch
  CHECK(iterator.nextBatch(buffers.view()) == 1);
  // A shuffled order is offered in place only where it happens to run consecutively.
  auto shuffled = rt::makeBatchIterator(data, {2, 3, 9, 1}, {2, false, 0});
  REQUIRE(shuffled.ok());
  CHECK(shuffled.value().inputsInPlace() == data.x.data() + 2 * 3);
  CHECK(shuffled.value().nextBatch(buffers.view()) == 2);
  CHECK(shuffled.value().inputsInPlace() == nullptr);
}

TEST_CASE("batches: a batch taken without its inputs is copied whole by refillBatch", "[runtime]") {
  const rt::Dataset data = numberedDataset(30);
  auto reference = rt::makeBatchIterator(data, iota(30), {8, true, 7});
  auto partial = rt::makeBatchIterator(data, iota(30), {8, true, 7});
  REQUIRE(reference.ok());
  REQUIRE(partial.ok());
  Buffers expected(8);
  Buffers refilled(8);
  CHECK(partial.value().refillBatch(refilled.view()) == 0);  // nothing taken yet
  for (int64_t batch = 0; batch < 4; ++batch) {
    const int64_t samples = reference.value().nextBatch(expected.view());
    std::fill(refilled.x.begin(), refilled.x.end(), -1.0f);
    // Labels only, as a fused group's member whose step reads another member's batch.
    CHECK(partial.value().nextBatch({{}, refilled.labels, {}}) == samples);
    CHECK(std::equal(refilled.labels.begin(), refilled.labels.begin() + samples, expected.labels.begin()));
    CHECK(refilled.x[0] == -1.0f);
    CHECK(partial.value().refillBatch(refilled.view()) == samples);
    CHECK(std::equal(refilled.x.begin(), refilled.x.begin() + samples * 3, expected.x.begin()));
  }
  CHECK(samplesLeft(partial.value()) == 0);
  Buffers small(4);
  CHECK(partial.value().refillBatch(small.view()) == rt::BatchIterator::kBuffersDoNotFit);
  partial.value().startEpoch(1);
  CHECK(partial.value().refillBatch(refilled.view()) == 0);
}
