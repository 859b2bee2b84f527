// nnspec_rt_sgemm_shared_a (runtime/kernels/sgemm.h): GEMMs that share op(a) give, each,
// the bits of nnspec_rt_sgemm alone, at every level this CPU runs, on one thread and split
// among two; for the fused steps' first layers and odd shapes, every transpose, beta, and
// more problems than one pass of the packed levels holds; bad arguments are refused.
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
#include "runtime/kernels/kernel_table.h"
#include "runtime/kernels/sgemm.h"
#include "runtime/kernels/thread_team.h"

namespace nnspec::rt {
namespace {

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

std::unique_ptr<float[], AlignedFree> gemmScratch() {
  return std::unique_ptr<float[], AlignedFree>(
      static_cast<float*>(std::aligned_alloc(64, kNnspecSgemmScratchFloats * sizeof(float))));
}

struct Case {
  int64_t m, n, k, count;
};

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
      for (float beta : {0.0f, 0.5f}) {
        INFO(kernels->name << " count " << shape.count << " m " << shape.m << " n " << shape.n << " k " << shape.k
                           << " ta " << transpose_a << " tb " << transpose_b << " beta " << beta);
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
              alone_status |= kernels->sgemm(shape.m, shape.n, shape.k, 0.75f, a.data(), transpose_a, b[at].data(),
                                             transpose_b, beta, alone[at].data(), scratch.get());
              b_ptrs.push_back(b[at].data());
              c_ptrs.push_back(shared[at].data());
            }
            shared_status = kernels->sgemm_shared_a(shape.count, shape.m, shape.n, shape.k, 0.75f, a.data(),
                                                    transpose_a, b_ptrs.data(), transpose_b, beta, c_ptrs.data(),
                                                    scratch.get());
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

TEST_CASE("GEMMs sharing op(a) give each the bits of one GEMM alone at the avx512 level", "[runtime]") {
  checkLevel(kNnspecCpuAvx512);
}

TEST_CASE("GEMMs sharing op(a) give each the bits of one GEMM alone at the avx2 level", "[runtime]") {
  checkLevel(kNnspecCpuAvx2);
}

TEST_CASE("GEMMs sharing op(a) give each the bits of one GEMM alone at the generic level", "[runtime]") {
  checkLevel(kNnspecCpuGeneric);
}

TEST_CASE("nnspec_rt_sgemm_shared_a refuses a bad count, null buffers and a misaligned scratch", "[runtime]") {
  auto scratch = gemmScratch();
  std::vector<float> a(16, 1.0f), b0(16, 1.0f), c0(16, 0.0f);
  const float* b[2] = {b0.data(), nullptr};
  float* c[2] = {c0.data(), c0.data()};
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, 1.0f, a.data(), 0, b, 0, 0.0f, c, scratch.get()) == kNnspecOk);
  CHECK(c0[0] == 4.0f);
  CHECK(nnspec_rt_sgemm_shared_a(0, 4, 4, 4, 1.0f, a.data(), 0, b, 0, 0.0f, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(65, 4, 4, 4, 1.0f, a.data(), 0, b, 0, 0.0f, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(2, 4, 4, 4, 1.0f, a.data(), 0, b, 0, 0.0f, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, -1, 4, 4, 1.0f, a.data(), 0, b, 0, 0.0f, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, 1.0f, nullptr, 0, b, 0, 0.0f, c, scratch.get()) == kNnspecKernelError);
  CHECK(nnspec_rt_sgemm_shared_a(1, 4, 4, 4, 1.0f, a.data(), 0, b, 0, 0.0f, c, scratch.get() + 1) ==
        kNnspecKernelError);
}

}  // namespace
}  // namespace nnspec::rt
