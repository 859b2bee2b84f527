#pragma once
// The CPU level the runtime kernels (and the JIT's generated code) run at, chosen once per
// process from the CPU's features:
//   avx512   AVX-512 F/BW/DQ/VL with FMA (the packed 8x48 GEMM, direct convolution)
//   avx2     AVX2 with FMA (a packed 6x16 GEMM; convolution as im2col + GEMM)
//   generic  the x86-64 baseline (Eigen's GEMM compiled for SSE2, plain loops)
// The environment variable NNSPEC_CPU=avx512|avx2|generic forces a level no higher than
// the CPU has (an empty value counts as unset). An unknown value, or a level this CPU
// lacks, is an error: nnspec_rt_cpu_error says so (the CLI reports it and exits 2), and
// meanwhile the kernels run at the best level the CPU has. Thread-safe; the level is
// fixed at the first call of any function here or any kernel.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { kNnspecCpuGeneric = 0, kNnspecCpuAvx2 = 1, kNnspecCpuAvx512 = 2, kNnspecCpuLevels = 3 };

// The level the kernels run at.
int32_t nnspec_rt_cpu_level(void) noexcept;
// The best level this CPU supports (what runs when NNSPEC_CPU is unset).
int32_t nnspec_rt_cpu_best_level(void) noexcept;
// "avx512", "avx2" or "generic"; null for a value that is no level.
const char* nnspec_rt_cpu_level_name(int32_t level) noexcept;
// Null when NNSPEC_CPU is unset, empty or names a level this CPU supports; else the error
// (one line naming NNSPEC_CPU, its value, and the values this CPU accepts). Static
// storage: valid for the life of the process.
const char* nnspec_rt_cpu_error(void) noexcept;

#ifdef __cplusplus
}
#endif
