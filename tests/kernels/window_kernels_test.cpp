// The runtime window kernels (runtime/kernels/window.h) called directly, against naive
// double-precision loops kept here: conv2d forward, input and kernel gradient (im2col +
// GEMM, chunked), max/avg pooling and their gradients. Odd sizes, strides 1 and 2, valid
// and same padding (uneven pads), batch 1, channel counts around the vector width, enough
// output positions for several im2col chunks.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/abi/step_abi.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "runtime/kernels/kernel_table.h"
#include "runtime/kernels/thread_team.h"
#include "runtime/kernels/window.h"

namespace nnspec::rt {
namespace {

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};
using Scratch = std::unique_ptr<float[], AlignedFree>;

Scratch newScratch(const NnspecWindowGeometry& g) {
  size_t bytes = (static_cast<size_t>(nnspec_rt_conv2d_scratch_floats(&g)) * sizeof(float) + 63) / 64 * 64;
  return Scratch(static_cast<float*>(std::aligned_alloc(64, bytes)));
}

std::vector<float> randomFloats(std::mt19937& rng, int64_t count) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& element : values) element = value(rng);
  return values;
}

// One spatial axis by TensorFlow's rule, written out independently of the compiler.
struct Axis {
  int64_t out;
  int64_t pad_low;
};

Axis referenceAxis(int64_t in, int64_t size, int64_t stride, bool same) {
  if (!same) return {(in - size) / stride + 1, 0};
  int64_t out = (in + stride - 1) / stride;
  int64_t total = (out - 1) * stride + size - in;
  return {out, total > 0 ? total / 2 : 0};
}

struct WindowCase {
  std::string name;
  int64_t batch, height, width, in_c;
  int64_t kernel_h, kernel_w, stride_h, stride_w;
  bool same;
  int64_t out_c;  // convolutions only
};

NnspecWindowGeometry geometryOf(const WindowCase& c, int64_t out_c) {
  Axis rows = referenceAxis(c.height, c.kernel_h, c.stride_h, c.same);
  Axis cols = referenceAxis(c.width, c.kernel_w, c.stride_w, c.same);
  return {c.batch,    c.height,   c.width,    c.in_c,     rows.out,     cols.out,    out_c,
          c.kernel_h, c.kernel_w, c.stride_h, c.stride_w, rows.pad_low, cols.pad_low};
}

// Calls visit(x_index, y_index, tap_index) for every (output element's position, in-image
// tap) pair: flat indices of channel 0 of the input and output elements and the tap's
// index (kernel_row * kernel_w + kernel_col).
template <class Visit>
void forEachTapNaive(const NnspecWindowGeometry& g, Visit&& visit) {
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t out_row = 0; out_row < g.out_h; ++out_row)
      for (int64_t out_col = 0; out_col < g.out_w; ++out_col)
        for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row)
          for (int64_t kernel_col = 0; kernel_col < g.kernel_w; ++kernel_col) {
            int64_t row = out_row * g.stride_h + kernel_row - g.pad_top;
            int64_t col = out_col * g.stride_w + kernel_col - g.pad_left;
            if (row < 0 || row >= g.in_h || col < 0 || col >= g.in_w) continue;
            visit(((n * g.in_h + row) * g.in_w + col) * g.in_c, ((n * g.out_h + out_row) * g.out_w + out_col) * g.out_c,
                  kernel_row * g.kernel_w + kernel_col);
          }
}

int64_t inCount(const NnspecWindowGeometry& g) { return g.batch * g.in_h * g.in_w * g.in_c; }
int64_t outCount(const NnspecWindowGeometry& g) { return g.batch * g.out_h * g.out_w * g.out_c; }

std::vector<double> naiveConv(const NnspecWindowGeometry& g, const std::vector<float>& x, const std::vector<float>& k) {
  std::vector<double> y(static_cast<size_t>(outCount(g)), 0.0);
  forEachTapNaive(g, [&](int64_t x_at, int64_t y_at, int64_t tap) {
    for (int64_t ci = 0; ci < g.in_c; ++ci)
      for (int64_t co = 0; co < g.out_c; ++co)
        y[y_at + co] += static_cast<double>(x[x_at + ci]) * k[(tap * g.in_c + ci) * g.out_c + co];
  });
  return y;
}

std::vector<double> naiveConvInputGrad(const NnspecWindowGeometry& g, const std::vector<float>& dy,
                                       const std::vector<float>& k) {
  std::vector<double> dx(static_cast<size_t>(inCount(g)), 0.0);
  forEachTapNaive(g, [&](int64_t x_at, int64_t y_at, int64_t tap) {
    for (int64_t ci = 0; ci < g.in_c; ++ci)
      for (int64_t co = 0; co < g.out_c; ++co)
        dx[x_at + ci] += static_cast<double>(dy[y_at + co]) * k[(tap * g.in_c + ci) * g.out_c + co];
  });
  return dx;
}

std::vector<double> naiveConvKernelGrad(const NnspecWindowGeometry& g, const std::vector<float>& x,
                                        const std::vector<float>& dy) {
  std::vector<double> dk(static_cast<size_t>(g.kernel_h * g.kernel_w * g.in_c * g.out_c), 0.0);
  forEachTapNaive(g, [&](int64_t x_at, int64_t y_at, int64_t tap) {
    for (int64_t ci = 0; ci < g.in_c; ++ci)
      for (int64_t co = 0; co < g.out_c; ++co)
        dk[(tap * g.in_c + ci) * g.out_c + co] += static_cast<double>(x[x_at + ci]) * dy[y_at + co];
  });
  return dk;
}

void checkNear(const std::vector<float>& actual, const std::vector<double>& expected, double tolerance) {
  REQUIRE(actual.size() == expected.size());
  size_t mismatches = 0;
  for (size_t element = 0; element < actual.size(); ++element) {
    if (std::abs(actual[element] - expected[element]) <= tolerance) continue;
    if (++mismatches > 5) continue;  // report the first few only
    INFO("element " << element << " of " << actual.size());
    CHECK_THAT(actual[element], Catch::WithinAbs(expected[element], tolerance));
  }
  CHECK(mismatches == 0);
}

// Enough positions for several im2col chunks (ragged last chunk), a stride-2 case with
// uneven same pads, batch 1, in_c and out_c off the 16-float vector width, out_c large
// and small (the kernel gradient's two GEMM orientations), and 1x1 kernels; the direct
// kernels (few input channels, stride_w 1) with one and two groups of output channels,
// one and two vectors of columns, same padding and stride_h 2.
const WindowCase kConvCases[] = {
    {"direct: lenet conv1, 32x32x1, 5x5 valid, 6 out", 3, 32, 32, 1, 5, 5, 1, 1, false, 6},
    {"direct: amath conv1, 28x28x1, 5x5 same, 10 out", 2, 28, 28, 1, 5, 5, 1, 1, true, 10},
    {"direct: 9x37x3 (RGB), 5x5 same, 20 out", 2, 9, 37, 3, 5, 5, 1, 1, true, 20},
    {"direct: 6x17x4, 3x3 same, stride 2x1, 9 out", 1, 6, 17, 4, 3, 3, 2, 1, true, 9},
    {"direct: batch 1, 7x6x2, 3x2 valid, stride 2x1, 4 out", 1, 7, 6, 2, 3, 2, 2, 1, false, 4},
    {"same 5x5, 13x13x10 -> 32", 2, 13, 13, 10, 5, 5, 1, 1, true, 32},
    {"several chunks: 3x3 same, 30x29x20 -> 17", 2, 30, 29, 20, 3, 3, 1, 1, true, 17},
    {"stride 2, same, uneven pads: 4x3 on 9x8x3 -> 5", 2, 9, 8, 3, 4, 3, 2, 2, true, 5},
    {"batch 1, 1x1 kernel, 33 channels -> 40", 1, 5, 7, 33, 1, 1, 1, 1, false, 40},
    {"kernel as large as the image: 5x5x32 -> 120", 4, 5, 5, 32, 5, 5, 1, 1, false, 120},
    {"stride 2 valid, many out channels: 3x3 on 11x10x7 -> 70", 2, 11, 10, 7, 3, 3, 2, 2, false, 70},
};

TEST_CASE("conv2d kernels match naive loops: forward, input gradient, kernel gradient", "[runtime]") {
  for (const WindowCase& c : kConvCases) {
    INFO(c.name);
    std::mt19937 rng(101);
    NnspecWindowGeometry g = geometryOf(c, c.out_c);
    REQUIRE(g.out_h > 0);
    REQUIRE(g.out_w > 0);
    // Both paths are covered: the "direct:" cases take the direct kernels at the avx512 and
    // avx2 levels.
    const KernelTable& kernels = activeKernelTable();
    CHECK(kernels.direct_conv_applies(g) == (kernels.level >= kNnspecCpuAvx2 && c.name.rfind("direct:", 0) == 0));
    std::vector<float> x = randomFloats(rng, inCount(g));
    std::vector<float> kernel = randomFloats(rng, g.kernel_h * g.kernel_w * g.in_c * g.out_c);
    std::vector<float> dy = randomFloats(rng, outCount(g));
    Scratch scratch = newScratch(g);
    // Outputs start as NaN: the kernels must write every element.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    // Float sums of n products of values in [-1, 1]: within 1e-6 * n of the exact ones.
    auto tolerance = [](int64_t terms) { return std::max(1e-5, 1e-6 * static_cast<double>(terms)); };
    const int64_t taps = g.kernel_h * g.kernel_w;

    std::vector<float> y(static_cast<size_t>(outCount(g)), nan);
    REQUIRE(nnspec_rt_conv2d_with_scratch(&g, x.data(), kernel.data(), y.data(), scratch.get()) == kNnspecOk);
    checkNear(y, naiveConv(g, x, kernel), tolerance(taps * g.in_c));

    std::vector<float> dx(static_cast<size_t>(inCount(g)), nan);
    REQUIRE(nnspec_rt_conv2d_input_grad_with_scratch(&g, dy.data(), kernel.data(), dx.data(), scratch.get()) ==
            kNnspecOk);
    checkNear(dx, naiveConvInputGrad(g, dy, kernel), tolerance(taps * g.out_c));

    std::vector<float> dkernel(kernel.size(), nan);
    REQUIRE(nnspec_rt_conv2d_kernel_grad_with_scratch(&g, x.data(), dy.data(), dkernel.data(), scratch.get()) ==
            kNnspecOk);
    checkNear(dkernel, naiveConvKernelGrad(g, x, dy), tolerance(g.batch * g.out_h * g.out_w));

    // The variants that allocate their own scratch compute the same.
    std::vector<float> y_again(y.size(), nan);
    REQUIRE(nnspec_rt_conv2d(&g, x.data(), kernel.data(), y_again.data()) == kNnspecOk);
    checkNear(y_again, std::vector<double>(y.begin(), y.end()), 0.0);
  }
}

// What the epilogue of the fused-convolution test sees: y while the kernel runs, the
// unfused result, and where it writes relu(y + bias). Rows are handed over on any of the
// kernel threads; each probe field but `next_row` and `out_of_order` is per row.
struct EpilogueProbe {
  const NnspecWindowGeometry* g;
  const float* y;
  const std::vector<float>* unfused;
  const std::vector<float>* bias;
  std::vector<float>* out;
  std::vector<int> handed;     // per row: how many times it was handed over
  std::vector<char> not_final;  // per row: y differed from the unfused result when handed over
  bool one_thread = true;      // then ranges must come in increasing order
  int64_t next_row = 0;
  bool out_of_order = false;
};

void probeEpilogue(const void* context, int64_t first_row, int64_t rows) {
  auto* probe = static_cast<EpilogueProbe*>(const_cast<void*>(context));
  if (probe->one_thread) {
    if (first_row != probe->next_row || rows < 1) probe->out_of_order = true;
    probe->next_row = first_row + rows;
  }
  const int64_t channels = probe->g->out_c;
  for (int64_t row = first_row; row < first_row + rows; ++row) {
    ++probe->handed[static_cast<size_t>(row)];
    for (int64_t channel = 0; channel < channels; ++channel) {
      const int64_t flat = row * channels + channel;
      if (probe->y[flat] != (*probe->unfused)[static_cast<size_t>(flat)]) probe->not_final[static_cast<size_t>(row)] = 1;
      (*probe->out)[static_cast<size_t>(flat)] =
          std::max(0.0f, probe->y[flat] + (*probe->bias)[static_cast<size_t>(channel)]);
    }
  }
}

TEST_CASE("the fused conv2d hands every finished row to its epilogue once, in order on one thread", "[runtime]") {
  for (const int threads : {1, 2, 3}) {
    const int64_t rounds_before = teamRounds();
    for (const WindowCase& c : kConvCases) {
      INFO(c.name << ", " << threads << " kernel threads");
      setTeamThreads(threads);
      std::mt19937 rng(103);
      NnspecWindowGeometry g = geometryOf(c, c.out_c);
      std::vector<float> x = randomFloats(rng, inCount(g));
      std::vector<float> kernel = randomFloats(rng, g.kernel_h * g.kernel_w * g.in_c * g.out_c);
      std::vector<float> bias = randomFloats(rng, g.out_c);
      Scratch scratch = newScratch(g);
      std::vector<float> unfused(static_cast<size_t>(outCount(g)));
      setTeamThreads(1);
      REQUIRE(nnspec_rt_conv2d_with_scratch(&g, x.data(), kernel.data(), unfused.data(), scratch.get()) == kNnspecOk);
      setTeamThreads(threads);

      const float nan = std::numeric_limits<float>::quiet_NaN();
      const int64_t positions = g.batch * g.out_h * g.out_w;
      std::vector<float> y(unfused.size(), nan);
      std::vector<float> out(unfused.size(), nan);
      EpilogueProbe probe{&g, y.data(), &unfused, &bias, &out, {}, {}};
      probe.handed.assign(static_cast<size_t>(positions), 0);
      probe.not_final.assign(static_cast<size_t>(positions), 0);
      probe.one_thread = threads == 1;
      REQUIRE(nnspec_rt_conv2d_fused_with_scratch(&g, x.data(), kernel.data(), y.data(), scratch.get(),
                                                  &probeEpilogue, &probe) == kNnspecOk);
      CHECK_FALSE(probe.out_of_order);
      if (threads == 1) CHECK(probe.next_row == positions);
      // Every row handed over exactly once, after its last write.
      CHECK(std::count(probe.handed.begin(), probe.handed.end(), 1) == positions);
      CHECK(std::count(probe.not_final.begin(), probe.not_final.end(), 1) == 0);
      // The same bits as the unfused kernel on one thread.
      CHECK(std::equal(y.begin(), y.end(), unfused.begin()));
      std::vector<double> expected(out.size());
      for (size_t flat = 0; flat < expected.size(); ++flat)
        expected[flat] = std::max(0.0f, unfused[flat] + bias[flat % static_cast<size_t>(g.out_c)]);
      checkNear(out, expected, 0.0);

      // A null epilogue is not called.
      std::vector<float> y_plain(unfused.size(), nan);
      REQUIRE(nnspec_rt_conv2d_fused_with_scratch(&g, x.data(), kernel.data(), y_plain.data(), scratch.get(),
                                                  nullptr, nullptr) == kNnspecOk);
      CHECK(std::equal(y_plain.begin(), y_plain.end(), unfused.begin()));
    }
    INFO(threads << " kernel threads");
    // The direct kernels (avx512, avx2) split the larger convolutions.
    if (threads > 1 && activeKernelTable().level >= kNnspecCpuAvx2) CHECK(teamRounds() > rounds_before);
  }
  setTeamThreads(1);
}

TEST_CASE("conv2d kernels give the same bits on 1, 2 and 3 kernel threads", "[runtime]") {
  for (const WindowCase& c : kConvCases) {
    INFO(c.name);
    std::mt19937 rng(107);
    NnspecWindowGeometry g = geometryOf(c, c.out_c);
    std::vector<float> x = randomFloats(rng, inCount(g));
    std::vector<float> kernel = randomFloats(rng, g.kernel_h * g.kernel_w * g.in_c * g.out_c);
    std::vector<float> dy = randomFloats(rng, outCount(g));
    Scratch scratch = newScratch(g);
    struct Results {
      std::vector<float> y, dx, dkernel;
    };
    auto run = [&](int threads) {
      setTeamThreads(threads);
      Results results{std::vector<float>(static_cast<size_t>(outCount(g))),
                      std::vector<float>(static_cast<size_t>(inCount(g))), std::vector<float>(kernel.size())};
      REQUIRE(nnspec_rt_conv2d_with_scratch(&g, x.data(), kernel.data(), results.y.data(), scratch.get()) ==
              kNnspecOk);
      REQUIRE(nnspec_rt_conv2d_input_grad_with_scratch(&g, dy.data(), kernel.data(), results.dx.data(),
                                                       scratch.get()) == kNnspecOk);
      REQUIRE(nnspec_rt_conv2d_kernel_grad_with_scratch(&g, x.data(), dy.data(), results.dkernel.data(),
                                                        scratch.get()) == kNnspecOk);
      setTeamThreads(1);
      return results;
    };
    const Results one = run(1);
    for (const int threads : {2, 3}) {
      INFO(threads << " kernel threads");
      const Results many = run(threads);
      CHECK(many.y == one.y);
      CHECK(many.dx == one.dx);
      CHECK(many.dkernel == one.dkernel);
    }
  }
}

TEST_CASE("conv2d kernels reject null buffers, misaligned scratch and empty geometry", "[runtime]") {
  WindowCase c{"small", 1, 4, 4, 2, 3, 3, 1, 1, false, 3};
  NnspecWindowGeometry g = geometryOf(c, c.out_c);
  std::vector<float> x(static_cast<size_t>(inCount(g))), kernel(54), y(static_cast<size_t>(outCount(g)));
  Scratch scratch = newScratch(g);
  CHECK(nnspec_rt_conv2d_with_scratch(&g, x.data(), kernel.data(), y.data(), scratch.get() + 1) == kNnspecKernelError);
  CHECK(nnspec_rt_conv2d_with_scratch(&g, x.data(), kernel.data(), y.data(), nullptr) == kNnspecKernelError);
  CHECK(nnspec_rt_conv2d_input_grad_with_scratch(&g, nullptr, kernel.data(), x.data(), scratch.get()) ==
        kNnspecKernelError);
  CHECK(nnspec_rt_conv2d_kernel_grad(nullptr, x.data(), y.data(), kernel.data()) == kNnspecKernelError);
  NnspecWindowGeometry empty = g;
  empty.out_w = 0;
  CHECK(nnspec_rt_conv2d(&empty, x.data(), kernel.data(), y.data()) == kNnspecKernelError);
}

// Pooling: the naive forward over the in-image taps, and the gradients (max: to the first
// maximum in row-major window order; average: spread over the in-image taps).
struct NaivePool {
  std::vector<double> max, avg, max_grad, avg_grad;
};

NaivePool naivePool(const NnspecWindowGeometry& g, const std::vector<float>& x, const std::vector<float>& dy) {
  NaivePool result;
  size_t outputs = static_cast<size_t>(outCount(g));
  result.max.assign(outputs, -std::numeric_limits<double>::infinity());
  result.avg.assign(outputs, 0.0);
  result.max_grad.assign(static_cast<size_t>(inCount(g)), 0.0);
  result.avg_grad.assign(static_cast<size_t>(inCount(g)), 0.0);
  std::vector<int64_t> taps(outputs, 0), first_max(outputs, -1);
  forEachTapNaive(g, [&](int64_t x_at, int64_t y_at, int64_t) {
    for (int64_t channel = 0; channel < g.in_c; ++channel) {
      size_t out = static_cast<size_t>(y_at + channel);
      ++taps[out];
      result.avg[out] += x[x_at + channel];
      if (first_max[out] < 0 || x[x_at + channel] > result.max[out]) {
        result.max[out] = x[x_at + channel];
        first_max[out] = x_at + channel;
      }
    }
  });
  for (size_t out = 0; out < outputs; ++out) result.avg[out] /= static_cast<double>(taps[out]);
  for (size_t out = 0; out < outputs; ++out) result.max_grad[static_cast<size_t>(first_max[out])] += dy[out];
  forEachTapNaive(g, [&](int64_t x_at, int64_t y_at, int64_t) {
    for (int64_t channel = 0; channel < g.in_c; ++channel)
      result.avg_grad[x_at + channel] += dy[y_at + channel] / static_cast<double>(taps[y_at + channel]);
  });
  return result;
}

// Values 1/64 apart, shuffled: a window's maximum is unique unless a case repeats values,
// which the tie case does on purpose.
std::vector<float> distinctValues(std::mt19937& rng, int64_t count, int64_t distinct) {
  std::vector<float> values;
  distinct = std::min(distinct, count);
  for (int64_t element = 0; element < count; ++element)
    values.push_back(static_cast<float>(element % distinct - distinct / 2) / 64.0f);
  std::shuffle(values.begin(), values.end(), rng);
  return values;
}

const WindowCase kPoolCases[] = {
    {"lenet avgpool 2/2, 6 channels", 2, 28, 28, 6, 2, 2, 2, 2, false, 0},
    {"tiling 3x3/3, 5 channels", 2, 9, 12, 5, 3, 3, 3, 3, false, 0},
    {"tiling 2x2/2 on 10x10, 15 channels", 3, 10, 10, 15, 2, 2, 2, 2, false, 0},
    {"tiling 2x1/2x1, 1 channel", 1, 6, 5, 1, 2, 1, 2, 1, false, 0},
    {"overlapping 4/2, 10 channels", 2, 28, 28, 10, 4, 4, 2, 2, false, 0},
    {"overlapping 4/2 on odd 13x13, 32 channels", 1, 13, 13, 32, 4, 4, 2, 2, false, 0},
    {"same 3x3 stride 2, uneven pads, 17 channels", 2, 7, 6, 17, 3, 3, 2, 2, true, 0},
    {"3x2 stride 1x2, batch 1, 1 channel", 1, 5, 6, 1, 3, 2, 1, 2, false, 0},
    {"same 2x2 stride 1 (pad after only), 3 channels", 2, 5, 4, 3, 2, 2, 1, 1, true, 0},
};

TEST_CASE("pooling kernels and their gradients match naive loops", "[runtime]") {
  for (const WindowCase& c : kPoolCases)
    for (int64_t distinct : {int64_t{1} << 20, int64_t{3}}) {  // 3: ties everywhere
      INFO(c.name << (distinct == 3 ? ", with ties" : ""));
      std::mt19937 rng(202);
      NnspecWindowGeometry g = geometryOf(c, c.in_c);
      std::vector<float> x = distinctValues(rng, inCount(g), distinct);
      std::vector<float> dy = randomFloats(rng, outCount(g));
      NaivePool expected = naivePool(g, x, dy);
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> y(static_cast<size_t>(outCount(g)), nan);
      std::vector<float> dx(static_cast<size_t>(inCount(g)), nan);
      REQUIRE(nnspec_rt_max_pool(&g, x.data(), y.data()) == kNnspecOk);
      checkNear(y, expected.max, 1e-6);
      REQUIRE(nnspec_rt_avg_pool(&g, x.data(), y.data()) == kNnspecOk);
      checkNear(y, expected.avg, 1e-5);
      REQUIRE(nnspec_rt_max_pool_grad(&g, x.data(), dy.data(), dx.data()) == kNnspecOk);
      checkNear(dx, expected.max_grad, 1e-5);
      std::fill(dx.begin(), dx.end(), nan);
      REQUIRE(nnspec_rt_avg_pool_grad(&g, dy.data(), dx.data()) == kNnspecOk);
      checkNear(dx, expected.avg_grad, 1e-5);
    }
}

// The per-channel loops' arithmetic in float, tap by tap in row-major order: the results
// pooling must give bit for bit, whichever way it vectorizes (row streams for windows that
// tile the image with few channels, channel vectors otherwise).
struct FloatPool {
  std::vector<float> max, avg, max_grad, avg_grad;
};

FloatPool floatPool(const NnspecWindowGeometry& g, const std::vector<float>& x, const std::vector<float>& dy) {
  FloatPool result;
  result.max_grad.assign(x.size(), 0.0f);
  result.avg_grad.assign(x.size(), 0.0f);
  const float scale = 1.0f / static_cast<float>(g.kernel_h * g.kernel_w);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t out_row = 0; out_row < g.out_h; ++out_row)
      for (int64_t out_col = 0; out_col < g.out_w; ++out_col)
        for (int64_t channel = 0; channel < g.in_c; ++channel) {
          float largest = -std::numeric_limits<float>::infinity();
          float first_max_value = 0.0f;
          int64_t first_max = -1;
          float sum = 0.0f;
          for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row)
            for (int64_t kernel_col = 0; kernel_col < g.kernel_w; ++kernel_col) {
              const int64_t in = ((n * g.in_h + out_row * g.stride_h + kernel_row) * g.in_w + out_col * g.stride_w +
                                  kernel_col) * g.in_c + channel;
              const float value = x[static_cast<size_t>(in)];
              largest = std::max(largest, value);
              sum += value;
              if (first_max < 0 || value > first_max_value) {
                first_max = in;
                first_max_value = value;
              }
            }
          const size_t out = static_cast<size_t>(((n * g.out_h + out_row) * g.out_w + out_col) * g.out_c + channel);
          result.max.push_back(largest);
          result.avg.push_back(sum * scale);
          result.max_grad[static_cast<size_t>(first_max)] += dy[out];
          const float share = dy[out] * scale;
          for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row)
            for (int64_t kernel_col = 0; kernel_col < g.kernel_w; ++kernel_col)
              result.avg_grad[static_cast<size_t>(((n * g.in_h + out_row * g.stride_h + kernel_row) * g.in_w +
                                                   out_col * g.stride_w + kernel_col) * g.in_c + channel)] = share;
        }
  return result;
}

TEST_CASE("pooling over tiling windows gives the per-channel loops' results bit for bit", "[runtime]") {
  const WindowCase cases[] = {
      {"lenet pool 1: 2x2/2 on 28x28, 6 channels", 3, 28, 28, 6, 2, 2, 2, 2, false, 0},
      {"lenet pool 2: 2x2/2 on 10x10, 16 channels", 3, 10, 10, 16, 2, 2, 2, 2, false, 0},
      {"2x2/2 on 10x10, 15 channels", 2, 10, 10, 15, 2, 2, 2, 2, false, 0},
      {"3x3/3 on 9x12, 5 channels", 2, 9, 12, 5, 3, 3, 3, 3, false, 0},
      {"2x1/2x1 on 6x5, 1 channel", 1, 6, 5, 1, 2, 1, 2, 1, false, 0},
      {"4x4/4 on 8x8, 3 channels", 1, 8, 8, 3, 4, 4, 4, 4, false, 0},
  };
  for (const WindowCase& c : cases)
    for (int64_t distinct : {int64_t{1} << 20, int64_t{3}}) {  // 3: ties everywhere
      INFO(c.name << (distinct == 3 ? ", with ties" : ""));
      std::mt19937 rng(204);
      NnspecWindowGeometry g = geometryOf(c, c.in_c);
      std::vector<float> x = distinctValues(rng, inCount(g), distinct);
      std::vector<float> dy = randomFloats(rng, outCount(g));
      FloatPool expected = floatPool(g, x, dy);
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> y(static_cast<size_t>(outCount(g)), nan);
      std::vector<float> dx(static_cast<size_t>(inCount(g)), nan);
      REQUIRE(nnspec_rt_max_pool(&g, x.data(), y.data()) == kNnspecOk);
      CHECK(y == expected.max);
      REQUIRE(nnspec_rt_avg_pool(&g, x.data(), y.data()) == kNnspecOk);
      CHECK(y == expected.avg);
      REQUIRE(nnspec_rt_max_pool_grad(&g, x.data(), dy.data(), dx.data()) == kNnspecOk);
      CHECK(dx == expected.max_grad);
      std::fill(dx.begin(), dx.end(), nan);
      REQUIRE(nnspec_rt_avg_pool_grad(&g, dy.data(), dx.data()) == kNnspecOk);
      CHECK(dx == expected.avg_grad);
    }
}

TEST_CASE("pooling kernels reject mismatched channels and null buffers", "[runtime]") {
  NnspecWindowGeometry g{1, 4, 4, 2, 2, 2, 3, 2, 2, 2, 2, 0, 0};
  std::vector<float> x(32), y(12);
  CHECK(nnspec_rt_max_pool(&g, x.data(), y.data()) == kNnspecKernelError);
  g.out_c = 2;
  CHECK(nnspec_rt_avg_pool(&g, nullptr, y.data()) == kNnspecKernelError);
  CHECK(nnspec_rt_max_pool_grad(&g, x.data(), nullptr, x.data()) == kNnspecKernelError);
  CHECK(nnspec_rt_avg_pool_grad(&g, y.data(), x.data()) == kNnspecOk);
}

}  // namespace
}  // namespace nnspec::rt
