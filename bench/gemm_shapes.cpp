// The train steps' GEMM shapes at every CPU level of the runtime kernels
// (runtime/kernels/cpu_dispatch.h), against OpenBLAS (libopenblas.so.0, loaded at run time,
// one thread) and Eigen 3.4 compiled for AVX2 + FMA: GFLOP/s, the share of the measured
// FMA peak (the better of AVX-512's and AVX2's; an SSE2 build, the generic level, can
// reach at most half of it), and ratios. Single-threaded.
// Usage: nnspec_bench_gemm_shapes [MIN_MS]   (default 40: the time per measurement)
//        nnspec_bench_gemm_shapes --peak     (the measured FMA peak alone, for the epoch benches)
//        nnspec_bench_gemm_shapes --shared   (sweep fusion's first layers: K GEMMs of one op(a)
//                                             one by one against one nnspec_rt_sgemm_shared_a)

#include <dlfcn.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/fma_peak.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "runtime/kernels/kernel_table.h"
#include "runtime/kernels/sgemm.h"
#include "runtime/kernels/window.h"

namespace nnspec::bench {

void eigenAvx2Sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, bool ta, const float* b, bool tb,
                    float beta, float* c);

namespace {

using Clock = std::chrono::steady_clock;

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer newBuffer(int64_t count, std::mt19937& rng) {
  size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
  Buffer buffer(static_cast<float*>(std::aligned_alloc(64, bytes)));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int64_t element = 0; element < count; ++element) buffer[element] = value(rng);
  return buffer;
}

// Seconds per call: the best of 5 rounds of calls lasting min_ms each.
double secondsPerCall(double min_ms, const std::function<void()>& call) {
  call();
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    int calls = 0;
    auto start = Clock::now();
    double elapsed = 0.0;
    do {
      call();
      ++calls;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed * 1e3 < min_ms / 5);
    best = std::min(best, elapsed / calls);
  }
  return best;
}

struct Shape {
  std::string group;  // the train step it belongs to
  std::string name;
  int64_t m, n, k;
  bool ta, tb;
};

// A dense layer in -> out at `batch`: forward y = x w, weight gradient x^T dy, input
// gradient dy w^T (the first layer's is not computed by train steps; listed for shape).
void addDense(std::vector<Shape>& shapes, const std::string& group, int64_t batch, int64_t in, int64_t out) {
  std::string layer = std::to_string(in) + "x" + std::to_string(out);
  shapes.push_back({group, layer + " fwd", batch, out, in, false, false});
  shapes.push_back({group, layer + " dW", in, out, batch, true, false});
  shapes.push_back({group, layer + " dX", batch, in, out, false, true});
}

void addMlp(std::vector<Shape>& shapes, int64_t batch, const std::vector<int64_t>& widths) {
  std::string group;
  for (int64_t width : widths) group += (group.empty() ? "" : "-") + std::to_string(width);
  group += " b" + std::to_string(batch);
  for (size_t layer = 0; layer + 1 < widths.size(); ++layer) addDense(shapes, group, batch, widths[layer], widths[layer + 1]);
}

// The GEMMs of one chunk of a convolution as im2col + GEMM (runtime/kernels/conv2d.cpp).
void addConv(std::vector<Shape>& shapes, const std::string& group, const std::string& name,
             const NnspecWindowGeometry& g) {
  const int64_t patch = g.kernel_h * g.kernel_w * g.in_c;
  const int64_t rows = nnspec_rt_conv2d_chunk_rows(&g);
  shapes.push_back({group, name + " fwd", rows, g.out_c, patch, false, false});
  shapes.push_back({group, name + " dX", rows, patch, g.out_c, false, true});
  if (nnspec_rt_conv2d_kernel_grad_transposed(&g))
    shapes.push_back({group, name + " dW^T", g.out_c, patch, rows, true, false});
  else
    shapes.push_back({group, name + " dW", patch, g.out_c, rows, true, false});
}

NnspecWindowGeometry convGeometry(int64_t batch, int64_t in_hw, int64_t in_c, int64_t out_hw, int64_t out_c,
                                  int64_t kernel) {
  return {batch, in_hw, in_hw, in_c, out_hw, out_hw, out_c, kernel, kernel, 1, 1, 0, 0};
}

using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                            int);
using SetThreads = void (*)(int);

struct Impl {
  std::string name;
  std::function<void(const Shape&, const float*, const float*, float*, float*)> run;
};

// Sweep fusion's first layers at every level: K points reading one batch, each GEMM
// alone against the K as one call sharing op(a) (runtime/kernels/packed_gemm_loops.h).
int sharedFirstLayers(double peak) {
  struct Case {
    const char* name;
    int64_t m, n, k, count;
    bool ta;
  };
  // K: the largest group bench/run_fusion.sh's fused runs form (--fuse 8 on 2 jobs: q3's 5
  // points as 3 + 2, lab3's 20 trials in groups of 5, dat565's 15 as 8 + 7); its bound
  // reads these rows (bench/fusion_bound.py --shared).
  const std::vector<Case> cases = {{"q3 784x64 fwd b32", 32, 64, 784, 3, false},
                                   {"q3 784x64 dW b32", 784, 64, 32, 3, true},
                                   {"lab3 784x50 fwd b200", 200, 50, 784, 5, false},
                                   {"lab3 784x50 dW b200", 784, 50, 200, 5, true},
                                   {"dat565 784x500 fwd b128", 128, 500, 784, 8, false},
                                   {"dat565 784x500 dW b128", 784, 500, 128, 8, true}};
  std::mt19937 rng(12);
  Buffer scratch = newBuffer(kNnspecSgemmScratchFloats, rng);
  std::printf("GFLOP/s (%% of the better measured FMA peak): K GEMMs of one op(a) alone and shared\n");
  std::printf("%-8s %-24s %5s %5s %5s %2s %16s %16s %7s\n", "level", "gemm", "m", "n", "k", "K", "alone", "shared",
              "ratio");
  for (int32_t level = nnspec_rt_cpu_best_level(); level >= 0; --level) {
    const nnspec::rt::KernelTable* kernels = nnspec::rt::kernelTableFor(level);
    for (const Case& shape : cases) {
      Buffer a = newBuffer(shape.m * shape.k, rng);
      std::vector<Buffer> b, c;
      std::vector<const float*> b_ptrs;
      std::vector<float*> c_ptrs;
      for (int64_t index = 0; index < shape.count; ++index) {
        b.push_back(newBuffer(shape.k * shape.n, rng));
        c.push_back(newBuffer(shape.m * shape.n, rng));
        b_ptrs.push_back(b.back().get());
        c_ptrs.push_back(c.back().get());
      }
      const double alone = secondsPerCall(40.0, [&] {
        for (int64_t index = 0; index < shape.count; ++index)
          kernels->sgemm(shape.m, shape.n, shape.k, 1.0f, a.get(), shape.ta, b_ptrs[static_cast<size_t>(index)], 0,
                         0.0f, c_ptrs[static_cast<size_t>(index)], scratch.get());
      });
      const std::vector<float> alpha(static_cast<size_t>(shape.count), 1.0f), beta(alpha.size(), 0.0f);
      const double shared = secondsPerCall(40.0, [&] {
        kernels->sgemm_shared_a(shape.count, shape.m, shape.n, shape.k, alpha.data(), a.get(), shape.ta,
                                b_ptrs.data(), 0, beta.data(), c_ptrs.data(), scratch.get());
      });
      const double flop = 2.0 * static_cast<double>(shape.count * shape.m * shape.n * shape.k);
      std::printf("%-8s %-24s %5ld %5ld %5ld %2ld %8.1f (%4.0f%%) %8.1f (%4.0f%%) %6.2fx\n", kernels->name,
                  shape.name, static_cast<long>(shape.m), static_cast<long>(shape.n), static_cast<long>(shape.k),
                  static_cast<long>(shape.count), flop / alone / 1e9, 100.0 * flop / alone / 1e9 / peak,
                  flop / shared / 1e9, 100.0 * flop / shared / 1e9 / peak, alone / shared);
    }
  }
  return 0;
}

}  // namespace
}  // namespace nnspec::bench

int main(int argc, char** argv) {
  using namespace nnspec::bench;
  using nnspec::rt::kernelTableFor;
  const bool peak_only = argc > 1 && std::string(argv[1]) == "--peak";
  const double min_ms = argc > 1 && !peak_only ? std::atof(argv[1]) : 40.0;
  const int32_t best = nnspec_rt_cpu_best_level();

  const FmaPeak measured = measureFmaPeak(best);
  const double peak = measured.best();
  std::printf("measured FMA peak, 1 core: avx512 %.1f GFLOP/s, avx2 %.1f GFLOP/s\n", measured.avx512, measured.avx2);
  if (peak_only) return 0;
  if (argc > 1 && std::string(argv[1]) == "--shared") return sharedFirstLayers(peak);

  std::vector<Impl> impls;
  for (int32_t level = best; level >= 0; --level) {
    const nnspec::rt::KernelTable* kernels = kernelTableFor(level);
    impls.push_back({kernels->name,
                     [kernels](const Shape& s, const float* a, const float* b, float* c, float* scratch) {
                       kernels->sgemm(s.m, s.n, s.k, 1.0f, a, s.ta, b, s.tb, 0.0f, c, scratch);
                     }});
  }
  void* openblas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (openblas != nullptr) {
    auto sgemm = reinterpret_cast<CblasSgemm>(dlsym(openblas, "cblas_sgemm"));
    auto set_threads = reinterpret_cast<SetThreads>(dlsym(openblas, "openblas_set_num_threads"));
    if (sgemm != nullptr && set_threads != nullptr) {
      set_threads(1);
      impls.push_back({"openblas",
                       [sgemm](const Shape& s, const float* a, const float* b, float* c, float*) {
                         constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
                         sgemm(kRowMajor, s.ta ? kTrans : kNoTrans, s.tb ? kTrans : kNoTrans, static_cast<int>(s.m),
                               static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, a,
                               static_cast<int>(s.ta ? s.m : s.k), b, static_cast<int>(s.tb ? s.k : s.n), 0.0f, c,
                               static_cast<int>(s.n));
                       }});
    }
  } else {
    std::printf("openblas: not found (%s); install libopenblas0-pthread\n", dlerror());
  }
  if (best >= kNnspecCpuAvx2)
    impls.push_back({"eigen-avx2", [](const Shape& s, const float* a, const float* b, float* c, float*) {
                       eigenAvx2Sgemm(s.m, s.n, s.k, 1.0f, a, s.ta, b, s.tb, 0.0f, c);
                     }});

  std::vector<Shape> shapes;
  addMlp(shapes, 128, {784, 500, 300, 10});
  addMlp(shapes, 128, {784, 64, 64, 10});
  addMlp(shapes, 50, {784, 50, 10});
  addMlp(shapes, 200, {784, 50, 10});
  // Sweep fusion's question: a first layer alone against 5 points' first layers as one
  // wide GEMM over a shared batch (784-64 at batch 32: q3; 784-50 at batch 200: lab3).
  addMlp(shapes, 32, {784, 64});
  addMlp(shapes, 32, {784, 320});
  addMlp(shapes, 200, {784, 250});
  addConv(shapes, "lenet5 b128", "conv1 32x32x1>6", convGeometry(128, 32, 1, 28, 6, 5));
  addConv(shapes, "lenet5 b128", "conv2 14x14x6>16", convGeometry(128, 14, 6, 10, 16, 5));
  addDense(shapes, "lenet5 b128", 128, 400, 120);
  addDense(shapes, "lenet5 b128", 128, 120, 84);
  addDense(shapes, "lenet5 b128", 128, 84, 10);

  std::mt19937 rng(11);
  Buffer scratch = newBuffer(kNnspecSgemmScratchFloats, rng);
  std::printf("GFLOP/s (%% of the better measured FMA peak)\n");
  std::printf("%-18s %-20s %5s %5s %5s", "step", "gemm", "m", "n", "k");
  for (const Impl& impl : impls) std::printf(" %16s", impl.name.c_str());
  std::printf("\n");
  struct Total {
    std::string group;
    double flop = 0.0;
    std::vector<double> seconds;
  };
  std::vector<Total> totals;
  for (const Shape& shape : shapes) {
    if (totals.empty() || totals.back().group != shape.group) totals.push_back({shape.group, 0.0, std::vector<double>(impls.size())});
    Buffer a = newBuffer(shape.m * shape.k, rng), b = newBuffer(shape.k * shape.n, rng), c = newBuffer(shape.m * shape.n, rng);
    const double flop = 2.0 * static_cast<double>(shape.m * shape.n * shape.k);
    totals.back().flop += flop;
    std::printf("%-18s %-20s %5ld %5ld %5ld", shape.group.c_str(), shape.name.c_str(), static_cast<long>(shape.m),
                static_cast<long>(shape.n), static_cast<long>(shape.k));
    for (size_t impl = 0; impl < impls.size(); ++impl) {
      double seconds = secondsPerCall(min_ms, [&] { impls[impl].run(shape, a.get(), b.get(), c.get(), scratch.get()); });
      totals.back().seconds[impl] += seconds;
      double gflops = flop / seconds / 1e9;
      std::printf(" %8.1f (%4.0f%%)", gflops, 100.0 * gflops / peak);
    }
    std::printf("\n");
  }
  std::printf("\nall GEMMs of a step (time-weighted GFLOP/s) and ratios to openblas / eigen-avx2\n");
  std::printf("%-18s", "step");
  for (const Impl& impl : impls) std::printf(" %12s", impl.name.c_str());
  std::printf("\n");
  auto column = [&](const std::string& name) {
    for (size_t impl = 0; impl < impls.size(); ++impl)
      if (impls[impl].name == name) return static_cast<int>(impl);
    return -1;
  };
  const int openblas_col = column("openblas"), eigen_col = column("eigen-avx2");
  for (const Total& total : totals) {
    std::printf("%-18s", total.group.c_str());
    for (double seconds : total.seconds) std::printf(" %12.1f", total.flop / seconds / 1e9);
    for (const char* level : {"avx512", "avx2", "generic"}) {
      int col = column(level);
      if (col < 0) continue;
      if (openblas_col >= 0) std::printf("  %s/openblas %.2f", level, total.seconds[openblas_col] / total.seconds[col]);
      if (eigen_col >= 0 && std::string(level) != "generic")
        std::printf("  %s/eigen-avx2 %.2f", level, total.seconds[eigen_col] / total.seconds[col]);
    }
    std::printf("\n");
  }
  return 0;
}
