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

}  // namespace nnspec::rt
