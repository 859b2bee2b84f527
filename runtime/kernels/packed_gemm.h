#pragma once
// A packed GEMM for AVX-512 hosts, in the BLIS structure: blocks of b (kc x nc) and
// micro-panels of a (kc x 8) are packed into scratch memory, and a register-blocked
// micro-kernel computes 8 x 48 tiles of c (24 accumulators of 16 floats, a broadcast from
// a times three vectors of b per step of k). On the MLP shapes it runs at ~90% of the FMA
// peak where Eigen 3.4's 48x4 kernel reaches ~65%.
//
// The avx512 level's GEMM (kernel_level.h): compiled only into that level, with its
// instruction flags.

#include <cstdint>

#include "runtime/kernels/gemm_problem.h"

namespace nnspec::rt::avx512 {

// Block sizes: up to kc steps of k and nc columns of op(b) per packed block of b (L2), up
// to mc rows of op(a) per packed block of a, in micro-panels of mr rows (one stays in L1
// while it meets every micro-panel of the block of b).
inline constexpr int64_t kPackedGemmKc = 320;
inline constexpr int64_t kPackedGemmNc = 512;
inline constexpr int64_t kPackedGemmMc = 64;
inline constexpr int64_t kPackedGemmMr = 8;
inline constexpr int64_t kPackedGemmScratchFloats = kPackedGemmKc * kPackedGemmMc + kPackedGemmKc * kPackedGemmNc;

// c = alpha * op(a) op(b) + beta * c; scratch: kPackedGemmScratchFloats floats, 64-byte
// aligned.
// Computes the `part` of c only (gemm_problem.h).
void packedGemm(const GemmProblem& problem, const GemmPart& part, float* scratch) noexcept;

// `count` GEMMs that share op(a), m, n, k and the transpositions (each its own b, c,
// alpha and beta), each computed as packedGemm computes it alone, to the bit; a block of
// op(a) is packed once for as many of them as the scratch holds blocks of b.
void packedGemmShared(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept;

}  // namespace nnspec::rt::avx512
