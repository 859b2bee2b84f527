// The generated exp, expm1, log and tanh (compiler/codegen/vector_math.h) against double
// precision libm: their error in ULPs over dense sweeps of every float range they serve
// (every float with the [.slow] test), their special values, and the train steps that
// use them: no libm call left, the loops vectorized.

#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/TargetParser/Host.h>

#include "compiler/codegen/step_plan.h"
#include "compiler/codegen/vector_math.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/jit/optimize_module.h"
#include "compiler/transforms/autodiff.h"

namespace nnspec::codegen {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// The bounds vector_math.h states, in ULPs of the exact result.
struct Case {
  MathFunction function;
  const char* name;
  double (*reference)(double);
  float low;  // the swept domain
  float high;
  double max_ulps;
};

const Case kCases[] = {
    {MathFunction::Exp, "exp", [](double x) { return std::exp(x); }, -104.0f, 89.0f, 1.0},
    {MathFunction::Expm1, "expm1", [](double x) { return std::expm1(x); }, -18.0f, 89.0f, 2.0},
    {MathFunction::Log, "log", [](double x) { return std::log(x); }, 0.0f, std::numeric_limits<float>::max(), 1.0},
    {MathFunction::Tanh, "tanh", [](double x) { return std::tanh(x); }, -std::numeric_limits<float>::max(),
     std::numeric_limits<float>::max(), 2.0},
};

// How far `got` lies from `exact`, in units of the float spacing at `exact` (2^-149 in
// the denormal range). Infinite when one of them is NaN, infinite or zero and the other
// is not the same.
double ulpError(float got, double exact) {
  if (std::isnan(exact)) return std::isnan(got) ? 0.0 : kInfinity;
  const float rounded = static_cast<float>(exact);
  if (std::isinf(rounded) || exact == 0.0) return got == rounded ? 0.0 : kInfinity;
  if (!std::isfinite(got)) return kInfinity;
  int exponent = 0;
  std::frexp(exact, &exponent);  // |exact| in [2^(exponent-1), 2^exponent)
  const double ulp = std::ldexp(1.0, std::max(exponent - 24, -149));
  return std::abs(static_cast<double>(got) - exact) / ulp;
}

// Floats in value order: key(a) < key(b) exactly when a < b (with -0 before +0).
uint32_t orderKey(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}
float fromOrderKey(uint32_t key) {
  return std::bit_cast<float>((key & 0x80000000u) != 0 ? key & 0x7FFFFFFFu : ~key);
}

// A module with one loop per math function, out[i] = f(in[i]), JIT-compiled for a CPU.
class MathKernels {
 public:
  using MapFn = void(const float*, float*, int64_t);

  // cpu "" for the host (its features: FMA where it has it), else an LLVM CPU name with
  // its baseline features ("x86-64": SSE2, no FMA).
  explicit MathKernels(const std::string& cpu) {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto machine_builder = llvm::orc::JITTargetMachineBuilder::detectHost();
    REQUIRE(static_cast<bool>(machine_builder));
    auto machine = machine_builder->createTargetMachine();
    REQUIRE(static_cast<bool>(machine));
    auto lljit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*machine_builder).create();
    REQUIRE(static_cast<bool>(lljit));
    jit_ = std::move(*lljit);

    auto context = std::make_unique<llvm::LLVMContext>();
    auto module = std::make_unique<llvm::Module>("vector_math_test", *context);
    module->setDataLayout(jit_->getDataLayout());
    module->setTargetTriple(jit_->getTargetTriple().str());
    for (const Case& math_case : kCases) emitMap(*module, math_case);
    const std::string target_cpu = cpu.empty() ? (*machine)->getTargetCPU().str() : cpu;
    const std::string features = cpu.empty() ? (*machine)->getTargetFeatureString().str() : "";
    for (llvm::Function& function : *module) {
      if (function.isDeclaration()) continue;
      function.addFnAttr("target-cpu", target_cpu);
      function.addFnAttr("target-features", features);
    }
    REQUIRE_FALSE(llvm::verifyModule(*module, &llvm::errs()));
    jit::optimizeModule(*module, **machine, 3);
    for (const Case& math_case : kCases)
      REQUIRE(module->getFunction(std::string("map_") + math_case.name) != nullptr);
    REQUIRE_FALSE(static_cast<bool>(jit_->addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(context)))));
    for (const Case& math_case : kCases) {
      auto address = jit_->lookup(std::string("map_") + math_case.name);
      REQUIRE(static_cast<bool>(address));
      maps_.push_back(address->toPtr<MapFn>());
    }
  }

  std::vector<float> map(MathFunction function, const std::vector<float>& in) const {
    std::vector<float> out(in.size());
    if (!in.empty()) maps_[static_cast<size_t>(function)](in.data(), out.data(), static_cast<int64_t>(in.size()));
    return out;
  }

 private:
  // void map_<name>(const float* in, float* out, i64 count), count >= 1.
  static void emitMap(llvm::Module& module, const Case& math_case) {
    llvm::LLVMContext& context = module.getContext();
    llvm::IRBuilder<> ir(context);
    auto* type = llvm::FunctionType::get(ir.getVoidTy(), {ir.getPtrTy(), ir.getPtrTy(), ir.getInt64Ty()}, false);
    auto* map = llvm::Function::Create(type, llvm::Function::ExternalLinkage, std::string("map_") + math_case.name, module);
    map->addParamAttr(0, llvm::Attribute::NoAlias);
    map->addParamAttr(1, llvm::Attribute::NoAlias);
    auto* entry = llvm::BasicBlock::Create(context, "entry", map);
    auto* loop = llvm::BasicBlock::Create(context, "loop", map);
    auto* done = llvm::BasicBlock::Create(context, "done", map);
    ir.SetInsertPoint(entry);
    ir.CreateBr(loop);
    ir.SetInsertPoint(loop);
    llvm::PHINode* index = ir.CreatePHI(ir.getInt64Ty(), 2);
    index->addIncoming(ir.getInt64(0), entry);
    llvm::Value* x = ir.CreateLoad(ir.getFloatTy(), ir.CreateInBoundsGEP(ir.getFloatTy(), map->getArg(0), index));
    llvm::Value* y = ir.CreateCall(mathFunction(module, math_case.function), {x});
    ir.CreateStore(y, ir.CreateInBoundsGEP(ir.getFloatTy(), map->getArg(1), index));
    llvm::Value* next = ir.CreateAdd(index, ir.getInt64(1));
    index->addIncoming(next, loop);
    ir.CreateCondBr(ir.CreateICmpULT(next, map->getArg(2)), loop, done);
    ir.SetInsertPoint(done);
    ir.CreateRetVoid();
  }

  std::unique_ptr<llvm::orc::LLJIT> jit_;
  std::vector<MapFn*> maps_;
};

struct Worst {
  double ulps = 0.0;
  float input = 0.0f;
  float got = 0.0f;
  double exact = 0.0;
  uint64_t count = 0;
};

// Every `stride`-th float of [low, high] in value order, in blocks, through the kernel.
void sweep(const MathKernels& kernels, const Case& math_case, float low, float high, uint32_t stride, Worst& worst) {
  constexpr size_t kBlock = 1 << 20;
  const uint64_t first = orderKey(low);
  const uint64_t last = orderKey(high);
  std::vector<float> in;
  in.reserve(kBlock);
  for (uint64_t key = first; key <= last;) {
    in.clear();
    for (; key <= last && in.size() < kBlock; key += stride) in.push_back(fromOrderKey(static_cast<uint32_t>(key)));
    const std::vector<float> out = kernels.map(math_case.function, in);
    for (size_t idx = 0; idx < in.size(); ++idx) {
      const double exact = math_case.reference(static_cast<double>(in[idx]));
      const double ulps = ulpError(out[idx], exact);
      if (ulps > worst.ulps) worst = {ulps, in[idx], out[idx], exact, worst.count};
    }
    worst.count += in.size();
  }
}

void checkAccuracy(const MathKernels& kernels, const std::string& variant, uint32_t stride) {
  for (const Case& math_case : kCases) {
    Worst worst;
    sweep(kernels, math_case, math_case.low, math_case.high, stride, worst);
    // Around the points where the reductions switch (every float there): 0, 1 (log's
    // cancellation), the reduction boundaries +-ln2/2, tanh's switch at 0.625.
    for (float centre : {0.0f, 1.0f, 0.34657359f, -0.34657359f, 0.625f, -0.625f, 0.70710677f}) {
      const uint32_t key = orderKey(centre);
      const float low = std::max(fromOrderKey(key - (1u << 16)), math_case.low);
      const float high = std::min(fromOrderKey(key + (1u << 16)), math_case.high);
      if (low < high) sweep(kernels, math_case, low, high, 1, worst);
    }
    std::printf("%s %-6s max %.3f ulp at x = %.9g (got %.9g, exact %.12g) over %llu floats\n", variant.c_str(),
                math_case.name, worst.ulps, static_cast<double>(worst.input), static_cast<double>(worst.got),
                worst.exact, static_cast<unsigned long long>(worst.count));
    INFO(variant << " " << math_case.name << ": " << worst.ulps << " ulp at x = " << worst.input << " (got "
                 << worst.got << ", exact " << worst.exact << ")");
    CHECK(worst.ulps <= math_case.max_ulps);
    CHECK(worst.count > 1000000);
  }
}

TEST_CASE("vector math is within its stated ulps on dense sweeps with and without fma", "[jit]") {
  checkAccuracy(MathKernels(""), "host", 509);
  const llvm::Triple host(llvm::sys::getProcessTriple());
  if (host.getArch() == llvm::Triple::x86_64) checkAccuracy(MathKernels("x86-64"), "x86-64", 1021);
}

TEST_CASE("vector math is within its stated ulps on every float of its domain", "[.slow]") {
  checkAccuracy(MathKernels(""), "host", 1);
}

float evaluate(const MathKernels& kernels, MathFunction function, float x) {
  return kernels.map(function, {x}).front();
}

TEST_CASE("vector math special values", "[jit]") {
  const MathKernels kernels("");
  const float max = std::numeric_limits<float>::max();
  const float denormal = std::numeric_limits<float>::denorm_min();
  auto exp = [&](float x) { return evaluate(kernels, MathFunction::Exp, x); };
  auto expm1 = [&](float x) { return evaluate(kernels, MathFunction::Expm1, x); };
  auto log = [&](float x) { return evaluate(kernels, MathFunction::Log, x); };
  auto tanh = [&](float x) { return evaluate(kernels, MathFunction::Tanh, x); };
  for (const std::function<float(float)>& function : {std::function<float(float)>(exp), std::function<float(float)>(expm1),
                                                      std::function<float(float)>(log), std::function<float(float)>(tanh)}) {
    CHECK(std::isnan(function(kNan)));
    CHECK(std::isnan(function(-kNan)));
  }
  // exp: overflow, underflow, the denormal range rounded (not flushed)
  CHECK(exp(kInfinity) == kInfinity);
  CHECK(exp(89.0f) == kInfinity);
  CHECK(exp(88.73f) == kInfinity);
  CHECK(std::isfinite(exp(88.72f)));
  CHECK(exp(-kInfinity) == 0.0f);
  CHECK(exp(-104.0f) == 0.0f);
  CHECK(exp(-1000.0f) == 0.0f);
  CHECK(exp(0.0f) == 1.0f);
  CHECK(exp(-0.0f) == 1.0f);
  CHECK(ulpError(exp(-100.0f), std::exp(-100.0)) <= 1.0);  // 3.7e-44, a denormal
  CHECK(std::fpclassify(exp(-100.0f)) == FP_SUBNORMAL);
  CHECK(ulpError(exp(88.7f), std::exp(static_cast<double>(88.7f))) <= 1.0);
  CHECK(exp(max) == kInfinity);
  CHECK(exp(-max) == 0.0f);
  // expm1: the sign of zero, -1 below, +inf above
  CHECK(std::signbit(expm1(-0.0f)));
  CHECK(expm1(0.0f) == 0.0f);
  CHECK_FALSE(std::signbit(expm1(0.0f)));
  CHECK(expm1(denormal) == denormal);
  CHECK(expm1(-kInfinity) == -1.0f);
  CHECK(expm1(-50.0f) == -1.0f);
  CHECK(expm1(kInfinity) == kInfinity);
  CHECK(expm1(89.0f) == kInfinity);
  CHECK(ulpError(expm1(1e-7f), std::expm1(static_cast<double>(1e-7f))) <= 1.0);
  // log: zero, negatives, infinity, denormals
  CHECK(log(0.0f) == -kInfinity);
  CHECK(log(-0.0f) == -kInfinity);
  CHECK(std::isnan(log(-1.0f)));
  CHECK(std::isnan(log(-denormal)));
  CHECK(std::isnan(log(-kInfinity)));
  CHECK(log(kInfinity) == kInfinity);
  CHECK(log(1.0f) == 0.0f);
  CHECK(ulpError(log(denormal), std::log(static_cast<double>(denormal))) <= 1.0);
  CHECK(ulpError(log(3e-39f), std::log(static_cast<double>(3e-39f))) <= 1.0);
  CHECK(ulpError(log(max), std::log(static_cast<double>(max))) <= 1.0);
  // tanh: saturation, the sign of zero, small arguments
  CHECK(tanh(kInfinity) == 1.0f);
  CHECK(tanh(-kInfinity) == -1.0f);
  CHECK(tanh(50.0f) == 1.0f);
  CHECK(tanh(-50.0f) == -1.0f);
  CHECK(tanh(max) == 1.0f);
  CHECK(tanh(0.0f) == 0.0f);
  CHECK_FALSE(std::signbit(tanh(0.0f)));
  CHECK(std::signbit(tanh(-0.0f)));
  CHECK(tanh(-denormal) == -denormal);
  CHECK(ulpError(tanh(1e-20f), std::tanh(static_cast<double>(1e-20f))) <= 1.0);
  CHECK(ulpError(tanh(-3e-5f), std::tanh(static_cast<double>(-3e-5f))) <= 1.0);
}

// An MLP whose hidden layers use `activation` (none: the loss alone), softmax
// cross-entropy over 64 classes (a multiple of every vector width).
transforms::GradientGraph mlpWith(ir::OpKind activation, bool hidden) {
  const int64_t batch = 32;
  const std::vector<int64_t> widths = {64, 128, 64};
  ir::Graph graph;
  ir::ValueId x = graph.input("x", ir::f32({batch, widths.front()}));
  ir::ValueId labels = graph.input("labels", ir::i32({batch}));
  for (size_t layer = 1; layer < widths.size(); ++layer) {
    const std::string index = std::to_string(layer);
    ir::ValueId w = graph.parameter("w" + index, {widths[layer - 1], widths[layer]});
    ir::ValueId b = graph.parameter("b" + index, {widths[layer]});
    x = graph.add(graph.matmul(x, w), b);
    if (hidden && layer + 1 < widths.size()) x = graph.unary(activation, x);
  }
  return transforms::differentiate(graph, graph.softmaxCrossEntropy(x, labels));
}

TEST_CASE("train steps with exp log and tanh call no libm and vectorize those loops", "[jit]") {
  auto created = jit::JitCompiler::create();
  REQUIRE(created.ok());
  jit::JitCompiler& jit = *created.value();
  struct Model {
    const char* name;
    ir::OpKind activation;
    bool hidden;
  };
  for (const Model& model : {Model{"tanh", ir::OpKind::Tanh, true}, Model{"sigmoid", ir::OpKind::Sigmoid, true},
                             Model{"elu", ir::OpKind::Elu, true}, Model{"softmax only", ir::OpKind::Relu, false}}) {
    const transforms::GradientGraph graph = mlpWith(model.activation, model.hidden);
    auto text = jit.optimizedLlvmText(graph, planStep(graph, {}));
    REQUIRE(text.ok());
    INFO(model.name);
    for (const char* libm : {"@expf", "@logf", "@tanhf", "@exp(", "@log(", "@tanh(", "@llvm.exp.", "@llvm.log."})
      CHECK_THAT(text.value(), !Catch::Contains(libm));
    // Every math function inlined, and their polynomials evaluated on vectors: only
    // vector_math emits fmuladd, the copysign is tanh's.
    CHECK_THAT(text.value(), !Catch::Contains("@nnspec.exp"));
    CHECK_THAT(text.value(), !Catch::Contains("@nnspec.log"));
    CHECK_THAT(text.value(), !Catch::Contains("@nnspec.tanh"));
    CHECK(std::regex_search(text.value(), std::regex(R"(<\d+ x float> @llvm\.fmuladd\.v\d+f32)")));
    if (model.activation == ir::OpKind::Tanh)
      CHECK(std::regex_search(text.value(), std::regex(R"(<\d+ x float> @llvm\.copysign\.v\d+f32)")));
  }
}

}  // namespace
}  // namespace nnspec::codegen
