#pragma once
// Direct convolution for layers with few input channels (the first layer of a CNN on
// grayscale or RGB images), where im2col + GEMM wastes most of its work: the patch
// matrix has only kernel_h*kernel_w*in_c columns and the GEMM's tiles are mostly padding
// for a handful of output channels. Per output row, the kernel_h input rows it reads are
// copied into a zero-padded planar tile [kernel_row][in_channel][column]; a vector holds
// consecutive output columns, and each tap is one load and a broadcast FMA per output
// channel. The kernel gradient de-interleaves dy's row the same way and accumulates
// tap x channel vectors, summed across lanes at the end.
//
// Only for stride_w == 1, at the avx512 level (vectors of 16 columns, groups of up to 16
// output channels) and the avx2 level (8 columns, 8 channels); a per-level header
// (kernel_level.h). At the generic level directConvApplies is false and im2col + GEMM runs
// every convolution.

#include <cstdint>

#include "runtime/kernels/kernel_level.h"
#include "runtime/kernels/window.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {

inline constexpr int64_t kDirectConvMaxInChannels = 4;

// Floats of scratch the direct kernels need for `geometry`.
int64_t directConvScratchFloats(const NnspecWindowGeometry& geometry) noexcept;

// Whether the direct kernels run `geometry` (few input channels, stride_w 1, the avx512 or
// avx2 level, and their scratch within nnspec_rt_conv2d_scratch_floats).
bool directConvApplies(const NnspecWindowGeometry& geometry) noexcept;

// y = conv2d(x, kernel), as nnspec_rt_conv2d; scratch 64-byte aligned. A non-null
// epilogue is called on each output row (out_w positions) once it is complete, as
// nnspec_rt_conv2d_fused_with_scratch.
void directConv(const NnspecWindowGeometry& geometry, const float* x, const float* kernel, float* y, float* scratch,
                NnspecConvEpilogueFn epilogue, const void* context) noexcept;

// dkernel = the kernel gradient, as nnspec_rt_conv2d_kernel_grad: the rows in a fixed
// number of pieces (split across the calling thread's kernel threads), their partial sums
// added in piece order, so the result does not depend on the thread count. False when the
// partial sums' memory cannot be allocated.
bool directConvKernelGrad(const NnspecWindowGeometry& geometry, const float* x, const float* dy, float* dkernel,
                          float* scratch) noexcept;

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
