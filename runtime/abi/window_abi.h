#pragma once
// Window geometry shared by generated code and the runtime's window kernels
// (runtime/kernels/window.h): codegen writes it as a constant array, the kernels read it.

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

// The element-wise epilogue of a fused convolution: generated code that finishes rows
// [first_row, first_row + rows) of the convolution's output y (rows are output positions,
// out_c floats each, in NHWC order) once they hold their final sums, while they are still
// in cache (bias, activation, and whatever else the fusion plan put in the loop).
// `context` is what the caller passed with it (a compiled step passes its NnspecStepArgs).
// Ranges may run at once on the trial's kernel threads: an epilogue writes only its rows.
typedef void (*NnspecConvEpilogueFn)(const void* context, int64_t first_row, int64_t rows);

#ifdef __cplusplus
}
#endif
