// Deterministic randomness: reference vectors, bounded and float draws, derived seeds.
#include "runtime/pipeline/random.h"

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <string>
#include <vector>

using nnspec::rt::Rng;

TEST_CASE("random: splitmix64 matches its published reference values", "[runtime]") {
  uint64_t state = 1234567;
  const std::array<uint64_t, 5> expected = {6457827717110365317ULL, 3203168211198807973ULL, 9817491932198370423ULL,
                                            4593380528125082431ULL, 16408922859458223821ULL};
  for (const uint64_t value : expected) CHECK(nnspec::rt::splitMix64(state) == value);
}

TEST_CASE("random: xoshiro256 starstar matches its reference values from state 1 2 3 4", "[runtime]") {
  Rng rng = Rng::fromState({1, 2, 3, 4});
  const std::array<uint64_t, 10> expected = {11520ULL,
                                             0ULL,
                                             1509978240ULL,
                                             1215971899390074240ULL,
                                             1216172134540287360ULL,
                                             607988272756665600ULL,
                                             16172922978634559625ULL,
                                             8476171486693032832ULL,
                                             10595114339597558777ULL,
                                             2904607092377533576ULL};
  for (const uint64_t value : expected) CHECK(rng.nextU64() == value);
}

TEST_CASE("random: a seeded stream has fixed first values", "[runtime]") {
  Rng rng(42);
  const std::array<uint64_t, 4> expected = {1546998764402558742ULL, 6990951692964543102ULL, 12544586762248559009ULL,
                                            17057574109182124193ULL};
  for (const uint64_t value : expected) CHECK(rng.nextU64() == value);
  Rng ints(7);
  const std::array<int64_t, 8> expected_ints = {4, 4, 8, 4, 4, 1, 6, 6};
  for (const int64_t value : expected_ints) CHECK(ints.uniformInt(0, 9) == value);
  Rng normals(2024);
  const std::array<double, 4> expected_normals = {0.78777049874583249, -0.73444884901588092, -0.63553283187080623,
                                                  -1.4615153259586555};
  for (const double value : expected_normals) CHECK_THAT(normals.normal(), Catch::Matchers::WithinAbs(value, 1e-15));
}

TEST_CASE("random: equal seeds give equal streams and different seeds differ", "[runtime]") {
  Rng first(99), second(99), other(100);
  bool any_difference = false;
  for (int draw = 0; draw < 100; ++draw) {
    const uint64_t value = first.nextU64();
    CHECK(second.nextU64() == value);
    any_difference = any_difference || other.nextU64() != value;
  }
  CHECK(any_difference);
}

TEST_CASE("random: bounded ints stay in range and hit every value", "[runtime]") {
  Rng rng(5);
  std::vector<int> hits(7, 0);
  for (int draw = 0; draw < 7000; ++draw) {
    const int64_t value = rng.uniformInt(-3, 3);
    REQUIRE(value >= -3);
    REQUIRE(value <= 3);
    ++hits[static_cast<size_t>(value + 3)];
  }
  for (const int count : hits) {
    CHECK(count > 850);
    CHECK(count < 1150);
  }
  CHECK(rng.uniformBelow(1) == 0);
  const int64_t any = rng.uniformInt(INT64_MIN, INT64_MAX);
  (void)any;
}

TEST_CASE("random: uniform floats lie below 1 with mean one half", "[runtime]") {
  Rng rng(11);
  double sum = 0;
  constexpr int kDraws = 20000;
  for (int draw = 0; draw < kDraws; ++draw) {
    const float single = rng.uniformFloat();
    const double wide = rng.uniformDouble();
    REQUIRE(single >= 0.0f);
    REQUIRE(single < 1.0f);
    REQUIRE(wide >= 0.0);
    REQUIRE(wide < 1.0);
    sum += wide;
  }
  CHECK_THAT(sum / kDraws, Catch::Matchers::WithinAbs(0.5, 0.01));
}

TEST_CASE("random: normals have mean 0 and variance 1", "[runtime]") {
  Rng rng(3);
  constexpr int kDraws = 40000;
  double sum = 0, squares = 0;
  for (int draw = 0; draw < kDraws; ++draw) {
    const double value = rng.normal();
    sum += value;
    squares += value * value;
  }
  const double mean = sum / kDraws;
  CHECK_THAT(mean, Catch::Matchers::WithinAbs(0.0, 0.02));
  CHECK_THAT(squares / kDraws - mean * mean, Catch::Matchers::WithinAbs(1.0, 0.03));
}

TEST_CASE("random: portable log agrees with std::log", "[runtime]") {
  for (const double x : {1e-300, 1e-9, 0.001, 0.1, 0.5, 0.70710678, 1.0, 1.5, 2.0, 3.0, 10.0, 12345.678, 1e300}) {
    CHECK_THAT(nnspec::rt::portableLog(x),
               Catch::Matchers::WithinRel(std::log(x), 1e-15) || Catch::Matchers::WithinAbs(std::log(x), 1e-15));
  }
}

TEST_CASE("random: derived seeds are stable and distinct per key", "[runtime]") {
  const std::string key = "sweep=arch;point=hidden=[50];fold=2;replicate=1";
  CHECK(nnspec::rt::deriveSeed(7, key) == nnspec::rt::deriveSeed(7, key));
  CHECK(nnspec::rt::deriveSeed(7, key) == 8616679593076414641ULL);
  CHECK(nnspec::rt::deriveSeed(7, key) != nnspec::rt::deriveSeed(8, key));
  std::set<uint64_t> seeds;
  int keys = 0;
  for (int fold = 0; fold < 10; ++fold) {
    for (int replicate = 0; replicate < 10; ++replicate) {
      seeds.insert(nnspec::rt::deriveSeed(
          7, "sweep=arch;point=hidden=[50];fold=" + std::to_string(fold) + ";replicate=" + std::to_string(replicate)));
      ++keys;
    }
  }
  seeds.insert(nnspec::rt::deriveSeed(7, ""));
  seeds.insert(nnspec::rt::deriveSeed(0, ""));
  CHECK(static_cast<int>(seeds.size()) == keys + 2);
  std::set<uint64_t> epochs;
  for (uint64_t epoch = 0; epoch < 1000; ++epoch) epochs.insert(nnspec::rt::deriveSeed(7, epoch));
  CHECK(epochs.size() == 1000);
}
