// The runtime ABI's GEMM and window kernels (sgemm.h, window.h): each calls the kernel of
// the chosen CPU level (cpu_dispatch.h) through its table. Compiled for the x86-64
// baseline.
#include <cstdlib>
#include <memory>

#include "runtime/abi/step_abi.h"
#include "runtime/kernels/kernel_table.h"
#include "runtime/kernels/sgemm.h"
#include "runtime/kernels/window.h"

namespace nnspec::rt {
namespace {

constexpr size_t kScratchAlignBytes = 64;

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

bool validGeometry(const NnspecWindowGeometry* g) {
  if (g == nullptr) return false;
  for (int64_t size : {g->batch, g->in_h, g->in_w, g->in_c, g->out_h, g->out_w, g->out_c, g->kernel_h, g->kernel_w,
                       g->stride_h, g->stride_w})
    if (size <= 0) return false;
  return true;
}

// Scratch for one call of a conv2d kernel outside a compiled step; null when the
// geometry is invalid or the allocation fails (the kernel then reports the error).
std::unique_ptr<float[], AlignedFree> allocateScratch(const NnspecWindowGeometry* g) {
  if (!validGeometry(g)) return nullptr;
  size_t bytes = static_cast<size_t>(nnspec_rt_conv2d_scratch_floats(g)) * sizeof(float);
  bytes = (bytes + kScratchAlignBytes - 1) / kScratchAlignBytes * kScratchAlignBytes;
  return std::unique_ptr<float[], AlignedFree>(static_cast<float*>(std::aligned_alloc(kScratchAlignBytes, bytes)));
}

}  // namespace
}  // namespace nnspec::rt

using nnspec::rt::activeKernelTable;

extern "C" int32_t nnspec_rt_sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int32_t transpose_a,
                                   const float* b, int32_t transpose_b, float beta, float* c, float* scratch) noexcept {
  return activeKernelTable().sgemm(m, n, k, alpha, a, transpose_a, b, transpose_b, beta, c, scratch);
}

extern "C" int32_t nnspec_rt_sgemm_shared_a(int64_t count, int64_t m, int64_t n, int64_t k, const float* alpha,
                                            const float* a, int32_t transpose_a, const float* const* b,
                                            int32_t transpose_b, const float* beta, float* const* c,
                                            float* scratch) noexcept {
  return activeKernelTable().sgemm_shared_a(count, m, n, k, alpha, a, transpose_a, b, transpose_b, beta, c, scratch);
}

extern "C" int32_t nnspec_rt_conv2d_with_scratch(const NnspecWindowGeometry* geometry, const float* x,
                                                 const float* kernel, float* y, float* scratch) noexcept {
  return activeKernelTable().conv2d_with_scratch(geometry, x, kernel, y, scratch);
}

extern "C" int32_t nnspec_rt_conv2d_fused_with_scratch(const NnspecWindowGeometry* geometry, const float* x,
                                                       const float* kernel, float* y, float* scratch,
                                                       NnspecConvEpilogueFn epilogue, const void* context) noexcept {
  return activeKernelTable().conv2d_fused_with_scratch(geometry, x, kernel, y, scratch, epilogue, context);
}

extern "C" int32_t nnspec_rt_conv2d_input_grad_with_scratch(const NnspecWindowGeometry* geometry, const float* dy,
                                                            const float* kernel, float* dx, float* scratch) noexcept {
  return activeKernelTable().conv2d_input_grad_with_scratch(geometry, dy, kernel, dx, scratch);
}

extern "C" int32_t nnspec_rt_conv2d_kernel_grad_with_scratch(const NnspecWindowGeometry* geometry, const float* x,
                                                             const float* dy, float* dkernel, float* scratch) noexcept {
  return activeKernelTable().conv2d_kernel_grad_with_scratch(geometry, x, dy, dkernel, scratch);
}

extern "C" int32_t nnspec_rt_conv2d(const NnspecWindowGeometry* geometry, const float* x, const float* kernel,
                                    float* y) noexcept {
  auto scratch = nnspec::rt::allocateScratch(geometry);
  return nnspec_rt_conv2d_with_scratch(geometry, x, kernel, y, scratch.get());
}

extern "C" int32_t nnspec_rt_conv2d_input_grad(const NnspecWindowGeometry* geometry, const float* dy,
                                               const float* kernel, float* dx) noexcept {
  auto scratch = nnspec::rt::allocateScratch(geometry);
  return nnspec_rt_conv2d_input_grad_with_scratch(geometry, dy, kernel, dx, scratch.get());
}

extern "C" int32_t nnspec_rt_conv2d_kernel_grad(const NnspecWindowGeometry* geometry, const float* x, const float* dy,
                                                float* dkernel) noexcept {
  auto scratch = nnspec::rt::allocateScratch(geometry);
  return nnspec_rt_conv2d_kernel_grad_with_scratch(geometry, x, dy, dkernel, scratch.get());
}

extern "C" int32_t nnspec_rt_max_pool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  return activeKernelTable().max_pool(geometry, x, y);
}

extern "C" int32_t nnspec_rt_avg_pool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  return activeKernelTable().avg_pool(geometry, x, y);
}

extern "C" int32_t nnspec_rt_max_pool_grad(const NnspecWindowGeometry* geometry, const float* x, const float* dy,
                                           float* dx) noexcept {
  return activeKernelTable().max_pool_grad(geometry, x, dy, dx);
}

extern "C" int32_t nnspec_rt_avg_pool_grad(const NnspecWindowGeometry* geometry, const float* dy, float* dx) noexcept {
  return activeKernelTable().avg_pool_grad(geometry, dy, dx);
}

extern "C" int32_t nnspec_rt_pad2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  return activeKernelTable().pad2d(geometry, x, y);
}

extern "C" int32_t nnspec_rt_crop2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  return activeKernelTable().crop2d(geometry, x, y);
}
