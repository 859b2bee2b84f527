#include "runtime/kernels/gemm_split.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>

#include "runtime/kernels/sgemm.h"
#include "runtime/kernels/thread_team.h"

namespace nnspec::rt {
namespace {

// Part boundaries fall on whole micro-kernel tiles of every level: rows in multiples of
// 24 (the avx512 kernel's 8-row and the avx2 kernel's 6-row panels), columns in
// multiples of 48 (three AVX-512 vectors, six AVX2 ones).
constexpr int64_t kRowAlign = 24;
constexpr int64_t kColAlign = 48;
constexpr size_t kScratchAlignBytes = 64;

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

// Scratch for parts 1.. of the GEMMs this thread splits, made on first use.
using HelperScratch = std::array<std::unique_ptr<float[], AlignedFree>, kMaxTeamThreads>;

bool ensureScratch(HelperScratch& scratch, int parts) noexcept {
  constexpr size_t kBytes = static_cast<size_t>(kNnspecSgemmScratchFloats) * sizeof(float);
  static_assert(kBytes % kScratchAlignBytes == 0);
  for (int part = 1; part < parts; ++part) {
    if (scratch[part]) continue;
    scratch[part].reset(static_cast<float*>(std::aligned_alloc(kScratchAlignBytes, kBytes)));
    if (!scratch[part]) return false;
  }
  return true;
}

struct SplitTask {
  const GemmProblem* problem;
  GemmPartFn part_fn;
  float* scratch[kMaxTeamThreads];
  bool by_rows;
  int64_t step;  // rows or columns per part (the last part takes what is left)
};

void runPart(int part, void* context) noexcept {
  const auto& task = *static_cast<const SplitTask*>(context);
  const GemmProblem& problem = *task.problem;
  GemmPart range = wholeOf(problem);
  const int64_t extent = task.by_rows ? problem.m : problem.n;
  const int64_t begin = std::min(extent, part * task.step);
  const int64_t end = std::min(extent, begin + task.step);
  if (task.by_rows) {
    range.row_begin = begin;
    range.row_end = end;
  } else {
    range.col_begin = begin;
    range.col_end = end;
  }
  task.part_fn(problem, range, task.scratch[part]);
}

}  // namespace

bool splitGemm(const GemmProblem& problem, GemmPartFn part_fn, float* scratch) noexcept {
  const int threads = teamThreads();
  if (threads <= 1 || problem.m * problem.n * problem.k < kMinSplitMultiplyAdds) return false;
  SplitTask task{&problem, part_fn, {}, problem.n <= problem.m, 0};
  const int64_t extent = task.by_rows ? problem.m : problem.n;
  const int64_t align = task.by_rows ? kRowAlign : kColAlign;
  const int64_t tiles = (extent + align - 1) / align;
  const int parts = static_cast<int>(std::min<int64_t>(threads, tiles));
  if (parts <= 1) return false;
  thread_local HelperScratch helper_scratch;
  if (!ensureScratch(helper_scratch, parts)) return false;
  task.step = (tiles + parts - 1) / parts * align;
  task.scratch[0] = scratch;
  for (int part = 1; part < parts; ++part) task.scratch[part] = helper_scratch[part].get();
  runTeam(parts, runPart, &task);
  return true;
}

}  // namespace nnspec::rt
