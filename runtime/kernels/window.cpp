#include "runtime/kernels/window.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "runtime/abi/step_abi.h"

namespace nnspec::rt {
namespace {

static_assert(sizeof(NnspecWindowGeometry) == kNnspecWindowGeometryFields * sizeof(int64_t));

using Geometry = NnspecWindowGeometry;

bool valid(const Geometry* g) {
  if (g == nullptr) return false;
  for (int64_t size : {g->batch, g->in_h, g->in_w, g->in_c, g->out_h, g->out_w, g->out_c,
                       g->kernel_h, g->kernel_w, g->stride_h, g->stride_w})
    if (size <= 0) return false;
  return true;
}

int64_t inputIndex(const Geometry& g, int64_t batch_idx, int64_t row, int64_t col) {
  return ((batch_idx * g.in_h + row) * g.in_w + col) * g.in_c;
}

int64_t outputIndex(const Geometry& g, int64_t batch_idx, int64_t out_row, int64_t out_col) {
  return ((batch_idx * g.out_h + out_row) * g.out_w + out_col) * g.out_c;
}

// Calls visit(in_row, in_col, kernel_row, kernel_col) for the in-image taps of the window
// of output (out_row, out_col), in row-major window order.
template <class Visit>
void forEachTap(const Geometry& g, int64_t out_row, int64_t out_col, Visit&& visit) {
  for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row) {
    int64_t in_row = out_row * g.stride_h + kernel_row - g.pad_top;
    if (in_row < 0 || in_row >= g.in_h) continue;
    for (int64_t kernel_col = 0; kernel_col < g.kernel_w; ++kernel_col) {
      int64_t in_col = out_col * g.stride_w + kernel_col - g.pad_left;
      if (in_col < 0 || in_col >= g.in_w) continue;
      visit(in_row, in_col, kernel_row, kernel_col);
    }
  }
}

// Calls visit(batch_idx, out_row, out_col) for every output position.
template <class Visit>
void forEachOutput(const Geometry& g, Visit&& visit) {
  for (int64_t batch_idx = 0; batch_idx < g.batch; ++batch_idx)
    for (int64_t out_row = 0; out_row < g.out_h; ++out_row)
      for (int64_t out_col = 0; out_col < g.out_w; ++out_col) visit(batch_idx, out_row, out_col);
}

const float* kernelRow(const Geometry& g, const float* kernel, int64_t kernel_row,
                       int64_t kernel_col, int64_t in_channel) {
  return kernel + ((kernel_row * g.kernel_w + kernel_col) * g.in_c + in_channel) * g.out_c;
}

int64_t inCount(const Geometry& g) { return g.batch * g.in_h * g.in_w * g.in_c; }
int64_t outCount(const Geometry& g) { return g.batch * g.out_h * g.out_w * g.out_c; }

}  // namespace
}  // namespace nnspec::rt

using nnspec::rt::forEachOutput;
using nnspec::rt::forEachTap;
using nnspec::rt::inputIndex;
using nnspec::rt::kernelRow;
using nnspec::rt::outputIndex;

extern "C" int32_t nnspec_rt_conv2d(const NnspecWindowGeometry* geometry, const float* x,
                                    const float* kernel, float* y) noexcept {
  if (!nnspec::rt::valid(geometry) || x == nullptr || kernel == nullptr || y == nullptr)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  forEachOutput(g, [&](int64_t batch_idx, int64_t out_row, int64_t out_col) {
    float* out = y + outputIndex(g, batch_idx, out_row, out_col);
    std::fill(out, out + g.out_c, 0.0f);
    forEachTap(g, out_row, out_col, [&](int64_t in_row, int64_t in_col, int64_t kernel_row, int64_t kernel_col) {
      const float* in = x + inputIndex(g, batch_idx, in_row, in_col);
      for (int64_t in_channel = 0; in_channel < g.in_c; ++in_channel) {
        const float* weights = kernelRow(g, kernel, kernel_row, kernel_col, in_channel);
        float value = in[in_channel];
        for (int64_t out_channel = 0; out_channel < g.out_c; ++out_channel)
          out[out_channel] += value * weights[out_channel];
      }
    });
  });
  return kNnspecOk;
}

extern "C" int32_t nnspec_rt_conv2d_input_grad(const NnspecWindowGeometry* geometry, const float* dy,
                                               const float* kernel, float* dx) noexcept {
  if (!nnspec::rt::valid(geometry) || dy == nullptr || kernel == nullptr || dx == nullptr)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  std::fill(dx, dx + nnspec::rt::inCount(g), 0.0f);
  forEachOutput(g, [&](int64_t batch_idx, int64_t out_row, int64_t out_col) {
    const float* grad = dy + outputIndex(g, batch_idx, out_row, out_col);
    forEachTap(g, out_row, out_col, [&](int64_t in_row, int64_t in_col, int64_t kernel_row, int64_t kernel_col) {
      float* in_grad = dx + inputIndex(g, batch_idx, in_row, in_col);
      for (int64_t in_channel = 0; in_channel < g.in_c; ++in_channel) {
        const float* weights = kernelRow(g, kernel, kernel_row, kernel_col, in_channel);
        float sum = 0.0f;
        for (int64_t out_channel = 0; out_channel < g.out_c; ++out_channel)
          sum += grad[out_channel] * weights[out_channel];
        in_grad[in_channel] += sum;
      }
    });
  });
  return kNnspecOk;
}

extern "C" int32_t nnspec_rt_conv2d_kernel_grad(const NnspecWindowGeometry* geometry, const float* x,
                                                const float* dy, float* dkernel) noexcept {
  if (!nnspec::rt::valid(geometry) || x == nullptr || dy == nullptr || dkernel == nullptr)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  std::fill(dkernel, dkernel + g.kernel_h * g.kernel_w * g.in_c * g.out_c, 0.0f);
  forEachOutput(g, [&](int64_t batch_idx, int64_t out_row, int64_t out_col) {
    const float* grad = dy + outputIndex(g, batch_idx, out_row, out_col);
    forEachTap(g, out_row, out_col, [&](int64_t in_row, int64_t in_col, int64_t kernel_row, int64_t kernel_col) {
      const float* in = x + inputIndex(g, batch_idx, in_row, in_col);
      for (int64_t in_channel = 0; in_channel < g.in_c; ++in_channel) {
        float* weights_grad = dkernel + ((kernel_row * g.kernel_w + kernel_col) * g.in_c + in_channel) * g.out_c;
        float value = in[in_channel];
        for (int64_t out_channel = 0; out_channel < g.out_c; ++out_channel)
          weights_grad[out_channel] += value * grad[out_channel];
      }
    });
  });
  return kNnspecOk;
}

extern "C" int32_t nnspec_rt_max_pool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!nnspec::rt::valid(geometry) || geometry->in_c != geometry->out_c || x == nullptr || y == nullptr)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  forEachOutput(g, [&](int64_t batch_idx, int64_t out_row, int64_t out_col) {
    float* out = y + outputIndex(g, batch_idx, out_row, out_col);
    std::fill(out, out + g.out_c, -std::numeric_limits<float>::infinity());
    forEachTap(g, out_row, out_col, [&](int64_t in_row, int64_t in_col, int64_t, int64_t) {
      const float* in = x + inputIndex(g, batch_idx, in_row, in_col);
      for (int64_t channel = 0; channel < g.out_c; ++channel) out[channel] = std::max(out[channel], in[channel]);
    });
  });
  return kNnspecOk;
}

extern "C" int32_t nnspec_rt_avg_pool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!nnspec::rt::valid(geometry) || geometry->in_c != geometry->out_c || x == nullptr || y == nullptr)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  forEachOutput(g, [&](int64_t batch_idx, int64_t out_row, int64_t out_col) {
    float* out = y + outputIndex(g, batch_idx, out_row, out_col);
    std::fill(out, out + g.out_c, 0.0f);
    int64_t taps = 0;
    forEachTap(g, out_row, out_col, [&](int64_t in_row, int64_t in_col, int64_t, int64_t) {
      const float* in = x + inputIndex(g, batch_idx, in_row, in_col);
      for (int64_t channel = 0; channel < g.out_c; ++channel) out[channel] += in[channel];
      ++taps;
    });
    float scale = 1.0f / static_cast<float>(taps);
    for (int64_t channel = 0; channel < g.out_c; ++channel) out[channel] *= scale;
  });
  return kNnspecOk;
}

extern "C" int32_t nnspec_rt_max_pool_grad(const NnspecWindowGeometry* geometry, const float* x,
                                           const float* dy, float* dx) noexcept {
  if (!nnspec::rt::valid(geometry) || geometry->in_c != geometry->out_c || x == nullptr ||
      dy == nullptr || dx == nullptr)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  std::fill(dx, dx + nnspec::rt::inCount(g), 0.0f);
  forEachOutput(g, [&](int64_t batch_idx, int64_t out_row, int64_t out_col) {
    const float* grad = dy + outputIndex(g, batch_idx, out_row, out_col);
    for (int64_t channel = 0; channel < g.out_c; ++channel) {
      int64_t best = -1;
      float best_value = 0.0f;
      forEachTap(g, out_row, out_col, [&](int64_t in_row, int64_t in_col, int64_t, int64_t) {
        int64_t index = inputIndex(g, batch_idx, in_row, in_col) + channel;
        if (best < 0 || x[index] > best_value) {
          best = index;
          best_value = x[index];
        }
      });
      if (best >= 0) dx[best] += grad[channel];
    }
  });
  return kNnspecOk;
}

extern "C" int32_t nnspec_rt_avg_pool_grad(const NnspecWindowGeometry* geometry, const float* dy,
                                           float* dx) noexcept {
  if (!nnspec::rt::valid(geometry) || geometry->in_c != geometry->out_c || dy == nullptr || dx == nullptr)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  std::fill(dx, dx + nnspec::rt::inCount(g), 0.0f);
  forEachOutput(g, [&](int64_t batch_idx, int64_t out_row, int64_t out_col) {
    const float* grad = dy + outputIndex(g, batch_idx, out_row, out_col);
    int64_t taps = 0;
    forEachTap(g, out_row, out_col, [&](int64_t, int64_t, int64_t, int64_t) { ++taps; });
    float scale = 1.0f / static_cast<float>(taps);
    forEachTap(g, out_row, out_col, [&](int64_t in_row, int64_t in_col, int64_t, int64_t) {
      float* in_grad = dx + inputIndex(g, batch_idx, in_row, in_col);
      for (int64_t channel = 0; channel < g.out_c; ++channel) in_grad[channel] += grad[channel] * scale;
    });
  });
  return kNnspecOk;
}

extern "C" int32_t nnspec_rt_pad2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!nnspec::rt::valid(geometry) || geometry->in_c != geometry->out_c || x == nullptr || y == nullptr ||
      geometry->pad_top < 0 || geometry->pad_left < 0 ||
      geometry->pad_top + geometry->in_h > geometry->out_h || geometry->pad_left + geometry->in_w > geometry->out_w)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  std::fill(y, y + nnspec::rt::outCount(g), 0.0f);
  for (int64_t batch_idx = 0; batch_idx < g.batch; ++batch_idx)
    for (int64_t row = 0; row < g.in_h; ++row)
      std::memcpy(y + outputIndex(g, batch_idx, row + g.pad_top, g.pad_left), x + inputIndex(g, batch_idx, row, 0),
                  static_cast<size_t>(g.in_w * g.in_c) * sizeof(float));
  return kNnspecOk;
}

extern "C" int32_t nnspec_rt_crop2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!nnspec::rt::valid(geometry) || geometry->in_c != geometry->out_c || x == nullptr || y == nullptr ||
      geometry->pad_top < 0 || geometry->pad_left < 0 ||
      geometry->pad_top + geometry->out_h > geometry->in_h || geometry->pad_left + geometry->out_w > geometry->in_w)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  for (int64_t batch_idx = 0; batch_idx < g.batch; ++batch_idx)
    for (int64_t row = 0; row < g.out_h; ++row)
      std::memcpy(y + outputIndex(g, batch_idx, row, 0), x + inputIndex(g, batch_idx, row + g.pad_top, g.pad_left),
                  static_cast<size_t>(g.out_w * g.out_c) * sizeof(float));
  return kNnspecOk;
}
