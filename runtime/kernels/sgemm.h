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

// `count` (1 to 64) GEMMs that share op(a): c[i] = alpha[i] * op(a) op(b[i]) + beta[i] *
// c[i], each [m,n] as above, each to the bit as nnspec_rt_sgemm computes it alone. The
// packed levels pack each block of op(a) once for them all, and lay narrow problems side
// by side as one wide c: the first layer of the points of a fused step
// (compiler/lowering/fuse_points.h) that read one batch, forward and weight gradients
// (SGD's in place, each point with its own rate and decay). Returns 0, or 2 for a count
// out of range, negative sizes, null buffers or a misaligned scratch.
int32_t nnspec_rt_sgemm_shared_a(int64_t count, int64_t m, int64_t n, int64_t k, const float* alpha, const float* a,
                                 int32_t transpose_a, const float* const* b, int32_t transpose_b, const float* beta,
                                 float* const* c, float* scratch) noexcept;

#ifdef __cplusplus
}
#endif
