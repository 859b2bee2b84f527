#include "runtime/kernels/sgemm.h"

#include <Eigen/Core>

#include "runtime/abi/step_abi.h"
#include "runtime/kernels/packed_gemm.h"

namespace nnspec::rt {
namespace {

static_assert(kNnspecSgemmScratchFloats >= kPackedGemmScratchFloats);

constexpr uintptr_t kScratchAlignBytes = 64;

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor>;

template <class A, class B>
void multiplyInto(const GemmProblem& problem, const A& a, const B& b) {
  Eigen::Map<RowMajor> c(problem.c, problem.m, problem.n);
  if (problem.beta == 0.0f) {
    c.noalias() = problem.alpha * (a * b);
    return;
  }
  if (problem.beta != 1.0f) c *= problem.beta;
  c.noalias() += problem.alpha * (a * b);
}

void eigenGemm(const GemmProblem& problem) {
  bool ta = problem.a.transposed;
  bool tb = problem.b.transposed;
  ConstMap a(problem.a.data, ta ? problem.k : problem.m, ta ? problem.m : problem.k);
  ConstMap b(problem.b.data, tb ? problem.n : problem.k, tb ? problem.k : problem.n);
  if (!ta && !tb) multiplyInto(problem, a, b);
  if (!ta && tb) multiplyInto(problem, a, b.transpose());
  if (ta && !tb) multiplyInto(problem, a.transpose(), b);
  if (ta && tb) multiplyInto(problem, a.transpose(), b.transpose());
}

}  // namespace
}  // namespace nnspec::rt

extern "C" int32_t nnspec_rt_sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int32_t transpose_a,
                                   const float* b, int32_t transpose_b, float beta, float* c, float* scratch) noexcept {
  using nnspec::rt::kScratchAlignBytes;
  if (m < 0 || n < 0 || k < 0 || a == nullptr || b == nullptr || c == nullptr || scratch == nullptr ||
      reinterpret_cast<uintptr_t>(scratch) % kScratchAlignBytes != 0)
    return kNnspecKernelError;
  nnspec::rt::GemmProblem problem{m, n, k, alpha, {a, transpose_a != 0}, {b, transpose_b != 0}, beta, c};
  if constexpr (nnspec::rt::kPackedGemmAvailable)
    nnspec::rt::packedGemm(problem, scratch);
  else
    nnspec::rt::eigenGemm(problem);
  return kNnspecOk;
}
