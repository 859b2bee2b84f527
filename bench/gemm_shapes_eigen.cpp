// Eigen 3.4's GEMM compiled for AVX2 + FMA, for bench/gemm_shapes.cpp: what an AVX2 machine
// ran before the kernels had an AVX2 GEMM of their own. Call only on such a CPU.
#include <Eigen/Core>
#include <cstdint>

namespace nnspec::bench {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor>;

template <class A, class B>
void multiplyInto(float* c_data, int64_t m, int64_t n, float alpha, const A& a, const B& b, float beta) {
  Eigen::Map<RowMajor> c(c_data, m, n);
  if (beta == 0.0f) {
    c.noalias() = alpha * (a * b);
    return;
  }
  if (beta != 1.0f) c *= beta;
  c.noalias() += alpha * (a * b);
}

}  // namespace

__attribute__((visibility("default"))) void eigenAvx2Sgemm(int64_t m, int64_t n, int64_t k, float alpha,
                                                           const float* a_data, bool ta, const float* b_data, bool tb,
                                                           float beta, float* c) {
  ConstMap a(a_data, ta ? k : m, ta ? m : k);
  ConstMap b(b_data, tb ? n : k, tb ? k : n);
  if (!ta && !tb) multiplyInto(c, m, n, alpha, a, b, beta);
  if (!ta && tb) multiplyInto(c, m, n, alpha, a, b.transpose(), beta);
  if (ta && !tb) multiplyInto(c, m, n, alpha, a.transpose(), b, beta);
  if (ta && tb) multiplyInto(c, m, n, alpha, a.transpose(), b.transpose(), beta);
}

}  // namespace nnspec::bench
