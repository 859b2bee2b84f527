#pragma once
// The measured single-core FMA peak, the yardstick of the benches' "% of peak": 12
// independent accumulators (more than latency x ports on current cores), each chained
// through the FMA's addend (on some cores a chain through a multiplicand runs at half the
// rate), GFLOP/s counting an FMA as 2; the best of 10 rounds, since another process may
// take the core for part of one. Header-only: bench/gemm_shapes.cpp and
// bench/train_epoch.cpp share it.

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "runtime/kernels/cpu_dispatch.h"

namespace nnspec::bench {

namespace fma_peak_detail {

using Clock = std::chrono::steady_clock;
constexpr int kChains = 12;
constexpr int64_t kPeakIterations = 2'000'000;  // per round

__attribute__((target("avx512f"))) inline double peakAvx512Round() {
  __m512 acc[kChains];
  for (int chain = 0; chain < kChains; ++chain) acc[chain] = _mm512_set1_ps(0.001f * chain);
  const __m512 scale = _mm512_set1_ps(0.9999999f), shift = _mm512_set1_ps(1e-7f);
  auto start = Clock::now();
  for (int64_t iteration = 0; iteration < kPeakIterations; ++iteration)
#pragma GCC unroll 12
    for (int chain = 0; chain < kChains; ++chain) acc[chain] = _mm512_fmadd_ps(scale, shift, acc[chain]);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  alignas(64) float lanes[16];
  __m512 sum = acc[0];
  for (int chain = 1; chain < kChains; ++chain) sum = _mm512_add_ps(sum, acc[chain]);
  _mm512_store_ps(lanes, sum);
  if (lanes[0] == 12345.0f) std::puts("");
  return kPeakIterations * kChains * 16 * 2 / seconds / 1e9;
}

__attribute__((target("avx2,fma"))) inline double peakAvx2Round() {
  __m256 acc[kChains];
  for (int chain = 0; chain < kChains; ++chain) acc[chain] = _mm256_set1_ps(0.001f * chain);
  const __m256 scale = _mm256_set1_ps(0.9999999f), shift = _mm256_set1_ps(1e-7f);
  auto start = Clock::now();
  for (int64_t iteration = 0; iteration < kPeakIterations; ++iteration)
#pragma GCC unroll 12
    for (int chain = 0; chain < kChains; ++chain) acc[chain] = _mm256_fmadd_ps(scale, shift, acc[chain]);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  alignas(32) float lanes[8];
  __m256 sum = acc[0];
  for (int chain = 1; chain < kChains; ++chain) sum = _mm256_add_ps(sum, acc[chain]);
  _mm256_store_ps(lanes, sum);
  if (lanes[0] == 12345.0f) std::puts("");
  return kPeakIterations * kChains * 8 * 2 / seconds / 1e9;
}

inline double bestOf(double (*round)()) {
  double best = 0.0;
  for (int repeat = 0; repeat < 10; ++repeat) best = std::max(best, round());
  return best;
}

}  // namespace fma_peak_detail

struct FmaPeak {
  double avx512 = 0.0;  // GFLOP/s; 0 when the CPU lacks the level
  double avx2 = 0.0;
  double best() const { return std::max(avx512, avx2); }
};

// `best_level`: nnspec_rt_cpu_best_level(), so that no level the CPU lacks is run.
inline FmaPeak measureFmaPeak(int32_t best_level) {
  using namespace fma_peak_detail;
  FmaPeak peak;
  if (best_level >= kNnspecCpuAvx2) peak.avx2 = bestOf(peakAvx2Round);
  if (best_level >= kNnspecCpuAvx512) peak.avx512 = bestOf(peakAvx512Round);
  return peak;
}

}  // namespace nnspec::bench
