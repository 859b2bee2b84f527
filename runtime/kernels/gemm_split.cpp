#include "runtime/kernels/gemm_split.h"

#include <algorithm>
#include <array>
#include <atomic>
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
constexpr int64_t kPiecesPerThread = 2;

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

// Scratch for workers 1.. of the GEMMs this thread splits, made on first use.
using HelperScratch = std::array<std::unique_ptr<float[], AlignedFree>, kMaxTeamThreads>;

bool ensureScratch(HelperScratch& scratch, int workers) noexcept {
  constexpr size_t kBytes = static_cast<size_t>(kNnspecSgemmScratchFloats) * sizeof(float);
  static_assert(kBytes % kScratchAlignBytes == 0);
  for (int worker = 1; worker < workers; ++worker) {
    if (scratch[worker]) continue;
    scratch[worker].reset(static_cast<float*>(std::aligned_alloc(kScratchAlignBytes, kBytes)));
    if (!scratch[worker]) return false;
  }
  return true;
}

struct SplitTask {
  const GemmProblem* problems;
  int64_t count;
  GemmPartFn part_fn;
  float* scratch[kMaxTeamThreads];  // per worker
  int workers;                      // those with scratch; a helper beyond them sits out
  bool by_rows;
  int64_t step;    // rows or columns per piece (the last piece takes what is left)
  int64_t pieces;
  std::atomic<int64_t> next{0};  // the next piece to take
};

// A worker's share: pieces taken in turn until none is left.
void runPieces(int worker, void* context) noexcept {
  auto& task = *static_cast<SplitTask*>(context);
  if (worker >= task.workers) return;
  const GemmProblem& problem = task.problems[0];
  const int64_t extent = task.by_rows ? problem.m : problem.n;
  for (int64_t piece = task.next.fetch_add(1); piece < task.pieces; piece = task.next.fetch_add(1)) {
    GemmPart range = wholeOf(problem);
    const int64_t begin = piece * task.step;
    const int64_t end = std::min(extent, begin + task.step);
    if (task.by_rows) {
      range.row_begin = begin;
      range.row_end = end;
    } else {
      range.col_begin = begin;
      range.col_end = end;
    }
    task.part_fn(task.problems, task.count, range, task.scratch[worker]);
  }
}

}  // namespace

bool splitGemm(const GemmProblem* problems, int64_t count, GemmPartFn part_fn, float* scratch) noexcept {
  const int threads = teamThreads();
  const GemmProblem& problem = problems[0];
  if (threads <= 1 || count * problem.m * problem.n * problem.k < kMinGemmSplitMultiplyAdds) return false;
  SplitTask task{problems, count, part_fn, {}, threads, problem.n <= problem.m, 0, 0};
  const int64_t extent = task.by_rows ? problem.m : problem.n;
  const int64_t align = task.by_rows ? kRowAlign : kColAlign;
  const int64_t tiles = (extent + align - 1) / align;
  // Two pieces per thread: a thread the machine runs late leaves its share to the others.
  task.pieces = std::min<int64_t>(tiles, kPiecesPerThread * threads);
  if (task.pieces <= 1) return false;
  thread_local HelperScratch helper_scratch;
  if (!ensureScratch(helper_scratch, threads)) return false;
  task.step = (tiles + task.pieces - 1) / task.pieces * align;
  task.pieces = (extent + task.step - 1) / task.step;
  task.scratch[0] = scratch;
  for (int worker = 1; worker < threads; ++worker) task.scratch[worker] = helper_scratch[worker].get();
  runTeam(runPieces, &task);
  return true;
}

}  // namespace nnspec::rt
