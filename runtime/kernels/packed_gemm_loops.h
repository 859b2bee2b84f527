#pragma once
// The BLIS loops of the packed levels' GEMMs (packed_gemm.cpp, packed_gemm_avx2.cpp),
// written once around a level's block sizes, packing routines and micro-kernel: for each
// block of k, the blocks of op(b) of as many problems (GEMMs that share op(a)) as fit the
// scratch side by side, each in whole micro-panels (or, with few rows of c, read where
// they are stored: readsBInPlace); then for each block of rows, op(a) packed once and
// every problem's tiles computed from it. With one problem these are the plain BLIS
// loops; every element of c is computed from the same k blocks in the same order whatever
// the count or where op(b) is read from, so a problem gets the bits it gets alone.
//
// Included by the per-level sources only, each instantiating it with its own:
//   Blocks: kc, nc, mc, mr, nr, lanes          block sizes, tile shape, floats a vector
//   packA(problem, row0, rows, k0, kc, out)    micro-panels of mr rows of op(a)
//   packB(problem, k0, kc, col0, cols, out)    micro-panels of nr columns of op(b) at out + col * kc
//   micro(kc, a, b, ldb, c, ldc, rows, cols, alpha, beta)   one tile of c; b's k steps ldb
//                                              floats apart (a packed panel's width, or n
//                                              when b is read where it is stored)
//   scale(problem, part)                       c = beta c, for k == 0
//   copy(in, count, out)                       out[i] = in[i], i < count (short runs, inline)

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "runtime/kernels/gemm_problem.h"

namespace nnspec::rt {

struct GemmBlocks {
  int64_t kc, nc, mc, mr, nr, lanes;
  bool masked_b;  // the micro-kernel masks the load of b's last vector: no read past cols
};

using PackAFn = void (*)(const GemmProblem& problem, int64_t row0, int64_t rows, int64_t k0, int64_t kc, float* out);
using PackBFn = void (*)(const GemmProblem& problem, int64_t k0, int64_t kc, int64_t col0, int64_t cols, float* out);
using MicroFn = void (*)(int64_t kc, const float* a_panel, const float* b_panel, int64_t ldb, float* c, int64_t ldc,
                         int64_t rows, int64_t cols, float alpha, float beta);
using ScaleFn = void (*)(const GemmProblem& problem, const GemmPart& part);
using CopyFn = void (*)(const float* in, int64_t count, float* out);

// Whether the micro-kernel reads op(b) where it is stored rather than packed. A packed
// block of op(b) is read by every row tile of the part; with few rows (a forward step's
// batch of 32 makes 4 tiles on avx512) packing it costs about what those reads do, while
// op(b) stored [k,n] is already rows of contiguous columns, n floats apart. Up to 4 blocks
// of mc rows, reading in place made every train step of bench/gemm_shapes.cpp as fast or
// faster (its GEMMs time-weighted; the 784x64 forward at batch 32: 66-69% of the peak
// packed, 81-84% in place). A level whose last vector is not a masked load reads in place
// only when every tile's columns are whole vectors: its last vector would read past the
// part's columns, and past b's end on the last k.
template <GemmBlocks Level>
bool readsBInPlace(const GemmProblem& problem, const GemmPart& part) noexcept {
  return !problem.b.transposed && part.row_end - part.row_begin <= 4 * Level.mc &&
         (Level.masked_b || (part.col_begin % Level.lanes == 0 && part.col_end % Level.lanes == 0));
}

// Problems sharing op(a) whose n is not a whole number of micro-panels (784x50 or 784x64
// with 48-column panels) waste the tail of their last panel alone: a tile of 2 or 16
// columns costs nearly what one of 48 does. Side by side, their columns make one wide c
// (problem p's column j at p n + j) in whole panels but the last; a panel across two
// problems computes into a tile of its own, copied from and back to them (scaled there by
// each one's alpha and beta, as the micro-kernel does: alpha t, then beta c added in one
// fused multiply-add). Each element still gets the same k blocks in the same order (the
// bits it gets alone). For problems of one n (at least a vector), op(b) stored [k,n], and
// whole columns; false (nothing done) otherwise.
template <GemmBlocks Level, PackAFn packA, MicroFn micro, CopyFn copy>
bool wideGemmLoops(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept {
  const GemmProblem& shared = problems[0];
  const int64_t n = shared.n;
  if (count < 2 || n < Level.lanes || n % Level.nr == 0 || part.col_begin != 0 || part.col_end != n || shared.k == 0)
    return false;
  // Whole vectors read in place: the plain loops waste no lanes and pack no op(b), where
  // side by side the panels across two problems would be packed.
  const bool in_place = readsBInPlace<Level>(shared, part);
  if (in_place && n % Level.lanes == 0) return false;
  for (int64_t index = 0; index < count; ++index) {
    const GemmProblem& problem = problems[index];
    if (problem.b.transposed) return false;
  }
  float* a_block = scratch;                        // kc x mc, panel by panel
  float* b_block = scratch + Level.kc * Level.mc;  // kc x nc, panel by panel
  alignas(64) float tile[2 * Level.mr * Level.nr];  // a c tile across problems
  const int64_t total = n * count;                 // columns of the wide c
  constexpr int64_t nc = Level.nc / Level.nr * Level.nr;  // blocks of whole panels
  constexpr int64_t kPanels = nc / Level.nr;
  constexpr int64_t kRunsPerPanel = Level.nr / Level.lanes + 2;  // n >= lanes
  // A panel's columns, run by run: each run within one problem.
  struct Run {
    const GemmProblem* problem;
    int64_t from, cols, at;  // the problem's first column, how many, where in the panel
  };
  struct Panel {
    int64_t cols, width, runs;  // columns, floats a k step (whole vectors), runs
    bool uniform;               // every run's problem of one alpha and beta
    bool in_place;              // one run, read where op(b) is stored (see packedGemmLoops)
    Run run[kRunsPerPanel];
  };
  Panel panels[kPanels];
  const int64_t k_blocks = (shared.k + Level.kc - 1) / Level.kc;
  const int64_t kc_max = (shared.k + k_blocks - 1) / k_blocks;
  for (int64_t col0 = 0; col0 < total; col0 += nc) {
    const int64_t block_cols = std::min(nc, total - col0);
    const int64_t block_panels = (block_cols + Level.nr - 1) / Level.nr;
    int64_t member = col0 / n, from = col0 % n;
    for (int64_t index = 0; index < block_panels; ++index) {
      Panel& panel = panels[index];
      panel.cols = std::min(Level.nr, block_cols - index * Level.nr);
      panel.width = (panel.cols + Level.lanes - 1) / Level.lanes * Level.lanes;
      panel.runs = 0;
      panel.uniform = true;
      for (int64_t at = 0; at < panel.cols;) {
        const int64_t length = std::min(n - from, panel.cols - at);
        const GemmProblem& problem = problems[member];
        panel.run[panel.runs++] = Run{&problem, from, length, at};
        panel.uniform = panel.uniform && problem.alpha == panel.run[0].problem->alpha &&
                        problem.beta == panel.run[0].problem->beta;
        at += length;
        from += length;
        if (from == n) from = 0, ++member;
      }
      const Run& only = panel.run[0];
      panel.in_place = in_place && panel.runs == 1 &&
                       (Level.masked_b || (only.from % Level.lanes == 0 && only.from + panel.width <= n));
    }
    for (int64_t k0 = 0; k0 < shared.k; k0 += kc_max) {
      const int64_t kc = std::min(kc_max, shared.k - k0);
      const auto betaOf = [&](const GemmProblem& problem) {
        return k0 == 0 ? problem.beta : 1.0f;  // later k blocks add to the first
      };
      // op(b) as micro-panels of nr wide columns, each out[k_idx * width + col], padding zero.
      for (int64_t index = 0; index < block_panels; ++index) {
        const Panel& panel = panels[index];
        if (panel.in_place) continue;
        float* out = b_block + index * Level.nr * kc;
        for (int64_t k_idx = 0; k_idx < kc; ++k_idx, out += panel.width) {
          for (int64_t run = 0; run < panel.runs; ++run) {
            const Run& piece = panel.run[run];
            copy(piece.problem->b.data + (k0 + k_idx) * n + piece.from, piece.cols, out + piece.at);
          }
          for (int64_t col = panel.cols; col < panel.width; ++col) out[col] = 0.0f;
        }
      }
      for (int64_t block_row = part.row_begin; block_row < part.row_end; block_row += Level.mc) {
        const int64_t block_rows = std::min(Level.mc, part.row_end - block_row);
        packA(shared, block_row, block_rows, k0, kc, a_block);
        const int64_t row_step = block_cols <= Level.lanes ? 2 * Level.mr : Level.mr;
        for (int64_t panel_row = 0; panel_row < block_rows; panel_row += row_step) {
          const int64_t rows = std::min(row_step, block_rows - panel_row);
          const int64_t row = block_row + panel_row;
          const float* a_panel = a_block + panel_row * kc;
          for (int64_t index = 0; index < block_panels; ++index) {
            const Panel& panel = panels[index];
            const float* b_panel = b_block + index * Level.nr * kc;
            const GemmProblem& first = *panel.run[0].problem;
            if (panel.in_place) {
              micro(kc, a_panel, first.b.data + k0 * n + panel.run[0].from, n, first.c + row * n + panel.run[0].from,
                    n, rows, panel.cols, first.alpha, betaOf(first));
              continue;
            }
            if (panel.runs == 1) {
              micro(kc, a_panel, b_panel, panel.width, first.c + row * n + panel.run[0].from, n, rows, panel.cols,
                    first.alpha, betaOf(first));
              continue;
            }
            if (panel.uniform) {
              const float beta = betaOf(first);
              for (int64_t run = 0; run < panel.runs && beta != 0.0f; ++run)
                for (int64_t r = 0; r < rows; ++r)
                  copy(panel.run[run].problem->c + (row + r) * n + panel.run[run].from, panel.run[run].cols,
                       tile + r * Level.nr + panel.run[run].at);
              micro(kc, a_panel, b_panel, panel.width, tile, Level.nr, rows, panel.cols, first.alpha, beta);
              for (int64_t run = 0; run < panel.runs; ++run)
                for (int64_t r = 0; r < rows; ++r)
                  copy(tile + r * Level.nr + panel.run[run].at, panel.run[run].cols,
                       panel.run[run].problem->c + (row + r) * n + panel.run[run].from);
              continue;
            }
            micro(kc, a_panel, b_panel, panel.width, tile, Level.nr, rows, panel.cols, 1.0f, 0.0f);  // products alone
            for (int64_t run = 0; run < panel.runs; ++run) {
              const Run& piece = panel.run[run];
              const float alpha = piece.problem->alpha, beta = betaOf(*piece.problem);
              for (int64_t r = 0; r < rows; ++r) {
                const float* products = tile + r * Level.nr + piece.at;
                float* out = piece.problem->c + (row + r) * n + piece.from;
                for (int64_t col = 0; col < piece.cols; ++col) {
                  const float value = alpha * products[col];
                  out[col] = beta == 0.0f ? value : std::fma(beta, out[col], value);
                }
              }
            }
          }
        }
      }
    }
  }
  return true;
}

template <GemmBlocks Level, PackAFn packA, PackBFn packB, MicroFn micro, ScaleFn scale, CopyFn copy>
void packedGemmLoops(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept {
  if (count <= 0 || part.row_begin >= part.row_end || part.col_begin >= part.col_end) return;
  if (wideGemmLoops<Level, packA, micro, copy>(problems, count, part, scratch)) return;
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
  const bool b_in_place = readsBInPlace<Level>(shared, part);
  for (int64_t k0 = 0; k0 < shared.k; k0 += kc_max) {
    const int64_t kc = std::min(kc_max, shared.k - k0);
    for (int64_t col0 = part.col_begin; col0 < part.col_end; col0 += Level.nc) {
      const int64_t block_cols = std::min(Level.nc, part.col_end - col0);
      const int64_t padded_cols = (block_cols + Level.nr - 1) / Level.nr * Level.nr;
      const int64_t per_pass = b_in_place ? count : std::max<int64_t>(1, Level.nc / padded_cols);
      for (int64_t first = 0; first < count; first += per_pass) {
        const int64_t last = std::min(count, first + per_pass);
        for (int64_t index = first; index < last && !b_in_place; ++index)
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
              for (int64_t panel_col = 0; panel_col < block_cols; panel_col += Level.nr) {
                const int64_t cols = std::min(Level.nr, block_cols - panel_col);
                const float* b_panel = b_in_place ? problem.b.data + k0 * problem.n + col0 + panel_col
                                                  : b_panels + panel_col * kc;
                const int64_t ldb = b_in_place ? problem.n : (cols + Level.lanes - 1) / Level.lanes * Level.lanes;
                micro(kc, a_block + panel_row * kc, b_panel, ldb,
                      problem.c + (block_row + panel_row) * problem.n + col0 + panel_col, problem.n,
                      std::min(row_step, block_rows - panel_row), cols, problem.alpha, beta);
              }
          }
        }
      }
    }
  }
}

}  // namespace nnspec::rt
