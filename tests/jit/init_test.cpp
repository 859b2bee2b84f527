// Weight initialization as specs select it: the train block's `init` for every layer, a
// layer's own `init:` over it, Keras' fans for dense and conv kernels, and the drawn
// values' spread for Glorot uniform, He uniform and He normal.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/train/schedule.h"
#include "runtime/train/trial.h"
#include "tests/autodiff/gradient_check.h"
#include "tests/jit/cnn_models.h"

namespace nnspec::testing {
namespace {

const rt::ParamInit& initOf(const lowering::LoweredStep& step, const std::string& name) {
  for (const auto& init : step.inits)
    if (init.name == name) return init;
  FAIL("no init for " << name);
  return step.inits.front();
}

struct Spread {
  double mean = 0;
  double variance = 0;
  double max_abs = 0;
};

Spread spreadOf(const std::vector<float>& values) {
  Spread spread;
  for (float value : values) spread.mean += value;
  spread.mean /= static_cast<double>(values.size());
  for (float value : values) {
    spread.variance += (value - spread.mean) * (value - spread.mean);
    spread.max_abs = std::max(spread.max_abs, static_cast<double>(std::fabs(value)));
  }
  spread.variance /= static_cast<double>(values.size());
  return spread;
}

TEST_CASE("a layer's init overrides the train block's, with Keras' fans", "[jit]") {
  // mlp64 under `init he_normal` for the whole block, its second dense layer he_uniform.
  const auto step = lowerSpecSweep("dat565_mnist.nnspec", "baseline", 4,
                                   {{"  model     mlp64\n", "  model     mlp64\n  init      he_normal\n"},
                                    {"  dense(64, relu)\n  dense(64, relu)\n  dense(10, softmax)",
                                     "  dense(64, relu)\n  dense(64, relu, init: he_uniform)\n  dense(10, softmax)"}});
  CHECK(initOf(step, "dense1.kernel").kind == rt::InitKind::kHeNormal);
  CHECK(initOf(step, "dense2.kernel").kind == rt::InitKind::kHeUniform);
  CHECK(initOf(step, "dense3.kernel").kind == rt::InitKind::kHeNormal);
  CHECK(initOf(step, "dense1.bias").kind == rt::InitKind::kZeros);
  CHECK(initOf(step, "dense1.kernel").fan_in == 784);
  CHECK(initOf(step, "dense1.kernel").fan_out == 64);
}

TEST_CASE("without an init, kernels are Glorot uniform; conv fans are kh*kw*channels", "[jit]") {
  const auto step = lowerSpecSweep("dat565_mnist.nnspec", "lenet", 2);
  const rt::ParamInit& conv2 = initOf(step, "conv2.kernel");
  CHECK(conv2.kind == rt::InitKind::kGlorotUniform);
  CHECK(conv2.fan_in == 5 * 5 * 6);
  CHECK(conv2.fan_out == 5 * 5 * 16);
  CHECK(initOf(step, "conv2.bias").kind == rt::InitKind::kZeros);
}

TEST_CASE("drawn weights have the spread of their init", "[jit]") {
  const auto step = lowerSpecSweep("dat565_mnist.nnspec", "decay_sweep", 4);  // 784-500-300-10
  rt::StepRunner runner(compileOrFail(step.graph, step.config));
  const double fan_in = 784, fan_out = 500;
  auto drawn = [&](rt::InitKind kind, uint64_t seed) {
    std::vector<rt::ParamInit> inits = step.inits;
    for (auto& init : inits)
      if (init.name == "dense1.kernel") init.kind = kind;
    rt::initializeParameters(runner, inits, seed);
    return runner.parameter("dense1.kernel");
  };
  // 392,000 draws: the sample variance is within ~0.5% of the true one.
  SECTION("glorot uniform: U(+-sqrt(6/(in+out))), variance 2/(in+out)") {
    const Spread spread = spreadOf(drawn(rt::InitKind::kGlorotUniform, 1));
    const double limit = std::sqrt(6.0 / (fan_in + fan_out));
    CHECK(spread.max_abs <= limit);
    CHECK(spread.max_abs > 0.999 * limit);
    CHECK_THAT(spread.variance, Catch::WithinRel(2.0 / (fan_in + fan_out), 0.01));
    CHECK(std::fabs(spread.mean) < 1e-3);
  }
  SECTION("he uniform: U(+-sqrt(6/in)), variance 2/in") {
    const Spread spread = spreadOf(drawn(rt::InitKind::kHeUniform, 2));
    const double limit = std::sqrt(6.0 / fan_in);
    CHECK(spread.max_abs <= limit);
    CHECK(spread.max_abs > 0.999 * limit);
    CHECK_THAT(spread.variance, Catch::WithinRel(2.0 / fan_in, 0.01));
  }
  SECTION("he normal: N(0, 2/in), tails past 3 sigma") {
    const Spread spread = spreadOf(drawn(rt::InitKind::kHeNormal, 3));
    CHECK_THAT(spread.variance, Catch::WithinRel(2.0 / fan_in, 0.01));
    CHECK(spread.max_abs > 3.5 * std::sqrt(2.0 / fan_in));
    CHECK(std::fabs(spread.mean) < 1e-3);
  }
  SECTION("the same seed draws the same weights, another seed others") {
    const auto first = drawn(rt::InitKind::kHeNormal, 7);
    CHECK(drawn(rt::InitKind::kHeNormal, 7) == first);
    CHECK(drawn(rt::InitKind::kHeNormal, 8) != first);
  }
}

TEST_CASE("learning-rate schedules follow PyTorch's StepLR, ExponentialLR and CosineAnnealingLR", "[jit]") {
  rt::LrSchedule constant;
  CHECK(rt::scheduledLr(constant, 0.1, 7, 10) == 0.1);
  rt::LrSchedule step{rt::LrSchedule::Kind::kStep, 3, 0.5, 0};
  const std::vector<double> step_expected = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025};
  for (size_t epoch = 0; epoch < step_expected.size(); ++epoch)
    CHECK_THAT(rt::scheduledLr(step, 0.1, static_cast<int64_t>(epoch), 10), Catch::WithinRel(step_expected[epoch], 1e-12));
  rt::LrSchedule exponential{rt::LrSchedule::Kind::kExponential, 1, 0.9, 0};
  CHECK_THAT(rt::scheduledLr(exponential, 0.1, 0, 10), Catch::WithinRel(0.1, 1e-12));
  CHECK_THAT(rt::scheduledLr(exponential, 0.1, 3, 10), Catch::WithinRel(0.1 * 0.729, 1e-12));
  rt::LrSchedule cosine{rt::LrSchedule::Kind::kCosine, 1, 0.1, 0.001};
  CHECK_THAT(rt::scheduledLr(cosine, 0.1, 0, 10), Catch::WithinRel(0.1, 1e-12));
  CHECK_THAT(rt::scheduledLr(cosine, 0.1, 5, 10), Catch::WithinRel(0.001 + 0.099 * 0.5, 1e-12));
  CHECK_THAT(rt::scheduledLr(cosine, 0.1, 10, 10), Catch::WithinRel(0.001, 1e-9));
}

TEST_CASE("schedules and adamw in a spec reach the lowered step", "[jit]") {
  const auto step = lowerSpecSweep(
      "dat565_mnist.nnspec", "lenet", 2,
      {{"  optimizer adam(lr: 1e-3)\n  batch     128\n  epochs    40",
        "  optimizer adam(lr: 1e-3, weight_decay: 0.01, decoupled: true)\n  schedule  step(every: 5, gamma: 0.5)\n"
        "  batch     128\n  epochs    40"}});
  CHECK(step.schedule.kind == rt::LrSchedule::Kind::kStep);
  CHECK(step.schedule.every == 5);
  CHECK(step.schedule.gamma == 0.5);
  const NnspecOptimizerParams abi = step.optimizer.abi();
  CHECK(abi.decoupled == 1);
  CHECK(abi.weight_decay == 0.01f);
  CHECK(abi.lr == 1e-3f);
}

}  // namespace
}  // namespace nnspec::testing
