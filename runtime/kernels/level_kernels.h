#pragma once
// The kernels of one CPU level (kernel_level.h), with the contracts of the runtime ABI's
// nnspec_rt_* functions of the same names (sgemm.h, window.h). Included only by per-level
// sources; the ABI functions themselves (dispatch.cpp) call the chosen level's through its
// KernelTable (kernel_table.h).

#include <cstdint>

#include "runtime/abi/window_abi.h"
#include "runtime/kernels/kernel_level.h"
#include "runtime/kernels/kernel_table.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {

int32_t sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int32_t transpose_a, const float* b,
              int32_t transpose_b, float beta, float* c, float* scratch) noexcept;
int32_t sgemmSharedA(int64_t count, int64_t m, int64_t n, int64_t k, const float* alpha, const float* a,
                     int32_t transpose_a, const float* const* b, int32_t transpose_b, const float* beta,
                     float* const* c, float* scratch) noexcept;

int32_t conv2dWithScratch(const NnspecWindowGeometry* geometry, const float* x, const float* kernel, float* y,
                          float* scratch) noexcept;
int32_t conv2dFusedWithScratch(const NnspecWindowGeometry* geometry, const float* x, const float* kernel, float* y,
                               float* scratch, NnspecConvEpilogueFn epilogue, const void* context) noexcept;
int32_t conv2dInputGradWithScratch(const NnspecWindowGeometry* geometry, const float* dy, const float* kernel,
                                   float* dx, float* scratch) noexcept;
int32_t conv2dKernelGradWithScratch(const NnspecWindowGeometry* geometry, const float* x, const float* dy,
                                    float* dkernel, float* scratch) noexcept;

int32_t maxPool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;
int32_t avgPool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;
int32_t maxPoolGrad(const NnspecWindowGeometry* geometry, const float* x, const float* dy, float* dx) noexcept;
int32_t avgPoolGrad(const NnspecWindowGeometry* geometry, const float* dy, float* dx) noexcept;
int32_t pad2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;
int32_t crop2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;

// KernelTable::decode_bytes (kernel_table.h).
void decodeBytes(const uint8_t* in, int64_t count, const float* table, int32_t form, float factor,
                 float* out) noexcept;

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
