// Every size a spec can ask for is bounded, shape arithmetic cannot overflow, and a plan
// whose estimated memory exceeds the limit is an error.

#include <catch2/catch.hpp>

#include "compiler/sema/limits.h"
#include "compiler/sema/memory_estimate.h"
#include "compiler/sema/shapes.h"
#include "tests/sema/check_text.h"

using namespace nnspec;

namespace {

testing::CheckedText checkText(const std::string& body, std::optional<double> memory_limit = std::nullopt) {
  return testing::checkSpecText("experiment e\n"
                                "data d = synthetic(y: sin(x), n: 200)\n"
                                "split train = d.all.shuffle().take(150), test = d.all.shuffle().skip(150)\n" +
                                    body,
                                memory_limit);
}

}  // namespace

TEST_CASE("layer sizes above their limits are errors naming the size", "[sema]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"model m { dense(1000000000000) dense(1) }", "found the integer 1000000000000"},
      {"model m { dense(2147483648) dense(1) }", "found the integer 2147483648"},
      {"model m { reshape([1, 1, 1]) conv2d(100000000, 1) flatten dense(1) }", "found the integer 100000000"},
      {"model m { reshape([1, 1, 1]) zeropad(1000000000) flatten dense(1) }", "found the integer 1000000000"},
      {"model m { reshape([1, 1, 1]) conv2d(4, 2000, padding: same) flatten dense(1) }", "'kernel'"},
      {"model m { reshape([1, 1, 1]) maxpool(2, stride: 5000, padding: same) flatten dense(1) }", "'stride'"},
      {"model m { repeat 1000 { repeat 1000 { dense(2) } } dense(1) }", "more than 10000 layers"},
  };
  for (const auto& [model, expected] : cases) {
    const auto checked = checkText(model + "\ntrain { model m loss mse optimizer sgd epochs 1 }\n");
    INFO(model << "\n" << checked.diagnostics);
    CHECK_FALSE(checked.spec.has_value());
    CHECK(checked.diagnostics.find(expected) != std::string::npos);
    CHECK(checked.diagnostics.find("hint:") != std::string::npos);
  }
}

TEST_CASE("training and sweep sizes above their limits are errors", "[sema]") {
  const std::string model = "model m { dense(4) dense(1) }\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train { model m loss mse optimizer sgd batch 10000000000 epochs 1 }", "'batch'"},
      {"train { model m loss mse optimizer sgd epochs 10000000 }", "'epochs'"},
      {"train t { model m loss mse optimizer sgd epochs 1 }\nsweep grid() using t replicates 100000",
       "the number of replicates"},
      {"param n in int(1, 1000000)\nparam u[n] in int(1, 4)\n"
       "train { model m loss mse optimizer sgd epochs 1 }\nsweep random(n, u) trials 2",
       "can be at most 1000"},
      {"train t { model m loss mse optimizer sgd epochs 1 }\nsweep random() using t trials 100000000",
       "the number of trials"},
  };
  for (const auto& [train, expected] : cases) {
    const auto checked = checkText(model + train + "\n");
    INFO(train << "\n" << checked.diagnostics);
    CHECK_FALSE(checked.spec.has_value());
    CHECK(checked.diagnostics.find(expected) != std::string::npos);
  }
}

TEST_CASE("shape products saturate instead of overflowing", "[sema]") {
  CHECK(sema::shapeElements({28, 28, 1}) == 784);
  CHECK(sema::shapeElements({int64_t{1} << 40, int64_t{1} << 40}) == sema::kShapeOverflow);
  CHECK(sema::checkedProduct({int64_t{1} << 62, 4}) == sema::kShapeOverflow);
  CHECK(sema::checkedProduct({3, 5, 7}) == 105);
}

TEST_CASE("a plan whose estimated memory exceeds the limit is an error", "[sema]") {
  const std::string body = "model m { dense(100000, relu) dense(10000, relu) dense(1) }\n"
                           "train { model m loss mse optimizer adam epochs 1 }\n";
  const auto fits = checkText(body, 1e13);
  INFO(fits.diagnostics);
  REQUIRE(fits.spec.has_value());
  const auto& plan = fits.spec->sweeps[0];
  const auto estimate = sema::estimateMemory(*fits.spec, plan);
  // 1e9 weights: four copies (weights, gradients twice, one measured) and two Adam slots.
  CHECK(estimate.per_trial > 4.0 * 6 * 1e9);
  CHECK(estimate.per_trial < 4.0 * 6.25 * 1e9);
  const auto too_big = checkText(body, 1e9);
  CHECK_FALSE(too_big.spec.has_value());
  CHECK(too_big.diagnostics.find("of memory") != std::string::npos);
  CHECK(too_big.diagnostics.find("note: the largest layer") != std::string::npos);
}

TEST_CASE("the data estimate counts every part of a data set as floats", "[sema]") {
  const auto checked = checkText("model m { dense(1) }\ntrain { model m loss mse optimizer sgd epochs 1 }\n");
  REQUIRE(checked.spec.has_value());
  const auto& split = checked.spec->splits[0];
  // 200 samples of one x and one y.
  CHECK(sema::dataBytes(*checked.spec, split) == 200 * 2 * 4);
}
