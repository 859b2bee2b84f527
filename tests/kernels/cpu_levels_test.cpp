// The CPU levels of the runtime kernels (runtime/kernels/cpu_dispatch.h): each level's GEMM
// called directly against a double-precision reference (levels this CPU lacks are
// reported as SKIP, which ctest counts as skipped), the choice NNSPEC_CPU makes, and its
// errors. The [.levels] and [.bad_cpu] cases are registered by tests/CMakeLists.txt.
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/abi/step_abi.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "runtime/kernels/kernel_table.h"
#include "runtime/kernels/sgemm.h"

namespace nnspec::rt {
namespace {

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

constexpr int64_t kGuardFloats = 64;  // checked after the scratch and after c
constexpr float kGuard = 12345.0f;

struct GemmCase {
  int64_t m, n, k;
  int transpose_a, transpose_b;
  float alpha, beta;
};

// The GEMMs of a dense layer in -> out at `batch`: forward y = x w, weight gradient
// dw = x^T dy, input gradient dx = dy w^T; beta cycles through 0, 1 and 0.5.
void addLayer(std::vector<GemmCase>& cases, int64_t batch, int64_t in, int64_t out) {
  const float betas[] = {0.0f, 1.0f, 0.5f};
  const float beta = betas[cases.size() % 3];
  cases.push_back({batch, out, in, 0, 0, 1.0f, beta});
  cases.push_back({in, out, batch, 1, 0, 1.0f, betas[(cases.size() + 1) % 3]});
  cases.push_back({batch, in, out, 0, 1, 1.0f, betas[(cases.size() + 2) % 3]});
}

std::vector<GemmCase> gemmCases() {
  std::vector<GemmCase> cases;
  // The train steps' shapes: 784-500-300-10 at batch 128, 50 and 200.
  for (int64_t batch : {int64_t{128}, int64_t{50}, int64_t{200}}) {
    addLayer(cases, batch, 784, 500);
    addLayer(cases, batch, 500, 300);
    addLayer(cases, batch, 300, 10);
  }
  // Every transpose, alpha and beta on sizes around the tiles of every level (rows of 6,
  // 8, 12, 16; columns of 8, 16, 48; k blocks of 256 and 320; column blocks of 512).
  std::mt19937 rng(4242);
  const int64_t sizes[] = {1, 2, 5, 6, 7, 8, 9, 12, 13, 15, 16, 17, 23, 24, 25, 47, 48, 49, 71, 72, 73, 97};
  std::uniform_int_distribution<size_t> pick(0, std::size(sizes) - 1);
  const float betas[] = {0.0f, 1.0f, 0.5f};
  for (int index = 0; index < 120; ++index)
    cases.push_back({sizes[pick(rng)], sizes[pick(rng)], sizes[pick(rng)], index % 2, index / 2 % 2,
                     index % 5 == 0 ? -0.75f : 1.0f, betas[index / 4 % 3]});
  for (int64_t k : {int64_t{255}, int64_t{257}, int64_t{321}, int64_t{641}})
    for (int transpose : {0, 1, 2, 3}) cases.push_back({19, 37, k, transpose & 1, transpose >> 1, 1.0f, 0.5f});
  for (int transpose : {0, 1, 2, 3}) cases.push_back({33, 1100, 40, transpose & 1, transpose >> 1, 2.0f, 0.0f});
  return cases;
}

// op(x) as doubles, [rows, cols], from x stored [rows, cols] or, transposed, [cols, rows].
std::vector<double> operand(const std::vector<float>& x, int64_t rows, int64_t cols, bool transposed) {
  std::vector<double> out(static_cast<size_t>(rows * cols));
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t col = 0; col < cols; ++col)
      out[static_cast<size_t>(row * cols + col)] = transposed ? x[static_cast<size_t>(col * rows + row)]
                                                              : x[static_cast<size_t>(row * cols + col)];
  return out;
}

void checkGemmLevel(int32_t level) {
  const KernelTable* kernels = kernelTableFor(level);
  if (kernels == nullptr) {
    WARN("SKIP: this CPU lacks the " << nnspec_rt_cpu_level_name(level) << " level; its GEMM is not tested");
    return;
  }
  REQUIRE(std::string(kernels->name) == nnspec_rt_cpu_level_name(level));
  std::unique_ptr<float[], AlignedFree> scratch(static_cast<float*>(
      std::aligned_alloc(64, static_cast<size_t>(kNnspecSgemmScratchFloats + kGuardFloats) * sizeof(float))));
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  int checked = 0;
  for (const GemmCase& g : gemmCases()) {
    INFO(kernels->name << ": m " << g.m << " n " << g.n << " k " << g.k << " ta " << g.transpose_a << " tb "
                       << g.transpose_b << " alpha " << g.alpha << " beta " << g.beta);
    std::vector<float> a(static_cast<size_t>(g.m * g.k)), b(static_cast<size_t>(g.k * g.n)),
        c(static_cast<size_t>(g.m * g.n + kGuardFloats), kGuard);
    for (float& element : a) element = value(rng);
    for (float& element : b) element = value(rng);
    // beta == 0: c's old contents are NaN and must not reach the result.
    for (int64_t flat = 0; flat < g.m * g.n; ++flat)
      c[static_cast<size_t>(flat)] = g.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : value(rng);
    std::fill(scratch.get() + kNnspecSgemmScratchFloats, scratch.get() + kNnspecSgemmScratchFloats + kGuardFloats,
              kGuard);
    const std::vector<double> op_a = operand(a, g.m, g.k, g.transpose_a != 0);
    const std::vector<double> op_b = operand(b, g.k, g.n, g.transpose_b != 0);
    std::vector<double> expected(static_cast<size_t>(g.m * g.n), 0.0);
    for (int64_t row = 0; row < g.m; ++row)
      for (int64_t inner = 0; inner < g.k; ++inner) {
        const double scale = op_a[static_cast<size_t>(row * g.k + inner)];
        const double* b_row = op_b.data() + inner * g.n;
        double* out = expected.data() + row * g.n;
        for (int64_t col = 0; col < g.n; ++col) out[col] += scale * b_row[col];
      }
    for (int64_t flat = 0; flat < g.m * g.n; ++flat) {
      double old = g.beta == 0.0f ? 0.0 : g.beta * static_cast<double>(c[static_cast<size_t>(flat)]);
      expected[static_cast<size_t>(flat)] = g.alpha * expected[static_cast<size_t>(flat)] + old;
    }
    REQUIRE(kernels->sgemm(g.m, g.n, g.k, g.alpha, a.data(), g.transpose_a, b.data(), g.transpose_b, g.beta, c.data(),
                           scratch.get()) == kNnspecOk);
    const double tolerance = 1e-5 * std::sqrt(static_cast<double>(g.k) + 1.0) * std::max(1.0f, std::fabs(g.alpha));
    int64_t wrong = 0;
    for (int64_t flat = 0; flat < g.m * g.n; ++flat)
      if (!(std::fabs(c[static_cast<size_t>(flat)] - expected[static_cast<size_t>(flat)]) <= tolerance)) ++wrong;
    CHECK(wrong == 0);
    int64_t overwritten = 0;
    for (int64_t guard = 0; guard < kGuardFloats; ++guard) {
      overwritten += c[static_cast<size_t>(g.m * g.n + guard)] != kGuard;
      overwritten += scratch[static_cast<size_t>(kNnspecSgemmScratchFloats + guard)] != kGuard;
    }
    CHECK(overwritten == 0);
    ++checked;
  }
  CHECK(checked > 150);
}

TEST_CASE("the avx512 level's GEMM matches a double reference", "[runtime][.levels]") {
  checkGemmLevel(kNnspecCpuAvx512);
}

TEST_CASE("the avx2 level's GEMM matches a double reference", "[runtime][.levels]") { checkGemmLevel(kNnspecCpuAvx2); }

TEST_CASE("the generic level's GEMM matches a double reference", "[runtime][.levels]") {
  checkGemmLevel(kNnspecCpuGeneric);
}

TEST_CASE("every level decodes bytes to the bits of float(b) * f, float(b) / f and the table", "[runtime][.levels]") {
  // Every byte value, then a run of 1,000 (whole vectors and a tail at every width), and
  // lengths 0 to 40 at an odd offset.
  std::vector<uint8_t> bytes(256 + 1000);
  std::mt19937 rng(5);
  for (size_t index = 0; index < bytes.size(); ++index)
    bytes[index] = index < 256 ? static_cast<uint8_t>(index) : static_cast<uint8_t>(rng() % 256);
  std::vector<float> table(256);
  for (size_t value = 0; value < table.size(); ++value) table[value] = std::sqrt(static_cast<float>(value)) - 3.0f;
  struct Form {
    int32_t form;
    float factor;
  };
  for (const Form form : {Form{kByteFormMultiply, 1.0f / 255}, Form{kByteFormMultiply, 1.0f},
                          Form{kByteFormDivide, 255.0f}, Form{kByteFormDivide, 7.0f}, Form{kByteFormTable, 0.0f}}) {
    std::vector<float> expected(bytes.size());
    for (size_t index = 0; index < bytes.size(); ++index) {
      const float byte = static_cast<float>(bytes[index]);
      expected[index] = form.form == kByteFormMultiply ? byte * form.factor
                        : form.form == kByteFormDivide ? byte / form.factor
                                                       : table[bytes[index]];
    }
    for (int32_t level = 0; level < kNnspecCpuLevels; ++level) {
      const KernelTable* kernels = kernelTableFor(level);
      if (kernels == nullptr) {
        WARN("SKIP: this CPU lacks the " << nnspec_rt_cpu_level_name(level) << " level");
        continue;
      }
      INFO(kernels->name << ", form " << form.form << ", factor " << form.factor);
      std::vector<float> out(bytes.size() + 1, kGuard);
      kernels->decode_bytes(bytes.data(), static_cast<int64_t>(bytes.size()), table.data(), form.form, form.factor,
                            out.data());
      CHECK(std::memcmp(out.data(), expected.data(), expected.size() * sizeof(float)) == 0);
      CHECK(out.back() == kGuard);  // nothing written past the end
      for (int64_t length = 0; length <= 40; ++length) {
        std::vector<float> part(static_cast<size_t>(length) + 1, kGuard);
        kernels->decode_bytes(bytes.data() + 3, length, table.data(), form.form, form.factor, part.data());
        CHECK(std::memcmp(part.data(), expected.data() + 3, static_cast<size_t>(length) * sizeof(float)) == 0);
        CHECK(part.back() == kGuard);
      }
    }
  }
}

TEST_CASE("every level's GEMM handles k == 0, empty c and bad arguments", "[runtime][.levels]") {
  std::unique_ptr<float[], AlignedFree> scratch(
      static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(kNnspecSgemmScratchFloats) * sizeof(float))));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int32_t level = 0; level < kNnspecCpuLevels; ++level) {
    const KernelTable* kernels = kernelTableFor(level);
    if (kernels == nullptr) {
      WARN("SKIP: this CPU lacks the " << nnspec_rt_cpu_level_name(level) << " level");
      continue;
    }
    INFO(kernels->name);
    float a[6] = {1, 2, 3, 4, 5, 6};
    float b[6] = {1, 2, 3, 4, 5, 6};
    // k == 0: c = beta * c; with beta == 0 every element becomes 0, NaN or not.
    std::vector<float> c = {nan, 1.0f, 2.0f, nan, 3.0f, 4.0f};
    REQUIRE(kernels->sgemm(2, 3, 0, 1.0f, a, 0, b, 0, 0.0f, c.data(), scratch.get()) == kNnspecOk);
    for (float element : c) CHECK(element == 0.0f);
    c = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    REQUIRE(kernels->sgemm(2, 3, 0, 1.0f, a, 1, b, 1, 0.5f, c.data(), scratch.get()) == kNnspecOk);
    for (int flat = 0; flat < 6; ++flat) CHECK_THAT(c[flat], Catch::WithinAbs(0.5 * (flat + 1), 1e-7));
    // m == 0 or n == 0: nothing to write.
    c = {7.0f};
    CHECK(kernels->sgemm(0, 3, 2, 1.0f, a, 0, b, 0, 0.0f, c.data(), scratch.get()) == kNnspecOk);
    CHECK(kernels->sgemm(3, 0, 2, 1.0f, a, 0, b, 0, 0.0f, c.data(), scratch.get()) == kNnspecOk);
    CHECK(c[0] == 7.0f);
    CHECK(kernels->sgemm(-1, 3, 2, 1.0f, a, 0, b, 0, 0.0f, c.data(), scratch.get()) == kNnspecKernelError);
    CHECK(kernels->sgemm(1, 3, 2, 1.0f, nullptr, 0, b, 0, 0.0f, c.data(), scratch.get()) == kNnspecKernelError);
    CHECK(kernels->sgemm(1, 3, 2, 1.0f, a, 0, b, 0, 0.0f, c.data(), scratch.get() + 1) == kNnspecKernelError);
    CHECK(kernels->sgemm(1, 3, 2, 1.0f, a, 0, b, 0, 0.0f, c.data(), nullptr) == kNnspecKernelError);
  }
}

// Memory whose last float ends where an inaccessible page begins: a kernel reading one
// float past it faults.
class GuardedFloats {
 public:
  explicit GuardedFloats(int64_t floats) : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    const size_t bytes = static_cast<size_t>(floats) * sizeof(float);
    data_pages_ = (bytes + page_ - 1) / page_;
    void* mapped = mmap(nullptr, (data_pages_ + 1) * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mapped != MAP_FAILED);
    base_ = static_cast<char*>(mapped);
    REQUIRE(mprotect(base_ + data_pages_ * page_, page_, PROT_NONE) == 0);
    data_ = reinterpret_cast<float*>(base_ + data_pages_ * page_ - bytes);
  }
  ~GuardedFloats() { munmap(base_, (data_pages_ + 1) * page_); }
  GuardedFloats(const GuardedFloats&) = delete;
  GuardedFloats& operator=(const GuardedFloats&) = delete;
  float* data() const { return data_; }

 private:
  size_t page_, data_pages_ = 0;
  char* base_ = nullptr;
  float* data_ = nullptr;
};

// The packed levels read op(b) where it is stored when c has few rows (packed_gemm_loops.h,
// readsBInPlace): a tile's last vector must not read past b's last element, whose end is
// the guard page here. One GEMM, and five sharing op(a) (a fused step's first layer, side
// by side when n is not a whole number of panels), each against the double reference.
TEST_CASE("every level's GEMM reads op(b) no further than its last element", "[runtime][.levels]") {
  std::unique_ptr<float[], AlignedFree> scratch(
      static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(kNnspecSgemmScratchFloats) * sizeof(float))));
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {{32, 50, 37}, {32, 64, 784}, {8, 5, 3}, {1, 17, 1}, {200, 50, 19}, {7, 100, 9}, {33, 9, 2}};
  std::mt19937 rng(91);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  constexpr int64_t kCount = 5;
  for (int32_t level = 0; level < kNnspecCpuLevels; ++level) {
    const KernelTable* kernels = kernelTableFor(level);
    if (kernels == nullptr) {
      WARN("SKIP: this CPU lacks the " << nnspec_rt_cpu_level_name(level) << " level");
      continue;
    }
    for (const Shape& shape : shapes) {
      INFO(kernels->name << ": m " << shape.m << " n " << shape.n << " k " << shape.k);
      std::vector<float> a(static_cast<size_t>(shape.m * shape.k));
      for (float& element : a) element = value(rng);
      std::vector<std::unique_ptr<GuardedFloats>> bs;
      std::vector<const float*> b_pointers;
      std::vector<std::vector<float>> cs;
      std::vector<float*> c_pointers;
      for (int64_t index = 0; index < kCount; ++index) {
        bs.push_back(std::make_unique<GuardedFloats>(shape.k * shape.n));
        for (int64_t flat = 0; flat < shape.k * shape.n; ++flat) bs.back()->data()[flat] = value(rng);
        b_pointers.push_back(bs.back()->data());
        cs.emplace_back(static_cast<size_t>(shape.m * shape.n), 0.0f);
      }
      for (auto& c : cs) c_pointers.push_back(c.data());
      const std::vector<float> alpha(kCount, 1.0f), beta(kCount, 0.0f);
      REQUIRE(kernels->sgemm_shared_a(kCount, shape.m, shape.n, shape.k, alpha.data(), a.data(), 0, b_pointers.data(),
                                      0, beta.data(), c_pointers.data(), scratch.get()) == kNnspecOk);
      std::vector<float> alone(static_cast<size_t>(shape.m * shape.n), 0.0f);
      REQUIRE(kernels->sgemm(shape.m, shape.n, shape.k, 1.0f, a.data(), 0, b_pointers[0], 0, 0.0f, alone.data(),
                             scratch.get()) == kNnspecOk);
      CHECK(std::memcmp(alone.data(), cs[0].data(), alone.size() * sizeof(float)) == 0);
      const double tolerance = 1e-5 * std::sqrt(static_cast<double>(shape.k) + 1.0);
      int64_t wrong = 0;
      for (int64_t index = 0; index < kCount; ++index)
        for (int64_t row = 0; row < shape.m; ++row)
          for (int64_t col = 0; col < shape.n; ++col) {
            double expected = 0.0;
            for (int64_t inner = 0; inner < shape.k; ++inner)
              expected += static_cast<double>(a[static_cast<size_t>(row * shape.k + inner)]) *
                          b_pointers[static_cast<size_t>(index)][inner * shape.n + col];
            wrong += !(std::fabs(cs[static_cast<size_t>(index)][static_cast<size_t>(row * shape.n + col)] - expected) <=
                       tolerance);
          }
      CHECK(wrong == 0);
    }
  }
}

// Run by ctest with and without NNSPEC_CPU (tests/CMakeLists.txt): forcing a level must
// take effect, or fail here.
TEST_CASE("the kernels run at the level NNSPEC_CPU forces, else the best one", "[runtime]") {
  const char* forced = std::getenv("NNSPEC_CPU");
  const int32_t best = nnspec_rt_cpu_best_level();
  INFO("NNSPEC_CPU " << (forced ? forced : "(unset)") << ", best level " << nnspec_rt_cpu_level_name(best));
  CHECK(activeKernelTable().level == nnspec_rt_cpu_level());
  CHECK(kernelTableFor(nnspec_rt_cpu_level()) == &activeKernelTable());
  if (forced == nullptr || *forced == '\0') {
    CHECK(nnspec_rt_cpu_level() == best);
    CHECK(nnspec_rt_cpu_error() == nullptr);
    return;
  }
  const CpuChoice choice = chooseCpuLevel(forced, best);
  if (!choice.error.empty() && choice.error.find("does not support") != std::string::npos) {
    WARN("SKIP: this CPU lacks the level NNSPEC_CPU=" << forced << " forces");
    return;
  }
  REQUIRE(nnspec_rt_cpu_error() == nullptr);
  CHECK(std::string(nnspec_rt_cpu_level_name(nnspec_rt_cpu_level())) == forced);
  CHECK(std::string(activeKernelTable().name) == forced);
}

// Run only by ctest, with NNSPEC_CPU=avx9 (tests/CMakeLists.txt).
TEST_CASE("an unknown NNSPEC_CPU is an error and the kernels run at the best level", "[runtime][.bad_cpu]") {
  const char* forced = std::getenv("NNSPEC_CPU");
  REQUIRE(forced != nullptr);
  REQUIRE(std::string(forced) == "avx9");
  REQUIRE(nnspec_rt_cpu_error() != nullptr);
  const std::string error = nnspec_rt_cpu_error();
  CHECK_THAT(error, Catch::Contains("NNSPEC_CPU=avx9") && Catch::Contains("avx512, avx2, generic"));
  CHECK(nnspec_rt_cpu_level() == nnspec_rt_cpu_best_level());
}

TEST_CASE("NNSPEC_CPU values: levels, unknown names, levels above the CPU's", "[runtime][.levels]") {
  for (int32_t best = 0; best < kNnspecCpuLevels; ++best) {
    CHECK(chooseCpuLevel(nullptr, best).level == best);
    CHECK(chooseCpuLevel("", best).error.empty());
    CHECK(chooseCpuLevel("", best).level == best);
    for (int32_t level = 0; level <= best; ++level) {
      const CpuChoice choice = chooseCpuLevel(nnspec_rt_cpu_level_name(level), best);
      CHECK(choice.level == level);
      CHECK(choice.error.empty());
    }
  }
  const CpuChoice above = chooseCpuLevel("avx512", kNnspecCpuAvx2);
  CHECK(above.level == kNnspecCpuAvx2);
  CHECK(above.error ==
        "NNSPEC_CPU=avx512: this CPU does not support avx512; it supports avx2, generic (set NNSPEC_CPU to one of "
        "them, or unset it)");
  CHECK(chooseCpuLevel("avx2", kNnspecCpuGeneric).level == kNnspecCpuGeneric);
  CHECK_THAT(chooseCpuLevel("avx2", kNnspecCpuGeneric).error, Catch::Contains("it supports generic"));
  for (const char* unknown : {"AVX2", "sse4", "native", "avx512 "}) {
    const CpuChoice choice = chooseCpuLevel(unknown, kNnspecCpuAvx512);
    INFO(unknown);
    CHECK(choice.level == kNnspecCpuAvx512);
    CHECK_THAT(choice.error, Catch::StartsWith(std::string("NNSPEC_CPU=") + unknown + ": unknown CPU level") &&
                                 Catch::Contains("valid values are avx512, avx2, generic"));
  }
  CHECK(nnspec_rt_cpu_level_name(3) == nullptr);
  CHECK(nnspec_rt_cpu_level_name(-1) == nullptr);
}

}  // namespace
}  // namespace nnspec::rt
