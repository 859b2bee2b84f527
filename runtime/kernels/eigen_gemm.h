#pragma once
// The generic level's GEMM: Eigen 3.4's, compiled for the x86-64 baseline (SSE2). Every
// level's GEMM honours nnspec_rt_sgemm's contract (sgemm.h).

#include "runtime/kernels/gemm_problem.h"

namespace nnspec::rt::generic {

// c = alpha * op(a) op(b) + beta * c (beta == 0: c only written).
void eigenGemm(const GemmProblem& problem) noexcept;

}  // namespace nnspec::rt::generic
