// Checkpoints inside a trial: the trainer's state as bytes (runtime/train/checkpoint.h),
// a trial resumed from them in a fresh trainer, and `nnspec run` killed with SIGKILL in
// the middle of a trial and rerun. A resumed trial must end with the numbers of an
// uninterrupted one, bit for bit.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/driver/run.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "runtime/kernels/kernel_table.h"
#include "runtime/kernels/thread_team.h"
#include "runtime/store/store.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/trial.h"

namespace {

namespace fs = std::filesystem;
using namespace nnspec;

// An MLP with dropout and Adam, a step schedule and early stopping, on 1,030 training
// images (batch 50: the last batch is partial, so the remainder step trains too).
constexpr const char* kMlpSpec = R"(
experiment ckpt_mlp
seed 11
data fmnist = fashion_mnist() | scale(1/255)
split train = fmnist.train.shuffle().take(1230), val = train.holdout(200), test = fmnist.test.shuffle().take(300)
model mlp {
  input [28, 28]
  flatten
  dense(32, relu)
  dropout(0.3)
  dense(10)
}
train {
  model     mlp
  loss      cross_entropy
  optimizer adam(lr: 3e-3)
  schedule  step(every: 2, gamma: 0.5)
  batch     50
  epochs    5 stop when no_improvement(val.loss, tol: 1e-3, patience: 2)
}
)";

// A CNN with batch normalization after a convolution (moving statistics) and SGD with momentum.
constexpr const char* kCnnSpec = R"(
experiment ckpt_cnn
seed 12
data fmnist = fashion_mnist() | scale(1/255) | reshape([28, 28, 1])
split train = fmnist.train.shuffle().take(620), val = train.holdout(100), test = fmnist.test.shuffle().take(200)
model cnn {
  input [28, 28, 1]
  conv2d(4, 3, activation: relu)
  batchnorm(momentum: 0.9)
  maxpool(2)
  flatten
  dense(10)
}
train { model cnn  loss cross_entropy  optimizer sgd(lr: 0.05, momentum: 0.9)  batch 32  epochs 3 }
)";

// A spec's first trial, compiled, with its data: what runTrial takes.
class TrialSetup {
 public:
  explicit TrialSetup(const std::string& text) {
    driver::CheckRequest request;
    request.path = (fs::temp_directory_path() / "checkpoint_test.nnspec").string();
    request.source = text;
    request.data_paths = driver::defaultDataPaths();
    session_ = std::make_unique<driver::SpecSession>(request, std::vector<driver::Override>{},
                                                     std::vector<std::string>{});
    REQUIRE(session_->ok());
    const sema::CheckedSpec& spec = session_->spec().checked;
    const sema::TrainConfig& config = spec.sweeps.at(0).checked.at(0).config;
    data_ = std::make_unique<driver::Materializer>(spec, session_->spec().data_paths);
    auto views = data_->split(config.split);
    REQUIRE(views.ok());
    fit = {views.value()->train_data, views.value()->train};
    val = {views.value()->val_data, views.value()->val};
    test = {views.value()->test_data, views.value()->test};
    auto jit = jit::JitCompiler::create();
    REQUIRE(jit.ok());
    jit_ = std::move(jit.value());
    auto compiled = pipeline::compileTrainable(config, static_cast<int64_t>(fit.indices.size()), *jit_);
    REQUIRE(std::holds_alternative<rt::CompiledModel>(compiled));
    model = std::get<rt::CompiledModel>(std::move(compiled));
    settings.epochs = config.epochs;
    settings.shuffle = config.shuffle;
    settings.seed = 0x5eed;
    settings.keep_parameters = true;
    if (config.stop) settings.stop = rt::StopRule{config.stop->metric, config.stop->tol, config.stop->patience};
  }

  rt::TrialResult run(const rt::TrialCallbacks& callbacks = {}) const {
    return rt::runTrial(model, fit, val, test, settings, callbacks);
  }

  rt::CompiledModel model;
  rt::DataView fit, val, test;
  rt::TrialSettings settings;

 private:
  std::unique_ptr<driver::SpecSession> session_;
  std::unique_ptr<driver::Materializer> data_;
  std::unique_ptr<jit::JitCompiler> jit_;
};

struct Saved {
  int64_t epoch = 0;
  std::vector<uint8_t> bytes;
};

// A run that keeps every checkpoint it is handed.
rt::TrialResult runKeeping(const TrialSetup& setup, std::vector<Saved>& saved) {
  rt::TrialCallbacks callbacks;
  callbacks.on_checkpoint = [&](int64_t epoch, const std::vector<uint8_t>& bytes) { saved.push_back({epoch, bytes}); };
  return setup.run(callbacks);
}

bool sameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Every epoch's metrics, the final metrics and the final tensors, bit for bit.
void checkIdentical(const rt::TrialResult& resumed, const rt::TrialResult& reference) {
  CHECK(resumed.end == reference.end);
  CHECK(resumed.stopped_epoch == reference.stopped_epoch);
  REQUIRE(resumed.epochs.size() == reference.epochs.size());
  for (size_t index = 0; index < reference.epochs.size(); ++index) {
    INFO("epoch " << index + 1);
    CHECK(resumed.epochs[index].epoch == reference.epochs[index].epoch);
    REQUIRE(resumed.epochs[index].metrics.size() == reference.epochs[index].metrics.size());
    for (const auto& [name, value] : reference.epochs[index].metrics) {
      INFO(name);
      CHECK(sameBits(resumed.epochs[index].metrics.at(name), value));
    }
  }
  REQUIRE(resumed.final_metrics.size() == reference.final_metrics.size());
  for (const auto& [name, value] : reference.final_metrics) CHECK(sameBits(resumed.final_metrics.at(name), value));
  REQUIRE(resumed.parameters.size() == reference.parameters.size());
  for (size_t index = 0; index < reference.parameters.size(); ++index) {
    INFO(reference.parameters[index].name);
    CHECK(resumed.parameters[index].values == reference.parameters[index].values);
  }
  REQUIRE(resumed.states.size() == reference.states.size());
  for (size_t index = 0; index < reference.states.size(); ++index) {
    CHECK(resumed.states[index].values == reference.states[index].values);
  }
}

rt::TrialResult resumeFrom(TrialSetup& setup, const std::vector<uint8_t>& bytes, std::string* rejected = nullptr) {
  setup.settings.resume = bytes;
  rt::TrialCallbacks callbacks;
  callbacks.on_resume_rejected = [&](const std::string& problem) {
    if (rejected != nullptr) *rejected = problem;
  };
  rt::TrialResult result = setup.run(callbacks);
  setup.settings.resume.clear();
  return result;
}

rt::TrainerState sampleState() {
  rt::TrainerState state;
  state.identity = {42, 5, 32, 1000, true, "val.loss tol 0.001 patience 2", 0xabcdef};
  state.completed_epochs = 2;
  state.batches_done = 7;
  state.loss_sum = 12.5;
  state.seen = 224;
  state.epoch_seconds = 0.25;
  state.step = 71;
  state.best = 0.4321;
  state.since_best = 1;
  state.seconds = 3.5;
  state.records = {{1, {{"train.loss", 0.9}, {"val.loss", std::nan("")}}, 1.5}, {2, {{"train.loss", 0.7}}, 1.25}};
  state.parameters = {{"dense1.kernel", {3, 2}, {1, -2, 3.5f, 4, 5, -0.0f}}, {"dense1.bias", {2}, {0.5f, 1e-30f}}};
  state.optimizer_slots = {{{"dense1.kernel", {3, 2}, {6, 5, 4, 3, 2, 1}}, {"dense1.bias", {2}, {7, 8}}}};
  state.states = {{"bn.moving_mean", {2}, {0.25f, -0.75f}}};
  return state;
}

}  // namespace

TEST_CASE("a trainer checkpoint round-trips through its bytes", "[runtime]") {
  const rt::TrainerState state = sampleState();
  const std::vector<uint8_t> bytes = rt::serializeCheckpoint(state);
  CHECK(std::string(bytes.begin(), bytes.begin() + 8) == "NNSPECCK");
  CHECK(bytes[8] == rt::kCheckpointVersion);  // little-endian u32
  auto parsed = rt::parseCheckpoint(bytes);
  REQUIRE(std::holds_alternative<rt::TrainerState>(parsed));
  const auto& back = std::get<rt::TrainerState>(parsed);
  CHECK(back.identity == state.identity);
  CHECK(back.completed_epochs == 2);
  CHECK(back.batches_done == 7);
  CHECK(back.step == 71);
  CHECK(back.since_best == 1);
  CHECK(sameBits(back.best, state.best));
  CHECK(back.records.size() == 2);
  CHECK(std::isnan(back.records[0].metrics.at("val.loss")));
  CHECK(back.records[1].metrics == state.records[1].metrics);
  CHECK(back.parameters[0].values == state.parameters[0].values);
  CHECK(std::signbit(back.parameters[0].values[5]));
  CHECK(back.optimizer_slots[0][1].values == state.optimizer_slots[0][1].values);
  CHECK(back.states[0].name == "bn.moving_mean");
  CHECK(rt::serializeCheckpoint(back) == bytes);
}

TEST_CASE("damaged or truncated checkpoint bytes are rejected, never read", "[runtime]") {
  const std::vector<uint8_t> bytes = rt::serializeCheckpoint(sampleState());
  for (size_t position = 0; position < bytes.size(); ++position) {
    std::vector<uint8_t> flipped = bytes;
    flipped[position] ^= 0x10;
    INFO("byte " << position);
    CHECK(std::holds_alternative<rt::CheckpointError>(rt::parseCheckpoint(flipped)));
  }
  for (size_t size : {size_t{0}, size_t{7}, size_t{31}, bytes.size() / 2, bytes.size() - 1}) {
    INFO("size " << size);
    CHECK(std::holds_alternative<rt::CheckpointError>(
        rt::parseCheckpoint(std::span<const uint8_t>(bytes.data(), size))));
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  CHECK(std::holds_alternative<rt::CheckpointError>(rt::parseCheckpoint(longer)));
  // A consistent checksum over nonsense: the counts do not fit the bytes.
  std::vector<uint8_t> nonsense(bytes.size(), 0xff);
  std::copy(bytes.begin(), bytes.begin() + 24, nonsense.begin());
  const uint64_t checksum = rt::fnv1a(std::span<const uint8_t>(nonsense).subspan(32));
  for (int index = 0; index < 8; ++index) nonsense[24 + index] = static_cast<uint8_t>(checksum >> (8 * index));
  CHECK(std::holds_alternative<rt::CheckpointError>(rt::parseCheckpoint(nonsense)));
}

TEST_CASE("an MLP with Adam and dropout resumed from a checkpoint ends bit for bit as an uninterrupted run",
          "[runtime]") {
  TrialSetup setup(kMlpSpec);
  std::vector<Saved> saved;
  const rt::TrialResult reference = runKeeping(setup, saved);
  REQUIRE(reference.end == rt::TrialEnd::kFinished);
  REQUIRE(saved.size() == reference.epochs.size());
  for (const Saved& checkpoint : saved) {
    INFO("resumed after epoch " << checkpoint.epoch);
    std::string rejected;
    const rt::TrialResult resumed = resumeFrom(setup, checkpoint.bytes, &rejected);
    CHECK(rejected.empty());
    CHECK(resumed.resumed_epoch == checkpoint.epoch);
    checkIdentical(resumed, reference);
  }
}

TEST_CASE("a trial checkpointed between batches resumes bit for bit", "[runtime]") {
  TrialSetup setup(kMlpSpec);
  setup.settings.checkpoint_seconds = 1e-9;  // after every batch
  std::vector<Saved> saved;
  const rt::TrialResult reference = runKeeping(setup, saved);
  REQUIRE(saved.size() > 3 * reference.epochs.size());
  setup.settings.checkpoint_seconds = 0;
  // Inside the first epoch, and inside a later one (a partial epoch after full ones).
  for (size_t pick : {size_t{3}, saved.size() / 2 + 1}) {
    INFO("checkpoint " << pick << " after epoch " << saved[pick].epoch);
    const auto parsed = rt::parseCheckpoint(saved[pick].bytes);
    REQUIRE(std::holds_alternative<rt::TrainerState>(parsed));
    CHECK(std::get<rt::TrainerState>(parsed).batches_done > 0);
    checkIdentical(resumeFrom(setup, saved[pick].bytes), reference);
  }
}

TEST_CASE("a CNN with batch normalization resumed from a checkpoint ends bit for bit as an uninterrupted run",
          "[runtime]") {
  TrialSetup setup(kCnnSpec);
  REQUIRE_FALSE(setup.model.moving_stats.empty());
  std::vector<Saved> saved;
  const rt::TrialResult reference = runKeeping(setup, saved);
  REQUIRE(saved.size() == 3);
  checkIdentical(resumeFrom(setup, saved[0].bytes), reference);
  checkIdentical(resumeFrom(setup, saved[1].bytes), reference);
}

TEST_CASE("a checkpoint of another model or other settings is refused and the trial starts from scratch",
          "[runtime]") {
  TrialSetup mlp(kMlpSpec);
  TrialSetup cnn(kCnnSpec);
  std::vector<Saved> mlp_saved;
  std::vector<Saved> cnn_saved;
  const rt::TrialResult reference = runKeeping(mlp, mlp_saved);
  runKeeping(cnn, cnn_saved);
  std::string rejected;
  // Other parameter shapes: first the identity differs; with it made equal, the shapes.
  auto other = std::get<rt::TrainerState>(rt::parseCheckpoint(cnn_saved[0].bytes));
  other.identity = std::get<rt::TrainerState>(rt::parseCheckpoint(mlp_saved[0].bytes)).identity;
  for (const auto& bytes : {cnn_saved[0].bytes, rt::serializeCheckpoint(other)}) {
    rejected.clear();
    const rt::TrialResult fresh = resumeFrom(mlp, bytes, &rejected);
    CHECK_FALSE(rejected.empty());
    CHECK(fresh.resumed_epoch == 0);
    CHECK(fresh.resume_problem == rejected);
    checkIdentical(fresh, reference);
  }
  CHECK_THAT(rejected, Catch::Contains("the model has"));
  // Another seed.
  mlp.settings.seed += 1;
  resumeFrom(mlp, mlp_saved[0].bytes, &rejected);
  CHECK_THAT(rejected, Catch::Contains("seed"));
  mlp.settings.seed -= 1;
  // Damaged bytes.
  std::vector<uint8_t> damaged = mlp_saved[1].bytes;
  damaged[damaged.size() / 2] ^= 1;
  rejected.clear();
  checkIdentical(resumeFrom(mlp, damaged, &rejected), reference);
  CHECK_THAT(rejected, Catch::Contains("checksum"));
}

namespace {

// A trial of ten epochs (a little under half a second each here) that SIGKILL can catch
// in the middle.
constexpr const char* kKillSpec = R"(
experiment ckpt_kill
seed 13
data fmnist = fashion_mnist() | scale(1/255)
split train = fmnist.train.shuffle().take(5000), val = train.holdout(1000), test = fmnist.test.shuffle().take(1000)
model mlp {
  input [28, 28]
  flatten
  dense(64, relu)
  dropout(0.2)
  dense(10)
}
train {
  model     mlp
  loss      cross_entropy
  optimizer adam(lr: 1e-3)
  schedule  cosine(min_lr: 1e-4)
  batch     64
  epochs    10 stop when no_improvement(val.loss, tol: 1e-3, patience: 3)
}
)";

driver::Outcome runInProcess(const std::string& spec, const std::string& store, std::string& printed) {
  driver::RunRequest request;
  request.check.path = spec;
  request.check.data_paths = driver::defaultDataPaths();
  request.store_path = store;
  request.jobs = 1;
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  auto outcome = driver::runFile(request, out);
  std::fclose(out);
  printed = std::string(buffer, size);
  std::free(buffer);
  return outcome;
}

// The one trial of the store's one study, and its epochs.
struct StoredTrial {
  rt::TrialRow row;
  std::vector<rt::EpochRow> epochs;
  std::optional<rt::Checkpoint> checkpoint;
};

std::optional<StoredTrial> storedTrial(const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  auto store = rt::Store::open(path);
  if (!store.ok()) return std::nullopt;
  auto studies = store.value().listStudies();
  if (!studies.ok() || studies.value().empty()) return std::nullopt;
  auto trials = store.value().listTrials(studies.value()[0].id);
  if (!trials.ok() || trials.value().empty()) return std::nullopt;
  StoredTrial trial{trials.value()[0], {}, {}};
  auto epochs = store.value().listEpochs(rt::TrialHandle{trial.row.id});
  auto checkpoint = store.value().readCheckpoint(rt::TrialHandle{trial.row.id});
  if (!epochs.ok() || !checkpoint.ok()) return std::nullopt;
  trial.epochs = epochs.value();
  trial.checkpoint = checkpoint.value();
  return trial;
}

// Runs `nnspec run` in a child and kills it with SIGKILL once the store shows `epochs`
// epochs of its running trial. Returns whether it was killed mid-trial.
bool runAndKillAfter(const std::string& spec, const std::string& store_path, size_t epochs) {
  const std::string binary = std::string(NNSPEC_BINARY_DIR) + "/nnspec";
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);
    execl(binary.c_str(), binary.c_str(), "run", spec.c_str(), "--store", store_path.c_str(), "--quiet", "--jobs",
          "1", "--checkpoint-every", "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  bool killed = false;
  for (int wait = 0; wait < 6000 && !killed; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto trial = storedTrial(store_path);
    if (trial && trial->row.status == rt::TrialStatus::kRunning && trial->epochs.size() >= epochs) {
      kill(child, SIGKILL);
      killed = true;
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  return killed && WIFSIGNALED(status);
}

}  // namespace

TEST_CASE("a run killed with SIGKILL in the middle of a trial continues it from its checkpoint", "[e2e]") {
  const fs::path dir = fs::temp_directory_path() / ("nnspec_ckpt_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string spec = (dir / "kill.nnspec").string();
  std::ofstream(spec) << kKillSpec;
  const std::string clean = (dir / "clean.sqlite").string();
  const std::string killed = (dir / "killed.sqlite").string();
  std::string printed;
  REQUIRE(runInProcess(spec, clean, printed).exit_code == 0);
  const auto reference = storedTrial(clean);
  REQUIRE(reference);
  REQUIRE(reference->epochs.size() >= 4);
  CHECK_FALSE(reference->checkpoint);  // dropped when the trial ended

  REQUIRE(runAndKillAfter(spec, killed, 2));
  const auto at_kill = storedTrial(killed);
  REQUIRE(at_kill);
  REQUIRE(at_kill->row.status == rt::TrialStatus::kRunning);
  REQUIRE(at_kill->checkpoint);
  // The epochs and the checkpoint are written together: they agree after any kill.
  CHECK(static_cast<size_t>(at_kill->checkpoint->epoch) == at_kill->epochs.size());

  const auto outcome = runInProcess(spec, killed, printed);
  INFO(outcome.err << printed);
  REQUIRE(outcome.exit_code == 0);
  CHECK_THAT(printed, Catch::Contains(fmt::format("(rerun: continuing from its checkpoint after epoch {})",
                                                  at_kill->checkpoint->epoch)));
  const auto resumed = storedTrial(killed);
  REQUIRE(resumed);
  CHECK(resumed->row.status == rt::TrialStatus::kFinished);
  CHECK(resumed->row.attempts == 2);
  CHECK(resumed->row.final_metrics == reference->row.final_metrics);
  CHECK_FALSE(resumed->checkpoint);
  REQUIRE(resumed->epochs.size() == reference->epochs.size());
  for (size_t index = 0; index < reference->epochs.size(); ++index) {
    INFO("epoch " << index + 1);
    CHECK(resumed->epochs[index].metrics == reference->epochs[index].metrics);
  }
  fs::remove_all(dir);
}

// Per-epoch work beyond training only where it is used (TrialSettings::val_each_epoch):
// train.* comes from the training pass, val is evaluated after the last epoch only, and
// nothing the training does changes.
TEST_CASE("val evaluated only after the last epoch changes no number of the training", "[runtime]") {
  TrialSetup every(kMlpSpec);
  every.settings.stop.reset();  // a stop rule on val.loss would evaluate val every epoch
  TrialSetup last(kMlpSpec);
  last.settings.stop.reset();
  last.settings.val_each_epoch = false;
  const rt::TrialResult reference = every.run();
  const rt::TrialResult lean = last.run();
  REQUIRE(reference.end == rt::TrialEnd::kFinished);
  REQUIRE(lean.epochs.size() == reference.epochs.size());
  for (size_t index = 0; index < lean.epochs.size(); ++index) {
    INFO("epoch " << index + 1);
    const auto& metrics = lean.epochs[index].metrics;
    const bool final_epoch = index + 1 == lean.epochs.size();
    CHECK(metrics.count("val.loss") == (final_epoch ? 1u : 0u));
    CHECK(reference.epochs[index].metrics.count("val.loss") == 1);
    for (const auto& [name, value] : metrics) {
      INFO(name);
      CHECK(sameBits(value, reference.epochs[index].metrics.at(name)));
    }
    // The training pass's accuracy, and its complement.
    const double accuracy = metrics.at("train.accuracy");
    CHECK(accuracy > 0.1);
    CHECK(accuracy <= 1.0);
    CHECK(metrics.at("train.error") == Approx(1.0 - accuracy));
  }
  for (const auto& [name, value] : reference.final_metrics) {
    INFO(name);
    CHECK(sameBits(lean.final_metrics.at(name), value));
  }
  for (size_t index = 0; index < reference.parameters.size(); ++index)
    CHECK(lean.parameters[index].values == reference.parameters[index].values);
}

TEST_CASE("a stop rule on val.loss evaluates val every epoch even when curves do not ask", "[runtime]") {
  TrialSetup setup(kMlpSpec);
  setup.settings.val_each_epoch = false;
  const rt::TrialResult result = setup.run();
  for (const auto& epoch : result.epochs) CHECK(epoch.metrics.count("val.loss") == 1);
}

TEST_CASE("train.accuracy is the training pass's: with no update it equals the evaluation of the start", "[runtime]") {
  // No dropout, and a learning rate so small that no weight changes: the training pass
  // then classifies every sample with the initial weights, as an evaluation does.
  std::string text = kMlpSpec;
  text.replace(text.find("  dropout(0.3)\n"), std::string("  dropout(0.3)\n").size(), "");
  text.replace(text.find("adam(lr: 3e-3)"), std::string("adam(lr: 3e-3)").size(), "sgd(lr: 1e-30)");
  TrialSetup setup(text);
  setup.settings.stop.reset();
  setup.settings.epochs = 1;
  const rt::TrialResult result = setup.run();
  REQUIRE(result.end == rt::TrialEnd::kFinished);
  rt::StepRunner runner(setup.model.full);
  rt::initializeParameters(runner, setup.model.inits, setup.settings.seed);
  // (The biases start at 0 and move by ~1e-31; the weights do not move at all.)
  for (size_t index = 0; index < result.parameters.size(); ++index) {
    for (size_t element = 0; element < runner.parameter(index).size(); ++element)
      REQUIRE(std::fabs(result.parameters[index].values[element] - runner.parameter(index)[element]) < 1e-20f);
  }
  const auto initial = rt::evaluateModel(setup.model, runner, setup.fit, "train");
  CHECK(result.epochs.at(0).metrics.at("train.accuracy") == Approx(initial.at("train.accuracy")).epsilon(1e-12));
}

// Two threads for one trial (TrialSettings::kernel_threads, the run's share of the
// CPUs): the GEMMs split by output, so every number is the one thread's.
TEST_CASE("a trial on 2 or 3 kernel threads ends bit for bit as on one: an MLP and a CNN", "[runtime]") {
  // The MLP with a hidden layer of 128 (its first GEMM, 50x128x784, is above
  // kMinGemmSplitMultiplyAdds) and the CNN with a second convolution of 16 filters, whose
  // GEMMs are large enough to split.
  std::string mlp = kMlpSpec;
  const std::string hidden = "dense(32, relu)";
  mlp.replace(mlp.find(hidden), hidden.size(), "dense(128, relu)");
  std::string cnn = kCnnSpec;
  const std::string pool = "  maxpool(2)\n";
  cnn.insert(cnn.find(pool) + pool.size(), "  conv2d(16, 3, activation: relu)\n");
  for (const std::string& spec : {mlp, cnn}) {
    TrialSetup setup(spec);
    const rt::TrialResult one = setup.run();
    for (const int threads : {2, 3}) {
      INFO("threads " << threads);
      setup.settings.kernel_threads = [threads] { return threads; };
      const int64_t rounds_before = rt::teamRounds();
      checkIdentical(setup.run(), one);
      // Some GEMMs did split (the packed levels split; NNSPEC_CPU=generic runs on one thread).
      if (rt::activeKernelTable().level >= kNnspecCpuAvx2) CHECK(rt::teamRounds() > rounds_before);
    }
  }
}
