#pragma once
// The BLIS loops of the packed levels' GEMMs (packed_gemm.cpp, packed_gemm_avx2.cpp),
// written once around a level's block sizes, packing routines and micro-kernel: for each
// block of k, the blocks of op(b) of as many problems (GEMMs that share op(a)) as fit the
// scratch side by side, each in whole micro-panels; then for each block of rows, op(a)
// packed once and every problem's tiles computed from it. With one problem these are the
// plain BLIS loops; every element of c is computed from the same k blocks in the same
// order whatever the count, so a problem gets the bits it gets alone.
//
// Included by the per-level sources only, each instantiating it with its own:
//   Blocks: kc, nc, mc, mr, nr, lanes          block sizes, tile shape, floats a vector
//   packA(problem, row0, rows, k0, kc, out)    micro-panels of mr rows of op(a)
//   packB(problem, k0, kc, col0, cols, out)    micro-panels of nr columns of op(b) at out + col * kc
//   micro(kc, a, b, c, ldc, rows, cols, alpha, beta)   one tile of c
//   scale(problem, part)                       c = beta c, for k == 0

#include <algorithm>
#include <cstdint>

#include "runtime/kernels/gemm_problem.h"

namespace nnspec::rt {

struct GemmBlocks {
  int64_t kc, nc, mc, mr, nr, lanes;
};

using PackAFn = void (*)(const GemmProblem& problem, int64_t row0, int64_t rows, int64_t k0, int64_t kc, float* out);
using PackBFn = void (*)(const GemmProblem& problem, int64_t k0, int64_t kc, int64_t col0, int64_t cols, float* out);
using MicroFn = void (*)(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, int64_t rows,
                         int64_t cols, float alpha, float beta);
using ScaleFn = void (*)(const GemmProblem& problem, const GemmPart& part);

template <GemmBlocks Level, PackAFn packA, PackBFn packB, MicroFn micro, ScaleFn scale>
void packedGemmLoops(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept {
  if (count <= 0 || part.row_begin >= part.row_end || part.col_begin >= part.col_end) return;
  const GemmProblem& shared = problems[0];  // op(a), m, n, k and the transpositions of all
  if (shared.k == 0) {
    for (int64_t index = 0; index < count; ++index) scale(problems[index], part);
    return;
  }
  float* a_block = scratch;                            // kc x mc, panel by panel
  float* b_block = scratch + Level.kc * Level.mc;  // kc x nc, panel by panel
  // Equal k blocks (784 = 4 x 196 rather than 3 x 256 + 16 for a kc of 256).
  const int64_t k_blocks = (shared.k + Level.kc - 1) / Level.kc;
  const int64_t kc_max = (shared.k + k_blocks - 1) / k_blocks;
  for (int64_t k0 = 0; k0 < shared.k; k0 += kc_max) {
    const int64_t kc = std::min(kc_max, shared.k - k0);
    for (int64_t col0 = part.col_begin; col0 < part.col_end; col0 += Level.nc) {
      const int64_t block_cols = std::min(Level.nc, part.col_end - col0);
      const int64_t padded_cols = (block_cols + Level.nr - 1) / Level.nr * Level.nr;
      const int64_t per_pass = std::max<int64_t>(1, Level.nc / padded_cols);
      for (int64_t first = 0; first < count; first += per_pass) {
        const int64_t last = std::min(count, first + per_pass);
        for (int64_t index = first; index < last; ++index)
          packB(problems[index], k0, kc, col0, block_cols, b_block + (index - first) * padded_cols * kc);
        for (int64_t block_row = part.row_begin; block_row < part.row_end; block_row += Level.mc) {
          const int64_t block_rows = std::min(Level.mc, part.row_end - block_row);
          packA(shared, block_row, block_rows, k0, kc, a_block);
          // One vector of columns: two micro-panels of a per micro-kernel (the levels' microKernel).
          const int64_t row_step = block_cols <= Level.lanes ? 2 * Level.mr : Level.mr;
          for (int64_t index = first; index < last; ++index) {
            const GemmProblem& problem = problems[index];
            const float* b_panels = b_block + (index - first) * padded_cols * kc;
            const float beta = k0 == 0 ? problem.beta : 1.0f;  // later k blocks add to the first
            for (int64_t panel_row = 0; panel_row < block_rows; panel_row += row_step)
              for (int64_t panel_col = 0; panel_col < block_cols; panel_col += Level.nr)
                micro(kc, a_block + panel_row * kc, b_panels + panel_col * kc,
                             problem.c + (block_row + panel_row) * problem.n + col0 + panel_col, problem.n,
                             std::min(row_step, block_rows - panel_row), std::min(Level.nr, block_cols - panel_col),
                             problem.alpha, beta);
          }
        }
      }
    }
  }
}

}  // namespace nnspec::rt
