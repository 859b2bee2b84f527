#pragma once
// A single-precision GEMM as the kernels of every CPU level take it (sgemm.h's contract).

#include <cstdint>

namespace nnspec::rt {

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

// The part of c one call computes: rows [row_begin, row_end) and columns [col_begin,
// col_end). A GEMM split among threads (gemm_split.h) gives each thread a part; every
// element is computed as in the whole (the same k blocks in the same order), so the
// split changes no bit.
struct GemmPart {
  int64_t row_begin = 0;
  int64_t row_end = 0;
  int64_t col_begin = 0;
  int64_t col_end = 0;
};

inline GemmPart wholeOf(const GemmProblem& problem) { return {0, problem.m, 0, problem.n}; }

}  // namespace nnspec::rt
