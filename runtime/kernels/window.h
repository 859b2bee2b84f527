#pragma once
// Windowed kernels over channels-last images f32[batch, h, w, c] behind the runtime ABI:
// convolution (forward, input gradient, kernel gradient), max/average pooling and their
// gradients, zero padding and cropping. On the calling thread, except that the GEMMs and
// the direct convolution kernels split across its kernel threads (thread_team.h), with
// results that do not depend on the thread count.
//
// Convolution is GEMM (runtime/kernels/conv2d.cpp): the output positions are taken in
// chunks of rows; im2col writes a chunk's input patches as rows of the patch matrix
// [rows, kernel_h*kernel_w*in_c] (the kernel [kh,kw,cin,cout] is the matrix
// [kh*kw*cin, cout]) into scratch that stays in cache, and nnspec_rt_sgemm multiplies:
//   forward       y_chunk  = patches x kernel
//   kernel grad   dkernel += patches^T x dy_chunk
//   input grad    dpatches = dy_chunk x kernel^T, then col2im adds them into dx.
// Layers with few input channels (first layers on grayscale or RGB images) run the forward
// and kernel gradient as direct loops instead (runtime/kernels/conv2d_direct.h), in the
// same scratch.
// Pooling, padding and cropping are direct loops over contiguous channels; pooling whose
// windows tile the image with fewer than 16 channels streams each row of out_w*C floats at
// full vector width instead (window.cpp), with the same results.

#include <stdint.h>

#include "runtime/abi/window_abi.h"
#include "runtime/kernels/sgemm.h"

#ifdef __cplusplus
extern "C" {
#endif


// The im2col chunk of a convolution: about this many floats (256 KB, inside L2), whole
// rows, at least kNnspecConvChunkMinRows of them.
enum { kNnspecConvChunkFloats = 1 << 16, kNnspecConvChunkMinRows = 16 };

static inline int64_t nnspec_rt_round_up16(int64_t floats) { return (floats + 15) / 16 * 16; }

// Output positions (rows of the patch matrix) per chunk of a convolution.
static inline int64_t nnspec_rt_conv2d_chunk_rows(const NnspecWindowGeometry* geometry) {
  int64_t patch = geometry->kernel_h * geometry->kernel_w * geometry->in_c;
  int64_t positions = geometry->batch * geometry->out_h * geometry->out_w;
  int64_t rows = patch > 0 ? kNnspecConvChunkFloats / patch / 16 * 16 : 0;
  if (rows < kNnspecConvChunkMinRows) rows = kNnspecConvChunkMinRows;
  return rows < positions ? rows : positions;
}

// Floats for one chunk of patches, with a vector of slack after it (im2col writes whole
// vectors).
static inline int64_t nnspec_rt_conv2d_chunk_floats(const NnspecWindowGeometry* geometry) {
  int64_t patch = geometry->kernel_h * geometry->kernel_w * geometry->in_c;
  return nnspec_rt_round_up16(nnspec_rt_conv2d_chunk_rows(geometry) * patch + 16);
}

// The share of the packed GEMM's c tiles (8 rows by whole vectors of 16 columns) that is
// useful work for c [rows, cols].
static inline double nnspec_rt_gemm_tile_share(int64_t rows, int64_t cols) {
  return (double)rows / (double)((rows + 7) / 8 * 8) * ((double)cols / (double)((cols + 15) / 16 * 16));
}

// Whether the kernel gradient [patch, out_c] = patches^T x dy is computed as its transpose
// [out_c, patch] = dy^T x patches (in scratch, then transposed): when that fills the
// GEMM's tiles better (few output channels).
static inline int nnspec_rt_conv2d_kernel_grad_transposed(const NnspecWindowGeometry* geometry) {
  int64_t patch = geometry->kernel_h * geometry->kernel_w * geometry->in_c;
  return nnspec_rt_gemm_tile_share(geometry->out_c, patch) > nnspec_rt_gemm_tile_share(patch, geometry->out_c);
}

// Floats of scratch memory the three conv2d kernels need for `geometry`: the GEMM's packed
// panels, one chunk of patches, and the transposed kernel gradient [out_c, patch] when
// there is one.
static inline int64_t nnspec_rt_conv2d_scratch_floats(const NnspecWindowGeometry* geometry) {
  int64_t patch = geometry->kernel_h * geometry->kernel_w * geometry->in_c;
  int64_t transposed = nnspec_rt_conv2d_kernel_grad_transposed(geometry) ? patch * geometry->out_c : 0;
  return nnspec_rt_round_up16(kNnspecSgemmScratchFloats) + nnspec_rt_conv2d_chunk_floats(geometry) +
         nnspec_rt_round_up16(transposed);
}

// Each returns 0, or 2 (kNnspecKernelError) for null buffers or a geometry with a
// non-positive size. Outputs are only written (old contents do not matter) and must not
// overlap the inputs.
//
// The conv2d kernels come twice. The `_with_scratch` ones, which compiled steps call, take
// `scratch`: nnspec_rt_conv2d_scratch_floats floats, 64-byte aligned, overlapping nothing
// else (a misaligned one is an error). The others allocate it per call (an allocation
// failure is an error), for callers outside a step (reports).

// y[n,oy,ox,co] = sum_{ky,kx,ci} x[n, oy*sh+ky-pt, ox*sw+kx-pl, ci] * kernel[ky,kx,ci,co]
int32_t nnspec_rt_conv2d_with_scratch(const NnspecWindowGeometry* geometry, const float* x,
                                      const float* kernel, float* y, float* scratch) noexcept;
// The same, then epilogue(context, first_row, rows) on every range of output rows as soon
// as it is complete: the ranges cover the rows once each, each called after its last
// write to y; in increasing order on one thread, at once on several when the convolution
// splits across the calling thread's kernel threads (thread_team.h). A null epilogue is
// not called.
int32_t nnspec_rt_conv2d_fused_with_scratch(const NnspecWindowGeometry* geometry, const float* x,
                                            const float* kernel, float* y, float* scratch,
                                            NnspecConvEpilogueFn epilogue, const void* context) noexcept;
// dx: the gradient of that sum with respect to x, for incoming gradient dy.
int32_t nnspec_rt_conv2d_input_grad_with_scratch(const NnspecWindowGeometry* geometry,
                                                 const float* dy, const float* kernel, float* dx,
                                                 float* scratch) noexcept;
// dkernel: its gradient with respect to the kernel.
int32_t nnspec_rt_conv2d_kernel_grad_with_scratch(const NnspecWindowGeometry* geometry,
                                                  const float* x, const float* dy, float* dkernel,
                                                  float* scratch) noexcept;

int32_t nnspec_rt_conv2d(const NnspecWindowGeometry* geometry, const float* x, const float* kernel,
                         float* y) noexcept;
int32_t nnspec_rt_conv2d_input_grad(const NnspecWindowGeometry* geometry, const float* dy,
                                    const float* kernel, float* dx) noexcept;
int32_t nnspec_rt_conv2d_kernel_grad(const NnspecWindowGeometry* geometry, const float* x,
                                     const float* dy, float* dkernel) noexcept;

// Max / mean over the in-image part of each window.
int32_t nnspec_rt_max_pool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;
int32_t nnspec_rt_avg_pool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;
// dy of each window to its first maximum (row-major scan of the window).
int32_t nnspec_rt_max_pool_grad(const NnspecWindowGeometry* geometry, const float* x,
                                const float* dy, float* dx) noexcept;
// dy of each window spread evenly over its in-image part.
int32_t nnspec_rt_avg_pool_grad(const NnspecWindowGeometry* geometry, const float* dy,
                                float* dx) noexcept;

int32_t nnspec_rt_pad2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;
int32_t nnspec_rt_crop2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;

#ifdef __cplusplus
}
#endif
