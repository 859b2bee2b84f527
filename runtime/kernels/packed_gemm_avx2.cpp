#include "runtime/kernels/packed_gemm_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "runtime/kernels/kernel_level.h"
#include "runtime/kernels/packed_gemm_loops.h"

static_assert(NNSPEC_KERNEL_LEVEL == 1, "the packed 6x16 GEMM is the avx2 level's");

namespace nnspec::rt::avx2 {
namespace {

constexpr int64_t kMr = kAvx2GemmMr;  // rows of a c tile: broadcasts from packed a
constexpr int64_t kLanes = 8;         // floats per AVX2 vector
constexpr int kMaxVectors = 2;        // columns of a c tile: up to 2 vectors of b
constexpr int64_t kNr = kMaxVectors * kLanes;
static_assert(kAvx2GemmMc % (2 * kMr) == 0, "a block of a holds whole pairs of micro-panels");
static_assert(kAvx2GemmKc * kAvx2GemmMc % 16 == 0, "the packed block of b starts 64-byte aligned");

int64_t vectorsFor(int64_t columns) { return (columns + kLanes - 1) / kLanes; }

// The first `lanes` lanes (0 to 8) set, for masked loads.
__m256i laneMask(int64_t lanes) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(lanes)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// out[col * out_stride + row] = in[row * in_stride + col] for an 8x8 block.
void transpose8x8(const float* in, int64_t in_stride, float* out, int64_t out_stride) {
  __m256 rows[8];
  for (int row = 0; row < 8; ++row) rows[row] = _mm256_loadu_ps(in + row * in_stride);
  __m256 pairs[8];
  for (int pair = 0; pair < 4; ++pair) {
    pairs[2 * pair] = _mm256_unpacklo_ps(rows[2 * pair], rows[2 * pair + 1]);
    pairs[2 * pair + 1] = _mm256_unpackhi_ps(rows[2 * pair], rows[2 * pair + 1]);
  }
  __m256 quads[8];
  for (int half = 0; half < 2; ++half)
    for (int side = 0; side < 2; ++side) {
      __m256 low = pairs[4 * half + side];
      __m256 high = pairs[4 * half + side + 2];
      quads[4 * half + 2 * side] = _mm256_shuffle_ps(low, high, 0x44);
      quads[4 * half + 2 * side + 1] = _mm256_shuffle_ps(low, high, 0xEE);
    }
  for (int col = 0; col < 4; ++col) {
    _mm256_storeu_ps(out + col * out_stride, _mm256_permute2f128_ps(quads[col], quads[col + 4], 0x20));
    _mm256_storeu_ps(out + (col + 4) * out_stride, _mm256_permute2f128_ps(quads[col], quads[col + 4], 0x31));
  }
}

// Rows [row0, row0 + rows) and steps [k0, k0 + kc) of op(a) as micro-panels of kMr rows,
// panel by panel: out[(row_idx / kMr) * kc * kMr + k_idx * kMr + row_idx % kMr], rows past
// `rows` zero.
void packABlock(const GemmProblem& problem, int64_t row0, int64_t rows, int64_t k0, int64_t kc, float* out) {
  const float* a = problem.a.data;
  if (!problem.a.transposed) {  // stored [m,k]: each row of a panel is contiguous
    for (int64_t panel_row = 0; panel_row < rows; panel_row += kMr) {
      float* panel = out + panel_row * kc;
      for (int64_t row_idx = 0; row_idx < kMr; ++row_idx) {
        if (panel_row + row_idx >= rows) {
          for (int64_t k_idx = 0; k_idx < kc; ++k_idx) panel[k_idx * kMr + row_idx] = 0.0f;
          continue;
        }
        const float* line = a + (row0 + panel_row + row_idx) * problem.k + k0;
        for (int64_t k_idx = 0; k_idx < kc; ++k_idx) panel[k_idx * kMr + row_idx] = line[k_idx];
      }
    }
    return;
  }
  for (int64_t k_idx = 0; k_idx < kc; ++k_idx) {  // stored [k,m]: the rows of one step are contiguous
    const float* src = a + (k0 + k_idx) * problem.m + row0;
    for (int64_t panel_row = 0; panel_row < rows; panel_row += kMr) {
      float* step = out + panel_row * kc + k_idx * kMr;
      for (int64_t row_idx = 0; row_idx < kMr; ++row_idx)
        step[row_idx] = panel_row + row_idx < rows ? src[panel_row + row_idx] : 0.0f;
    }
  }
}

// Columns [col0, col0 + cols) and steps [k0, k0 + kc) of op(b), cols <= kNr, as one
// micro-panel: out[k_idx * width + col_idx], width = cols rounded up to whole vectors,
// padding zero. Only for b stored [n,k] (each column of op(b) contiguous).
void packTransposedBPanel(const GemmProblem& problem, int64_t k0, int64_t kc, int64_t col0, int64_t cols, float* out) {
  int64_t width = vectorsFor(cols) * kLanes;
  const float* src = problem.b.data + col0 * problem.k + k0;
  int64_t whole_cols = cols / 8 * 8;
  for (int64_t col_idx = 0; col_idx < whole_cols; col_idx += 8) {
    int64_t k_idx = 0;
    for (; k_idx + 8 <= kc; k_idx += 8)
      transpose8x8(src + col_idx * problem.k + k_idx, problem.k, out + k_idx * width + col_idx, width);
    for (; k_idx < kc; ++k_idx)
      for (int64_t lane = 0; lane < 8; ++lane)
        out[k_idx * width + col_idx + lane] = src[(col_idx + lane) * problem.k + k_idx];
  }
  for (int64_t col_idx = whole_cols; col_idx < width; ++col_idx)
    for (int64_t k_idx = 0; k_idx < kc; ++k_idx)
      out[k_idx * width + col_idx] = col_idx < cols ? src[col_idx * problem.k + k_idx] : 0.0f;
}

// Columns [col0, col0 + cols) and steps [k0, k0 + kc) of op(b) as micro-panels of kNr
// columns at out + panel_col * kc (see packTransposedBPanel). Stored [k,n], the columns of
// one step are contiguous: read them in order.
void packBBlock(const GemmProblem& problem, int64_t k0, int64_t kc, int64_t col0, int64_t cols, float* out) {
  if (problem.b.transposed) {
    for (int64_t panel_col = 0; panel_col < cols; panel_col += kNr)
      packTransposedBPanel(problem, k0, kc, col0 + panel_col, std::min(kNr, cols - panel_col), out + panel_col * kc);
    return;
  }
  for (int64_t k_idx = 0; k_idx < kc; ++k_idx) {
    const float* src = problem.b.data + (k0 + k_idx) * problem.n + col0;
    for (int64_t panel_col = 0; panel_col < cols; panel_col += kNr) {
      int64_t panel_cols = std::min(kNr, cols - panel_col);
      int64_t vectors = vectorsFor(panel_cols);
      float* panel = out + panel_col * kc + k_idx * vectors * kLanes;
      for (int64_t vector = 0; vector < vectors; ++vector) {
        const float* in = src + panel_col + vector * kLanes;
        int64_t lanes = panel_cols - vector * kLanes;
        _mm256_store_ps(panel + vector * kLanes,
                        lanes >= kLanes ? _mm256_loadu_ps(in) : _mm256_maskload_ps(in, laneMask(lanes)));
      }
    }
  }
}

// The c tile at `c` (rows x cols, within Panels * kMr rows, from Panels consecutive
// micro-panels of a, and Vectors * 8 columns; b's k steps ldb floats apart, every vector
// read whole) becomes alpha * (a b_panel) + beta * c;
// beta == 0 does not read c. Whole tiles are stored straight from the registers, edge
// tiles through a buffer. Two panels for one vector of columns keep 12 accumulators busy
// where one panel would leave the FMA units half idle.
template <int Vectors, int Panels>
void microKernel(int64_t kc, const float* __restrict a_panel, const float* __restrict b_panel, int64_t ldb, float* c,
                 int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta) {
  constexpr int kRows = kMr * Panels;
  constexpr int kCols = Vectors * kLanes;
  const int64_t panel_stride = kc * kMr;  // floats between consecutive micro-panels of a
  __m256 acc[kRows][Vectors];
#pragma GCC unroll 12
  for (int row = 0; row < kRows; ++row)
#pragma GCC unroll 2
    for (int vector = 0; vector < Vectors; ++vector) acc[row][vector] = _mm256_setzero_ps();
  for (int64_t k_idx = 0; k_idx < kc; ++k_idx) {
    __m256 b_row[Vectors];
#pragma GCC unroll 2
    for (int vector = 0; vector < Vectors; ++vector)
      b_row[vector] = _mm256_loadu_ps(b_panel + k_idx * ldb + vector * kLanes);
#pragma GCC unroll 12
    for (int row = 0; row < kRows; ++row) {
      __m256 a_value = _mm256_broadcast_ss(a_panel + (row / kMr) * panel_stride + k_idx * kMr + row % kMr);
#pragma GCC unroll 2
      for (int vector = 0; vector < Vectors; ++vector)
        acc[row][vector] = _mm256_fmadd_ps(a_value, b_row[vector], acc[row][vector]);
    }
  }
  if (rows == kRows && cols == kCols) {
    const __m256 alpha_v = _mm256_set1_ps(alpha);
    const __m256 beta_v = _mm256_set1_ps(beta);
#pragma GCC unroll 12
    for (int row = 0; row < kRows; ++row) {
      float* c_row = c + row * ldc;
#pragma GCC unroll 2
      for (int vector = 0; vector < Vectors; ++vector) {
        __m256 value = _mm256_mul_ps(acc[row][vector], alpha_v);
        if (beta != 0.0f) value = _mm256_fmadd_ps(beta_v, _mm256_loadu_ps(c_row + vector * kLanes), value);
        _mm256_storeu_ps(c_row + vector * kLanes, value);
      }
    }
    return;
  }
  // (Every index of acc a constant, so that acc stays in registers in the loop over k.)
  alignas(32) float tile[kRows][kCols];
#pragma GCC unroll 12
  for (int row = 0; row < kRows; ++row)
#pragma GCC unroll 2
    for (int vector = 0; vector < Vectors; ++vector) _mm256_store_ps(&tile[row][vector * kLanes], acc[row][vector]);
  for (int64_t row = 0; row < rows; ++row) {
    float* c_row = c + row * ldc;
    for (int64_t col = 0; col < cols; ++col) {
      float value = alpha * tile[row][col];
      c_row[col] = beta == 0.0f ? value : std::fma(beta, c_row[col], value);
    }
  }
}

// rows x cols of c from the micro-panel at a_panel, and up to kMr more rows from the next
// one when `rows` exceeds kMr (only for one vector of columns).
void runMicroKernel(int64_t kc, const float* a_panel, const float* b_panel, int64_t ldb, float* c, int64_t ldc,
                    int64_t rows, int64_t cols, float alpha, float beta) {
  if (vectorsFor(cols) == 2)
    microKernel<2, 1>(kc, a_panel, b_panel, ldb, c, ldc, rows, cols, alpha, beta);
  else if (rows > kMr)
    microKernel<1, 2>(kc, a_panel, b_panel, ldb, c, ldc, rows, cols, alpha, beta);
  else
    microKernel<1, 1>(kc, a_panel, b_panel, ldb, c, ldc, rows, cols, alpha, beta);
}

// c = beta * c, for k == 0 (no products to add).
void scaleC(const GemmProblem& problem, const GemmPart& part) {
  for (int64_t row = part.row_begin; row < part.row_end; ++row) {
    float* c_row = problem.c + row * problem.n;
    for (int64_t col = part.col_begin; col < part.col_end; ++col)
      c_row[col] = problem.beta == 0.0f ? 0.0f : problem.beta * c_row[col];
  }
}

// out[i] = in[i] for i < count: the short runs of the wide loops (a call to memmove per
// run cost more than the copy).
void copyFloats(const float* in, int64_t count, float* out) {
  int64_t at = 0;
  for (; at + kLanes <= count; at += kLanes) _mm256_storeu_ps(out + at, _mm256_loadu_ps(in + at));
  if (at < count) {
    const __m256i mask = laneMask(count - at);
    _mm256_maskstore_ps(out + at, mask, _mm256_maskload_ps(in + at, mask));
  }
}

// This level's blocks for packedGemmLoops (packed_gemm_loops.h).
constexpr GemmBlocks kBlocks{kAvx2GemmKc, kAvx2GemmNc, kAvx2GemmMc, kMr, kNr, kLanes, /*masked_b=*/false};

}  // namespace

void packedGemmAvx2Shared(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept {
  packedGemmLoops<kBlocks, packABlock, packBBlock, runMicroKernel, scaleC, copyFloats>(problems, count, part, scratch);
}

void packedGemmAvx2(const GemmProblem& problem, const GemmPart& part, float* scratch) noexcept {
  packedGemmAvx2Shared(&problem, 1, part, scratch);
}

}  // namespace nnspec::rt::avx2
