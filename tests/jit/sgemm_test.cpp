// The runtime GEMM kernel (runtime/kernels/sgemm.h) against a double-precision reference:
// every transpose combination, edge sizes around its blocking, alpha/beta, bad arguments.
#include "runtime/kernels/sgemm.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "runtime/abi/step_abi.h"

namespace nnspec::rt {
namespace {

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

std::unique_ptr<float[], AlignedFree> newScratch() {
  constexpr size_t kBytes = kNnspecSgemmScratchFloats * sizeof(float);
  return std::unique_ptr<float[], AlignedFree>(static_cast<float*>(std::aligned_alloc(64, kBytes)));
}

struct GemmCase {
  int64_t m, n, k;
  bool transpose_a, transpose_b;
  float alpha, beta;
};

// c = alpha * op(a) op(b) + beta * c in double; beta == 0 ignores c.
std::vector<double> referenceGemm(const GemmCase& gemm, const std::vector<float>& a, const std::vector<float>& b,
                                  const std::vector<float>& c) {
  std::vector<double> result(static_cast<size_t>(gemm.m * gemm.n));
  for (int64_t row = 0; row < gemm.m; ++row)
    for (int64_t col = 0; col < gemm.n; ++col) {
      double sum = 0.0;
      for (int64_t inner = 0; inner < gemm.k; ++inner) {
        float a_value = gemm.transpose_a ? a[static_cast<size_t>(inner * gemm.m + row)]
                                         : a[static_cast<size_t>(row * gemm.k + inner)];
        float b_value = gemm.transpose_b ? b[static_cast<size_t>(col * gemm.k + inner)]
                                         : b[static_cast<size_t>(inner * gemm.n + col)];
        sum += static_cast<double>(a_value) * b_value;
      }
      size_t flat = static_cast<size_t>(row * gemm.n + col);
      result[flat] = gemm.alpha * sum + (gemm.beta == 0.0f ? 0.0 : gemm.beta * c[flat]);
    }
  return result;
}

void checkGemm(const GemmCase& gemm, float* scratch) {
  std::mt19937 rng(static_cast<uint32_t>(gemm.m * 7919 + gemm.n * 131 + gemm.k));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(gemm.m * gemm.k));
  std::vector<float> b(static_cast<size_t>(gemm.k * gemm.n));
  std::vector<float> c(static_cast<size_t>(gemm.m * gemm.n));
  for (float& element : a) element = value(rng);
  for (float& element : b) element = value(rng);
  for (float& element : c) element = gemm.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : value(rng);
  std::vector<double> expected = referenceGemm(gemm, a, b, c);
  INFO("m " << gemm.m << " n " << gemm.n << " k " << gemm.k << " transpose_a " << gemm.transpose_a << " transpose_b "
            << gemm.transpose_b << " alpha " << gemm.alpha << " beta " << gemm.beta);
  REQUIRE(nnspec_rt_sgemm(gemm.m, gemm.n, gemm.k, gemm.alpha, a.data(), gemm.transpose_a, b.data(), gemm.transpose_b,
                          gemm.beta, c.data(), scratch) == kNnspecOk);
  // Sums of k products of values in [-1, 1]: float rounding grows like sqrt(k).
  double tolerance =
      1e-5 * std::sqrt(static_cast<double>(gemm.k) + 1.0) * std::max(1.0, std::fabs(static_cast<double>(gemm.alpha)));
  size_t wrong = 0;
  for (size_t flat = 0; flat < expected.size(); ++flat)
    if (!(std::fabs(c[flat] - expected[flat]) <= tolerance)) ++wrong;
  CHECK(wrong == 0);
}

TEST_CASE("sgemm matches a double reference for every transpose and edge size", "[runtime]") {
  auto scratch = newScratch();
  // Around the micro-tile (8 rows x 48 columns, vectors of 16), the column block (512)
  // and the k block (320, split evenly when k is larger).
  const int64_t sizes_m[] = {1, 7, 8, 9, 65, 130};
  const int64_t sizes_n[] = {1, 10, 16, 17, 48, 49, 97, 530};
  const int64_t sizes_k[] = {1, 8, 13, 321, 700};
  for (bool transpose_a : {false, true})
    for (bool transpose_b : {false, true})
      for (int64_t m : sizes_m)
        for (int64_t n : sizes_n)
          for (int64_t k : sizes_k) checkGemm({m, n, k, transpose_a, transpose_b, 1.0f, 0.0f}, scratch.get());
}

TEST_CASE("sgemm scales by alpha and accumulates beta times c", "[runtime]") {
  auto scratch = newScratch();
  for (bool transpose_a : {false, true})
    for (bool transpose_b : {false, true})
      for (float beta : {1.0f, 0.5f, 0.0f}) {
        checkGemm({37, 53, 29, transpose_a, transpose_b, -0.1f, beta}, scratch.get());
        checkGemm({128, 500, 700, transpose_a, transpose_b, 2.0f, beta}, scratch.get());
      }
}

TEST_CASE("sgemm with k = 0 scales c by beta", "[runtime]") {
  auto scratch = newScratch();
  std::vector<float> a(1), b(1);
  std::vector<float> c = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  REQUIRE(nnspec_rt_sgemm(2, 3, 0, 1.0f, a.data(), 0, b.data(), 0, 0.5f, c.data(), scratch.get()) == kNnspecOk);
  CHECK_THAT(c[5], Catch::WithinAbs(3.0, 1e-7));
  c.assign(6, std::numeric_limits<float>::quiet_NaN());
  REQUIRE(nnspec_rt_sgemm(2, 3, 0, 1.0f, a.data(), 0, b.data(), 0, 0.0f, c.data(), scratch.get()) == kNnspecOk);
  CHECK_THAT(c[0], Catch::WithinAbs(0.0, 0.0));
}

TEST_CASE("sgemm rejects bad arguments with a status", "[runtime]") {
  auto scratch = newScratch();
  std::vector<float> a(4, 1.0f), b(4, 1.0f), c(4, 0.0f);
  CHECK(nnspec_rt_sgemm(-1, 2, 2, 1.0f, a.data(), 0, b.data(), 0, 0.0f, c.data(), scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm(2, 2, 2, 1.0f, nullptr, 0, b.data(), 0, 0.0f, c.data(), scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm(2, 2, 2, 1.0f, a.data(), 0, b.data(), 0, 0.0f, c.data(), nullptr) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm(2, 2, 2, 1.0f, a.data(), 0, b.data(), 0, 0.0f, c.data(), scratch.get() + 1) ==
        kNnspecKernelError);
  CHECK(c == std::vector<float>(4, 0.0f));
}

}  // namespace
}  // namespace nnspec::rt
