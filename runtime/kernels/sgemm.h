#pragma once
// Single-precision GEMM behind the runtime ABI, computed with Eigen (single-threaded).

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// c[m,n] = op(a) * op(b), row-major and contiguous; op(a) is [m,k] (a stored [k,m] when
// transpose_a), op(b) is [k,n] (b stored [n,k] when transpose_b). Returns 0, or 2
// (kNnspecKernelError) for negative sizes or null buffers.
int32_t nnspec_rt_sgemm(int64_t m, int64_t n, int64_t k, const float* a, int32_t transpose_a,
                        const float* b, int32_t transpose_b, float* c) noexcept;

#ifdef __cplusplus
}
#endif
