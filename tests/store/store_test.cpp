// The result store: what goes in comes back out after reopening, resume semantics,
// misuse refused as errors, and files that are not stores refused without touching them.
#include "runtime/store/store.h"
#include "runtime/store/sqlite_db.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "tests/store/store_require.h"
#include "tests/store/temp_dir.h"

namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::WithinRel;
using nnspec::rt::EpochRow;
using nnspec::rt::Metrics;
using nnspec::rt::Param;
using nnspec::rt::Store;
using nnspec::rt::StoreError;
using nnspec::rt::StoreResult;
using nnspec::rt::TrialHandle;
using nnspec::rt::TrialKey;
using nnspec::rt::TrialRow;
using nnspec::rt::TrialStatus;
using nnspec::test::TempDir;

using nnspec::test::require;
using nnspec::test::requireError;

void checkMetrics(const Metrics& actual, const Metrics& expected) {
  REQUIRE(actual.size() == expected.size());
  for (const auto& [name, value] : expected) {
    INFO("metric " << name);
    REQUIRE(actual.count(name) == 1);
    if (std::isnan(value)) {
      CHECK(std::isnan(actual.at(name)));
    } else if (std::isinf(value)) {
      CHECK(actual.at(name) == value);
    } else {
      CHECK_THAT(actual.at(name), WithinRel(value, 1e-15));
    }
  }
}

std::string readBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

// Overwrites a 4-byte big-endian field of the SQLite header (60: user_version,
// 68: application_id) of a closed database.
void patchHeaderField(const std::string& path, std::streamoff offset, uint32_t value) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  REQUIRE(file);
  file.seekp(offset);
  char bytes[4] = {static_cast<char>(value >> 24), static_cast<char>(value >> 16), static_cast<char>(value >> 8),
                   static_cast<char>(value)};
  file.write(bytes, 4);
  REQUIRE(file);
}

const Metrics kEpochA1 = {{"loss", 0.9}, {"val_accuracy", 0.5}};
const Metrics kEpochA2 = {{"loss", 0.4}, {"val_accuracy", 0.75}};
const Metrics kFinalA = {{"val_accuracy", 0.8125}, {"test_accuracy", 0.8}};
const Metrics kEpochB3 = {{"loss", std::numeric_limits<double>::quiet_NaN()}};
const Metrics kEpochC1 = {{"grad_norm", std::numeric_limits<double>::infinity()}, {"loss", -0.0}};
const TrialKey kKeyA{"lr", "lr=0.1", 0, 0};
const TrialKey kKeyB{"lr", "lr=1", 1, 2};
const TrialKey kKeyC{"width", "width=8", 0, 0};
const std::vector<Param> kParamsA = {{"lr", "0.1"}, {"activation", "relu"}};
const std::vector<Param> kParamsB = {{"lr", "1"}};
const std::vector<Param> kParamsC = {{"width", "8"}};
constexpr uint64_t kBigSeed = std::numeric_limits<uint64_t>::max() - 5;

// A study with a finished, a failed and a pruned trial; returns the study id.
int64_t writeThreeTrials(Store& store) {
  auto study = require(store.openStudy("mnist_mlp", "hash-1"));
  auto a = require(store.beginTrial(study.id, kKeyA, kParamsA, 42));
  require(store.recordEpoch(a.handle, 1, kEpochA1, 1.25));
  require(store.recordEpoch(a.handle, 2, kEpochA2, 1.5));
  require(store.finishTrial(a.handle, kFinalA, 2.75));

  auto b = require(store.beginTrial(study.id, kKeyB, kParamsB, kBigSeed));
  require(store.recordEpoch(b.handle, 1, {{"loss", 2.0}}, 0.5));
  require(store.recordEpoch(b.handle, 2, {{"loss", 9.0}}, 0.5));
  require(store.recordEpoch(b.handle, 3, kEpochB3, 0.5));
  require(store.failTrial(b.handle, 3, "loss became nan at epoch 3", 1.5));

  auto c = require(store.beginTrial(study.id, kKeyC, kParamsC, 7));
  require(store.recordEpoch(c.handle, 1, kEpochC1, 0.25));
  require(store.pruneTrial(c.handle, 1, 0.25));
  return study.id;
}

}  // namespace

TEST_CASE("trials, params, epochs and final metrics come back after reopening", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.sqlite");
  int64_t study_id = 0;
  {
    Store store = require(Store::open(path));
    study_id = writeThreeTrials(store);
  }
  Store store = require(Store::open(path));
  CHECK(store.path() == path);

  auto studies = require(store.listStudies());
  REQUIRE(studies.size() == 1);
  CHECK(studies[0].id == study_id);
  CHECK(studies[0].name == "mnist_mlp");
  CHECK(studies[0].spec_hash == "hash-1");
  CHECK_FALSE(studies[0].created_at.empty());

  auto trials = require(store.listTrials(study_id));
  REQUIRE(trials.size() == 3);
  const TrialRow& a = trials[0];
  CHECK(a.study_id == study_id);
  CHECK(a.key == kKeyA);
  CHECK(a.params == kParamsA);
  CHECK(a.seed == 42);
  CHECK(a.status == TrialStatus::kFinished);
  CHECK_FALSE(a.end_epoch.has_value());
  CHECK(a.reason.empty());
  CHECK(a.attempts == 1);
  checkMetrics(a.final_metrics, kFinalA);
  REQUIRE(a.seconds.has_value());
  CHECK_THAT(*a.seconds, WithinRel(2.75, 1e-15));
  CHECK_FALSE(a.started_at.empty());
  CHECK_FALSE(a.ended_at.empty());

  const TrialRow& b = trials[1];
  CHECK(b.key == kKeyB);
  CHECK(b.params == kParamsB);
  CHECK(b.seed == kBigSeed);
  CHECK(b.status == TrialStatus::kFailed);
  CHECK(b.end_epoch == 3);
  CHECK(b.reason == "loss became nan at epoch 3");
  CHECK(b.final_metrics.empty());
  REQUIRE(b.seconds.has_value());
  CHECK_THAT(*b.seconds, WithinRel(1.5, 1e-15));

  const TrialRow& c = trials[2];
  CHECK(c.key == kKeyC);
  CHECK(c.status == TrialStatus::kPruned);
  CHECK(c.end_epoch == 1);
  CHECK(c.reason.empty());

  auto epochs_a = require(store.listEpochs(TrialHandle{a.id}));
  REQUIRE(epochs_a.size() == 2);
  CHECK(epochs_a[0].epoch == 1);
  CHECK_THAT(epochs_a[0].seconds, WithinRel(1.25, 1e-15));
  checkMetrics(epochs_a[0].metrics, kEpochA1);
  CHECK(epochs_a[1].epoch == 2);
  checkMetrics(epochs_a[1].metrics, kEpochA2);

  auto epochs_b = require(store.listEpochs(TrialHandle{b.id}));
  REQUIRE(epochs_b.size() == 3);
  checkMetrics(epochs_b[2].metrics, kEpochB3);  // NaN survives SQLite
  auto epochs_c = require(store.listEpochs(TrialHandle{c.id}));
  REQUIRE(epochs_c.size() == 1);
  checkMetrics(epochs_c[0].metrics, kEpochC1);

  auto one = require(store.readTrial(TrialHandle{b.id}));
  CHECK(one.key == kKeyB);
  CHECK(one.reason == b.reason);

  auto counts = require(store.countTrials(study_id));
  CHECK(counts.finished == 1);
  CHECK(counts.failed == 1);
  CHECK(counts.pruned == 1);
  CHECK(counts.running == 0);
  CHECK(counts.total() == 3);
}

TEST_CASE("finished, failed and pruned trials are reported ended on rerun and left as they were", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.sqlite");
  {
    Store store = require(Store::open(path));
    writeThreeTrials(store);
  }
  Store store = require(Store::open(path));
  auto study = require(store.openStudy("mnist_mlp", "hash-1"));
  CHECK(study.resumed);
  auto before = require(store.listTrials(study.id));

  std::vector<Param> other_params = {{"lr", "0.5"}};
  auto a = require(store.beginTrial(study.id, kKeyA, other_params, 1));
  CHECK(a.status == TrialStatus::kFinished);
  CHECK_FALSE(a.shouldRun());
  CHECK_FALSE(a.interrupted);
  auto b = require(store.beginTrial(study.id, kKeyB, other_params, 1));
  CHECK(b.status == TrialStatus::kFailed);
  CHECK_FALSE(b.shouldRun());
  auto c = require(store.beginTrial(study.id, kKeyC, other_params, 1));
  CHECK(c.status == TrialStatus::kPruned);
  CHECK(c.handle.id == before[2].id);

  auto after = require(store.listTrials(study.id));
  REQUIRE(after.size() == 3);
  for (size_t index = 0; index < 3; ++index) {
    CHECK(after[index].params == before[index].params);
    CHECK(after[index].seed == before[index].seed);
    CHECK(after[index].status == before[index].status);
    CHECK(after[index].attempts == 1);
  }
  CHECK(require(store.listEpochs(a.handle)).size() == 2);
  CHECK(require(store.listEpochs(b.handle)).size() == 3);
  auto refused = requireError(store.recordEpoch(a.handle, 3, kEpochA1, 1.0));
  CHECK(refused.message == "recording epoch 3 of trial " + std::to_string(a.handle.id) + ": trial " +
                               std::to_string(a.handle.id) + " is finished, not running");
}

TEST_CASE("a trial left running by an earlier process is reset and its records cleared", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.sqlite");
  TrialHandle interrupted;
  int64_t study_id = 0;
  {
    Store store = require(Store::open(path));
    study_id = require(store.openStudy("s", "h")).id;
    interrupted = require(store.beginTrial(study_id, kKeyA, kParamsA, 42)).handle;
    require(store.recordEpoch(interrupted, 1, kEpochA1, 1.0));
    require(store.recordEpoch(interrupted, 2, kEpochA2, 1.0));
  }  // closed without ending the trial
  Store store = require(Store::open(path));
  auto left = require(store.readTrial(interrupted));
  CHECK(left.status == TrialStatus::kRunning);
  CHECK(require(store.listEpochs(interrupted)).size() == 2);
  CHECK(require(store.countTrials(study_id)).running == 1);

  std::vector<Param> new_params = {{"lr", "0.1"}, {"activation", "tanh"}, {"width", "16"}};
  auto start = require(store.beginTrial(study_id, kKeyA, new_params, 43));
  CHECK(start.shouldRun());
  CHECK(start.interrupted);
  CHECK(start.handle.id == interrupted.id);
  CHECK(require(store.listEpochs(interrupted)).empty());
  auto reset = require(store.readTrial(interrupted));
  CHECK(reset.status == TrialStatus::kRunning);
  CHECK(reset.attempts == 2);
  CHECK(reset.seed == 43);
  CHECK(reset.params == new_params);

  require(store.recordEpoch(interrupted, 1, kEpochA2, 1.0));  // epoch 1 again: the old one is gone
  require(store.finishTrial(interrupted, kFinalA, 1.0));
  auto epochs = require(store.listEpochs(interrupted));
  REQUIRE(epochs.size() == 1);
  checkMetrics(epochs[0].metrics, kEpochA2);
  CHECK(require(store.countTrials(study_id)).finished == 1);
}

TEST_CASE("the same spec hash resumes a study, another hash starts a new one beside it", "[runtime]") {
  TempDir dir;
  Store store = require(Store::open(dir.path("results.sqlite")));
  auto first = require(store.openStudy("mnist", "aaa"));
  CHECK_FALSE(first.resumed);
  CHECK(first.other_versions == 0);
  auto again = require(store.openStudy("mnist", "aaa"));
  CHECK(again.resumed);
  CHECK(again.id == first.id);
  auto edited = require(store.openStudy("mnist", "bbb"));
  CHECK_FALSE(edited.resumed);
  CHECK(edited.id != first.id);
  CHECK(edited.other_versions == 1);
  auto other = require(store.openStudy("cifar", "aaa"));
  CHECK(other.other_versions == 0);

  // Trials of one study are not seen from another.
  require(store.beginTrial(first.id, kKeyA, kParamsA, 1));
  auto in_edited = require(store.beginTrial(edited.id, kKeyA, kParamsA, 1));
  CHECK_FALSE(in_edited.interrupted);
  CHECK(require(store.listTrials(first.id)).size() == 1);
  CHECK(require(store.listTrials(edited.id)).size() == 1);
  CHECK(require(store.listStudies()).size() == 3);
}

TEST_CASE("sweep, fold and replicate each tell trials of the same point apart", "[runtime]") {
  TempDir dir;
  Store store = require(Store::open(dir.path("results.sqlite")));
  int64_t study_id = require(store.openStudy("s", "h")).id;
  std::vector<TrialKey> keys = {
      {"a", "p", 0, 0}, {"b", "p", 0, 0}, {"a", "p", 1, 0}, {"a", "p", 0, 1}, {"a", "q", 0, 0}};
  for (const TrialKey& key : keys) {
    auto start = require(store.beginTrial(study_id, key, {}, 1));
    CHECK(start.shouldRun());
    CHECK_FALSE(start.interrupted);
    require(store.finishTrial(start.handle, {{"objective", 1.0}}, 0.1));
  }
  auto trials = require(store.listTrials(study_id));
  REQUIRE(trials.size() == keys.size());
  for (size_t index = 0; index < keys.size(); ++index) CHECK(trials[index].key == keys[index]);
}

TEST_CASE("writes that do not fit the trial's state are refused", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.sqlite");
  Store store = require(Store::open(path));
  int64_t study_id = require(store.openStudy("s", "h")).id;
  auto trial = require(store.beginTrial(study_id, kKeyA, kParamsA, 1)).handle;
  require(store.recordEpoch(trial, 1, kEpochA1, 1.0));

  auto twice = requireError(store.recordEpoch(trial, 1, kEpochA2, 1.0));
  CHECK(twice.path == path);
  CHECK_THAT(twice.message, Contains("recording epoch 1 of trial") && Contains("the epoch is already recorded"));
  checkMetrics(require(store.listEpochs(trial))[0].metrics, kEpochA1);  // the first record stands

  auto begun_again = requireError(store.beginTrial(study_id, kKeyA, kParamsA, 1));
  CHECK_THAT(begun_again.message, Contains("is already running in this process"));
  CHECK(require(store.listEpochs(trial)).size() == 1);  // not reset

  auto duplicate = requireError(store.beginTrial(study_id, kKeyB, {{"lr", "1"}, {"lr", "2"}}, 1));
  CHECK_THAT(duplicate.message, Contains("parameter 'lr' is given twice"));
  auto no_study = requireError(store.beginTrial(study_id + 100, kKeyB, kParamsB, 1));
  CHECK_THAT(no_study.message, Contains("no study with id"));
  CHECK_FALSE(no_study.hint.empty());
  auto no_trial = requireError(store.finishTrial(TrialHandle{trial.id + 100}, kFinalA, 1.0));
  CHECK_THAT(no_trial.message, Contains("no trial with id"));
  CHECK_FALSE(store.listEpochs(TrialHandle{trial.id + 100}).ok());

  require(store.failTrial(trial, 1, "loss became nan at epoch 1", 1.0));
  CHECK_THAT(requireError(store.finishTrial(trial, kFinalA, 1.0)).message, Contains("is failed, not running"));
  CHECK_THAT(requireError(store.pruneTrial(trial, 1, 1.0)).message, Contains("is failed, not running"));
  CHECK(require(store.readTrial(trial)).reason == "loss became nan at epoch 1");
  CHECK(require(store.countTrials(study_id)).total() == 1);  // refused writes left nothing behind
}

TEST_CASE("trials written from several threads through one store are all kept", "[runtime]") {
  TempDir dir;
  Store store = require(Store::open(dir.path("results.sqlite")));
  int64_t study_id = require(store.openStudy("s", "h")).id;
  constexpr int kThreads = 4;
  constexpr int kTrialsPerThread = 10;
  constexpr int kEpochs = 3;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
    threads.emplace_back([&, thread_idx] {
      for (int trial_idx = 0; trial_idx < kTrialsPerThread; ++trial_idx) {
        TrialKey key{"t" + std::to_string(thread_idx), std::to_string(trial_idx), 0, 0};
        auto start = store.beginTrial(study_id, key, {{"i", std::to_string(trial_idx)}}, trial_idx);
        if (!start.ok()) {
          ++failures[thread_idx];
          continue;
        }
        for (int epoch = 1; epoch <= kEpochs; ++epoch) {
          if (!store.recordEpoch(start.value().handle, epoch, {{"loss", 1.0 / epoch}}, 0.01).ok()) {
            ++failures[thread_idx];
          }
        }
        if (!store.finishTrial(start.value().handle, {{"objective", trial_idx * 1.0}}, 0.03).ok()) {
          ++failures[thread_idx];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(failures == std::vector<int>(kThreads, 0));
  CHECK(require(store.countTrials(study_id)).finished == kThreads * kTrialsPerThread);
  for (const TrialRow& trial : require(store.listTrials(study_id))) {
    CHECK(require(store.listEpochs(TrialHandle{trial.id})).size() == kEpochs);
  }
}

TEST_CASE("a path in a missing folder is refused with a hint", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("no/such/folder/results.sqlite");
  auto error = requireError(Store::open(path));
  CHECK(error.path == path);
  CHECK_THAT(error.message, Contains("cannot open the store") && Contains("does not exist"));
  CHECK_FALSE(error.hint.empty());
  CHECK_FALSE(std::filesystem::exists(dir.path("no")));

  std::ofstream(dir.path("plain.txt")) << "x";
  auto under_file = requireError(Store::open(dir.path("plain.txt/results.sqlite")));
  CHECK_THAT(under_file.message, Contains("is not a folder"));
}

TEST_CASE("a path in a folder that cannot be written is refused with a hint", "[runtime]") {
  TempDir dir;
  std::filesystem::path folder = dir.path("read_only");
  std::filesystem::create_directory(folder);
  std::filesystem::permissions(folder, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  std::string path = (folder / "results.sqlite").string();
  if (access(folder.c_str(), W_OK) == 0) path = "/proc/nnspec_store_test.sqlite";  // root ignores modes
  auto error = requireError(Store::open(path));
  CHECK(error.path == path);
  CHECK_THAT(error.message, Contains("cannot open the store"));
  CHECK_THAT(error.hint, Contains("writable"));
  std::filesystem::permissions(folder, std::filesystem::perms::owner_all);
}

TEST_CASE("a store file that cannot be written is refused when opened, not at the first write", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.sqlite");
  { Store store = require(Store::open(path)); }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read);
  if (access(path.c_str(), W_OK) == 0) path = "/sys/kernel/notes";  // root ignores modes; read-only for root too
  if (!std::filesystem::exists(path)) return;
  auto error = requireError(Store::open(path));
  CHECK(error.path == path);
  CHECK(error.message == "cannot open the store: the file is read-only");
  CHECK_THAT(error.hint, Contains("writable"));
}

TEST_CASE("a text file is refused as not a database and left as it was", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.csv");
  std::string text = "trial,lr,accuracy\n1,0.1,0.91\n2,0.01,0.88\n";
  std::ofstream(path, std::ios::binary) << text;
  auto error = requireError(Store::open(path));
  CHECK(error.path == path);
  CHECK(error.message == "cannot open the store: file is not a database");
  CHECK_THAT(error.hint, Contains("--store"));
  CHECK(readBytes(path) == text);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST_CASE("a store from a newer nnspec or another program's database is refused untouched", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.sqlite");
  {
    Store store = require(Store::open(path));
    writeThreeTrials(store);
  }
  SECTION("newer schema version") {
    patchHeaderField(path, 60, 6);
    std::string bytes = readBytes(path);
    auto error = requireError(Store::open(path));
    CHECK(error.path == path);
    CHECK_THAT(error.message, Contains("schema version 6, newer than the 5"));
    CHECK_THAT(error.hint, Contains("upgrade nnspec"));
    CHECK(readBytes(path) == bytes);
  }
  SECTION("another program's database") {
    patchHeaderField(path, 68, 0x12345678);
    std::string bytes = readBytes(path);
    auto error = requireError(Store::open(path));
    CHECK_THAT(error.message, Contains("not an nnspec result store"));
    CHECK(readBytes(path) == bytes);
  }
}

TEST_CASE("an empty file becomes a new store", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.sqlite");
  std::ofstream(path, std::ios::binary).flush();
  Store store = require(Store::open(path));
  CHECK_FALSE(require(store.openStudy("s", "h")).resumed);
}

TEST_CASE("the default store sits beside the spec, named after it", "[runtime]") {
  CHECK(nnspec::rt::defaultStorePath("specs/mnist.nnspec") == "specs/mnist.store.sqlite");
  CHECK(nnspec::rt::defaultStorePath("mnist") == "mnist.store.sqlite");
  CHECK(nnspec::rt::defaultStorePath("/a/b.c/hw1.nnspec") == "/a/b.c/hw1.store.sqlite");
}

TEST_CASE("trial outputs come back after reopening and are cleared when a trial is rerun", "[runtime]") {
  TempDir dir;
  const std::string path = dir.path("outputs.sqlite");
  const TrialKey key{"sweep", "lr=0.1", 1, 0};
  const nnspec::rt::TrialOutput output{"test.predictions", 3, 2, {1.5f, -2.0f, 0.0f, 3.25f, 1e-7f, -0.5f}};
  {
    Store store = require(Store::open(path));
    auto study = require(store.openStudy("outputs", "hash"));
    auto started = require(store.beginTrial(study.id, key, kParamsA, 5));
    REQUIRE(store.saveOutput(started.handle, output).ok());
    CHECK_FALSE(store.saveOutput(started.handle, {"bad", 2, 2, {1.0f}}).ok());
    REQUIRE(store.finishTrial(started.handle, {{"val.loss", 0.5}}, 1.0).ok());
  }
  Store store = require(Store::open(path));
  auto study = require(store.openStudy("outputs", "hash"));
  auto rows = require(store.listTrials(study.id));
  REQUIRE(rows.size() == 1);
  auto read = require(store.readOutput(TrialHandle{rows[0].id}, "test.predictions"));
  REQUIRE(read.has_value());
  CHECK(read->rows == 3);
  CHECK(read->width == 2);
  CHECK(read->values == output.values);
  CHECK_FALSE(require(store.readOutput(TrialHandle{rows[0].id}, "missing")).has_value());

  // A trial interrupted after saving an output starts clean on the rerun.
  const TrialKey other{"sweep", "lr=0.2", 0, 0};
  {
    Store first = require(Store::open(path));
    auto started = require(first.beginTrial(study.id, other, kParamsA, 6));
    REQUIRE(first.saveOutput(started.handle, output).ok());
  }  // closed while running, as a killed process would leave it
  Store second = require(Store::open(path));
  auto restarted = require(second.beginTrial(study.id, other, kParamsA, 6));
  CHECK(restarted.interrupted);
  CHECK_FALSE(require(second.readOutput(restarted.handle, "test.predictions")).has_value());
}

TEST_CASE("a trial's tensors come back compressed and exact, and a checkpoint lives only while it runs", "[runtime]") {
  TempDir dir;
  const std::string path = dir.path("tensors.sqlite");
  const TrialKey key{"sweep", "lr=0.1", 0, 0};
  std::vector<nnspec::rt::StoredTensor> tensors = {
      {"dense1.kernel", false, {3, 2}, {1.5f, -2.0f, 0.0f, 3.25f, 1e-7f, -0.5f}},
      {"batchnorm1.moving_mean", true, {2}, {0.25f, -0.125f}},
      {"scale", false, {}, {4.0f}},
  };
  nnspec::rt::TrialHandle handle;
  {
    Store store = require(Store::open(path));
    auto study = require(store.openStudy("tensors", "hash"));
    auto started = require(store.beginTrial(study.id, key, kParamsA, 5));
    handle = started.handle;
    CHECK_FALSE(store.saveTensors(handle, {{"bad", false, {2, 2}, {1.0f}}}).ok());
    REQUIRE(store.saveTensors(handle, tensors).ok());
    require(store.saveCheckpoint(handle, {3, {1, 2, 3, 250}}));
    auto checkpoint = require(store.readCheckpoint(handle));
    REQUIRE(checkpoint.has_value());
    CHECK(checkpoint->epoch == 3);
    CHECK(checkpoint->bytes == std::vector<uint8_t>{1, 2, 3, 250});
    REQUIRE(store.finishTrial(handle, {{"val.loss", 0.5}}, 1.0).ok());
    CHECK_FALSE(require(store.readCheckpoint(handle)).has_value());
    CHECK_FALSE(store.saveCheckpoint(handle, {4, {1}}).ok());  // the trial is no longer running
  }
  Store store = require(Store::open(path));
  const auto read = require(store.readTensors(handle));
  REQUIRE(read.size() == tensors.size());
  for (size_t index = 0; index < tensors.size(); ++index) {
    CHECK(read[index].name == tensors[index].name);
    CHECK(read[index].state == tensors[index].state);
    CHECK(read[index].shape == tensors[index].shape);
    CHECK(read[index].values == tensors[index].values);
  }
  require(store.dropTensors(handle));
  CHECK(require(store.readTensors(handle)).empty());
}

TEST_CASE("a timed-out trial keeps its epochs and final metrics, counts as timed out and is not rerun", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("results.sqlite");
  int64_t trial_id = 0;
  {
    Store store = require(Store::open(path));
    auto study = require(store.openStudy("mnist_mlp", "hash-1"));
    auto a = require(store.beginTrial(study.id, kKeyA, kParamsA, 42));
    require(store.recordEpoch(a.handle, 1, kEpochA1, 1.25));
    require(store.timeOutTrial(a.handle, 1, kEpochA1, 2.0));
    trial_id = a.handle.id;
  }
  Store store = require(Store::open(path));
  auto study = require(store.openStudy("mnist_mlp", "hash-1"));
  auto again = require(store.beginTrial(study.id, kKeyA, kParamsA, 42));
  CHECK(again.status == TrialStatus::kTimedOut);
  CHECK_FALSE(again.shouldRun());
  const auto row = require(store.readTrial(nnspec::rt::TrialHandle{trial_id}));
  CHECK(row.status == TrialStatus::kTimedOut);
  CHECK(row.end_epoch == 1);
  CHECK(row.final_metrics == kEpochA1);
  CHECK(require(store.listEpochs(again.handle)).size() == 1);
  const auto counts = require(store.countTrials(study.id));
  CHECK(counts.timed_out == 1);
  CHECK(counts.total() == 1);
  CHECK(nnspec::rt::statusName(TrialStatus::kTimedOut) == "timed_out");
}

TEST_CASE("a version 4 store is migrated to version 5 with its trials, and then takes timed-out trials", "[runtime]") {
  TempDir dir;
  std::string path = dir.path("v4.sqlite");
  {
    Store store = require(Store::open(path));
    writeThreeTrials(store);
  }
  {
    // Make it what an nnspec of schema version 4 wrote: the trial table without 'timed_out'.
    auto db = nnspec::rt::SqliteDb::open(path);
    REQUIRE(db.ok());
    std::string sql;
    {
      auto query = require(db.value()->prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'trial'"));
      REQUIRE(require(query.step()));
      sql = query.textAt(0);
    }
    const std::string v5 = "'queued', 'running', 'finished', 'failed', 'pruned', 'timed_out')";
    const size_t at = sql.find(v5);
    REQUIRE(at != std::string::npos);
    sql.replace(at, v5.size(), "'queued', 'running', 'finished', 'failed', 'pruned')");
    sql.replace(0, sql.find('('), "CREATE TABLE trial_v4 ");
    require(db.value()->exec("PRAGMA foreign_keys = OFF"));
    require(db.value()->exec(sql.c_str()));
    require(db.value()->exec("INSERT INTO trial_v4 SELECT * FROM trial; DROP TABLE trial; "
                             "ALTER TABLE trial_v4 RENAME TO trial; "
                             "CREATE INDEX trial_by_status ON trial (study_id, status); "
                             "CREATE INDEX trial_queue ON trial (study_id, sweep, status, position); "
                             "PRAGMA user_version = 4;"));
  }
  Store store = require(Store::open(path));
  auto study = require(store.openStudy("mnist_mlp", "hash-1"));
  const auto rows = require(store.listTrials(study.id));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].status == TrialStatus::kFinished);
  CHECK(rows[2].status == TrialStatus::kPruned);
  CHECK(require(store.listEpochs(nnspec::rt::TrialHandle{rows[0].id})).size() == 2);
  const TrialKey key{"lr", "lr=0.5", 0, 0};
  auto trial = require(store.beginTrial(study.id, key, kParamsB, 1));
  require(store.timeOutTrial(trial.handle, 0, {}, 0.1));
  CHECK(require(store.readTrial(trial.handle)).status == TrialStatus::kTimedOut);
  auto db = nnspec::rt::SqliteDb::open(path);
  REQUIRE(db.ok());
  auto version = require(db.value()->prepare("PRAGMA user_version"));
  REQUIRE(require(version.step()));
  CHECK(version.int64At(0) == 5);
  auto indexes = require(db.value()->prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('trial_by_status', 'trial_queue')"));
  REQUIRE(require(indexes.step()));
  CHECK(indexes.int64At(0) == 2);
}

// Workers started together on one host (or `nnspec run` started twice) create one new
// store file at the same time: each must open it, none may see "database is locked".
TEST_CASE("store: eight connections creating one new SQLite store at once all open it", "[store]") {
  TempDir dir;
  constexpr int kConnections = 8;
  for (int attempt = 0; attempt < 25; ++attempt) {
    const std::string path = dir.path("race" + std::to_string(attempt) + ".sqlite");
    std::vector<std::string> errors(kConnections);
    std::atomic<int> waiting{kConnections};
    std::vector<std::thread> threads;
    for (int index = 0; index < kConnections; ++index) {
      threads.emplace_back([&, index] {
        --waiting;
        while (waiting.load() > 0) std::this_thread::yield();
        auto store = Store::open(path);
        if (!store.ok()) return void(errors[index] = store.error().message);
        auto study = store.value().openStudy("exp", "hash");
        if (!study.ok()) errors[index] = study.error().message;
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (const std::string& error : errors) CHECK(error == "");
  }
}
