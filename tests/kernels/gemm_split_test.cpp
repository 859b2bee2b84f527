// A GEMM split among a thread team (runtime/kernels/gemm_split.h) gives the same bits as
// on one thread, at every level this CPU runs, for the train steps' shapes and odd ones,
// every transpose and beta; and the split really ran on several threads. GEMMs that share
// op(a) (nnspec_rt_sgemm_shared_a, fused steps' first layers) give each the bits of one
// GEMM alone, more of them than one pass holds too; bad arguments are refused.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "runtime/abi/step_abi.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "runtime/kernels/gemm_split.h"
#include "runtime/kernels/kernel_table.h"
#include "runtime/kernels/sgemm.h"
#include "runtime/kernels/thread_team.h"

namespace nnspec::rt {
namespace {

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

struct Shape {
  int64_t m, n, k;
};

// c of one GEMM on `threads` threads (the calling thread's team), from the same inputs.
std::vector<float> gemmOn(const KernelTable& kernels, int threads, const Shape& shape, int transpose_a,
                          int transpose_b, float beta, const std::vector<float>& a, const std::vector<float>& b,
                          const std::vector<float>& c0) {
  std::vector<float> c = c0;
  std::thread([&] {
    std::unique_ptr<float[], AlignedFree> scratch(
        static_cast<float*>(std::aligned_alloc(64, kNnspecSgemmScratchFloats * sizeof(float))));
    setTeamThreads(threads);
    REQUIRE(kernels.sgemm(shape.m, shape.n, shape.k, 0.5f, a.data(), transpose_a, b.data(), transpose_b, beta,
                          c.data(), scratch.get()) == kNnspecOk);
  }).join();
  return c;
}

// At least one float, so that an empty operand still has an address.
std::vector<float> randomFloats(std::mt19937& rng, int64_t count) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> out(static_cast<size_t>(std::max<int64_t>(count, 1)));
  for (float& value : out) value = uniform(rng);
  return out;
}

void checkLevel(int32_t level) {
  const KernelTable* kernels = kernelTableFor(level);
  if (kernels == nullptr) {
    WARN("this CPU does not run level " << level << ": skipped");
    return;
  }
  std::vector<Shape> shapes = {{128, 500, 784}, {128, 300, 500}, {784, 500, 128}, {500, 300, 128},
                               {128, 784, 500}, {200, 50, 784},  {784, 50, 200},  {50, 784, 50},
                               {200, 10, 50},   {97, 1100, 40},  {1100, 37, 49},  {49, 49, 321}};
  std::mt19937 rng(77);
  for (const Shape& shape : shapes) {
    for (int transposes = 0; transposes < 4; ++transposes) {
      const int transpose_a = transposes & 1;
      const int transpose_b = transposes >> 1;
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        INFO(kernels->name << " m " << shape.m << " n " << shape.n << " k " << shape.k << " ta " << transpose_a
                           << " tb " << transpose_b << " beta " << beta);
        const auto a = randomFloats(rng, shape.m * shape.k);
        const auto b = randomFloats(rng, shape.k * shape.n);
        const auto c0 = randomFloats(rng, shape.m * shape.n);
        const auto one = gemmOn(*kernels, 1, shape, transpose_a, transpose_b, beta, a, b, c0);
        for (int threads : {2, 3}) {
          INFO("threads " << threads);
          const auto split = gemmOn(*kernels, threads, shape, transpose_a, transpose_b, beta, a, b, c0);
          REQUIRE(std::memcmp(split.data(), one.data(), one.size() * sizeof(float)) == 0);
        }
      }
    }
  }
}

// Counts the parts and threads of a split through a part function of its own.
struct Seen {
  std::atomic<int> parts{0};
  std::atomic<int> rows{0};
  std::atomic<int> cols{0};
};
Seen* g_seen = nullptr;  // the one the counting part function reports to (this test only)

void countPart(const GemmProblem* problems, int64_t count, const GemmPart& part, float* scratch) noexcept {
  g_seen->parts.fetch_add(1);
  g_seen->rows.fetch_add(static_cast<int>(part.row_end - part.row_begin));
  g_seen->cols.fetch_add(static_cast<int>(part.col_end - part.col_begin));
  (void)problems;
  (void)count;
  (void)scratch;
}

// GEMMs sharing op(a): each gets the bits of one GEMM alone, on one thread and split among two.
std::unique_ptr<float[], AlignedFree> gemmScratch() {
  return std::unique_ptr<float[], AlignedFree>(
      static_cast<float*>(std::aligned_alloc(64, kNnspecSgemmScratchFloats * sizeof(float))));
}

struct Case {
  int64_t m, n, k, count;
};

void checkSharedLevel(int32_t level) {
  const KernelTable* kernels = kernelTableFor(level);
  if (kernels == nullptr) {
    WARN("this CPU does not run level " << level << ": skipped");
    return;
  }
  // q3's first layer forward and dW (batch 32, 784x64), lab3's (batch 200, 784x50), a
  // narrow one (one vector of columns), more problems than a pass holds, odd sizes, k = 0.
  const std::vector<Case> cases = {{32, 64, 784, 5},  {784, 64, 32, 5}, {200, 50, 784, 4}, {784, 50, 200, 4},
                                   {37, 7, 61, 3},    {64, 200, 96, 9}, {13, 520, 17, 2},  {50, 30, 0, 3},
                                   {1, 1, 1, 1},      {97, 130, 300, 6}};
  std::mt19937 rng(2026);
  for (const Case& shape : cases) {
    for (int transposes = 0; transposes < 4; ++transposes) {
      const int transpose_a = transposes & 1;
      const int transpose_b = transposes >> 1;
      // One alpha and beta 0 or 0.5 for all, or each problem its own (SGD's rate and decay
      // in place: the wide c's tiles across two problems scale each part apart).
      for (int scales = 0; scales < 3; ++scales) {
        std::vector<float> alpha, beta;
        for (int64_t index = 0; index < shape.count; ++index) {
          alpha.push_back(scales < 2 ? 0.75f : -0.01f * static_cast<float>(index + 1));
          beta.push_back(scales == 0 ? 0.0f : scales == 1 ? 0.5f : index % 2 == 0 ? 1.0f - 1e-4f * index : 0.0f);
        }
        INFO(kernels->name << " count " << shape.count << " m " << shape.m << " n " << shape.n << " k " << shape.k
                           << " ta " << transpose_a << " tb " << transpose_b << " scales " << scales);
        const auto a = randomFloats(rng, shape.m * shape.k);
        std::vector<std::vector<float>> b, c0;
        for (int64_t index = 0; index < shape.count; ++index) {
          b.push_back(randomFloats(rng, shape.k * shape.n));
          c0.push_back(randomFloats(rng, shape.m * shape.n));
        }
        for (int threads : {1, 2}) {
          INFO("threads " << threads);
          std::vector<std::vector<float>> alone = c0, shared = c0;
          int32_t alone_status = kNnspecOk, shared_status = kNnspecOk;
          std::thread([&] {
            setTeamThreads(threads);
            auto scratch = gemmScratch();
            std::vector<const float*> b_ptrs;
            std::vector<float*> c_ptrs;
            for (int64_t index = 0; index < shape.count; ++index) {
              const auto at = static_cast<size_t>(index);
              alone_status |= kernels->sgemm(shape.m, shape.n, shape.k, alpha[at], a.data(), transpose_a,
                                             b[at].data(), transpose_b, beta[at], alone[at].data(), scratch.get());
              b_ptrs.push_back(b[at].data());
              c_ptrs.push_back(shared[at].data());
            }
            shared_status = kernels->sgemm_shared_a(shape.count, shape.m, shape.n, shape.k, alpha.data(), a.data(),
                                                    transpose_a, b_ptrs.data(), transpose_b, beta.data(),
                                                    c_ptrs.data(), scratch.get());
            setTeamThreads(1);
          }).join();
          REQUIRE(alone_status == kNnspecOk);
          REQUIRE(shared_status == kNnspecOk);
          for (int64_t index = 0; index < shape.count; ++index) {
            const auto at = static_cast<size_t>(index);
            INFO("problem " << index);
            REQUIRE(std::memcmp(shared[at].data(), alone[at].data(), alone[at].size() * sizeof(float)) == 0);
          }
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("a GEMM split among 2 or 3 threads gives the bits of 1 thread at the avx512 level", "[runtime]") {
  checkLevel(kNnspecCpuAvx512);
}

TEST_CASE("a GEMM split among 2 or 3 threads gives the bits of 1 thread at the avx2 level", "[runtime]") {
  checkLevel(kNnspecCpuAvx2);
}

TEST_CASE("the generic level runs a GEMM whole on any team", "[runtime]") { checkLevel(kNnspecCpuGeneric); }

TEST_CASE("a split covers c once in pieces: rows when c is tall, columns when it is wide, none when small", "[runtime]") {
  std::thread([] {
    setTeamThreads(2);
    float scratch_floats[16];
    for (const auto& [shape, by_rows] : {std::pair{Shape{784, 500, 128}, true}, std::pair{Shape{128, 500, 784}, false}}) {
      Seen seen;
      g_seen = &seen;
      GemmProblem problem{shape.m, shape.n, shape.k, 1.0f, {}, {}, 0.0f, nullptr};
      REQUIRE(splitGemm(&problem, 1, countPart, scratch_floats));
      const int parts = seen.parts.load();
      CHECK(parts == 4);  // two pieces per thread
      CHECK(seen.rows.load() == (by_rows ? shape.m : parts * shape.m));
      CHECK(seen.cols.load() == (by_rows ? parts * shape.n : shape.n));
    }
    Seen small;
    g_seen = &small;
    GemmProblem tiny{16, 16, 16, 1.0f, {}, {}, 0.0f, nullptr};
    CHECK_FALSE(splitGemm(&tiny, 1, countPart, scratch_floats));
    CHECK(small.parts.load() == 0);
    // A batch of 32 through a 784-64 layer (1.6M multiply-adds) stays whole: the two parts
    // of its 64 columns (48 and 16) save less than waking a helper costs. Five such
    // problems sharing op(a), one fused step's first layer, split.
    GemmProblem narrow{32, 64, 784, 1.0f, {}, {}, 0.0f, nullptr};
    CHECK_FALSE(splitGemm(&narrow, 1, countPart, scratch_floats));
    CHECK(small.parts.load() == 0);
    const std::vector<GemmProblem> fused(5, narrow);
    CHECK(splitGemm(fused.data(), 5, countPart, scratch_floats));
    CHECK(small.parts.load() == 2);
    setTeamThreads(1);
    GemmProblem big{784, 500, 128, 1.0f, {}, {}, 0.0f, nullptr};
    CHECK_FALSE(splitGemm(&big, 1, countPart, scratch_floats));
    g_seen = nullptr;
  }).join();
}

TEST_CASE("GEMMs sharing op(a) give each the bits of one GEMM alone at the avx512 level", "[runtime]") {
  checkSharedLevel(kNnspecCpuAvx512);
}

TEST_CASE("GEMMs sharing op(a) give each the bits of one GEMM alone at the avx2 level", "[runtime]") {
  checkSharedLevel(kNnspecCpuAvx2);
}

TEST_CASE("GEMMs sharing op(a) give each the bits of one GEMM alone at the generic level", "[runtime]") {
  checkSharedLevel(kNnspecCpuGeneric);
}

TEST_CASE("nnspec_rt_sgemm_shared_a refuses a bad count, null buffers and a misaligned scratch", "[runtime]") {
  auto scratch = gemmScratch();
  std::vector<float> a(16, 1.0f), b0(16, 1.0f), c0(16, 0.0f);
  const float* b[2] = {b0.data(), nullptr};
  float* c[2] = {c0.data(), c0.data()};
  const float one[2] = {1.0f, 1.0f}, zero[2] = {0.0f, 0.0f};
  float* const* no_c = nullptr;
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, one, a.data(), 0, b, 0, zero, c, scratch.get()) == kNnspecOk);
  CHECK(c0[0] == 4.0f);
  CHECK(nnspec_rt_sgemm_shared_a(0, 4, 4, 4, one, a.data(), 0, b, 0, zero, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(65, 4, 4, 4, one, a.data(), 0, b, 0, zero, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(2, 4, 4, 4, one, a.data(), 0, b, 0, zero, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, -1, 4, 4, one, a.data(), 0, b, 0, zero, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, one, nullptr, 0, b, 0, zero, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, nullptr, a.data(), 0, b, 0, zero, c, scratch.get()) ==
        kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, one, a.data(), 0, b, 0, nullptr, c, scratch.get()) ==
        kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, one, a.data(), 0, b, 0, zero, no_c, scratch.get()) ==
        kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, one, a.data(), 0, b, 0, zero, c, scratch.get() + 1) ==
        kNnspecKernelError);
}

}  // namespace nnspec::rt
