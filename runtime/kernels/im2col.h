#pragma once
// im2col and col2im over chunks of output positions, for convolution as GEMM
// (runtime/kernels/conv2d.cpp). Images are channels-last f32[batch, h, w, c]; the patch of
// output position (batch_idx, out_row, out_col) is the row of kernel_h*kernel_w*in_c
// floats ordered [kernel_row][kernel_col][in_channel] (the kernel's own layout), zero
// where the window hangs over the image. Row r of a chunk is output position
// first_position + r, positions numbered row-major over [batch, out_h, out_w].

#include <cstdint>

#include "runtime/kernels/kernel_level.h"
#include "runtime/kernels/window.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {

inline constexpr int64_t kIm2colOverhangFloats = 16;

// patches[r * patch + tap] = the patch of position first_position + r, for `rows` rows;
// may write up to kIm2colOverhangFloats floats past the last row.
void im2colRows(const NnspecWindowGeometry& geometry, const float* x, int64_t first_position, int64_t rows,
                float* patches) noexcept;

// The reverse scatter: adds every patch element of the `rows` rows back into the image
// element it was read from (elements outside the image are dropped).
void col2imRowsAdd(const NnspecWindowGeometry& geometry, const float* patches, int64_t first_position, int64_t rows,
                   float* dx) noexcept;

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
