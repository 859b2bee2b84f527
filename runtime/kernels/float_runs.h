#pragma once
// Short runs of contiguous floats (a few channels to a few hundred): copy, zero, add,
// scaled add, max. The window kernels move channel runs of 1 to ~100 floats where a
// memcpy call or a vector loop with a scalar tail costs more than the work; at the avx512
// level each run is whole vectors and one masked vector. The other levels get plain loops,
// which the compiler vectorizes for their instructions (a per-level header,
// kernel_level.h).

#include <algorithm>
#include <cstdint>

#include "runtime/kernels/kernel_level.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace nnspec::rt::NNSPEC_KERNEL_NS {

#if defined(__AVX512F__)

inline constexpr int64_t kFloatRunLanes = 16;

inline __mmask16 floatRunMask(int64_t count) {
  return count >= kFloatRunLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// Calls step(offset, mask) for each vector of [0, count): whole vectors, then a masked one.
template <class Step>
inline void forEachVector(int64_t count, Step&& step) {
  int64_t offset = 0;
  for (; offset + kFloatRunLanes <= count; offset += kFloatRunLanes) step(offset, static_cast<__mmask16>(0xFFFF));
  if (offset < count) step(offset, floatRunMask(count - offset));
}

inline void copyFloats(float* out, const float* in, int64_t count) {
  forEachVector(count, [&](int64_t offset, __mmask16 mask) {
    _mm512_mask_storeu_ps(out + offset, mask, _mm512_maskz_loadu_ps(mask, in + offset));
  });
}

inline void zeroFloats(float* out, int64_t count) {
  forEachVector(
      count, [&](int64_t offset, __mmask16 mask) { _mm512_mask_storeu_ps(out + offset, mask, _mm512_setzero_ps()); });
}

// Copies of one fixed length, the mask of the last vector computed once. Like copyFloats,
// but may write up to 15 floats past out + count (whole vectors: masked stores are slow
// on some CPUs), for filling a buffer left to right with slack at its end: each copy's
// overhang is overwritten by the next.
class RunCopier {
 public:
  explicit RunCopier(int64_t count)
      : whole_(count / kFloatRunLanes),
        tail_(floatRunMask(count % kFloatRunLanes)),
        has_tail_(count % kFloatRunLanes != 0),
        short_(count <= kFloatRunLanes / 2) {}

  void copyOverhang(float* out, const float* in) const {
    if (short_) {  // one 8-float vector: half the store traffic of a 16-float one
      _mm256_storeu_ps(out, _mm256_maskz_loadu_ps(static_cast<__mmask8>(tail_), in));
      return;
    }
    for (int64_t vector = 0; vector < whole_; ++vector)
      _mm512_storeu_ps(out + vector * kFloatRunLanes, _mm512_loadu_ps(in + vector * kFloatRunLanes));
    if (has_tail_)
      _mm512_storeu_ps(out + whole_ * kFloatRunLanes, _mm512_maskz_loadu_ps(tail_, in + whole_ * kFloatRunLanes));
  }

 private:
  int64_t whole_;
  __mmask16 tail_;
  bool has_tail_;
  bool short_;
};

// out += in
inline void addFloats(float* out, const float* in, int64_t count) {
  forEachVector(count, [&](int64_t offset, __mmask16 mask) {
    __m512 sum = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out + offset), _mm512_maskz_loadu_ps(mask, in + offset));
    _mm512_mask_storeu_ps(out + offset, mask, sum);
  });
}

// out += scale * in
inline void addScaledFloats(float* out, const float* in, float scale, int64_t count) {
  __m512 factor = _mm512_set1_ps(scale);
  forEachVector(count, [&](int64_t offset, __mmask16 mask) {
    __m512 sum =
        _mm512_fmadd_ps(factor, _mm512_maskz_loadu_ps(mask, in + offset), _mm512_maskz_loadu_ps(mask, out + offset));
    _mm512_mask_storeu_ps(out + offset, mask, sum);
  });
}

// out = max(out, in)
inline void maxFloats(float* out, const float* in, int64_t count) {
  forEachVector(count, [&](int64_t offset, __mmask16 mask) {
    __m512 larger = _mm512_max_ps(_mm512_maskz_loadu_ps(mask, out + offset), _mm512_maskz_loadu_ps(mask, in + offset));
    _mm512_mask_storeu_ps(out + offset, mask, larger);
  });
}

#else

inline void copyFloats(float* out, const float* in, int64_t count) { std::copy(in, in + count, out); }

inline void zeroFloats(float* out, int64_t count) { std::fill(out, out + count, 0.0f); }

class RunCopier {
 public:
  explicit RunCopier(int64_t count) : count_(count) {}
  void copyOverhang(float* out, const float* in) const { std::copy(in, in + count_, out); }

 private:
  int64_t count_;
};

inline void addFloats(float* out, const float* in, int64_t count) {
  for (int64_t element = 0; element < count; ++element) out[element] += in[element];
}

inline void addScaledFloats(float* out, const float* in, float scale, int64_t count) {
  for (int64_t element = 0; element < count; ++element) out[element] += scale * in[element];
}

inline void maxFloats(float* out, const float* in, int64_t count) {
  for (int64_t element = 0; element < count; ++element) out[element] = std::max(out[element], in[element]);
}

#endif

// One vector of channels for loops written once for every target: AVX-512 (16 lanes,
// masked) or plain floats (1 lane). Lanes outside `mask` load as zero and are not stored.
struct ChannelVectors {
#if defined(__AVX512F__)
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int64_t kLanes = 16;
  static Mask mask(int64_t count) { return floatRunMask(count); }
  static Vec load(Mask mask, const float* in) { return _mm512_maskz_loadu_ps(mask, in); }
  static void store(Mask mask, float* out, Vec value) { _mm512_mask_storeu_ps(out, mask, value); }
  static Vec splat(float value) { return _mm512_set1_ps(value); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  // b where b > a, else a (std::max(a, b): a NaN b is ignored).
  static Vec max(Vec a, Vec b) { return _mm512_max_ps(b, a); }
  // Lanes where a > b (false for NaN).
  static Mask greater(Vec a, Vec b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static Vec select(Mask take_b, Vec a, Vec b) { return _mm512_mask_blend_ps(take_b, a, b); }
  static Mask both(Mask a, Mask b) { return static_cast<Mask>(a & b); }
  // Per-lane 32-bit integers (offsets).
  using Index = __m512i;
  static Index indexSplat(int32_t value) { return _mm512_set1_epi32(value); }
  static Index indexSelect(Mask take_b, Index a, Index b) { return _mm512_mask_blend_epi32(take_b, a, b); }
  static void indexStore(int32_t* out, Index value) { _mm512_store_si512(out, value); }
  // Lanes where index == value, for per-lane tap indices kept as floats.
  static Mask equal(Vec index, float value) { return _mm512_cmp_ps_mask(index, splat(value), _CMP_EQ_OQ); }
#else
  using Vec = float;
  using Mask = bool;
  static constexpr int64_t kLanes = 1;
  static Mask mask(int64_t count) { return count > 0; }
  static Vec load(Mask mask, const float* in) { return mask ? *in : 0.0f; }
  static void store(Mask mask, float* out, Vec value) {
    if (mask) *out = value;
  }
  static Vec splat(float value) { return value; }
  static Vec add(Vec a, Vec b) { return a + b; }
  static Vec mul(Vec a, Vec b) { return a * b; }
  static Vec max(Vec a, Vec b) { return std::max(a, b); }  // b where b > a, else a
  static Mask greater(Vec a, Vec b) { return a > b; }
  static Vec select(Mask take_b, Vec a, Vec b) { return take_b ? b : a; }
  static Mask both(Mask a, Mask b) { return a && b; }
  using Index = int32_t;
  static Index indexSplat(int32_t value) { return value; }
  static Index indexSelect(Mask take_b, Index a, Index b) { return take_b ? b : a; }
  static void indexStore(int32_t* out, Index value) { *out = value; }
  static Mask equal(Vec index, float value) { return index == value; }
#endif
};

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
