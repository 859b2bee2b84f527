// Times the runtime window kernels (runtime/kernels/window.h) on the shapes of LeNet-5
// (batch 128) and amath482's CNN (batch 32): milliseconds per call and GFLOP/s of the
// convolutions, single-threaded. For tuning the kernels; the epoch benchmarks are
// run_lenet.sh and run_mlp.sh.
// Usage: nnspec_bench_window_kernels [REPEATS [NAME_PART]]   (default 20, every layer)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/window.h"

namespace {

using Clock = std::chrono::steady_clock;

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer randomBuffer(int64_t count, std::mt19937& rng) {
  size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
  Buffer buffer(static_cast<float*>(std::aligned_alloc(64, bytes)));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int64_t element = 0; element < count; ++element) buffer[element] = value(rng);
  return buffer;
}

// The median of `repeats` timed calls, in milliseconds.
double medianMs(int repeats, const std::function<int32_t()>& call) {
  std::vector<double> times;
  call();  // warm up
  for (int repeat = 0; repeat < repeats; ++repeat) {
    auto start = Clock::now();
    if (call() != 0) std::fprintf(stderr, "kernel error\n");
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Layer {
  const char* name;
  NnspecWindowGeometry conv;  // out_c == in_c and kernel == pool window for pooling rows
  bool pool = false;
  bool max = false;
};

NnspecWindowGeometry geometry(int64_t batch, int64_t in_hw, int64_t in_c, int64_t out_hw, int64_t out_c, int64_t kernel,
                              int64_t stride, int64_t pad) {
  return {batch, in_hw, in_hw, in_c, out_hw, out_hw, out_c, kernel, kernel, stride, stride, pad, pad};
}

void timeLayer(const Layer& layer, int repeats, std::mt19937& rng) {
  const NnspecWindowGeometry& g = layer.conv;
  int64_t in_count = g.batch * g.in_h * g.in_w * g.in_c;
  int64_t out_count = g.batch * g.out_h * g.out_w * g.out_c;
  int64_t kernel_count = g.kernel_h * g.kernel_w * g.in_c * g.out_c;
  Buffer x = randomBuffer(in_count, rng);
  Buffer y = randomBuffer(out_count, rng);
  Buffer dx = randomBuffer(in_count, rng);
  Buffer dy = randomBuffer(out_count, rng);
  if (layer.pool) {
    double forward = medianMs(repeats, [&] {
      return layer.max ? nnspec_rt_max_pool(&g, x.get(), y.get()) : nnspec_rt_avg_pool(&g, x.get(), y.get());
    });
    double backward = medianMs(repeats, [&] {
      return layer.max ? nnspec_rt_max_pool_grad(&g, x.get(), dy.get(), dx.get())
                       : nnspec_rt_avg_pool_grad(&g, dy.get(), dx.get());
    });
    std::printf("%-34s forward %7.3f ms   grad %7.3f ms\n", layer.name, forward, backward);
    return;
  }
  Buffer kernel = randomBuffer(kernel_count, rng);
  Buffer dkernel = randomBuffer(kernel_count, rng);
  Buffer scratch = randomBuffer(nnspec_rt_conv2d_scratch_floats(&g), rng);
  double flop = 2.0 * static_cast<double>(out_count) * static_cast<double>(g.kernel_h * g.kernel_w * g.in_c);
  auto report = [&](const char* what, double ms) {
    std::printf("%-34s %-12s %7.3f ms %7.1f GFLOP/s\n", layer.name, what, ms, flop / ms / 1e6);
  };
  report("forward", medianMs(repeats, [&] {
           return nnspec_rt_conv2d_with_scratch(&g, x.get(), kernel.get(), y.get(), scratch.get());
         }));
  report("input grad", medianMs(repeats, [&] {
           return nnspec_rt_conv2d_input_grad_with_scratch(&g, dy.get(), kernel.get(), dx.get(), scratch.get());
         }));
  report("kernel grad", medianMs(repeats, [&] {
           return nnspec_rt_conv2d_kernel_grad_with_scratch(&g, x.get(), dy.get(), dkernel.get(), scratch.get());
         }));
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = argc > 1 ? std::atoi(argv[1]) : 20;
  std::mt19937 rng(7);
  const Layer layers[] = {
      {"lenet conv1 32x32x1 -> 28x28x6", geometry(128, 32, 1, 28, 6, 5, 1, 0)},
      {"lenet avgpool 28x28x6", geometry(128, 28, 6, 14, 6, 2, 2, 0), true, false},
      {"lenet conv2 14x14x6 -> 10x10x16", geometry(128, 14, 6, 10, 16, 5, 1, 0)},
      {"lenet avgpool 10x10x16", geometry(128, 10, 16, 5, 16, 2, 2, 0), true, false},
      {"amath conv1 28x28x1 -> 28x28x10", geometry(32, 28, 1, 28, 10, 5, 1, 2)},
      {"amath maxpool 4/2 28x28x10", geometry(32, 28, 10, 13, 10, 4, 2, 0), true, true},
      {"amath conv2 13x13x10 -> 13x13x32", geometry(32, 13, 10, 13, 32, 5, 1, 2)},
      {"amath maxpool 4/2 13x13x32", geometry(32, 13, 32, 5, 32, 4, 2, 0), true, true},
      {"amath conv3 5x5x32 -> 1x1x120", geometry(32, 5, 32, 1, 120, 5, 1, 0)},
  };
  for (const Layer& layer : layers)
    if (argc <= 2 || std::string(layer.name).find(argv[2]) != std::string::npos) timeLayer(layer, repeats, rng);
  return 0;
}
