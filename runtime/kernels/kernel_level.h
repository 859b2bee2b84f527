#pragma once
// The CPU level a per-level translation unit is compiled for. runtime/kernels/CMakeLists.txt
// builds the per-level sources three times, each with its own instruction flags and
// NNSPEC_KERNEL_LEVEL (2 avx512, 1 avx2, 0 generic); everything they define lives in the
// namespace nnspec::rt::NNSPEC_KERNEL_NS (avx512, avx2, generic), so no inline function or
// template compiled for one level can stand in for another's at link time.

#if !defined(NNSPEC_KERNEL_LEVEL)
#error "a per-level kernel source: built by runtime/kernels/CMakeLists.txt with NNSPEC_KERNEL_LEVEL"
#endif

#if NNSPEC_KERNEL_LEVEL == 2
#define NNSPEC_KERNEL_NS avx512
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) || !defined(__AVX512VL__) || \
    !defined(__FMA__)
#error "the avx512 level is compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma"
#endif
#elif NNSPEC_KERNEL_LEVEL == 1
#define NNSPEC_KERNEL_NS avx2
#if !defined(__AVX2__) || !defined(__FMA__) || defined(__AVX512F__)
#error "the avx2 level is compiled with -mavx2 -mfma and without AVX-512"
#endif
#elif NNSPEC_KERNEL_LEVEL == 0
#define NNSPEC_KERNEL_NS generic
#if defined(__AVX__)
#error "the generic level is compiled for the x86-64 baseline"
#endif
#else
#error "NNSPEC_KERNEL_LEVEL is 0, 1 or 2"
#endif
