// Sweep fusion (compiler/lowering/fuse_points.h, rt::runTrialGroup): sweep points trained
// together by one compiled step must train exactly as they do alone. Every point's
// per-step losses are compared with unfused training (within 1e-5 relative, the
// issue's bound; bit equality is what the design gives and is reported), with its epochs,
// final metrics and final weights, for a learning-rate sweep reading one batch (q3's
// rate sweep on a slice) and a replicated weight-decay sweep whose replicates read their
// own batches (dat565's), each with a point that stops early and one that diverges.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <fmt/format.h>

#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/lowering/fuse_points.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/train/trial.h"

namespace {

namespace fs = std::filesystem;
using namespace nnspec;

// q3's rate sweep on 1,232 images (1,032 to train: 32 batches of 32 and a partial one of
// 8), 784-64-64-10, SGD; lr 1e20 diverges, the large rates stop early on val.loss.
constexpr const char* kRateSpec = R"(
experiment fusion_rate
seed 3
data fmnist = fashion_mnist() | scale(1/255)
split train = fmnist.train.shuffle().take(1232), val = train.holdout(200), test = fmnist.test.shuffle().take(300)
param lr in [0.01, 0.05, 0.2, 0.6, 1e20]
model mlp {
  input [28, 28]
  flatten
  dense(64, relu)
  dense(64, relu)
  dense(10)
}
train {
  model     mlp
  loss      cross_entropy
  optimizer sgd(lr: lr)
  batch     32
  epochs    5 stop when no_improvement(val.loss, tol: 0, patience: 1)
}
sweep grid(lr)
)";

// dat565's decay sweep on a slice: L2 factors and momentum SGD with weight decay in the
// optimizer, replicated (each replicate its own seed: own initial weights, own batches);
// decay 1e12 diverges.
constexpr const char* kDecaySpec = R"(
experiment fusion_decay
seed 43
data digits = mnist() | scale(1/255)
split train = digits.all.shuffle().take(1100), val = train.holdout(300), test = digits.all.shuffle().skip(8000)
param decay in [1e-6, 1e-3, 1e12]
model mlp {
  input [28, 28]
  flatten
  dense(50, relu, l2: decay)
  dense(30, relu, l2: decay)
  dense(10)
}
train {
  model     mlp
  loss      cross_entropy
  optimizer sgd(lr: 0.1, momentum: 0.9, weight_decay: 1e-4)
  batch     40
  epochs    4 stop when no_improvement(val.accuracy, tol: 0, patience: 1)
}
sweep grid(decay)
)";

// An MLP with dropout, replicated: each replicate draws its own masks inside the fused step.
constexpr const char* kDropoutSpec = R"(
experiment fusion_dropout
seed 8
data fmnist = fashion_mnist() | scale(1/255)
split train = fmnist.train.shuffle().take(700), val = train.holdout(100), test = fmnist.test.shuffle().take(200)
param lr in [0.05, 0.2]
model mlp {
  input [28, 28]
  flatten
  dense(48, relu)
  dropout(0.3)
  dense(24, relu)
  dropout(0.5)
  dense(10)
}
train { model mlp  loss cross_entropy  optimizer sgd(lr: lr, momentum: 0.9)  batch 25  epochs 3 }
sweep grid(lr)
)";

// A small CNN (padding, convolutions with fused epilogues, max and average pooling),
// replicated: hw1's folds of one LeNet-5 are this kind of group.
constexpr const char* kCnnSpec = R"(
experiment fusion_cnn
seed 21
data fmnist = fashion_mnist() | scale(1/255) | reshape([28, 28, 1])
split train = fmnist.train.shuffle().take(460), val = train.holdout(100), test = fmnist.test.shuffle().take(100)
model cnn {
  input [28, 28, 1]
  zeropad(1)
  conv2d(6, 3, padding: same, activation: relu)
  maxpool(2)
  conv2d(8, 3, stride: 2, activation: elu)
  avgpool(3, stride: 2)
  flatten
  dense(10)
}
train { model cnn  loss cross_entropy  optimizer adam(lr: 3e-3)  batch 50  epochs 2 }
sweep grid() replicates 3
)";

// Softmax between hidden layers (its own kernels, not a fused loop), a rate grid.
constexpr const char* kSoftmaxSpec = R"(
experiment fusion_softmax
seed 9
data fmnist = fashion_mnist() | scale(1/255)
split train = fmnist.train.shuffle().take(700), val = train.holdout(100), test = fmnist.test.shuffle().take(200)
param lr in [1e-3, 3e-3]
model mlp {
  input [28, 28]
  flatten
  dense(64, relu)
  dense(32, softmax)
  dense(10)
}
train { model mlp  loss cross_entropy  optimizer adam(lr: lr)  batch 25  epochs 3 }
sweep grid(lr)
)";

struct Points {
  std::unique_ptr<driver::SpecSession> session;
  std::unique_ptr<driver::Materializer> data;
  std::unique_ptr<jit::JitCompiler> jit;
  std::vector<rt::CompiledModel> models;
  rt::DataView fit, val, test;
  const sema::TrainConfig* first = nullptr;

  explicit Points(const std::string& text) {
    driver::CheckRequest request;
    request.path = (fs::temp_directory_path() / "fusion_test.nnspec").string();
    request.source = text;
    request.data_paths = driver::defaultDataPaths();
    session = std::make_unique<driver::SpecSession>(request, std::vector<driver::Override>{},
                                                    std::vector<std::string>{});
    REQUIRE(session->ok());
    const sema::CheckedSpec& spec = session->spec().checked;
    data = std::make_unique<driver::Materializer>(spec, session->spec().data_paths);
    first = &spec.sweeps.at(0).checked.at(0).config;
    auto views = data->split(first->split);
    REQUIRE(views.ok());
    fit = {views.value()->train_data, views.value()->train};
    val = {views.value()->val_data, views.value()->val};
    test = {views.value()->test_data, views.value()->test};
    auto made = jit::JitCompiler::create();
    REQUIRE(made.ok());
    jit = std::move(made.value());
    for (const auto& point : spec.sweeps.at(0).checked) {
      auto compiled = pipeline::compileTrainable(point.config, static_cast<int64_t>(fit.indices.size()), *jit);
      REQUIRE(std::holds_alternative<rt::CompiledModel>(compiled));
      models.push_back(std::get<rt::CompiledModel>(std::move(compiled)));
    }
  }

  rt::TrialSettings settings(uint64_t seed, uint64_t data_seed = 0) const {
    rt::TrialSettings out;
    out.data_seed = data_seed;
    out.epochs = first->epochs;
    out.shuffle = first->shuffle;
    out.seed = seed;
    out.keep_parameters = true;
    if (first->stop) out.stop = rt::StopRule{first->stop->metric, first->stop->tol, first->stop->patience};
    return out;
  }

  std::shared_ptr<const rt::CompiledStep> fused(const std::vector<int>& input_classes) const {
    auto step = pipeline::compileFusedStep(*first, models[0].batch, input_classes, *jit);
    if (auto* error = std::get_if<pipeline::PipelineError>(&step)) FAIL(error->message);
    return std::get<std::shared_ptr<const rt::CompiledStep>>(step);
  }
};

struct Member {
  const rt::CompiledModel* model;
  uint64_t seed;
  uint64_t data_seed = 0;  // 0: the batch order follows `seed`
};

struct Trace {
  std::vector<float> losses;  // every step's data loss
  rt::TrialResult result;
};

rt::TrialCallbacks tracing(std::vector<float>& losses) {
  rt::TrialCallbacks callbacks;
  callbacks.on_step = [&losses](int64_t, int64_t, float loss) { losses.push_back(loss); };
  return callbacks;
}

struct Comparison {
  int64_t steps = 0;
  int64_t bit_equal = 0;
  double worst = 0;  // relative difference of a step's loss
};

// Trains the members alone, then as one fused group whose members of one input class read
// one batch; compares each member's traces.
Comparison compareFused(const Points& points, const std::vector<Member>& members, const std::vector<int>& input_classes,
                        int64_t* fused_steps = nullptr, std::vector<rt::TrialResult>* alone_results = nullptr,
                        int64_t* own_steps = nullptr) {
  std::vector<Trace> alone(members.size());
  for (size_t index = 0; index < members.size(); ++index) {
    alone[index].result = rt::runTrial(*members[index].model, points.fit, points.val, points.test,
                                       points.settings(members[index].seed, members[index].data_seed),
                                       tracing(alone[index].losses));
  }
  std::vector<std::vector<float>> fused_losses(members.size());
  std::vector<rt::GroupMember> group;
  for (size_t index = 0; index < members.size(); ++index) {
    rt::GroupMember member;
    member.model = members[index].model;
    member.fit = points.fit;
    member.val = points.val;
    member.test = points.test;
    member.settings = points.settings(members[index].seed, members[index].data_seed);
    member.callbacks = tracing(fused_losses[index]);
    group.push_back(std::move(member));
  }
  const rt::GroupRun run = rt::runTrialGroup(points.fused(input_classes), input_classes, group);
  if (fused_steps != nullptr) *fused_steps = run.fused_steps;
  if (own_steps != nullptr) *own_steps = run.own_steps;
  REQUIRE(run.results.size() == members.size());
  Comparison comparison;
  for (size_t index = 0; index < members.size(); ++index) {
    INFO("point " << index);
    const rt::TrialResult& reference = alone[index].result;
    const rt::TrialResult& result = run.results[index];
    CHECK(result.end == reference.end);
    CHECK(result.reason == reference.reason);
    CHECK(result.failed_epoch == reference.failed_epoch);
    CHECK(result.stopped_epoch == reference.stopped_epoch);
    REQUIRE(fused_losses[index].size() == alone[index].losses.size());
    for (size_t step = 0; step < alone[index].losses.size(); ++step) {
      const double want = alone[index].losses[step];
      const double got = fused_losses[index][step];
      ++comparison.steps;
      if (want == got || (std::isnan(want) && std::isnan(got))) {
        ++comparison.bit_equal;
        continue;
      }
      const double relative = std::fabs(got - want) / std::max(std::fabs(want), 1e-30);
      comparison.worst = std::max(comparison.worst, relative);
      INFO("step " << step + 1 << ": alone " << want << ", fused " << got);
      CHECK(relative <= 1e-5);
    }
    REQUIRE(result.epochs.size() == reference.epochs.size());
    for (const auto& [name, value] : reference.final_metrics) {
      INFO(name);
      REQUIRE(result.final_metrics.count(name) == 1);
      // The tables print four decimals.
      CHECK(fmt::format("{:.4f}", result.final_metrics.at(name)) == fmt::format("{:.4f}", value));
    }
    REQUIRE(result.parameters.size() == reference.parameters.size());
    for (size_t param = 0; param < reference.parameters.size(); ++param) {
      const auto& want = reference.parameters[param].values;
      const auto& got = result.parameters[param].values;
      REQUIRE(got.size() == want.size());
      for (size_t element = 0; element < want.size(); ++element) {
        if (std::isnan(want[element])) continue;
        REQUIRE(std::fabs(got[element] - want[element]) <= 1e-4f * std::max(1.0f, std::fabs(want[element])));
      }
    }
  }
  if (alone_results != nullptr) {
    for (const Trace& trace : alone) alone_results->push_back(trace.result);
  }
  return comparison;
}

// All members in one input class (`shared`: they read one batch), else each its own.
Comparison compareFused(const Points& points, const std::vector<Member>& members, bool shared,
                        int64_t* fused_steps = nullptr, std::vector<rt::TrialResult>* alone_results = nullptr) {
  return compareFused(points, members, lowering::inputClasses(static_cast<int>(members.size()), shared), fused_steps,
                      alone_results);
}

}  // namespace

TEST_CASE("fusion: q3's rate sweep trains fused as alone, with a diverging point and early stops", "[fusion]") {
  Points points(kRateSpec);
  REQUIRE(points.models.size() == 5);
  std::vector<Member> members;
  for (const auto& model : points.models) members.push_back({&model, 0x5eed});
  int64_t fused_steps = 0;
  std::vector<rt::TrialResult> alone;
  const Comparison comparison = compareFused(points, members, true, &fused_steps, &alone);
  // The spec must exercise what the test claims: one point diverges, one stops early.
  int failed = 0;
  int stopped = 0;
  for (const auto& result : alone) {
    failed += result.end == rt::TrialEnd::kFailed ? 1 : 0;
    stopped += result.stopped_epoch > 0 ? 1 : 0;
  }
  CHECK(failed == 1);
  CHECK(stopped >= 1);
  CHECK(fused_steps > 0);
  WARN(fmt::format("rate sweep: {} steps compared, {} bit for bit, worst relative difference {:g}; {} fused steps",
                   comparison.steps, comparison.bit_equal, comparison.worst, fused_steps));
}

TEST_CASE("fusion: trials with dropout keep their own masks in a fused step", "[fusion]") {
  Points points(kDropoutSpec);
  REQUIRE(points.models.size() == 2);
  std::vector<Member> members;
  for (const auto& model : points.models) {
    for (uint64_t replicate = 0; replicate < 3; ++replicate) members.push_back({&model, 77 + replicate});
  }
  const Comparison comparison = compareFused(points, members, false);
  CHECK(comparison.steps > 0);
  WARN(fmt::format("dropout: {} steps compared, {} bit for bit, worst relative difference {:g}", comparison.steps,
                   comparison.bit_equal, comparison.worst));
}

TEST_CASE("fusion: a rate sweep of an MLP with a hidden softmax trains fused as alone", "[fusion]") {
  Points points(kSoftmaxSpec);
  REQUIRE(points.models.size() == 2);
  std::vector<Member> members;
  for (const auto& model : points.models) {
    for (uint64_t replicate = 0; replicate < 2; ++replicate) members.push_back({&model, 300 + replicate});
  }
  int64_t fused_steps = 0;
  const Comparison comparison = compareFused(points, members, false, &fused_steps);
  CHECK(comparison.steps > 0);
  CHECK(fused_steps > 0);
  WARN(fmt::format("softmax: {} steps compared, {} bit for bit, worst relative difference {:g}", comparison.steps,
                   comparison.bit_equal, comparison.worst));
}

TEST_CASE("fusion: replicates of a CNN train fused as alone", "[fusion]") {
  Points points(kCnnSpec);
  std::vector<Member> members;
  for (uint64_t replicate = 0; replicate < 3; ++replicate) members.push_back({&points.models[0], 500 + replicate});
  const Comparison comparison = compareFused(points, members, false);
  CHECK(comparison.steps > 0);
  WARN(fmt::format("cnn: {} steps compared, {} bit for bit, worst relative difference {:g}", comparison.steps,
                   comparison.bit_equal, comparison.worst));
}

TEST_CASE("fusion: a replicated decay sweep trains fused as alone, each replicate on its own batches", "[fusion]") {
  Points points(kDecaySpec);
  REQUIRE(points.models.size() == 3);
  std::vector<Member> members;
  for (const auto& model : points.models) {
    for (uint64_t replicate = 0; replicate < 2; ++replicate) members.push_back({&model, 1000 + replicate});
  }
  int64_t fused_steps = 0;
  std::vector<rt::TrialResult> alone;
  const Comparison comparison = compareFused(points, members, false, &fused_steps, &alone);
  int failed = 0;
  int stopped = 0;
  for (const auto& result : alone) {
    failed += result.end == rt::TrialEnd::kFailed ? 1 : 0;
    stopped += result.stopped_epoch > 0 ? 1 : 0;
  }
  CHECK(failed == 2);  // decay 1e12, both replicates
  CHECK(stopped >= 1);
  CHECK(fused_steps > 0);
  WARN(fmt::format("decay sweep: {} steps compared, {} bit for bit, worst relative difference {:g}; {} fused steps; "
                   "{} failed, {} stopped early",
                   comparison.steps, comparison.bit_equal, comparison.worst, fused_steps, failed, stopped));
}

TEST_CASE("fusion: points that read one batch share the first layer's GEMMs and train as alone", "[fusion]") {
  Points points(kSoftmaxSpec);
  REQUIRE(points.models.size() == 2);
  // The plan: x W#k forward and x^T dY#k (Adam's weight gradients, not in-place updates)
  // each one gemm kernel of 3 members when the points read one batch; none apart.
  auto sharedGemms = [&](bool shared) {
    pipeline::Options options;
    options.stop_after = pipeline::Pass::kFuse;
    options.fuse_points = 3;
    options.fuse_input_classes = lowering::inputClasses(3, shared);
    auto made = pipeline::runPasses(*points.first, points.models[0].batch, options);
    REQUIRE(std::holds_alternative<pipeline::Artifacts>(made));
    const auto& plan = std::get<pipeline::Artifacts>(made).plan;
    std::vector<size_t> sizes;
    for (const auto& function : plan.functions)
      for (const auto& kernel : function.fusion.kernels)
        if (kernel.kind == transforms::KernelKind::Gemm && kernel.members.size() > 1)
          sizes.push_back(kernel.members.size());
    return sizes;
  };
  // forward: 1 (forward entry) + 1 (gradients) + 1 (train step); weight gradient: 2.
  CHECK(sharedGemms(true) == std::vector<size_t>{3, 3, 3, 3, 3});
  CHECK(sharedGemms(false).empty());
  // Trained: two rates, one seed (one data order), three members; Adam.
  std::vector<Member> members = {{&points.models[0], 41}, {&points.models[1], 41}, {&points.models[0], 41}};
  int64_t fused_steps = 0;
  const Comparison comparison = compareFused(points, members, true, &fused_steps);
  CHECK(comparison.steps > 0);
  CHECK(fused_steps > 0);
  CHECK(comparison.bit_equal == comparison.steps);  // the shared GEMMs give each member its own bits
  WARN(fmt::format("shared first layer: {} steps compared, {} bit for bit", comparison.steps, comparison.bit_equal));
}

// SGD points of one data order whose first layers' weight gradients are in-place updates
// (step_plan.cpp): plain SGD (the gemm writes the weights), heavy-ball momentum (the
// velocity) and, in kNesterovSpec, Nesterov (the gradient); 50 units make the wide c's
// tiles straddle two points, each scaled by its own rate, decay and momentum. With an L2
// term (lab3's), the weight gradient is not an update but read by the term's kernel.
// An MLP of 50 units on 550 Fashion-MNIST images for 3 epochs, batch 50, swept over
// `params` by `optimizer` (and `extra` train settings).
std::string sgdSpec(const std::string& name, int seed, const std::string& params, const std::string& optimizer,
                    const std::string& extra, const std::string& grid) {
  return "experiment " + name + "\nseed " + std::to_string(seed) + R"(
data fmnist = fashion_mnist() | scale(1/255)
split train = fmnist.train.shuffle().take(650), val = train.holdout(100), test = fmnist.test.shuffle().take(200)
)" + params + R"(
model mlp {
  input [28, 28]
  flatten
  dense(50, relu)
  dense(10)
}
train { model mlp  loss cross_entropy  optimizer )" +
         optimizer + " " + extra + R"(  batch 50  epochs 3 }
sweep grid()" + grid + ")\n";
}

const std::string kSgdMixSpec = sgdSpec("fusion_sgd_mix", 12, "param lr in [0.02, 0.1]\nparam mom in [0, 0.9]",
                                        "sgd(lr: lr, momentum: mom, weight_decay: 1e-3)", "", "lr, mom");
const std::string kNesterovSpec = sgdSpec("fusion_sgd_nesterov", 13, "param lr in [0.01, 0.05, 0.2]",
                                          "sgd(lr: lr, momentum: 0.9, nesterov: true)", "", "lr");
const std::string kL2Spec = sgdSpec("fusion_sgd_l2", 14, "param lr in [0.004, 0.04, 0.4]",
                                    "sgd(lr: lr, momentum: 0.9, nesterov: true)", "l2 1e-4", "lr");

// The sizes of the gemm kernels of several members in each entry point's plan.
std::vector<size_t> sharedGemmSizes(const Points& points, int members, bool shared) {
  pipeline::Options options;
  options.stop_after = pipeline::Pass::kFuse;
  options.fuse_points = members;
  options.fuse_input_classes = lowering::inputClasses(members, shared);
  auto made = pipeline::runPasses(*points.first, points.models[0].batch, options);
  REQUIRE(std::holds_alternative<pipeline::Artifacts>(made));
  std::vector<size_t> sizes;
  for (const auto& function : std::get<pipeline::Artifacts>(made).plan.functions)
    for (const auto& kernel : function.fusion.kernels)
      if (kernel.kind == transforms::KernelKind::Gemm && kernel.members.size() > 1)
        sizes.push_back(kernel.members.size());
  return sizes;
}

namespace {

// Trains `spec`'s `count` points fused (one batch for all) and alone: the first layers'
// forward GEMM, weight gradient and in-place update each run as one shared call of all
// points, and every step comes out bit for bit.
void checkSharedSgd(const std::string& spec, size_t count, uint64_t seed, const char* label) {
  Points points(spec);
  REQUIRE(points.models.size() == count);
  // forward entry, gradients entry (x W, x^T dY), train step (x W, and the in-place
  // updates x^T dY of the points as one).
  CHECK(sharedGemmSizes(points, static_cast<int>(count), true) == std::vector<size_t>(5, count));
  CHECK(sharedGemmSizes(points, static_cast<int>(count), false).empty());
  std::vector<Member> members;
  for (size_t index = 0; index < count; ++index) members.push_back({&points.models[index], seed});
  int64_t fused_steps = 0;
  const Comparison comparison = compareFused(points, members, true, &fused_steps);
  CHECK(fused_steps > 0);
  CHECK(comparison.bit_equal == comparison.steps);
  WARN(fmt::format("{}: {} steps compared, {} bit for bit", label, comparison.steps, comparison.bit_equal));
}

}  // namespace

TEST_CASE("fusion: SGD points that read one batch update their first layers in one call and train as alone",
          "[fusion]") {
  SECTION("plain SGD and heavy-ball momentum in one group") {
    checkSharedSgd(kSgdMixSpec, 4, 61, "SGD, momentum 0 and 0.9");
  }
  SECTION("Nesterov momentum") { checkSharedSgd(kNesterovSpec, 3, 62, "SGD, Nesterov"); }
  SECTION("an L2 term reads the weight gradients (lab3's rate grid)") {
    checkSharedSgd(kL2Spec, 3, 63, "SGD with L2");
  }
}

namespace {

// One fused train step of `points.models` (one batch for all) from the same random
// parameters and slots, every point training and with `skipped` marked as left
// (NnspecStepArgs::point_active): the skipped point's buffers must stay as they were and
// every other point's come out bit for bit as with all training.
void checkSkippedPoint(const Points& points, size_t skipped) {
  const int count = static_cast<int>(points.models.size());
  const auto step = points.fused(lowering::inputClasses(count, true));
  rt::StepRunner all(step), some(step);
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> value(-0.1f, 0.1f);
  const rt::StepLayout& layout = step->layout;
  for (size_t param = 0; param < layout.parameters.size(); ++param) {
    for (float& element : all.parameter(param)) element = value(rng);
    some.parameter(param) = all.parameter(param);
    for (float& element : all.optimizerState(0, param)) element = value(rng);
    some.optimizerState(0, param) = all.optimizerState(0, param);
  }
  std::vector<std::vector<float>> before_params, before_slots;
  for (size_t param = 0; param < layout.parameters.size(); ++param) {
    before_params.push_back(all.parameter(param));
    before_slots.push_back(all.optimizerState(0, param));
  }
  for (int point = 0; point < count; ++point)
    for (const auto& [name, hyper] : points.models[static_cast<size_t>(point)].hyper_values) {
      all.setHyperparam(name + "#" + std::to_string(point), hyper);
      some.setHyperparam(name + "#" + std::to_string(point), hyper);
    }
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<int32_t>> labels;
  std::vector<const void*> inputs;
  for (const auto& input : layout.inputs) {
    if (input.type.dtype == rt::ElementType::kF32) {
      floats.emplace_back(static_cast<size_t>(input.type.numElements()));
      for (float& element : floats.back()) element = value(rng) + 0.1f;
      inputs.push_back(floats.back().data());
    } else {
      labels.emplace_back(static_cast<size_t>(input.type.numElements()));
      for (size_t row = 0; row < labels.back().size(); ++row) labels.back()[row] = static_cast<int32_t>(row % 10);
      inputs.push_back(labels.back().data());
    }
  }
  std::vector<NnspecOptimizerParams> opts;
  for (const auto& model : points.models) {
    opts.push_back(model.optimizer);
    opts.back().step = 1;
  }
  std::vector<uint8_t> active(static_cast<size_t>(count), 1);
  active[skipped] = 0;
  some.setPointActive(active);
  const auto all_results = all.trainStepPoints(inputs, opts);
  const auto some_results = some.trainStepPoints(inputs, opts);
  for (size_t param = 0; param < layout.parameters.size(); ++param) {
    const size_t point = static_cast<size_t>(layout.parameter_points[param]);
    INFO(layout.parameters[param].name << " of point " << point);
    CHECK(all.parameter(param) != before_params[param]);  // every point stepped in `all`
    if (point == skipped) {
      REQUIRE(some.parameter(param) == before_params[param]);
      REQUIRE(some.optimizerState(0, param) == before_slots[param]);
      continue;
    }
    REQUIRE(some.parameter(param) == all.parameter(param));
    REQUIRE(some.optimizerState(0, param) == all.optimizerState(0, param));
    CHECK(some_results[point].data_loss == all_results[point].data_loss);
  }
}

}  // namespace

TEST_CASE("fusion: a point that left its group is skipped by the fused step, the others untouched", "[fusion]") {
  SECTION("SGD, one shared in-place update") {
    Points points(kSgdMixSpec);
    checkSkippedPoint(points, 1);
    checkSkippedPoint(points, 3);
  }
  SECTION("Adam, shared forward and weight gradients") {
    Points points(kSoftmaxSpec);
    checkSkippedPoint(points, 0);
  }
}

TEST_CASE("fusion: members in two data orders read one batch per order and train as alone", "[fusion]") {
  Points points(kRateSpec);
  REQUIRE(points.models.size() == 5);
  // Two folds' worth of batch orders (data seeds), each member its own initial weights:
  // classes 0, 1, 0, 1, 0 as a grid of points x replicates claims them.
  std::vector<Member> members;
  for (int index = 0; index < 5; ++index)
    members.push_back({&points.models[static_cast<size_t>(index)], 900u + static_cast<uint64_t>(index),
                       index % 2 == 0 ? 0xda7a0ULL : 0xda7a1ULL});
  int64_t fused_steps = 0;
  std::vector<rt::TrialResult> alone;
  const Comparison comparison = compareFused(points, members, std::vector<int>{0, 1, 0, 1, 0}, &fused_steps, &alone);
  int failed = 0;
  for (const auto& result : alone) failed += result.end == rt::TrialEnd::kFailed ? 1 : 0;
  CHECK(failed == 1);  // lr 1e20 leaves its class; the other member of class 0 goes on
  CHECK(fused_steps > 0);
  CHECK(comparison.bit_equal == comparison.steps);
  WARN(fmt::format("two data orders: {} steps compared, {} bit for bit", comparison.steps, comparison.bit_equal));
}

namespace {

// Members of one data order: lr 1e20 (diverges at once), lr 1e-30 (no weight moves, so
// val.loss repeats and it stops at epoch 2 on every kernel level; a rate such as 0.6
// stopped early on the packed levels only), then `steady` members of lr 0.01 (seeds 53,
// 54, ...), trained alone and fused; checks that the first two end as said, before every
// steady member's last epoch.
struct LeavingGroup {
  std::unique_ptr<rt::CompiledModel> still;  // the lr 1e-30 member's model (its address stays put)
  std::vector<Member> members;
  Comparison comparison;
  int64_t fused_steps = 0;
  int64_t own_steps = 0;
  std::vector<rt::TrialResult> alone;
};

LeavingGroup trainLeavingGroup(const Points& points, int steady) {
  LeavingGroup group;
  group.still = std::make_unique<rt::CompiledModel>(points.models[3]);
  group.still->optimizer.lr = 1e-30f;
  group.members = {{&points.models[4], 51, 0xda7a0ULL}, {group.still.get(), 52, 0xda7a0ULL}};
  for (int index = 0; index < steady; ++index)
    group.members.push_back({&points.models[0], 53u + static_cast<uint64_t>(index), 0xda7a0ULL});
  const int count = static_cast<int>(group.members.size());
  group.comparison = compareFused(points, group.members, lowering::inputClasses(count, true), &group.fused_steps,
                                  &group.alone, &group.own_steps);
  REQUIRE(group.alone.size() == group.members.size());
  CHECK(group.alone[0].end == rt::TrialEnd::kFailed);
  CHECK(group.alone[1].end == rt::TrialEnd::kFinished);
  CHECK(group.alone[1].stopped_epoch == 2);
  for (size_t index = 2; index < group.alone.size(); ++index)
    CHECK(group.alone[1].stopped_epoch < group.alone[index].epochs.back().epoch);
  CHECK(group.fused_steps > 0);
  CHECK(group.comparison.bit_equal == group.comparison.steps);
  return group;
}

}  // namespace

TEST_CASE("fusion: when a batch's reader leaves, the next member of its order reads it", "[fusion]") {
  Points points(kRateSpec);
  REQUIRE(points.models.size() == 5);
  // Only the first member still training copies the batch's inputs: after lr 1e20 and lr
  // 1e-30 leave, the first lr 0.01 member reads it for the two others (three of five still
  // train: the group stays fused); every partial batch is a member's own step.
  LeavingGroup group = trainLeavingGroup(points, 3);
  CHECK(group.own_steps == 0);
  // Members of one class whose batch orders differ are refused, not trained on one batch.
  group.members[1].data_seed = 0xda7a1ULL;
  CHECK_THROWS_WITH(compareFused(points, group.members, true),
                    Catch::Contains("member 1 is in an input class with a member whose batches are drawn differently"));
}

TEST_CASE("fusion: once at most half of a group trains, each member goes on with its own step", "[fusion]") {
  Points points(kRateSpec);
  REQUIRE(points.models.size() == 5);
  // Three members: after lr 1e20 diverges two of three train on, fused; once lr 1e-30 stops
  // (one of three) the group dissolves and lr 0.01 finishes on its own step, with the
  // numbers it gets alone, bit for bit, before and after.
  const LeavingGroup group = trainLeavingGroup(points, 1);
  CHECK(group.own_steps > 0);
  // Every step of the last member is either a fused one or its own.
  const int64_t full_steps_per_epoch = static_cast<int64_t>(points.fit.indices.size()) / points.models[0].batch;
  CHECK(group.fused_steps + group.own_steps >=
        full_steps_per_epoch * static_cast<int64_t>(group.alone[2].epochs.size()));
  WARN(fmt::format("dissolved group: {} steps compared, {} bit for bit; {} fused steps, then {} own steps",
                   group.comparison.steps, group.comparison.bit_equal, group.fused_steps, group.own_steps));
}

TEST_CASE("fusion: input classes must be numbered in order of first use", "[fusion]") {
  CHECK(lowering::validInputClasses({0, 1, 0, 2}));
  CHECK(lowering::inputClassCount({0, 1, 0, 2}) == 3);
  CHECK_FALSE(lowering::validInputClasses({1, 0}));
  CHECK_FALSE(lowering::validInputClasses({0, 2}));
  CHECK_FALSE(lowering::validInputClasses({}));
  CHECK(lowering::inputClasses(3, true) == std::vector<int>{0, 0, 0});
  CHECK(lowering::inputClasses(3, false) == std::vector<int>{0, 1, 2});
}
