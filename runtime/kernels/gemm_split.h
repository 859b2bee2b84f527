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

// Below this many multiply-adds a GEMM runs on the caller alone (waking the team costs
// about as much as a few thousand multiply-adds).
inline constexpr int64_t kMinSplitMultiplyAdds = int64_t{1} << 18;

// Runs `count` problems of one shape (sharing op(a): GemmPartFn) split among the team
// when the team has more than one thread and the work is large enough, and returns true;
// false when it ran nothing (the caller then computes the whole). Each part is the same
// rows or columns of every problem. `scratch` serves part 0; the other parts get scratch
// of their own (kNnspecSgemmScratchFloats, kept per calling thread).
bool splitGemm(const GemmProblem* problems, int64_t count, GemmPartFn part_fn, float* scratch) noexcept;

}  // namespace nnspec::rt
