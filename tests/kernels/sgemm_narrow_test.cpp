// The packed GEMM's narrow path (one vector of columns, two micro-panels of rows per
// micro-kernel: convolutions with few output channels) against a double-precision
// reference, with alpha and beta, every transpose, rows around the 16-row pairs.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "runtime/abi/step_abi.h"
#include "runtime/kernels/sgemm.h"

namespace nnspec::rt {
namespace {

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

TEST_CASE("sgemm with at most 16 columns matches a double reference, alpha and beta", "[runtime]") {
  std::unique_ptr<float[], AlignedFree> scratch(
      static_cast<float*>(std::aligned_alloc(64, kNnspecSgemmScratchFloats * sizeof(float))));
  std::mt19937 rng(303);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int64_t m : {int64_t{15}, int64_t{16}, int64_t{23}, int64_t{24}, int64_t{70}})
    for (int64_t n : {int64_t{1}, int64_t{6}, int64_t{16}})
      for (int64_t k : {int64_t{5}, int64_t{330}})
        for (int transpose_a : {0, 1})
          for (int transpose_b : {0, 1})
            for (float beta : {0.0f, 0.5f, 1.0f}) {
              INFO("m " << m << " n " << n << " k " << k << " ta " << transpose_a << " tb " << transpose_b << " beta "
                        << beta);
              std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)),
                  c(static_cast<size_t>(m * n));
              for (float& element : a) element = value(rng);
              for (float& element : b) element = value(rng);
              for (float& element : c) element = beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : value(rng);
              const float alpha = -0.75f;
              std::vector<double> expected(c.size());
              for (int64_t row = 0; row < m; ++row)
                for (int64_t col = 0; col < n; ++col) {
                  double sum = 0.0;
                  for (int64_t inner = 0; inner < k; ++inner)
                    sum += static_cast<double>(transpose_a ? a[inner * m + row] : a[row * k + inner]) *
                           (transpose_b ? b[col * k + inner] : b[inner * n + col]);
                  double old = beta == 0.0f ? 0.0 : beta * static_cast<double>(c[row * n + col]);
                  expected[row * n + col] = alpha * sum + old;
                }
              REQUIRE(nnspec_rt_sgemm(m, n, k, alpha, a.data(), transpose_a, b.data(), transpose_b, beta, c.data(),
                                      scratch.get()) == kNnspecOk);
              size_t wrong = 0;
              for (size_t flat = 0; flat < c.size(); ++flat)
                if (!(std::fabs(c[flat] - expected[flat]) <= 1e-5 * std::sqrt(static_cast<double>(k) + 1.0))) ++wrong;
              CHECK(wrong == 0);
            }
}

}  // namespace
}  // namespace nnspec::rt
