#pragma once
// Deterministic randomness for the runtime: one small generator whose streams are the
// same on every machine and compiler, and stable seeds derived from text keys.
//
// Rng is xoshiro256** (Blackman & Vigna), seeded through SplitMix64. Every derived
// value (bounded ints, floats, normals) is computed here with integer arithmetic or
// plain IEEE double operations — never with std::*_distribution, whose output is
// implementation-defined, and never with libm's log/cos, which may differ in the last
// bit between C libraries.

#include <array>
#include <cstdint>
#include <string_view>

namespace nnspec::rt {

// One step of SplitMix64: advances `state` and returns the next output.
uint64_t splitMix64(uint64_t& state);

// SplitMix64's output function alone: a bijective avalanche of 64 bits.
uint64_t mixBits(uint64_t value);

// A seed for one trial, epoch, fold... from a base seed and a text key such as
// "sweep=arch;point=hidden=[50];fold=2;replicate=1". Stable across runs, machines and
// schedules; distinct keys give unrelated seeds.
uint64_t deriveSeed(uint64_t base, std::string_view key);

// A seed from a base seed and a number (e.g. an epoch), same guarantees as above.
uint64_t deriveSeed(uint64_t base, uint64_t index);

class Rng {
 public:
  // The four state words are SplitMix64's first four outputs from `seed`.
  explicit Rng(uint64_t seed);
  // Raw state, for reproducing reference vectors; must not be all zero.
  static Rng fromState(const std::array<uint64_t, 4>& state);

  // The next 64 random bits.
  uint64_t nextU64();
  // Uniform in [0, bound), without modulo bias (bound > 0).
  uint64_t uniformBelow(uint64_t bound);
  // Uniform in [lo, hi], both inclusive (lo <= hi).
  int64_t uniformInt(int64_t lo, int64_t hi);
  // Uniform in [0, 1): 53 random bits.
  double uniformDouble();
  // Uniform in [0, 1): 24 random bits.
  float uniformFloat();
  // Uniform in [lo, hi).
  double uniformDouble(double lo, double hi);
  // Standard normal (Marsaglia's polar method; the second value of a pair is kept).
  double normal();
  double normal(double mean, double stddev);

 private:
  Rng() = default;
  std::array<uint64_t, 4> state_{};
  double spare_normal_ = 0;
  bool has_spare_normal_ = false;
};

// Natural logarithm from +, -, *, / and frexp only, so it is bit-identical wherever
// doubles are IEEE 754 (x > 0, finite). Relative error about 1e-16.
double portableLog(double x);

}  // namespace nnspec::rt
