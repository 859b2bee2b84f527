#include "runtime/pipeline/random.h"

#include <cmath>

namespace nnspec::rt {

namespace {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;
constexpr uint64_t kFnvOffset = 0xCBF29CE484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001B3ULL;
constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;  // 2^-53
constexpr float kTwoToMinus24 = 1.0f / 16777216.0f;         // 2^-24
constexpr double kLn2 = 0.693147180559945309417232121458176568;
constexpr double kSqrtHalf = 0.707106781186547524400844362104849039;

uint64_t rotateLeft(uint64_t value, int bits) { return (value << bits) | (value >> (64 - bits)); }

}  // namespace

uint64_t mixBits(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

uint64_t splitMix64(uint64_t& state) {
  state += kGoldenGamma;
  return mixBits(state);
}

uint64_t deriveSeed(uint64_t base, std::string_view key) {
  // FNV-1a over the key's bytes, started from a mix of the base seed, then a full
  // avalanche of the hash together with the key's length.
  uint64_t hash = kFnvOffset ^ mixBits(base + kGoldenGamma);
  for (const char byte : key) {
    hash ^= static_cast<uint8_t>(byte);
    hash *= kFnvPrime;
  }
  return mixBits(mixBits(hash) ^ (static_cast<uint64_t>(key.size()) * kGoldenGamma));
}

uint64_t deriveSeed(uint64_t base, uint64_t index) {
  return mixBits(mixBits(base + kGoldenGamma) ^ mixBits(index + 2 * kGoldenGamma));
}

Rng::Rng(uint64_t seed) {
  uint64_t seeder = seed;
  for (auto& word : state_) word = splitMix64(seeder);
}

Rng Rng::fromState(const std::array<uint64_t, 4>& state) {
  Rng rng;
  rng.state_ = state;
  return rng;
}

uint64_t Rng::nextU64() {
  const uint64_t result = rotateLeft(state_[1] * 5, 7) * 9;
  const uint64_t shifted = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= shifted;
  state_[3] = rotateLeft(state_[3], 45);
  return result;
}

uint64_t Rng::uniformBelow(uint64_t bound) {
  // Reject the lowest (2^64 mod bound) values so every residue is equally likely.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t value = nextU64();
    if (value >= threshold) return value % bound;
  }
}

int64_t Rng::uniformInt(int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span == UINT64_MAX) return static_cast<int64_t>(nextU64());
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + uniformBelow(span + 1));
}

double Rng::uniformDouble() { return static_cast<double>(nextU64() >> 11) * kTwoToMinus53; }

float Rng::uniformFloat() { return static_cast<float>(nextU64() >> 40) * kTwoToMinus24; }

double Rng::uniformDouble(double lo, double hi) { return lo + (hi - lo) * uniformDouble(); }

double Rng::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  for (;;) {
    const double u = 2.0 * uniformDouble() - 1.0;
    const double v = 2.0 * uniformDouble() - 1.0;
    const double radius_squared = u * u + v * v;
    if (radius_squared >= 1.0 || radius_squared == 0.0) continue;
    // sqrt is correctly rounded by IEEE 754, so only log needs our own version.
    const double factor = std::sqrt(-2.0 * portableLog(radius_squared) / radius_squared);
    spare_normal_ = v * factor;
    has_spare_normal_ = true;
    return u * factor;
  }
}

double Rng::normal(double mean, double stddev) { return mean + stddev * normal(); }

double portableLog(double x) {
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(s), s = (m-1)/(m+1),
  // |s| <= 0.1716, so the odd series s + s^3/3 + ... reaches double precision by s^41.
  int exponent = 0;
  double mantissa = std::frexp(x, &exponent);  // exact: [0.5, 1)
  if (mantissa < kSqrtHalf) {
    mantissa *= 2.0;
    exponent -= 1;
  }
  const double s = (mantissa - 1.0) / (mantissa + 1.0);
  const double s_squared = s * s;
  constexpr int kLastOddPower = 41;
  double series = 1.0 / kLastOddPower;
  for (int power = kLastOddPower - 2; power >= 1; power -= 2) series = 1.0 / power + s_squared * series;
  return 2.0 * s * series + static_cast<double>(exponent) * kLn2;
}

}  // namespace nnspec::rt
