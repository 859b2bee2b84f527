#include "runtime/kernels/eigen_gemm.h"

#include <Eigen/Core>

#include "runtime/kernels/kernel_level.h"

static_assert(NNSPEC_KERNEL_LEVEL == 0, "Eigen's GEMM is the generic level's");

namespace nnspec::rt::generic {
namespace {

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

}  // namespace

void eigenGemm(const GemmProblem& problem) noexcept {
  bool ta = problem.a.transposed;
  bool tb = problem.b.transposed;
  ConstMap a(problem.a.data, ta ? problem.k : problem.m, ta ? problem.m : problem.k);
  ConstMap b(problem.b.data, tb ? problem.n : problem.k, tb ? problem.k : problem.n);
  if (!ta && !tb) multiplyInto(problem, a, b);
  if (!ta && tb) multiplyInto(problem, a, b.transpose());
  if (ta && !tb) multiplyInto(problem, a.transpose(), b);
  if (ta && tb) multiplyInto(problem, a.transpose(), b.transpose());
}

}  // namespace nnspec::rt::generic
