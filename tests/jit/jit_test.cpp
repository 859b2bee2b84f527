#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <thread>

#include "compiler/codegen/emit_llvm.h"
#include "compiler/codegen/step_plan.h"
#include "compiler/ir/verifier.h"
#include "compiler/jit/jit_compiler.h"
#include "runtime/exec/step_runner.h"
#include "compiler/transforms/fusion.h"
#include "tests/jit/mlp_builder.h"

namespace nnspec::jit {
namespace {

std::unique_ptr<JitCompiler> newJit() {
  auto created = JitCompiler::create();
  if (!created) FAIL(created.error().message);
  return std::move(created.value());
}

TEST_CASE("graphs that differ only in runtime hyperparameters share one compilation", "[jit]") {
  std::unique_ptr<JitCompiler> jit = newJit();
  // Two sweep points, lr 0.1 and lr 0.01: the lr is not part of the graph.
  transforms::GradientGraph point_a = testing::buildMlp(4, {6, 8, 3});
  transforms::GradientGraph point_b = testing::buildMlp(4, {6, 8, 3});
  auto step_a = jit->compile(point_a, {});
  auto step_b = jit->compile(point_b, {});
  REQUIRE(step_a.ok());
  REQUIRE(step_b.ok());
  CHECK(jit->compilationCount() == 1);
  CHECK(step_a.value() == step_b.value());

  std::vector<float> x(4 * 6, 0.5f);
  std::vector<int32_t> labels = {0, 1, 2, 1};
  const void* inputs[] = {x.data(), labels.data()};
  std::vector<float> losses;
  for (float lr : {0.1f, 0.01f}) {
    rt::StepRunner runner(step_a.value());
    for (size_t param_idx = 0; param_idx < runner.layout().parameters.size(); ++param_idx)
      runner.parameter(param_idx).assign(runner.parameter(param_idx).size(), 0.1f);
    NnspecOptimizerParams opt{};
    opt.lr = lr;
    opt.step = 1;
    REQUIRE(runner.trainStep(inputs, opt).status == kNnspecOk);
    losses.push_back(runner.forward(inputs).total_loss);
  }
  CHECK(losses[0] != losses[1]);  // the runtime lr took effect

  auto wider = jit->compile(testing::buildMlp(4, {6, 9, 3}), {});
  REQUIRE(wider.ok());
  CHECK(jit->compilationCount() == 2);
  auto adam = jit->compile(point_a, {codegen::OptimizerKind::Adam});
  REQUIRE(adam.ok());
  CHECK(jit->compilationCount() == 3);
}

TEST_CASE("the JIT compiles the entry points its caller names, and adds the others when asked", "[jit]") {
  std::unique_ptr<JitCompiler> jit = newJit();
  const transforms::GradientGraph graph = testing::buildMlp(4, {6, 8, 3});
  auto trains = jit->compile(graph, {}, {codegen::EntryPoint::TrainStep});
  REQUIRE(trains.ok());
  CHECK(trains.value()->train_step != nullptr);
  CHECK(trains.value()->forward == nullptr);
  CHECK(trains.value()->gradients == nullptr);
  CHECK(jit->compilationCount() == 1);

  std::vector<float> x(4 * 6, 0.5f);
  std::vector<int32_t> labels = {0, 1, 2, 1};
  const void* inputs[] = {x.data(), labels.data()};
  rt::StepRunner runner(trains.value());
  CHECK_THROWS_AS(runner.forward(inputs), std::logic_error);  // never called through null
  NnspecOptimizerParams opt{};
  opt.lr = 0.1f;
  opt.step = 1;
  CHECK(runner.trainStep(inputs, opt).status == kNnspecOk);

  // Asking again for what is compiled compiles nothing; asking for more compiles the
  // missing entry points only, and the step keeps the train step it had.
  auto again = jit->compile(graph, {}, {codegen::EntryPoint::TrainStep});
  REQUIRE(again.ok());
  CHECK(again.value() == trains.value());
  CHECK(jit->compilationCount() == 1);
  auto evaluates = jit->compile(graph, {}, {codegen::EntryPoint::Forward, codegen::EntryPoint::TrainStep});
  REQUIRE(evaluates.ok());
  CHECK(jit->compilationCount() == 2);
  CHECK(evaluates.value()->train_step == trains.value()->train_step);
  CHECK(evaluates.value()->forward != nullptr);
  CHECK(evaluates.value()->gradients == nullptr);
  auto all = jit->compile(graph, {});
  REQUIRE(all.ok());
  CHECK(jit->compilationCount() == 3);
  CHECK(all.value()->gradients != nullptr);
  CHECK(all.value()->forward == evaluates.value()->forward);
  REQUIRE(jit->compile(graph, {}, {codegen::EntryPoint::Forward}).ok());
  CHECK(jit->compilationCount() == 3);

  // The entry points compiled one at a time compute what those compiled at once do.
  std::unique_ptr<JitCompiler> other = newJit();
  auto whole = other->compile(graph, {});
  REQUIRE(whole.ok());
  std::vector<float> results[2];
  for (int side = 0; side < 2; ++side) {
    rt::StepRunner trained(side == 0 ? all.value() : whole.value());
    for (size_t param_idx = 0; param_idx < trained.layout().parameters.size(); ++param_idx)
      trained.parameter(param_idx).assign(trained.parameter(param_idx).size(), 0.1f);
    const rt::StepResult step = trained.trainStep(inputs, opt);
    const rt::StepResult gradients = trained.gradients(inputs);
    const rt::StepResult forward = trained.forward(inputs);
    results[side] = {step.total_loss, gradients.total_loss, forward.total_loss};
    results[side].insert(results[side].end(), trained.gradient(0).begin(), trained.gradient(0).end());
  }
  CHECK(results[0] == results[1]);
  CHECK(results[0][0] != results[0][2]);  // the train step changed the parameters
}

TEST_CASE("two threads compiling the same and different graphs share the cache", "[jit]") {
  constexpr int64_t kBatch = 4;
  constexpr int kThreads = 2;
  std::unique_ptr<JitCompiler> jit = newJit();
  // Each thread: the shared graph, two of its own (other hidden widths), the shared again.
  auto widthsOf = [](int thread_idx) {
    std::vector<std::vector<int64_t>> graphs = {{6, 8, 3}};
    for (int64_t own_idx = 0; own_idx < 2; ++own_idx)
      graphs.push_back({6, 9 + 2 * thread_idx + own_idx, 3});
    graphs.push_back({6, 8, 3});
    return graphs;
  };
  std::vector<float> x(kBatch * 6);
  for (size_t element = 0; element < x.size(); ++element)
    x[element] = static_cast<float>(element % 7) * 0.2f - 0.6f;
  std::vector<int32_t> labels = {0, 2, 1, 2};
  const void* inputs[] = {x.data(), labels.data()};

  // Catch2 assertions are not thread-safe: the threads only record what they saw.
  struct Outcome {
    std::string error;
    std::vector<std::shared_ptr<const rt::CompiledStep>> steps;
    std::vector<std::vector<float>> predictions;
    std::vector<int32_t> statuses;
  };
  std::array<Outcome, kThreads> outcomes;
  auto work = [&](int thread_idx) {
    Outcome& outcome = outcomes[static_cast<size_t>(thread_idx)];
    for (const std::vector<int64_t>& widths : widthsOf(thread_idx)) {
      auto compiled = jit->compile(
          testing::buildPredictingMlp(kBatch, widths, testing::MlpLoss::SoftmaxCrossEntropy), {});
      if (!compiled) {
        outcome.error = compiled.error().message;
        return;
      }
      rt::StepRunner runner(compiled.value());
      std::vector<std::vector<float>> params = testing::randomMlpParameters(widths, 3);
      for (size_t param_idx = 0; param_idx < params.size(); ++param_idx)
        runner.parameter(param_idx) = params[param_idx];
      std::vector<float> predictions(static_cast<size_t>(runner.layout().predictionFloats()));
      outcome.statuses.push_back(runner.forward(inputs, predictions.data()).status);
      outcome.steps.push_back(compiled.value());
      outcome.predictions.push_back(std::move(predictions));
    }
  };
  std::thread other(work, 1);
  work(0);
  other.join();

  CHECK(jit->compilationCount() == 1 + kThreads * 2);
  for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
    const Outcome& outcome = outcomes[static_cast<size_t>(thread_idx)];
    INFO("thread " << thread_idx);
    REQUIRE(outcome.error.empty());
    std::vector<std::vector<int64_t>> graphs = widthsOf(thread_idx);
    REQUIRE(outcome.steps.size() == graphs.size());
    CHECK(outcome.steps.front() == outcomes[0].steps.front());
    CHECK(outcome.steps.back() == outcome.steps.front());
    for (size_t graph_idx = 0; graph_idx < graphs.size(); ++graph_idx) {
      INFO("graph " << graph_idx);
      CHECK(outcome.statuses[graph_idx] == kNnspecOk);
      std::vector<std::vector<float>> params = testing::randomMlpParameters(graphs[graph_idx], 3);
      std::vector<double> expected =
          testing::referenceMlpForward(params, x, kBatch, graphs[graph_idx]);
      REQUIRE(outcome.predictions[graph_idx].size() == expected.size());
      for (size_t element = 0; element < expected.size(); ++element)
        CHECK_THAT(outcome.predictions[graph_idx][element],
                   Catch::WithinAbs(expected[element], 1e-4));
    }
  }
}

TEST_CASE("fusion puts a bias add and relu in one loop and reduces bias gradients in place",
          "[jit]") {
  transforms::GradientGraph mlp = testing::buildMlp(4, {6, 8, 3});
  REQUIRE(ir::verifyGraph(mlp.graph).empty());
  std::vector<ir::ValueId> roots = {mlp.total_loss};
  transforms::FusionPlan forward = transforms::planFusion(mlp.graph, roots);
  // gemm, loop {add relu}, gemm, loop {add}, softmax_cross_entropy, loops for the penalties
  int loops_with_two_members = 0;
  for (const transforms::Kernel& kernel : forward.kernels)
    if (kernel.kind == transforms::KernelKind::Loop && kernel.members.size() == 2)
      ++loops_with_two_members;
  INFO(transforms::printFusionPlan(forward));
  CHECK(loops_with_two_members >= 1);
  for (const transforms::Kernel& kernel : forward.kernels)
    for (ir::ValueId member : kernel.members)
      if (mlp.graph.node(member).op == ir::OpKind::Add &&
          mlp.graph.type(member).shape == ir::Shape{4, 8})
        CHECK(kernel.stores == std::vector<ir::ValueId>{member + 1});  // only the relu output

  // L2 penalty: reduce_sum(w*w) accumulates inside the loop computing w*w, which is never
  // written to memory.
  bool fused_reduction = false;
  for (const transforms::Kernel& kernel : forward.kernels)
    if (!kernel.sinks.empty() && kernel.members.size() == 1 &&
        mlp.graph.node(kernel.members[0]).op == ir::OpKind::Mul)
      fused_reduction = kernel.stores == kernel.sinks;
  CHECK(fused_reduction);
}

TEST_CASE("fusion never creates a cycle between kernels", "[jit]") {
  // y = x - broadcast(reduce_sum(x, 1)): the subtraction must wait for the reduction.
  ir::Graph graph;
  ir::ValueId x = graph.parameter("x", {3, 4});
  ir::ValueId doubled = graph.mul(x, graph.constant(2.0f));
  ir::ValueId centered =
      graph.sub(doubled, graph.broadcast(graph.reduceMean(doubled, 1), {3, 4}, 1));
  ir::ValueId loss = graph.reduceSum(graph.mul(centered, centered));
  transforms::GradientGraph gradient_graph = transforms::differentiate(graph, loss);
  auto jit = newJit();
  auto step = jit->compile(gradient_graph, {});
  REQUIRE(step.ok());
  rt::StepRunner runner(step.value());
  runner.parameter("x") = {1, 2, 3, 4, 0, 0, 0, 4, -1, 1, -1, 1};
  rt::StepResult result = runner.gradients({});
  REQUIRE(result.status == kNnspecOk);
  // rows centred then doubled: (-3,-1,1,3), (-2,-2,-2,6), (-2,2,-2,2)
  CHECK_THAT(result.total_loss, Catch::WithinAbs(20.0 + 48.0 + 16.0, 1e-4));
  // d/dx = 2*2*centered (the mean's gradient sums to zero per row)
  CHECK_THAT(runner.gradient(0)[0], Catch::WithinAbs(-12.0, 1e-4));
  CHECK_THAT(runner.gradient(0)[7], Catch::WithinAbs(24.0, 1e-4));
}

TEST_CASE("llvm text of a step has the three entry points and calls the gemm kernel", "[jit]") {
  codegen::LlvmText text = codegen::emitLlvmText(testing::buildMlp(4, {6, 8, 3}), codegen::planStep(testing::buildMlp(4, {6, 8, 3}), {}));
  REQUIRE(text.error.empty());
  CHECK_THAT(text.text, Catch::Contains("define i32 @nnspec_forward(ptr"));
  CHECK_THAT(text.text, Catch::Contains("define i32 @nnspec_gradients(ptr"));
  CHECK_THAT(text.text, Catch::Contains("define i32 @nnspec_train_step(ptr"));
  CHECK_THAT(text.text, Catch::Contains("call i32 @nnspec_rt_sgemm("));
}

TEST_CASE("the optimized module has vectorized loops for the host CPU", "[jit]") {
  auto jit = newJit();
  auto text = jit->optimizedLlvmText(testing::buildMlp(32, {64, 128, 10}),
                                    codegen::planStep(testing::buildMlp(32, {64, 128, 10}), {}));
  REQUIRE(text.ok());
  // Fused bias+relu, bias-gradient reductions and the SGD update over 128-wide rows: the
  // loop vectorizer turns them into vector operations (<8 x float> with AVX2).
  CHECK_THAT(text.value(), Catch::Contains(" x float>"));
  CHECK_THAT(text.value(), Catch::Contains("\"target-cpu\"=\"" + jit->hostCpu() + "\""));
}

TEST_CASE("a graph codegen cannot lower is an error value, not a crash", "[jit]") {
  ir::Graph graph;
  ir::ValueId w = graph.parameter("w", {3, 4});
  // Broadcasting along the first of three axes has no loop indexing yet.
  ir::ValueId spread = graph.broadcast(w, {2, 3, 4}, 0);
  transforms::GradientGraph gradient_graph =
      transforms::differentiate(graph, graph.reduceSum(graph.mul(spread, spread)));
  auto jit = newJit();
  auto step = jit->compile(gradient_graph, {});
  REQUIRE_FALSE(step.ok());
  CHECK_THAT(step.error().message, Catch::StartsWith("jit: codegen: "));
  CHECK_THAT(step.error().message, Catch::Contains("cannot index f32[3,4]"));
  CHECK(jit->compilationCount() == 0);
  CHECK_FALSE(codegen::emitLlvmText(gradient_graph, codegen::planStep(gradient_graph, {})).error.empty());
}

TEST_CASE("a label out of range is a status code, not a crash", "[jit]") {
  auto jit = newJit();
  auto step = jit->compile(testing::buildMlp(2, {3, 2}), {});
  REQUIRE(step.ok());
  rt::StepRunner runner(step.value());
  std::vector<float> x(6, 1.0f);
  std::vector<int32_t> labels = {1, 2};
  const void* inputs[] = {x.data(), labels.data()};
  CHECK(runner.forward(inputs).status == kNnspecBadLabel);
  labels[1] = -1;
  CHECK(runner.gradients(inputs).status == kNnspecBadLabel);
  labels[1] = 0;
  CHECK(runner.forward(inputs).status == kNnspecOk);
}

TEST_CASE("one epoch of a 784-500-300-10 MLP at batch 128 with SGD", "[jit]") {
  constexpr int64_t kBatch = 128;
  constexpr int kSteps = 60000 / kBatch;
  auto jit = newJit();
  auto compile_start = std::chrono::steady_clock::now();
  auto step = jit->compile(testing::buildMlp(kBatch, {784, 500, 300, 10}), {});
  double compile_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - compile_start).count();
  REQUIRE(step.ok());
  rt::StepRunner runner(step.value());
  std::mt19937 rng(7);
  for (size_t param_idx = 0; param_idx < runner.layout().parameters.size(); ++param_idx) {
    const ir::Shape& shape = runner.layout().parameters[param_idx].type.shape;
    float scale = shape.size() == 2 ? std::sqrt(2.0f / static_cast<float>(shape[0])) : 0.0f;
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& value : runner.parameter(param_idx)) value = scale * normal(rng);
  }
  runner.setHyperparam("l2", 1e-4f);
  // Random images and labels (the time, not the accuracy, is what this measures).
  std::vector<float> images(static_cast<size_t>(kBatch) * 784 * 8);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  for (float& value : images) value = pixel(rng);
  std::vector<int32_t> labels(static_cast<size_t>(kBatch) * 8);
  std::uniform_int_distribution<int32_t> label(0, 9);
  for (int32_t& value : labels) value = label(rng);
  NnspecOptimizerParams opt{};
  opt.lr = 0.01f;
  opt.momentum = 0.9f;
  auto start = std::chrono::steady_clock::now();
  rt::StepResult first{}, last{};
  for (int step_idx = 0; step_idx < kSteps; ++step_idx) {
    size_t slice = static_cast<size_t>(step_idx % 8);
    const void* inputs[] = {images.data() + slice * kBatch * 784, labels.data() + slice * kBatch};
    opt.step = step_idx + 1;
    last = runner.trainStep(inputs, opt);
    if (step_idx == 0) first = last;
    REQUIRE(last.status == kNnspecOk);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(std::isfinite(last.total_loss));
  CHECK(last.data_loss < first.data_loss);  // 8 batches seen ~58 times each: memorized
  WARN("784-500-300-10, batch 128, " << kSteps << " SGD steps (one 60k epoch): " << seconds
                                     << " s; compile " << compile_seconds << " s on "
                                     << jit->hostCpu() << "; loss " << first.data_loss
                                     << " -> " << last.data_loss);
}

}  // namespace
}  // namespace nnspec::jit
