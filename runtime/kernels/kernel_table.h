#pragma once
// The kernels of each CPU level (cpu_dispatch.h) as a table of function pointers: the
// runtime ABI's nnspec_rt_* functions (dispatch.cpp) call the chosen level's; tests and
// benchmarks call every level the CPU runs.

#include <cstdint>
#include <string>

#include "runtime/abi/window_abi.h"

namespace nnspec::rt {

using SgemmFn = int32_t (*)(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int32_t transpose_a,
                            const float* b, int32_t transpose_b, float beta, float* c, float* scratch) noexcept;
using SgemmSharedAFn = int32_t (*)(int64_t count, int64_t m, int64_t n, int64_t k, const float* alpha,
                                   const float* a, int32_t transpose_a, const float* const* b, int32_t transpose_b,
                                   const float* beta, float* const* c, float* scratch) noexcept;
using ConvFn = int32_t (*)(const NnspecWindowGeometry* geometry, const float* in, const float* other, float* out,
                           float* scratch) noexcept;
using ConvFusedFn = int32_t (*)(const NnspecWindowGeometry* geometry, const float* x, const float* kernel, float* y,
                                float* scratch, NnspecConvEpilogueFn epilogue, const void* context) noexcept;
using WindowFn = int32_t (*)(const NnspecWindowGeometry* geometry, const float* x, float* y) noexcept;
using WindowGradFn = int32_t (*)(const NnspecWindowGeometry* geometry, const float* x, const float* dy,
                                 float* dx) noexcept;

// How decode_bytes turns byte b into its float: float(b) * factor, float(b) / factor, or
// table[b] (rt::ByteDecoder chooses the form whose results are the table's bits).
inline constexpr int32_t kByteFormMultiply = 0;
inline constexpr int32_t kByteFormDivide = 1;
inline constexpr int32_t kByteFormTable = 2;
using DecodeBytesFn = void (*)(const uint8_t* in, int64_t count, const float* table, int32_t form, float factor,
                               float* out) noexcept;

struct KernelTable {
  int32_t level;     // kNnspecCpu*
  const char* name;  // "avx512", "avx2", "generic"
  SgemmFn sgemm;
  SgemmSharedAFn sgemm_shared_a;
  ConvFn conv2d_with_scratch;
  ConvFusedFn conv2d_fused_with_scratch;
  ConvFn conv2d_input_grad_with_scratch;
  ConvFn conv2d_kernel_grad_with_scratch;
  WindowFn max_pool;
  WindowFn avg_pool;
  WindowGradFn max_pool_grad;
  WindowFn avg_pool_grad;  // (geometry, dy, dx)
  WindowFn pad2d;
  WindowFn crop2d;
  // Whether conv2d's forward and kernel gradient run the direct kernels for `geometry`
  // (conv2d_direct.h) rather than im2col + GEMM.
  bool (*direct_conv_applies)(const NnspecWindowGeometry& geometry) noexcept;
  DecodeBytesFn decode_bytes;  // out[i] = byte in[i]'s float, in the form `form` (kByteForm*)
};

namespace avx512 {
const KernelTable& kernelTable() noexcept;
}
namespace avx2 {
const KernelTable& kernelTable() noexcept;
}
namespace generic {
const KernelTable& kernelTable() noexcept;
}

// The table of `level` when this CPU runs it, else null.
const KernelTable* kernelTableFor(int32_t level) noexcept;

// The table of the chosen level (nnspec_rt_cpu_level).
const KernelTable& activeKernelTable() noexcept;

// What NNSPEC_CPU = `value` (null: unset) selects on a CPU whose best level is
// `best_level`: the level, and an error message when the value is unknown or above
// best_level (then the level is best_level). For cpu_dispatch.cpp and its tests.
struct CpuChoice {
  int32_t level;
  std::string error;  // empty when the value is valid
};
CpuChoice chooseCpuLevel(const char* value, int32_t best_level);

}  // namespace nnspec::rt
