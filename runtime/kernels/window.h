#pragma once
// Windowed kernels over channels-last images f32[batch, h, w, c] behind the runtime ABI:
// convolution (forward, input gradient, kernel gradient), max/average pooling and their
// gradients, zero padding and cropping. Direct loops, single-threaded; the innermost loop
// runs over contiguous channels.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The geometry of one window op, built by codegen as a constant array of int64_t (every
// field is int64_t, in this order). The forward input is [batch, in_h, in_w, in_c], the
// forward output [batch, out_h, out_w, out_c]; the window kernel_h x kernel_w moves by
// stride_h x stride_w and starts pad_top / pad_left before the first row / column.
// Pooling has out_c == in_c. pad2d/crop2d use only the sizes and pad_top / pad_left: pad2d
// maps [in_h,in_w] into [out_h,out_w] at (pad_top, pad_left), crop2d takes the [out_h,out_w]
// block at (pad_top, pad_left) of [in_h,in_w].
typedef struct NnspecWindowGeometry {
  int64_t batch;
  int64_t in_h;
  int64_t in_w;
  int64_t in_c;
  int64_t out_h;
  int64_t out_w;
  int64_t out_c;
  int64_t kernel_h;
  int64_t kernel_w;
  int64_t stride_h;
  int64_t stride_w;
  int64_t pad_top;
  int64_t pad_left;
} NnspecWindowGeometry;

enum { kNnspecWindowGeometryFields = 13 };

// Each returns 0, or 2 (kNnspecKernelError) for null buffers or a geometry with a
// non-positive size. Outputs are only written (old contents do not matter) and must not
// overlap the inputs.

// y[n,oy,ox,co] = sum_{ky,kx,ci} x[n, oy*sh+ky-pt, ox*sw+kx-pl, ci] * kernel[ky,kx,ci,co]
int32_t nnspec_rt_conv2d(const NnspecWindowGeometry* geometry, const float* x, const float* kernel,
                         float* y) noexcept;
// dx: the gradient of that sum with respect to x, for incoming gradient dy.
int32_t nnspec_rt_conv2d_input_grad(const NnspecWindowGeometry* geometry, const float* dy,
                                    const float* kernel, float* dx) noexcept;
// dkernel: its gradient with respect to the kernel.
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
