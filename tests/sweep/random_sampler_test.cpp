// Random search: bounds, step grids, log scales, conditional parameters, reproducibility.
#include "runtime/sweep/random_sampler.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <set>
#include <vector>

namespace {

namespace rt = nnspec::rt;
using Catch::Matchers::WithinRel;

constexpr int kDraws = 4000;

std::vector<double> drawMany(const rt::ParamSpec& spec, uint64_t seed) {
  rt::Rng rng(seed);
  std::vector<double> values;
  for (int draw = 0; draw < kDraws; ++draw) values.push_back(rt::sampleParamRandom(spec, rng));
  return values;
}

double medianOf(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return 0.5 * (values[values.size() / 2 - 1] + values[values.size() / 2]);
}

}  // namespace

TEST_CASE("random sampler: ints stay on their step grid and reach both ends", "[runtime]") {
  const std::vector<double> values = drawMany(rt::makeIntParam("units", 16, 128, 16), 1);
  std::set<double> seen(values.begin(), values.end());
  CHECK(seen == std::set<double>{16, 32, 48, 64, 80, 96, 112, 128});
}

TEST_CASE("random sampler: floats stay in bounds with the midpoint as median", "[runtime]") {
  const std::vector<double> values = drawMany(rt::makeFloatParam("x", -2.0, 6.0), 2);
  for (const double value : values) {
    CHECK(value >= -2.0);
    CHECK(value <= 6.0);
  }
  CHECK(std::abs(medianOf(values) - 2.0) < 0.3);
}

TEST_CASE("random sampler: log floats have the geometric mean as median", "[runtime]") {
  const std::vector<double> values = drawMany(rt::makeFloatParam("lr", 1e-5, 1e-1, true), 3);
  for (const double value : values) {
    CHECK(value >= 1e-5);
    CHECK(value <= 1e-1);
  }
  // Log-uniform: log10 of the median near -3 (the arithmetic midpoint would be ~ -1.3).
  CHECK(std::abs(std::log10(medianOf(values)) + 3.0) < 0.15);
  const auto below_1e4 = std::count_if(values.begin(), values.end(), [](double value) { return value < 1e-4; });
  CHECK(std::abs(static_cast<double>(below_1e4) / kDraws - 0.25) < 0.03);
}

TEST_CASE("random sampler: log ints are whole and favour small values", "[runtime]") {
  const std::vector<double> values = drawMany(rt::makeIntParam("units", 1, 1024, 1, true), 4);
  for (const double value : values) {
    CHECK(value == std::floor(value));
    CHECK(value >= 1);
    CHECK(value <= 1024);
  }
  // Log-uniform over [0.5, 1024.5]: the median sqrt(0.5 * 1024.5) ~ 22.6, not 512.
  CHECK(std::abs(std::log2(medianOf(values)) - 4.5) < 0.3);
}

TEST_CASE("random sampler: categoricals draw every choice about equally", "[runtime]") {
  std::map<double, int> counts;
  for (const double value : drawMany(rt::makeCategoricalParam("act", 4), 5)) ++counts[value];
  REQUIRE(counts.size() == 4);
  for (const auto& [choice, count] : counts) CHECK(std::abs(count - kDraws / 4) < 150);
}

TEST_CASE("random sampler: conditional parameters appear only when active", "[runtime]") {
  const rt::SearchSpace space = {rt::makeIntParam("n_layers", 1, 3),
                                 rt::makeConditional(rt::makeIntParam("units_1", 8, 64, 8), "n_layers", 1),
                                 rt::makeConditional(rt::makeIntParam("units_2", 8, 64, 8), "n_layers", 2),
                                 rt::makeFloatParam("lr", 1e-4, 1.0, true)};
  REQUIRE(rt::checkSearchSpace(space).empty());
  rt::Rng rng(6);
  std::set<double> layer_counts;
  for (int draw = 0; draw < 300; ++draw) {
    const rt::Sample sample = rt::sampleRandom(space, rng);
    const double n_layers = sample.at("n_layers");
    layer_counts.insert(n_layers);
    CHECK(sample.count("lr") == 1);
    CHECK(sample.count("units_1") == (n_layers > 1 ? 1u : 0u));
    CHECK(sample.count("units_2") == (n_layers > 2 ? 1u : 0u));
  }
  CHECK(layer_counts == std::set<double>{1, 2, 3});
}

TEST_CASE("random sampler: equal seeds give equal samples", "[runtime]") {
  const rt::SearchSpace space = {rt::makeFloatParam("x", 0, 1), rt::makeIntParam("n", 1, 100),
                                 rt::makeCategoricalParam("c", 5), rt::makeFloatParam("lr", 1e-4, 1.0, true)};
  rt::Rng first(77), second(77), other(78);
  bool any_difference = false;
  for (int draw = 0; draw < 20; ++draw) {
    const rt::Sample sample = rt::sampleRandom(space, first);
    CHECK(rt::sampleRandom(space, second) == sample);
    any_difference = any_difference || rt::sampleRandom(space, other) != sample;
  }
  CHECK(any_difference);
}

TEST_CASE("random sampler: a single-valued parameter takes its value without drawing", "[runtime]") {
  rt::Rng first(9), second(9);
  CHECK(rt::sampleParamRandom(rt::makeFloatParam("x", 0.5, 0.5), first) == 0.5);
  CHECK(rt::sampleParamRandom(rt::makeCategoricalParam("c", 1), first) == 0.0);
  CHECK(first.nextU64() == second.nextU64());
}
