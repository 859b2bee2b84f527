// Inputs kept as bytes (rt::Dataset::x_bytes, how a run holds IDX images): every
// transform, read and batch gives the bits the same data held as floats gets.
#include <catch2/catch.hpp>

#include <cstring>
#include <numeric>
#include <vector>

#include "runtime/pipeline/batches.h"
#include "runtime/pipeline/random.h"
#include "runtime/pipeline/transforms.h"

namespace {

namespace rt = nnspec::rt;

constexpr int64_t kFeatures = 16;

// `count` samples of 16 bytes each, every value 0..255 among them, in a shuffled order;
// label s % 10. The same data twice: as bytes, and as floats (a float per byte).
struct Pair {
  rt::Dataset bytes;
  rt::Dataset floats;
};

Pair pairOf(int64_t count) {
  std::vector<uint8_t> values(static_cast<size_t>(count * kFeatures));
  for (size_t index = 0; index < values.size(); ++index) values[index] = static_cast<uint8_t>((index * 37 + 11) % 256);
  Pair pair;
  for (rt::Dataset* data : {&pair.bytes, &pair.floats}) {
    data->sample_shape = {4, 4};
    data->count = count;
    data->num_classes = 10;
    for (int64_t sample = 0; sample < count; ++sample) data->y.push_back(static_cast<float>(sample % 10));
  }
  rt::setByteInputs(pair.bytes, values);
  pair.floats.x.assign(values.begin(), values.end());
  return pair;
}

// Every input of `bytes`, read as a report does and decoded as a batch does, is the bits
// of `floats`'s.
void checkSameBits(const rt::Dataset& bytes, const rt::Dataset& floats) {
  REQUIRE(rt::bytesStored(bytes));
  REQUIRE(rt::inputValueCount(bytes) == static_cast<int64_t>(floats.x.size()));
  std::vector<float> read(floats.x.size()), decoded(floats.x.size());
  rt::copyInputValues(bytes, 0, rt::inputValueCount(bytes), read.data());
  rt::ByteDecoder(bytes.byte_values).decode(bytes.x_bytes.data(), rt::inputValueCount(bytes), decoded.data());
  CHECK(std::memcmp(read.data(), floats.x.data(), read.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(decoded.data(), floats.x.data(), decoded.size() * sizeof(float)) == 0);
}

std::optional<rt::DataError> apply(rt::Dataset& data, const std::vector<rt::TransformOp>& ops) {
  return rt::applyTransforms(std::span<rt::Dataset>(&data, 1), ops, 0, {});
}

rt::TransformOp scale(double factor) { return {rt::TransformKind::kScale, factor, {}}; }
rt::TransformOp shift(double offset) { return {rt::TransformKind::kShift, offset, {}}; }

}  // namespace

TEST_CASE("byte inputs: scale and shift give the bits float inputs get, by a table of 256 values", "[runtime]") {
  const std::vector<std::vector<rt::TransformOp>> chains = {
      {},
      {scale(1.0 / 255)},
      {scale(1.0 / 255), shift(-0.5), scale(2)},
      {scale(1.0 / 3)},
      {shift(-128), scale(1.0 / 128)},
      {scale(1e-40)},  // denormal results
  };
  for (size_t chain = 0; chain < chains.size(); ++chain) {
    INFO("chain " << chain);
    Pair pair = pairOf(40);
    REQUIRE_FALSE(apply(pair.bytes, chains[chain]).has_value());
    REQUIRE_FALSE(apply(pair.floats, chains[chain]).has_value());
    CHECK(pair.bytes.x.empty());  // still bytes
    checkSameBits(pair.bytes, pair.floats);
  }
}

TEST_CASE("byte inputs: the decoder multiplies or divides when that gives every byte's value, else reads the table",
          "[runtime]") {
  Pair pair = pairOf(16);
  CHECK_FALSE(rt::ByteDecoder(pair.bytes.byte_values).usesTable());  // float(b) * 1
  REQUIRE_FALSE(apply(pair.bytes, {scale(1.0 / 255)}).has_value());
  CHECK_FALSE(rt::ByteDecoder(pair.bytes.byte_values).usesTable());  // float(b) / 255, the images' usual scale
  REQUIRE_FALSE(apply(pair.bytes, {shift(-0.5)}).has_value());
  CHECK(rt::ByteDecoder(pair.bytes.byte_values).usesTable());  // 0 no longer maps to 0
}

TEST_CASE("byte inputs: standardize turns them into floats with the statistics float inputs get", "[runtime]") {
  Pair pair = pairOf(50);
  std::vector<int64_t> fit(30);
  std::iota(fit.begin(), fit.end(), int64_t{5});
  const std::vector<rt::TransformOp> ops = {scale(1.0 / 255), {rt::TransformKind::kStandardize, 0, {}}};
  std::vector<rt::FeatureStats> byte_stats, float_stats;
  REQUIRE_FALSE(rt::applyTransforms(std::span<rt::Dataset>(&pair.bytes, 1), ops, 0, fit, &byte_stats).has_value());
  REQUIRE_FALSE(rt::applyTransforms(std::span<rt::Dataset>(&pair.floats, 1), ops, 0, fit, &float_stats).has_value());
  CHECK_FALSE(rt::bytesStored(pair.bytes));
  REQUIRE(pair.bytes.x.size() == pair.floats.x.size());
  CHECK(std::memcmp(pair.bytes.x.data(), pair.floats.x.data(), pair.bytes.x.size() * sizeof(float)) == 0);
  REQUIRE(byte_stats.size() == 1);
  CHECK(byte_stats[0].mean == float_stats[0].mean);
  CHECK(byte_stats[0].stddev == float_stats[0].stddev);
}

TEST_CASE("byte inputs: shuffled batches, the last partial one and evaluation batches equal float inputs'",
          "[runtime]") {
  Pair pair = pairOf(53);
  REQUIRE_FALSE(apply(pair.bytes, {scale(1.0 / 255)}).has_value());
  REQUIRE_FALSE(apply(pair.floats, {scale(1.0 / 255)}).has_value());
  std::vector<int64_t> indices(50);
  std::iota(indices.begin(), indices.end(), int64_t{2});
  for (const bool shuffle : {true, false}) {
    INFO("shuffle " << shuffle);
    auto byte_batches = rt::makeBatchIterator(pair.bytes, indices, rt::BatchOptions{8, shuffle, 7});
    auto float_batches = rt::makeBatchIterator(pair.floats, indices, rt::BatchOptions{8, shuffle, 7});
    REQUIRE(byte_batches.ok());
    REQUIRE(float_batches.ok());
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      byte_batches.value().startEpoch(epoch);
      float_batches.value().startEpoch(epoch);
      for (int batch = 0;; ++batch) {
        INFO("epoch " << epoch << ", batch " << batch);
        // Consecutive rows of floats are offered in place; bytes never are.
        CHECK(byte_batches.value().inputsInPlace() == nullptr);
        std::vector<float> byte_x(8 * kFeatures, -1.0f), float_x(8 * kFeatures, -1.0f);
        std::vector<int32_t> byte_labels(8), float_labels(8);
        const int64_t rows = byte_batches.value().nextBatch({byte_x, byte_labels, {}});
        REQUIRE(rows == float_batches.value().nextBatch({float_x, float_labels, {}}));
        if (rows == 0) break;
        CHECK(std::memcmp(byte_x.data(), float_x.data(), byte_x.size() * sizeof(float)) == 0);
        CHECK(byte_labels == float_labels);
      }
    }
  }
}
