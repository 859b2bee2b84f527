#pragma once
// Single-precision GEMM behind the runtime ABI (single-threaded), at the CPU level chosen
// at start-up (cpu_dispatch.h): a packed 8x48 AVX-512 kernel (packed_gemm.h), a packed
// 6x16 AVX2 kernel (packed_gemm_avx2.h), or Eigen's for the x86-64 baseline (eigen_gemm.h).

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Floats of scratch memory nnspec_rt_sgemm needs (the packed panels of a and b).
enum { kNnspecSgemmScratchFloats = 320 * 64 + 320 * 512 };

// c[m,n] = alpha * op(a) op(b) + beta * c, row-major and contiguous; op(a) is [m,k] (a
// stored [k,m] when transpose_a), op(b) is [k,n] (b stored [n,k] when transpose_b). With
// beta == 0, c is only written (its old contents, even NaN, do not matter). `scratch`
// holds kNnspecSgemmScratchFloats floats, 64-byte aligned, and must not overlap a, b or c.
// Returns 0, or 2 (kNnspecKernelError) for negative sizes, null buffers or a misaligned
// scratch.
int32_t nnspec_rt_sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int32_t transpose_a,
                        const float* b, int32_t transpose_b, float beta, float* c, float* scratch) noexcept;

#ifdef __cplusplus
}
#endif
