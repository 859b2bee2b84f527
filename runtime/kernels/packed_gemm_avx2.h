#pragma once
// The avx2 level's GEMM (AVX2 + FMA, 16 ymm registers), in the BLIS structure of the
// avx512 level's (packed_gemm.h): blocks of b (kc x nc) and micro-panels of a (kc x 6)
// are packed into scratch memory, and a register-blocked micro-kernel computes 6 x 16
// tiles of c (12 accumulators of 8 floats: a broadcast from a times two vectors of b per
// step of k), or 12 x 8 tiles (two micro-panels of a) when a block of b is at most 8
// columns wide.
//
// Block sizes, for a 32-48 KiB L1 and a 1 MiB L2 per core: kc = 256 steps of k, so one
// micro-panel of a (256 x 6 floats, 6 KiB) and one of b (256 x 16, 16 KiB) sit in L1
// together; nc = 512 columns, so the packed block of b (512 KiB) stays in half the L2;
// mc = 72 rows (12 micro-panels, 72 KiB) per packed block of a. k is split into equal
// blocks of at most kc.
//
// Compiled only into the avx2 level (kernel_level.h).

#include <cstdint>

#include "runtime/kernels/gemm_problem.h"

namespace nnspec::rt::avx2 {

inline constexpr int64_t kAvx2GemmKc = 256;
inline constexpr int64_t kAvx2GemmNc = 512;
inline constexpr int64_t kAvx2GemmMc = 72;
inline constexpr int64_t kAvx2GemmMr = 6;
inline constexpr int64_t kAvx2GemmScratchFloats = kAvx2GemmKc * kAvx2GemmMc + kAvx2GemmKc * kAvx2GemmNc;

// c = alpha * op(a) op(b) + beta * c (beta == 0: c only written); scratch:
// kAvx2GemmScratchFloats floats, 64-byte aligned.
// Computes the `part` of c only (gemm_problem.h).
void packedGemmAvx2(const GemmProblem& problem, const GemmPart& part, float* scratch) noexcept;

// `count` GEMMs that share op(a), m, n, k and the transpositions (each its own b, c,
// alpha and beta), each computed as packedGemmAvx2 computes it alone, to the bit; a block of
// op(a) is packed once for as many of them as the scratch holds blocks of b.
void packedGemmAvx2Shared(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept;

}  // namespace nnspec::rt::avx2
