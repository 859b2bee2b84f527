#include "runtime/kernels/im2col.h"

#include <algorithm>

#include "runtime/kernels/float_runs.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {
namespace {

// An output position and the window it reads: image rows [in_row0, in_row0 + kernel_h)
// and columns [in_col0, in_col0 + kernel_w), partly outside the image near its border.
struct Position {
  int64_t batch_idx;
  int64_t out_row;
  int64_t out_col;
};

// Calls visit(row, position) for the `rows` positions from first_position, in order.
template <class Visit>
void forEachPosition(const NnspecWindowGeometry& g, int64_t first_position, int64_t rows, Visit&& visit) {
  Position position{first_position / (g.out_w * g.out_h), first_position / g.out_w % g.out_h, first_position % g.out_w};
  for (int64_t row = 0; row < rows; ++row) {
    visit(row, position);
    if (++position.out_col < g.out_w) continue;
    position.out_col = 0;
    if (++position.out_row < g.out_h) continue;
    position.out_row = 0;
    ++position.batch_idx;
  }
}

// Calls visit(kernel_row, image_offset, col_lo, col_hi) for each kernel row of the window
// of `position` that lies in the image: kernel columns [col_lo, col_hi) are inside it
// (col_lo < col_hi), and image_offset is the flat index of the image element under kernel
// column 0 (which may itself lie outside).
template <class Visit>
void forEachWindowRow(const NnspecWindowGeometry& g, const Position& position, Visit&& visit) {
  const int64_t in_col0 = position.out_col * g.stride_w - g.pad_left;
  const int64_t col_lo = std::max<int64_t>(0, -in_col0);
  const int64_t col_hi = std::min(g.kernel_w, g.in_w - in_col0);
  if (col_hi <= col_lo) return;
  const int64_t in_row0 = position.out_row * g.stride_h - g.pad_top;
  const int64_t row_lo = std::max<int64_t>(0, -in_row0);
  const int64_t row_hi = std::min(g.kernel_h, g.in_h - in_row0);
  for (int64_t kernel_row = row_lo; kernel_row < row_hi; ++kernel_row)
    visit(kernel_row, ((position.batch_idx * g.in_h + in_row0 + kernel_row) * g.in_w + in_col0) * g.in_c, col_lo,
          col_hi);
}

bool windowInside(const NnspecWindowGeometry& g, const Position& position) {
  const int64_t in_row0 = position.out_row * g.stride_h - g.pad_top;
  const int64_t in_col0 = position.out_col * g.stride_w - g.pad_left;
  return in_row0 >= 0 && in_row0 + g.kernel_h <= g.in_h && in_col0 >= 0 && in_col0 + g.kernel_w <= g.in_w;
}

}  // namespace

void im2colRows(const NnspecWindowGeometry& g, const float* x, int64_t first_position, int64_t rows,
                float* patches) noexcept {
  const int64_t channels = g.in_c;
  const int64_t window_row_floats = g.kernel_w * channels;
  const int64_t image_row_floats = g.in_w * channels;
  const int64_t patch = g.kernel_h * window_row_floats;
  const RunCopier window_row(window_row_floats);
  forEachPosition(g, first_position, rows, [&](int64_t row, const Position& position) {
    float* out = patches + row * patch;
    if (windowInside(g, position)) {
      // Away from the border (most positions): kernel_h runs of kernel_w * in_c floats.
      const float* in = x + (((position.batch_idx * g.in_h + position.out_row * g.stride_h - g.pad_top) * g.in_w +
                              position.out_col * g.stride_w - g.pad_left) *
                             channels);
      for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row)
        window_row.copyOverhang(out + kernel_row * window_row_floats, in + kernel_row * image_row_floats);
      return;
    }
    zeroFloats(out, patch);
    forEachWindowRow(g, position, [&](int64_t kernel_row, int64_t image_offset, int64_t col_lo, int64_t col_hi) {
      copyFloats(out + kernel_row * window_row_floats + col_lo * channels, x + image_offset + col_lo * channels,
                 (col_hi - col_lo) * channels);
    });
  });
}

void col2imRowsAdd(const NnspecWindowGeometry& g, const float* patches, int64_t first_position, int64_t rows,
                   float* dx) noexcept {
  const int64_t channels = g.in_c;
  const int64_t window_row_floats = g.kernel_w * channels;
  const int64_t patch = g.kernel_h * window_row_floats;
  forEachPosition(g, first_position, rows, [&](int64_t row, const Position& position) {
    const float* in = patches + row * patch;
    forEachWindowRow(g, position, [&](int64_t kernel_row, int64_t image_offset, int64_t col_lo, int64_t col_hi) {
      addFloats(dx + image_offset + col_lo * channels, in + kernel_row * window_row_floats + col_lo * channels,
                (col_hi - col_lo) * channels);
    });
  });
}

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
