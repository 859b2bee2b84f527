// conv2d forward, input gradient and kernel gradient as im2col + GEMM (see window.h);
// the forward and kernel gradient of layers with few input channels run direct kernels
// (conv2d_direct.h). A per-level source (kernel_level.h): the GEMM is this level's.
#include <algorithm>

#include "runtime/abi/step_abi.h"
#include "runtime/kernels/conv2d_direct.h"
#include "runtime/kernels/im2col.h"
#include "runtime/kernels/level_kernels.h"
#include "runtime/kernels/sgemm.h"
#include "runtime/kernels/window.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {
namespace {

using Geometry = NnspecWindowGeometry;

constexpr uintptr_t kScratchAlignBytes = 64;

bool validGeometry(const Geometry* g) {
  if (g == nullptr) return false;
  for (int64_t size : {g->batch, g->in_h, g->in_w, g->in_c, g->out_h, g->out_w, g->out_c, g->kernel_h, g->kernel_w,
                       g->stride_h, g->stride_w})
    if (size <= 0) return false;
  return true;
}

bool valid(const Geometry* g, const void* in, const void* other, const void* out, const float* scratch) {
  return validGeometry(g) && in != nullptr && other != nullptr && out != nullptr && scratch != nullptr &&
         reinterpret_cast<uintptr_t>(scratch) % kScratchAlignBytes == 0;
}

int64_t patchFloats(const Geometry& g) { return g.kernel_h * g.kernel_w * g.in_c; }
int64_t positions(const Geometry& g) { return g.batch * g.out_h * g.out_w; }

// The parts of the scratch (nnspec_rt_conv2d_scratch_floats), each 64-byte aligned.
struct ConvScratch {
  float* gemm;        // kNnspecSgemmScratchFloats: the GEMM's packed panels
  float* patches;     // [chunk rows, patch]: im2col of one chunk, or its gradient
  float* transposed;  // [out_c, patch]: the kernel gradient, transposed
};

ConvScratch splitScratch(const Geometry& g, float* scratch) {
  ConvScratch parts;
  parts.gemm = scratch;
  parts.patches = parts.gemm + nnspec_rt_round_up16(kNnspecSgemmScratchFloats);
  parts.transposed = parts.patches + nnspec_rt_conv2d_chunk_floats(&g);
  static_assert(kIm2colOverhangFloats <= 16, "the chunk's slack (window.h) takes im2col's overhang");
  return parts;
}

// Calls chunk(first_position, rows) for the chunks of output positions, in order.
template <class Chunk>
void forEachChunk(const Geometry& g, Chunk&& chunk) {
  const int64_t chunk_rows = nnspec_rt_conv2d_chunk_rows(&g);
  const int64_t total = positions(g);
  for (int64_t first = 0; first < total; first += chunk_rows) chunk(first, std::min(chunk_rows, total - first));
}

}  // namespace

int32_t conv2dFusedWithScratch(const NnspecWindowGeometry* geometry, const float* x, const float* kernel, float* y,
                               float* scratch, NnspecConvEpilogueFn epilogue, const void* context) noexcept {
  if (!valid(geometry, x, kernel, y, scratch)) return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  if (directConvApplies(g)) {
    directConv(g, x, kernel, y, scratch, epilogue, context);
    return kNnspecOk;
  }
  const ConvScratch parts = splitScratch(g, scratch);
  const int64_t patch = patchFloats(g);
  int32_t status = kNnspecOk;
  forEachChunk(g, [&](int64_t first, int64_t rows) {
    im2colRows(g, x, first, rows, parts.patches);
    status |=
        sgemm(rows, g.out_c, patch, 1.0f, parts.patches, 0, kernel, 0, 0.0f, y + first * g.out_c, parts.gemm);
    if (epilogue != nullptr) epilogue(context, first, rows);  // the chunk of y is still in cache
  });
  return status == kNnspecOk ? kNnspecOk : kNnspecKernelError;
}

int32_t conv2dWithScratch(const NnspecWindowGeometry* geometry, const float* x, const float* kernel, float* y,
                          float* scratch) noexcept {
  return conv2dFusedWithScratch(geometry, x, kernel, y, scratch, nullptr, nullptr);
}

int32_t conv2dInputGradWithScratch(const NnspecWindowGeometry* geometry, const float* dy,
                                                            const float* kernel, float* dx, float* scratch) noexcept {
  if (!valid(geometry, dy, kernel, dx, scratch)) return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  const ConvScratch parts = splitScratch(g, scratch);
  const int64_t patch = patchFloats(g);
  std::fill(dx, dx + g.batch * g.in_h * g.in_w * g.in_c, 0.0f);
  int32_t status = kNnspecOk;
  forEachChunk(g, [&](int64_t first, int64_t rows) {
    // dpatches [rows, patch] = dy_chunk [rows, out_c] x kernel^T (kernel stored [patch, out_c])
    status |= sgemm(rows, patch, g.out_c, 1.0f, dy + first * g.out_c, 0, kernel, 1, 0.0f, parts.patches,
                              parts.gemm);
    col2imRowsAdd(g, parts.patches, first, rows, dx);
  });
  return status == kNnspecOk ? kNnspecOk : kNnspecKernelError;
}

int32_t conv2dKernelGradWithScratch(const NnspecWindowGeometry* geometry, const float* x,
                                                             const float* dy, float* dkernel, float* scratch) noexcept {
  if (!valid(geometry, x, dy, dkernel, scratch)) return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  if (directConvApplies(g)) return directConvKernelGrad(g, x, dy, dkernel, scratch) ? kNnspecOk : kNnspecKernelError;
  const ConvScratch parts = splitScratch(g, scratch);
  const int64_t patch = patchFloats(g);
  // dkernel [patch, out_c] = patches^T x dy, or its transpose (see window.h).
  const bool transposed = nnspec_rt_conv2d_kernel_grad_transposed(&g) != 0;
  int32_t status = kNnspecOk;
  forEachChunk(g, [&](int64_t first, int64_t rows) {
    im2colRows(g, x, first, rows, parts.patches);
    const float beta = first == 0 ? 0.0f : 1.0f;
    const float* dy_chunk = dy + first * g.out_c;
    if (transposed)
      status |= sgemm(g.out_c, patch, rows, 1.0f, dy_chunk, 1, parts.patches, 0, beta, parts.transposed,
                                parts.gemm);
    else
      status |= sgemm(patch, g.out_c, rows, 1.0f, parts.patches, 1, dy_chunk, 0, beta, dkernel, parts.gemm);
  });
  if (transposed)
    for (int64_t tap = 0; tap < patch; ++tap)
      for (int64_t out_channel = 0; out_channel < g.out_c; ++out_channel)
        dkernel[tap * g.out_c + out_channel] = parts.transposed[out_channel * patch + tap];
  return status == kNnspecOk ? kNnspecOk : kNnspecKernelError;
}

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
