// nnspec_rt_sgemm's contract (sgemm.h) at one CPU level: the arguments checked, then the
// level's GEMM. A per-level source (kernel_level.h).
#include "runtime/abi/step_abi.h"
#include "runtime/kernels/gemm_problem.h"
#include "runtime/kernels/gemm_split.h"
#include "runtime/kernels/level_kernels.h"
#include "runtime/kernels/sgemm.h"

#if NNSPEC_KERNEL_LEVEL == 2
#include "runtime/kernels/packed_gemm.h"
#elif NNSPEC_KERNEL_LEVEL == 1
#include "runtime/kernels/packed_gemm_avx2.h"
#else
#include "runtime/kernels/eigen_gemm.h"
#endif

namespace nnspec::rt::NNSPEC_KERNEL_NS {

#if NNSPEC_KERNEL_LEVEL == 2
static_assert(kNnspecSgemmScratchFloats >= kPackedGemmScratchFloats);
#elif NNSPEC_KERNEL_LEVEL == 1
static_assert(kNnspecSgemmScratchFloats >= kAvx2GemmScratchFloats);
#endif

int32_t sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int32_t transpose_a, const float* b,
              int32_t transpose_b, float beta, float* c, float* scratch) noexcept {
  constexpr uintptr_t kScratchAlignBytes = 64;
  if (m < 0 || n < 0 || k < 0 || a == nullptr || b == nullptr || c == nullptr || scratch == nullptr ||
      reinterpret_cast<uintptr_t>(scratch) % kScratchAlignBytes != 0)
    return kNnspecKernelError;
  const GemmProblem problem{m, n, k, alpha, {a, transpose_a != 0}, {b, transpose_b != 0}, beta, c};
  // The packed levels split c among the calling thread's team (gemm_split.h); Eigen's
  // blocking depends on the sizes it is given, so the generic level never splits (its
  // numbers would change with the thread count).
#if NNSPEC_KERNEL_LEVEL == 2
  if (!splitGemm(&problem, 1, &packedGemmShared, scratch)) packedGemm(problem, wholeOf(problem), scratch);
#elif NNSPEC_KERNEL_LEVEL == 1
  if (!splitGemm(&problem, 1, &packedGemmAvx2Shared, scratch)) packedGemmAvx2(problem, wholeOf(problem), scratch);
#else
  eigenGemm(problem);
#endif
  return kNnspecOk;
}

int32_t sgemmSharedA(int64_t count, int64_t m, int64_t n, int64_t k, const float* alpha, const float* a,
                     int32_t transpose_a, const float* const* b, int32_t transpose_b, const float* beta,
                     float* const* c, float* scratch) noexcept {
  constexpr uintptr_t kScratchAlignBytes = 64;
  constexpr int64_t kMaxShared = 64;
  if (count < 1 || count > kMaxShared || m < 0 || n < 0 || k < 0 || alpha == nullptr || a == nullptr ||
      b == nullptr || beta == nullptr || c == nullptr || scratch == nullptr ||
      reinterpret_cast<uintptr_t>(scratch) % kScratchAlignBytes != 0)
    return kNnspecKernelError;
  GemmProblem problems[kMaxShared];
  for (int64_t index = 0; index < count; ++index) {
    if (b[index] == nullptr || c[index] == nullptr) return kNnspecKernelError;
    problems[index] = GemmProblem{m,        n, k, alpha[index], {a, transpose_a != 0}, {b[index], transpose_b != 0},
                                  beta[index], c[index]};
  }
#if NNSPEC_KERNEL_LEVEL == 2
  if (!splitGemm(problems, count, &packedGemmShared, scratch))
    packedGemmShared(problems, count, wholeOf(problems[0]), scratch);
#elif NNSPEC_KERNEL_LEVEL == 1
  if (!splitGemm(problems, count, &packedGemmAvx2Shared, scratch))
    packedGemmAvx2Shared(problems, count, wholeOf(problems[0]), scratch);
#else
  for (int64_t index = 0; index < count; ++index) eigenGemm(problems[index]);
#endif
  return kNnspecOk;
}

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
