// Transforms: scale, shift, standardize fitted on train rows only, reshape, one_hot.
#include "runtime/pipeline/transforms.h"

#include <catch2/catch.hpp>
#include <vector>

namespace {

namespace rt = nnspec::rt;
using Catch::Matchers::WithinAbs;

// Four samples of two features; labels 0, 1, 2, 1 of three classes.
rt::Dataset tinyDataset() {
  rt::Dataset data;
  data.sample_shape = {2};
  data.count = 4;
  data.num_classes = 3;
  data.x = {1,   10,  //
            3,   10,  //
            100, -5,  //
            7,   20};
  data.y = {0, 1, 2, 1};
  return data;
}

}  // namespace

TEST_CASE("transforms: scale and shift change every input", "[runtime]") {
  rt::Dataset data = tinyDataset();
  rt::scaleInputs(data, 0.5);
  rt::shiftInputs(data, -1);
  CHECK_THAT(data.x[0], WithinAbs(-0.5, 1e-6));
  CHECK_THAT(data.x[5], WithinAbs(-3.5, 1e-6));
  CHECK_THAT(data.x[7], WithinAbs(9.0, 1e-6));
}

TEST_CASE("transforms: standardize uses the train rows' statistics only", "[runtime]") {
  rt::Dataset data = tinyDataset();
  const std::vector<int64_t> train = {0, 1};
  auto stats = rt::fitStandardize(data, train);
  REQUIRE(stats.ok());
  // Feature 0 on rows 0, 1: mean 2, population std 1. Feature 1: constant 10, std 0 -> 1.
  CHECK_THAT(stats.value().mean[0], WithinAbs(2.0, 1e-6));
  CHECK_THAT(stats.value().stddev[0], WithinAbs(1.0, 1e-6));
  CHECK_THAT(stats.value().mean[1], WithinAbs(10.0, 1e-6));
  CHECK_THAT(stats.value().stddev[1], WithinAbs(1.0, 1e-6));
  REQUIRE_FALSE(rt::applyStandardize(data, stats.value()));
  CHECK_THAT(data.x[0], WithinAbs(-1.0, 1e-6));
  CHECK_THAT(data.x[2], WithinAbs(1.0, 1e-6));
  CHECK_THAT(data.x[4], WithinAbs(98.0, 1e-5));  // test row: (100 - 2) / 1, not refitted
  CHECK_THAT(data.x[5], WithinAbs(-15.0, 1e-5));
  CHECK_THAT(data.x[7], WithinAbs(10.0, 1e-5));
}

TEST_CASE("transforms: standardize across parts fits on the train part after earlier ops", "[runtime]") {
  std::vector<rt::Dataset> parts = {tinyDataset(), tinyDataset()};
  std::vector<rt::TransformOp> ops(2);
  ops[0].kind = rt::TransformKind::kScale;
  ops[0].value = 2;
  ops[1].kind = rt::TransformKind::kStandardize;
  const std::vector<int64_t> train = {2, 3};
  REQUIRE_FALSE(rt::applyTransforms(parts, ops, 0, train));
  // Feature 0 of rows 2, 3 after scaling: 200 and 14, mean 107, std 93.
  CHECK_THAT(parts[0].x[4], WithinAbs(1.0, 1e-6));
  CHECK_THAT(parts[0].x[6], WithinAbs(-1.0, 1e-6));
  CHECK_THAT(parts[1].x[0], WithinAbs((2.0 - 107.0) / 93.0, 1e-6));
  // Feature 1: -10 and 40, mean 15, std 25.
  CHECK_THAT(parts[1].x[1], WithinAbs((20.0 - 15.0) / 25.0, 1e-6));
  CHECK(rt::applyTransforms(parts, ops, 0, {}).has_value());
}

TEST_CASE("transforms: reshape changes the shape only when the size matches", "[runtime]") {
  rt::Dataset data = tinyDataset();
  const std::vector<float> before = data.x;
  REQUIRE_FALSE(rt::reshapeSamples(data, {1, 2, 1}));
  CHECK(data.sample_shape == std::vector<int64_t>{1, 2, 1});
  CHECK(data.x == before);
  auto error = rt::reshapeSamples(data, {3});
  REQUIRE(error);
  CHECK(error->message == "cannot reshape samples of [1,2,1] (2 values) to [3] (3 values)");
}

TEST_CASE("transforms: one_hot turns labels into class columns", "[runtime]") {
  rt::Dataset data = tinyDataset();
  REQUIRE_FALSE(rt::oneHotTargets(data));
  CHECK(data.target_width == 3);
  CHECK(data.num_classes == 3);
  CHECK(data.y == std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0});
  CHECK(rt::oneHotTargets(data).has_value());  // already one-hot
  rt::Dataset regression = tinyDataset();
  regression.num_classes = 0;
  auto error = rt::oneHotTargets(regression);
  REQUIRE(error);
  CHECK(error->message == "one_hot needs integer class labels, but the targets are real-valued");
}
