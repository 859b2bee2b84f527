#pragma once
// One GEMM on the calling thread's team (thread_team.h): c split into parts, one per
// thread. By rows when c has at least as many rows as columns (each thread packs its own
// rows of a, and all of b), else by columns (its columns of b, all of a), at multiples of
// the micro-kernels' tiles. Every element is computed as in the whole GEMM, so results do
// not depend on the number of threads.

#include <cstdint>

#include "runtime/kernels/gemm_problem.h"

namespace nnspec::rt {

// A level's packed GEMM of one part of `count` problems that share op(a) (packed_gemm.h,
// packed_gemm_avx2.h).
using GemmPartFn = void (*)(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept;

// Below this many multiply-adds a convolution runs on the caller alone (waking the team
// costs about as much as a few thousand multiply-adds).
inline constexpr int64_t kMinSplitMultiplyAdds = int64_t{1} << 18;

// Below this many multiply-adds a GEMM runs on the caller alone. A split GEMM pays for
// the wake-up and for every part packing its own copy of the shared operand, and parts
// fall on whole tiles, so a narrow c splits unevenly (64 columns: 48 and 16). With the
// convolutions' bound, a trial of q3's 784-64-64-10 at batch 32 (GEMMs of 1.6M
// multiply-adds) trained slower on two threads than on one: 2.9 s against 2.2 s for its
// learning-rate sweep (`nnspec run --jobs 1 --fuse off`, on one CPU and on two); with
// this bound those GEMMs stay on one thread and the run on two CPUs is no slower.
inline constexpr int64_t kMinGemmSplitMultiplyAdds = int64_t{1} << 22;

// Runs `count` problems of one shape (sharing op(a): GemmPartFn) split among the team
// when the team has more than one thread and the work is large enough, and returns true;
// false when it ran nothing (the caller then computes the whole). Each part is the same
// rows or columns of every problem. `scratch` serves part 0; the other parts get scratch
// of their own (kNnspecSgemmScratchFloats, kept per calling thread).
bool splitGemm(const GemmProblem* problems, int64_t count, GemmPartFn part_fn, float* scratch) noexcept;

}  // namespace nnspec::rt
