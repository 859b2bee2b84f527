// Bytes decoded to floats (rt::ByteDecoder, how batches gather images kept as bytes) at
// one CPU level: the same loops, vectorized by the compiler at the level's width (a
// division of 16 floats at a time with AVX-512 against 4 at the baseline). Division and
// multiplication are exactly rounded at every width, so every level gives the same bits.
// A per-level source (kernel_level.h).
#include "runtime/kernels/level_kernels.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {

void decodeBytes(const uint8_t* in, int64_t count, const float* table, int32_t form, float factor,
                 float* out) noexcept {
  switch (form) {
    case kByteFormMultiply:
      for (int64_t index = 0; index < count; ++index) out[index] = static_cast<float>(in[index]) * factor;
      return;
    case kByteFormDivide:
      for (int64_t index = 0; index < count; ++index) out[index] = static_cast<float>(in[index]) / factor;
      return;
    default:
      for (int64_t index = 0; index < count; ++index) out[index] = table[in[index]];
      return;
  }
}

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
