#include "runtime/kernels/window.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <limits>

#include "runtime/abi/step_abi.h"
#include "runtime/kernels/float_runs.h"
#include "runtime/kernels/level_kernels.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {
namespace {

static_assert(sizeof(NnspecWindowGeometry) == kNnspecWindowGeometryFields * sizeof(int64_t));

using Geometry = NnspecWindowGeometry;

bool valid(const Geometry* g) {
  if (g == nullptr) return false;
  for (int64_t size : {g->batch, g->in_h, g->in_w, g->in_c, g->out_h, g->out_w, g->out_c, g->kernel_h, g->kernel_w,
                       g->stride_h, g->stride_w})
    if (size <= 0) return false;
  return true;
}

int64_t inputIndex(const Geometry& g, int64_t batch_idx, int64_t row, int64_t col) {
  return ((batch_idx * g.in_h + row) * g.in_w + col) * g.in_c;
}

int64_t outputIndex(const Geometry& g, int64_t batch_idx, int64_t out_row, int64_t out_col) {
  return ((batch_idx * g.out_h + out_row) * g.out_w + out_col) * g.out_c;
}

// The in-image part of the window of one output position: kernel rows [row_lo, row_hi)
// and columns [col_lo, col_hi); `base` is the flat index of input element
// (batch_idx, in_row0, in_col0, 0), the one under kernel tap (0, 0) (maybe outside).
struct WindowSpan {
  int64_t base;
  int64_t row_lo, row_hi;
  int64_t col_lo, col_hi;

  int64_t taps() const { return std::max<int64_t>(0, row_hi - row_lo) * std::max<int64_t>(0, col_hi - col_lo); }
};

inline WindowSpan windowSpan(const Geometry& g, int64_t batch_idx, int64_t out_row, int64_t out_col) {
  int64_t in_row0 = out_row * g.stride_h - g.pad_top;
  int64_t in_col0 = out_col * g.stride_w - g.pad_left;
  return {((batch_idx * g.in_h + in_row0) * g.in_w + in_col0) * g.in_c, std::max<int64_t>(0, -in_row0),
          std::min(g.kernel_h, g.in_h - in_row0), std::max<int64_t>(0, -in_col0),
          std::min(g.kernel_w, g.in_w - in_col0)};
}

// Calls visit(tap, offset) for the in-image taps of `span` in row-major window order:
// tap counts them from 0, offset is the flat index of the tap's input element (channel 0).
template <class Visit>
void forEachTap(const Geometry& g, const WindowSpan& span, Visit&& visit) {
  int64_t tap = 0;
  for (int64_t kernel_row = span.row_lo; kernel_row < span.row_hi; ++kernel_row)
    for (int64_t kernel_col = span.col_lo; kernel_col < span.col_hi; ++kernel_col)
      visit(tap++, span.base + (kernel_row * g.in_w + kernel_col) * g.in_c);
}

// 1 / taps (0 for no taps), recomputed only when the count changes: away from the border
// every window has the same.
class ReciprocalCache {
 public:
  float operator()(int64_t taps) {
    if (taps != taps_) {
      taps_ = taps;
      value_ = taps > 0 ? 1.0f / static_cast<float>(taps) : 0.0f;
    }
    return value_;
  }

 private:
  int64_t taps_ = 0;
  float value_ = 0.0f;
};

// Calls visit(span, out_offset) for every output position: its window and the flat index
// of its output element (channel 0).
template <class Visit>
void forEachOutput(const Geometry& g, Visit&& visit) {
  int64_t out_offset = 0;
  for (int64_t batch_idx = 0; batch_idx < g.batch; ++batch_idx)
    for (int64_t out_row = 0; out_row < g.out_h; ++out_row)
      for (int64_t out_col = 0; out_col < g.out_w; ++out_col, out_offset += g.out_c)
        visit(windowSpan(g, batch_idx, out_row, out_col), out_offset);
}

// Calls visit(channel, mask) for each vector of channels [channel, channel + kLanes).
template <class Visit>
void forEachChannelVector(int64_t channels, Visit&& visit) {
  for (int64_t channel = 0; channel < channels; channel += ChannelVectors::kLanes)
    visit(channel, ChannelVectors::mask(channels - channel));
}

// Whether the windows cover the image exactly once each (stride == window, no padding, no
// rows or columns left over): a gradient can then store every element instead of adding.
bool windowsTile(const Geometry& g) {
  return g.pad_top == 0 && g.pad_left == 0 && g.stride_h == g.kernel_h && g.stride_w == g.kernel_w &&
         g.out_h * g.stride_h == g.in_h && g.out_w * g.stride_w == g.in_w;
}

// A pooling geometry (as many output channels as input channels) and non-null buffers.
bool validPool(const Geometry* g, std::initializer_list<const float*> buffers) {
  if (!valid(g) || g->in_c != g->out_c) return false;
  return std::none_of(buffers.begin(), buffers.end(), [](const float* buffer) { return buffer == nullptr; });
}

int64_t inCount(const Geometry& g) { return g.batch * g.in_h * g.in_w * g.in_c; }
int64_t outCount(const Geometry& g) { return g.batch * g.out_h * g.out_w * g.out_c; }

}  // namespace

using V = ChannelVectors;

int32_t maxPool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!validPool(geometry, {x, y})) return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  forEachOutput(g, [&](const WindowSpan& span, int64_t out_offset) {
    forEachChannelVector(g.out_c, [&](int64_t channel, V::Mask mask) {
      V::Vec largest = V::splat(-std::numeric_limits<float>::infinity());
      forEachTap(g, span,
                 [&](int64_t, int64_t offset) { largest = V::max(largest, V::load(mask, x + offset + channel)); });
      V::store(mask, y + out_offset + channel, largest);
    });
  });
  return kNnspecOk;
}

int32_t avgPool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!validPool(geometry, {x, y})) return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  ReciprocalCache reciprocal;
  forEachOutput(g, [&](const WindowSpan& span, int64_t out_offset) {
    const V::Vec scale = V::splat(reciprocal(span.taps()));
    forEachChannelVector(g.out_c, [&](int64_t channel, V::Mask mask) {
      V::Vec sum = V::splat(0.0f);
      forEachTap(g, span, [&](int64_t, int64_t offset) { sum = V::add(sum, V::load(mask, x + offset + channel)); });
      V::store(mask, y + out_offset + channel, V::mul(sum, scale));
    });
  });
  return kNnspecOk;
}

int32_t maxPoolGrad(const NnspecWindowGeometry* geometry, const float* x, const float* dy,
                                           float* dx) noexcept {
  if (!validPool(geometry, {x, dy, dx})) return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  std::fill(dx, dx + inCount(g), 0.0f);
  forEachOutput(g, [&](const WindowSpan& span, int64_t out_offset) {
    if (span.taps() == 0) return;
    forEachChannelVector(g.out_c, [&](int64_t channel, V::Mask mask) {
      // Per lane, where the first (row-major) maximum of the window is: the offset of its
      // element from the window's base (fits in 32 bits for any tensor below 8 GB).
      V::Vec largest = V::splat(0.0f);
      V::Index first_max = V::indexSplat(0);
      forEachTap(g, span, [&](int64_t tap, int64_t offset) {
        V::Vec value = V::load(mask, x + offset + channel);
        if (tap == 0) {
          largest = value;
          first_max = V::indexSplat(static_cast<int32_t>(offset - span.base));
          return;
        }
        V::Mask larger = V::greater(value, largest);
        largest = V::select(larger, largest, value);
        first_max = V::indexSelect(larger, first_max, V::indexSplat(static_cast<int32_t>(offset - span.base)));
      });
      // Scatter: one add per channel (overlapping windows may pick the same element).
      alignas(64) float grads[V::kLanes];
      alignas(64) int32_t offsets[V::kLanes];
      V::store(mask, grads, V::load(mask, dy + out_offset + channel));
      V::indexStore(offsets, first_max);
      float* base = dx + span.base + channel;
      const int64_t lanes = std::min(V::kLanes, g.out_c - channel);
      for (int64_t lane = 0; lane < lanes; ++lane) base[offsets[lane] + lane] += grads[lane];
    });
  });
  return kNnspecOk;
}

int32_t avgPoolGrad(const NnspecWindowGeometry* geometry, const float* dy, float* dx) noexcept {
  if (!validPool(geometry, {dy, dx})) return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  const bool tiles = windowsTile(g);
  if (!tiles) std::fill(dx, dx + inCount(g), 0.0f);
  ReciprocalCache reciprocal;
  forEachOutput(g, [&](const WindowSpan& span, int64_t out_offset) {
    if (span.taps() == 0) return;
    const V::Vec scale = V::splat(reciprocal(span.taps()));
    forEachChannelVector(g.out_c, [&](int64_t channel, V::Mask mask) {
      V::Vec share = V::mul(V::load(mask, dy + out_offset + channel), scale);
      forEachTap(g, span, [&](int64_t, int64_t offset) {
        float* target = dx + offset + channel;
        V::store(mask, target, tiles ? share : V::add(V::load(mask, target), share));
      });
    });
  });
  return kNnspecOk;
}

int32_t pad2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!valid(geometry) || geometry->in_c != geometry->out_c || x == nullptr || y == nullptr ||
      geometry->pad_top < 0 || geometry->pad_left < 0 || geometry->pad_top + geometry->in_h > geometry->out_h ||
      geometry->pad_left + geometry->in_w > geometry->out_w)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  std::fill(y, y + outCount(g), 0.0f);
  for (int64_t batch_idx = 0; batch_idx < g.batch; ++batch_idx)
    for (int64_t row = 0; row < g.in_h; ++row)
      std::memcpy(y + outputIndex(g, batch_idx, row + g.pad_top, g.pad_left), x + inputIndex(g, batch_idx, row, 0),
                  static_cast<size_t>(g.in_w * g.in_c) * sizeof(float));
  return kNnspecOk;
}

int32_t crop2d(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!valid(geometry) || geometry->in_c != geometry->out_c || x == nullptr || y == nullptr ||
      geometry->pad_top < 0 || geometry->pad_left < 0 || geometry->pad_top + geometry->out_h > geometry->in_h ||
      geometry->pad_left + geometry->out_w > geometry->in_w)
    return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  for (int64_t batch_idx = 0; batch_idx < g.batch; ++batch_idx)
    for (int64_t row = 0; row < g.out_h; ++row)
      std::memcpy(y + outputIndex(g, batch_idx, row, 0), x + inputIndex(g, batch_idx, row + g.pad_top, g.pad_left),
                  static_cast<size_t>(g.out_w * g.out_c) * sizeof(float));
  return kNnspecOk;
}

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
