#include "runtime/kernels/window.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>

#if NNSPEC_KERNEL_LEVEL >= 1
#include <immintrin.h>
#endif

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

// ---- pooling as row streams ----------------------------------------------------------
//
// Windows that tile the image with fewer channels than a vector has lanes (LeNet-5's 6)
// waste most of each channel vector (and the avx2 and generic levels pool one channel at a
// time). There an output row's out_w * C floats are one stream of whole vectors instead:
// lane j (output element j of the row) takes its window's taps from the kernel_h input
// rows by permuting two vectors of the row (no gathers), at full width; the gradients
// stream the input rows the same way, each lane taking the output element it belongs to.
// Taps are visited in the same row-major order as the per-channel loops, so both give the
// same bits.

// Vectors of a row stream: 16 lanes (avx512), 8 (avx2) or 1 (generic).
struct RowVectors {
#if NNSPEC_KERNEL_LEVEL == 2
  using Vec = __m512;
  using Mask = __mmask16;
  using Index = __m512i;
  static constexpr int64_t kLanes = 16;
  static Mask mask(int64_t count) {
    if (count <= 0) return 0;
    return count >= kLanes ? static_cast<Mask>(0xFFFF) : static_cast<Mask>((1u << count) - 1u);
  }
  static Index indexLoad(Mask mask, const int32_t* in, int32_t minus) {
    return _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mask, in), _mm512_set1_epi32(minus));
  }
  static Vec load(Mask mask, const float* in) { return _mm512_maskz_loadu_ps(mask, in); }
  // Lane l = in[offsets[l]], offsets in [0, 2 * kLanes); reads only in[0, available).
  static Vec window(const float* in, int64_t available, Index offsets) {
    return _mm512_permutex2var_ps(load(mask(available), in), offsets, load(mask(available - kLanes), in + kLanes));
  }
  static void store(Mask mask, float* out, Vec value) { _mm512_mask_storeu_ps(out, mask, value); }
  static Vec splat(float value) { return _mm512_set1_ps(value); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm512_max_ps(b, a); }  // as ChannelVectors::max
  static Vec greaterSelect(Vec a, Vec b, Vec if_greater, Vec otherwise) {  // a > b ? if_greater : otherwise
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), otherwise, if_greater);
  }
  static Vec equalSelect(Vec a, Vec b, Vec if_equal) {  // a == b ? if_equal : 0
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), if_equal);
  }
  // The lanes of `value` in `keep`, in order, to out[0, popcount(keep)).
  static void compressStore(Mask keep, float* out, Vec value) {
    _mm512_mask_storeu_ps(out, mask(__builtin_popcount(keep)), _mm512_maskz_compress_ps(keep, value));
  }
#elif NNSPEC_KERNEL_LEVEL == 1
  using Vec = __m256;
  using Mask = __m256i;
  using Index = __m256i;
  static constexpr int64_t kLanes = 8;
  static Mask mask(int64_t count) {
    const int64_t lanes = std::clamp<int64_t>(count, 0, kLanes);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(lanes)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Index indexLoad(Mask mask, const int32_t* in, int32_t minus) {
    return _mm256_sub_epi32(_mm256_maskload_epi32(in, mask), _mm256_set1_epi32(minus));
  }
  static Vec load(Mask mask, const float* in) { return _mm256_maskload_ps(in, mask); }
  static Vec window(const float* in, int64_t available, Index offsets) {
    const Vec low = _mm256_permutevar8x32_ps(load(mask(available), in), offsets);
    const Vec high = _mm256_permutevar8x32_ps(load(mask(available - kLanes), in + kLanes), offsets);
    return _mm256_blendv_ps(low, high, _mm256_castsi256_ps(_mm256_cmpgt_epi32(offsets, _mm256_set1_epi32(kLanes - 1))));
  }
  static void store(Mask mask, float* out, Vec value) { _mm256_maskstore_ps(out, mask, value); }
  static Vec splat(float value) { return _mm256_set1_ps(value); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm256_max_ps(b, a); }
  static Vec greaterSelect(Vec a, Vec b, Vec if_greater, Vec otherwise) {
    return _mm256_blendv_ps(otherwise, if_greater, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
  }
  static Vec equalSelect(Vec a, Vec b, Vec if_equal) {
    return _mm256_and_ps(_mm256_cmp_ps(a, b, _CMP_EQ_OQ), if_equal);
  }
#else
  using Vec = float;
  using Mask = bool;
  using Index = int32_t;
  static constexpr int64_t kLanes = 1;
  static Mask mask(int64_t count) { return count > 0; }
  static Index indexLoad(Mask, const int32_t* in, int32_t minus) { return *in - minus; }
  static Vec load(Mask, const float* in) { return *in; }
  static Vec window(const float* in, int64_t, Index offset) { return in[offset]; }
  static void store(Mask, float* out, Vec value) { *out = value; }
  static Vec splat(float value) { return value; }
  static Vec add(Vec a, Vec b) { return a + b; }
  static Vec mul(Vec a, Vec b) { return a * b; }
  static Vec max(Vec a, Vec b) { return std::max(a, b); }
  static Vec greaterSelect(Vec a, Vec b, Vec if_greater, Vec otherwise) { return a > b ? if_greater : otherwise; }
  static Vec equalSelect(Vec a, Vec b, Vec if_equal) { return a == b ? if_equal : 0.0f; }
#endif
};

using R = RowVectors;

// Whether the pooling windows of a row are taken in the input row's layout and the
// results compressed into the output row (avx512), rather than each output lane permuting
// its taps out of two vectors (avx2, generic: no compress instruction).
constexpr bool kCompress = NNSPEC_KERNEL_LEVEL == 2;

// The longest row stream (floats of one input row) the tables below hold.
constexpr int64_t kMaxStreamFloats = 2048;

// Per output element j of a row: the offset of its window's tap (0, 0) in the first input
// row of the window. Per input element i of a row: the output element it belongs to, and
// its kernel column as a float. Per vector of lanes of each: the least entry it indexes
// (the base its lanes' offsets count from). `fit`: every vector finds what it takes within
// two vectors from its base (plus up to kernel_w - 1 columns, added to the base).
struct StreamTables {
  alignas(64) int32_t first_tap[kMaxStreamFloats];
  alignas(64) int32_t owner[kMaxStreamFloats];
  alignas(64) float kernel_col[kMaxStreamFloats];
  int32_t first_tap_base[kMaxStreamFloats / R::kLanes];
  int32_t owner_base[kMaxStreamFloats / R::kLanes];
  // kCompress: per vector of an input row, the lanes at kernel column 0 of their window.
  uint32_t keep[kMaxStreamFloats / R::kLanes];
  bool fit = true;

  explicit StreamTables(const Geometry& g) {
    const int64_t channels = g.in_c;
    const int64_t outs = g.out_w * channels;
    const int64_t ins = g.in_w * channels;
    for (int64_t out = 0; out < outs; ++out)
      first_tap[out] = static_cast<int32_t>(out / channels * g.kernel_w * channels + out % channels);
    for (int64_t in = 0; in < ins; ++in) {
      owner[in] = static_cast<int32_t>(in / (g.kernel_w * channels) * channels + in % channels);
      kernel_col[in] = static_cast<float>(in / channels % g.kernel_w);
    }
    for (int64_t first = 0; first < ins; first += R::kLanes) {
      uint32_t lanes = 0;
      for (int64_t lane = 0; lane < R::kLanes && first + lane < ins; ++lane)
        if ((first + lane) % (g.kernel_w * channels) < channels) lanes |= 1u << lane;
      keep[first / R::kLanes] = lanes;
    }
    const bool first_taps_fit = setBases(first_tap, outs, first_tap_base);
    fit = (kCompress || first_taps_fit) && setBases(owner, ins, owner_base);
  }

 private:
  bool setBases(const int32_t* table, int64_t count, int32_t* bases) {
    bool fits = true;
    for (int64_t first = 0; first < count; first += R::kLanes) {
      const int32_t* end = table + std::min(count, first + R::kLanes);
      const auto [least, most] = std::minmax_element(table + first, end);
      bases[first / R::kLanes] = *least;
      fits = fits && *most - *least < 2 * R::kLanes;
    }
    return fits;
  }
};

// Whether the row streams run `g`: tiling windows, short enough rows, channel vectors that
// would not be full (fewer channels than their lanes, or one lane: the avx2 and generic
// levels), and every vector's taps within two vectors.
bool rowStreamsApply(const Geometry& g, const StreamTables& tables) {
  return windowsTile(g) && g.in_w * g.in_c <= kMaxStreamFloats &&
         (ChannelVectors::kLanes == 1 || g.out_c < ChannelVectors::kLanes) && tables.fit;
}

// The tables of `g` when the row streams run it, else nothing.
std::optional<StreamTables> streamTables(const Geometry& g) {
  if (!windowsTile(g) || g.in_w * g.in_c > kMaxStreamFloats) return std::nullopt;
  std::optional<StreamTables> tables(std::in_place, g);
  if (!rowStreamsApply(g, *tables)) return std::nullopt;
  return tables;
}

// Calls visit(in_offset, out_offset) for each output row: in_offset is the flat index of
// the first input row of its windows (kernel_h rows of in_w * C floats follow), out_offset
// that of the output row.
template <class Visit>
void forEachOutputRow(const Geometry& g, Visit&& visit) {
  const int64_t in_row_floats = g.in_w * g.in_c;
  const int64_t out_row_floats = g.out_w * g.out_c;
  for (int64_t flat_row = 0; flat_row < g.batch * g.out_h; ++flat_row)
    visit(flat_row * g.kernel_h * in_row_floats, flat_row * out_row_floats);
}

// Calls step(first, mask, offsets, base) for the vectors of a stream of `count` floats:
// lane l takes element base + offsets[l] of what `table` indexes (table[first + l]).
template <class Step>
void forEachStreamVector(int64_t count, const int32_t* table, const int32_t* bases, Step&& step) {
  for (int64_t first = 0; first < count; first += R::kLanes) {
    const R::Mask mask = R::mask(count - first);
    const int32_t base = bases[first / R::kLanes];
    step(first, mask, R::indexLoad(mask, table + first, base), base);
  }
}

// Calls step(tap, put) for each vector of windows of one output row, whose windows start
// at window_rows (kernel_h input rows follow): tap(t) is the vector of the windows' tap t
// (row-major), put(out_row, value) stores the vector's results into a row laid out like
// the output row.
template <class Step>
void forEachWindowVector(const Geometry& g, const StreamTables& tables, const float* window_rows, Step&& step) {
  const int64_t in_row_floats = g.in_w * g.in_c;
  auto tapAt = [&](int64_t tap, int64_t first) {
    return window_rows + tap / g.kernel_w * in_row_floats + first + tap % g.kernel_w * g.in_c;
  };
#if NNSPEC_KERNEL_LEVEL == 2
  static_assert(kCompress);
  {
    // Lanes in the input row's layout; the lanes at kernel column 0 hold whole windows.
    int64_t out_first = 0;
    for (int64_t first = 0; first < in_row_floats; first += R::kLanes) {
      const auto keep = static_cast<R::Mask>(tables.keep[first / R::kLanes]);
      if (keep == 0) continue;
      auto tap = [&](int64_t t) {
        const int64_t at = first + t % g.kernel_w * g.in_c;
        return R::load(R::mask(in_row_floats - at), tapAt(t, first));
      };
      auto put = [&](float* out_row, R::Vec value) { R::compressStore(keep, out_row + out_first, value); };
      step(tap, put);
      out_first += __builtin_popcount(keep);
    }
  }
#else
  {
    static_assert(!kCompress);
    forEachStreamVector(g.out_w * g.out_c, tables.first_tap, tables.first_tap_base,
                        [&](int64_t first, R::Mask mask, R::Index offsets, int32_t base) {
                          auto tap = [&](int64_t t) {
                            const int64_t at = base + t % g.kernel_w * g.in_c;
                            return R::window(tapAt(t, base), in_row_floats - at, offsets);
                          };
                          auto put = [&](float* out_row, R::Vec value) { R::store(mask, out_row + first, value); };
                          step(tap, put);
                        });
  }
#endif
}

// y row = fold of the window taps (row-major), starting from `start`, times `scale`.
template <class Fold>
void poolRows(const Geometry& g, const StreamTables& tables, const float* x, float* y, float start, float scale,
              Fold&& fold) {
  const int64_t taps = g.kernel_h * g.kernel_w;
  forEachOutputRow(g, [&](int64_t in_offset, int64_t out_offset) {
    forEachWindowVector(g, tables, x + in_offset, [&](auto&& tap, auto&& put) {
      R::Vec acc = R::splat(start);
      for (int64_t t = 0; t < taps; ++t) acc = fold(acc, tap(t));
      put(y + out_offset, scale == 1.0f ? acc : R::mul(acc, R::splat(scale)));
    });
  });
}

void maxPoolRows(const Geometry& g, const StreamTables& tables, const float* x, float* y) {
  poolRows(g, tables, x, y, -std::numeric_limits<float>::infinity(), 1.0f,
           [](R::Vec a, R::Vec b) { return R::max(a, b); });
}

void avgPoolRows(const Geometry& g, const StreamTables& tables, const float* x, float* y) {
  const float scale = 1.0f / static_cast<float>(g.kernel_h * g.kernel_w);
  poolRows(g, tables, x, y, 0.0f, scale, [](R::Vec a, R::Vec b) { return R::add(a, b); });
}

// dx row = dy of the window each element belongs to, times 1 / taps.
void avgPoolGradRows(const Geometry& g, const StreamTables& tables, const float* dy, float* dx) {
  const int64_t in_row_floats = g.in_w * g.in_c;
  const int64_t out_row_floats = g.out_w * g.out_c;
  const R::Vec scale = R::splat(1.0f / static_cast<float>(g.kernel_h * g.kernel_w));
  forEachOutputRow(g, [&](int64_t in_offset, int64_t out_offset) {
    forEachStreamVector(in_row_floats, tables.owner, tables.owner_base, [&](int64_t first, R::Mask mask, R::Index offsets, int32_t base) {
      const R::Vec share = R::mul(R::window(dy + out_offset + base, out_row_floats - base, offsets), scale);
      for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row)
        R::store(mask, dx + in_offset + kernel_row * in_row_floats + first, share);
    });
  });
}

// dx row = dy of the window where the element is the window's first (row-major) maximum,
// else 0: per output row, the tap of each window's first maximum, then the input rows.
void maxPoolGradRows(const Geometry& g, const StreamTables& tables, const float* x, const float* dy, float* dx) {
  const int64_t in_row_floats = g.in_w * g.in_c;
  const int64_t out_row_floats = g.out_w * g.out_c;
  alignas(64) float first_max[kMaxStreamFloats];  // per output element: its tap, as a float
  forEachOutputRow(g, [&](int64_t in_offset, int64_t out_offset) {
    forEachWindowVector(g, tables, x + in_offset, [&](auto&& tap, auto&& put) {
      R::Vec largest = tap(0);
      R::Vec where = R::splat(0.0f);
      for (int64_t t = 1; t < g.kernel_h * g.kernel_w; ++t) {
        const R::Vec value = tap(t);
        where = R::greaterSelect(value, largest, R::splat(static_cast<float>(t)), where);
        largest = R::greaterSelect(value, largest, value, largest);
      }
      put(first_max, where);
    });
    for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row) {
      const R::Vec row_taps = R::splat(static_cast<float>(kernel_row * g.kernel_w));
      forEachStreamVector(in_row_floats, tables.owner, tables.owner_base, [&](int64_t first, R::Mask mask, R::Index offsets,
                                                           int32_t base) {
        const R::Vec tap = R::add(row_taps, R::load(mask, tables.kernel_col + first));
        const R::Vec grad = R::window(dy + out_offset + base, out_row_floats - base, offsets);
        const R::Vec owner_tap = R::window(first_max + base, out_row_floats - base, offsets);
        R::store(mask, dx + in_offset + kernel_row * in_row_floats + first, R::equalSelect(owner_tap, tap, grad));
      });
    }
  });
}

}  // namespace

using V = ChannelVectors;

int32_t maxPool(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept {
  if (!validPool(geometry, {x, y})) return kNnspecKernelError;
  const NnspecWindowGeometry& g = *geometry;
  if (const auto tables = streamTables(g)) {
    maxPoolRows(g, *tables, x, y);
    return kNnspecOk;
  }
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
  if (const auto tables = streamTables(g)) {
    avgPoolRows(g, *tables, x, y);
    return kNnspecOk;
  }
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
  if (const auto tables = streamTables(g)) {
    maxPoolGradRows(g, *tables, x, dy, dx);
    return kNnspecOk;
  }
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
  if (const auto tables = streamTables(g)) {
    avgPoolGradRows(g, *tables, dy, dx);
    return kNnspecOk;
  }
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
