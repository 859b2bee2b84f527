#include "runtime/kernels/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels/kernel_level.h"
#include "runtime/kernels/packed_gemm_loops.h"

static_assert(NNSPEC_KERNEL_LEVEL == 2, "the packed 8x48 GEMM is the avx512 level's");

namespace nnspec::rt::avx512 {
namespace {

constexpr int64_t kMr = kPackedGemmMr;  // rows of a c tile: broadcasts from packed a
constexpr int64_t kLanes = 16;          // floats per AVX-512 vector
constexpr int kMaxVectors = 3;          // columns of a c tile: up to 3 vectors of b
constexpr int64_t kNr = kMaxVectors * kLanes;
static_assert(kMr == 8, "a micro-panel of a stored [m,k] is packed by 8x8 transposes");

__mmask16 laneMask(int64_t lanes) {
  return lanes >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << lanes) - 1u);
}

int64_t vectorsFor(int64_t columns) { return (columns + kLanes - 1) / kLanes; }

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

// One micro-panel of a stored [m,k]: out[k_idx * kMr + row_idx], rows past `rows` zero.
void packAPanel(const GemmProblem& problem, int64_t row0, int64_t rows, int64_t k0, int64_t kc, float* out) {
  const GemmOperand& a = problem.a;
  const float* src = a.data + row0 * problem.k + k0;
  int64_t k_idx = 0;
  if (rows == kMr)
    for (; k_idx + 8 <= kc; k_idx += 8) transpose8x8(src + k_idx, problem.k, out + k_idx * kMr, kMr);
  for (; k_idx < kc; ++k_idx)
    for (int64_t row_idx = 0; row_idx < kMr; ++row_idx)
      out[k_idx * kMr + row_idx] = row_idx < rows ? src[row_idx * problem.k + k_idx] : 0.0f;
}

// Rows [row0, row0 + rows) and steps [k0, k0 + kc) of op(a) as micro-panels of kMr rows,
// panel by panel: out[(row_idx / kMr) * kc * kMr + k_idx * kMr + row_idx % kMr], rows past
// `rows` zero. Stored [k,m], the rows of one step are contiguous: read them in order.
void packABlock(const GemmProblem& problem, int64_t row0, int64_t rows, int64_t k0, int64_t kc, float* out) {
  if (!problem.a.transposed) {
    for (int64_t panel_row = 0; panel_row < rows; panel_row += kMr)
      packAPanel(problem, row0 + panel_row, std::min(kMr, rows - panel_row), k0, kc, out + panel_row * kc);
    return;
  }
  for (int64_t k_idx = 0; k_idx < kc; ++k_idx) {
    const float* src = problem.a.data + (k0 + k_idx) * problem.m + row0;
    for (int64_t panel_row = 0; panel_row < rows; panel_row += kMr) {
      int64_t panel_rows = std::min(kMr, rows - panel_row);
      __mmask8 mask = static_cast<__mmask8>(panel_rows >= kMr ? 0xFFu : (1u << panel_rows) - 1u);
      _mm256_store_ps(out + panel_row * kc + k_idx * kMr, _mm256_maskz_loadu_ps(mask, src + panel_row));
    }
  }
}

// Columns [col0, col0 + cols) and steps [k0, k0 + kc) of op(b), cols <= kNr, as one
// micro-panel: out[k_idx * width + col_idx], width = cols rounded up to whole vectors,
// padding zero. Only for b stored [n,k] (each column of op(b) contiguous).
void packTransposedBPanel(const GemmProblem& problem, int64_t k0, int64_t kc, int64_t col0, int64_t cols, float* out) {
  const GemmOperand& b = problem.b;
  int64_t width = vectorsFor(cols) * kLanes;
  const float* src = b.data + col0 * problem.k + k0;
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
      for (int64_t vector = 0; vector < vectors; ++vector)
        _mm512_store_ps(panel + vector * kLanes, _mm512_maskz_loadu_ps(laneMask(panel_cols - vector * kLanes),
                                                                       src + panel_col + vector * kLanes));
    }
  }
}

// The c tile at `c` (rows x Vectors*16, the last vector masked by last_mask; rows up to
// Panels*8, from Panels consecutive micro-panels of a; b's k steps ldb floats apart, its
// last vector read through the mask) becomes alpha * (a b_panel) +
// beta * c; beta == 0 does not read c. Two panels for one vector of columns keep 16
// accumulators busy where one panel would leave the FMA units half idle.
template <int Vectors, int Panels = 1>
void microKernel(int64_t kc, const float* __restrict a_panel, const float* __restrict b_panel, int64_t ldb, float* c,
                 int64_t ldc, int64_t rows, __mmask16 last_mask, float alpha, float beta) {
  constexpr int kRows = kMr * Panels;
  const int64_t panel_stride = kc * kMr;  // floats between consecutive micro-panels of a
  __m512 acc[kRows][Vectors];
#pragma GCC unroll 16
  for (int row = 0; row < kRows; ++row)
#pragma GCC unroll 3
    for (int vector = 0; vector < Vectors; ++vector) acc[row][vector] = _mm512_setzero_ps();
  for (int64_t k_idx = 0; k_idx < kc; ++k_idx) {
    __m512 b_row[Vectors];
    const float* b_step = b_panel + k_idx * ldb;
#pragma GCC unroll 3
    for (int vector = 0; vector < Vectors - 1; ++vector) b_row[vector] = _mm512_loadu_ps(b_step + vector * kLanes);
    b_row[Vectors - 1] = _mm512_maskz_loadu_ps(last_mask, b_step + (Vectors - 1) * kLanes);
#pragma GCC unroll 16
    for (int row = 0; row < kRows; ++row) {
      __m512 a_value = _mm512_set1_ps(a_panel[(row / kMr) * panel_stride + k_idx * kMr + row % kMr]);
#pragma GCC unroll 3
      for (int vector = 0; vector < Vectors; ++vector)
        acc[row][vector] = _mm512_fmadd_ps(a_value, b_row[vector], acc[row][vector]);
    }
  }
  __m512 alpha_v = _mm512_set1_ps(alpha);
  __m512 beta_v = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int row = 0; row < kRows; ++row) {
    if (row >= rows) break;
    float* c_row = c + row * ldc;
#pragma GCC unroll 3
    for (int vector = 0; vector < Vectors; ++vector) {
      __mmask16 mask = vector == Vectors - 1 ? last_mask : static_cast<__mmask16>(0xFFFF);
      __m512 value = _mm512_mul_ps(acc[row][vector], alpha_v);
      if (beta != 0.0f) value = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(mask, c_row + vector * kLanes), value);
      _mm512_mask_storeu_ps(c_row + vector * kLanes, mask, value);
    }
  }
}

// rows of c from the micro-panel at a_panel, and up to kMr more from the next one when
// `rows` exceeds kMr (only for one vector of columns).
void runMicroKernel(int64_t kc, const float* a_panel, const float* b_panel, int64_t ldb, float* c, int64_t ldc,
                    int64_t rows, int64_t cols, float alpha, float beta) {
  int64_t vectors = vectorsFor(cols);
  __mmask16 last_mask = laneMask(cols - (vectors - 1) * kLanes);
  if (vectors == 3) microKernel<3>(kc, a_panel, b_panel, ldb, c, ldc, rows, last_mask, alpha, beta);
  if (vectors == 2) microKernel<2>(kc, a_panel, b_panel, ldb, c, ldc, rows, last_mask, alpha, beta);
  if (vectors == 1 && rows > kMr) microKernel<1, 2>(kc, a_panel, b_panel, ldb, c, ldc, rows, last_mask, alpha, beta);
  if (vectors == 1 && rows <= kMr) microKernel<1>(kc, a_panel, b_panel, ldb, c, ldc, rows, last_mask, alpha, beta);
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
  for (; at + kLanes <= count; at += kLanes) _mm512_storeu_ps(out + at, _mm512_loadu_ps(in + at));
  if (at < count) {
    const __mmask16 mask = laneMask(count - at);
    _mm512_mask_storeu_ps(out + at, mask, _mm512_maskz_loadu_ps(mask, in + at));
  }
}

// This level's blocks for packedGemmLoops (packed_gemm_loops.h).
constexpr GemmBlocks kBlocks{kPackedGemmKc, kPackedGemmNc, kPackedGemmMc, kMr, kNr, kLanes, /*masked_b=*/true};

}  // namespace

void packedGemmShared(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept {
  packedGemmLoops<kBlocks, packABlock, packBBlock, runMicroKernel, scaleC, copyFloats>(problems, count, part, scratch);
}

void packedGemm(const GemmProblem& problem, const GemmPart& part, float* scratch) noexcept {
  packedGemmShared(&problem, 1, part, scratch);
}

}  // namespace nnspec::rt::avx512
