// Kill safety: a child process runs trials into the store and is killed with SIGKILL
// (by itself at chosen points, or by the parent at arbitrary moments). The parent then
// reopens the store and checks that every finished trial kept all its epochs and metrics,
// and that the trial in flight comes back as one to rerun: from its checkpoint, whose epoch
// always matches the epochs kept, when it wrote one.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <climits>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/store/store.h"
#include "tests/store/store_require.h"
#include "tests/store/temp_dir.h"

namespace {

using Catch::Matchers::WithinRel;
using nnspec::rt::Metrics;
using nnspec::rt::Param;
using nnspec::rt::Store;
using nnspec::rt::StoreResult;
using nnspec::rt::TrialHandle;
using nnspec::rt::TrialKey;
using nnspec::rt::TrialRow;
using nnspec::rt::TrialStatus;
using nnspec::test::TempDir;

constexpr int kEpochsPerTrial = 4;
constexpr const char* kStudyName = "kill";
constexpr const char* kSpecHash = "hash";

TrialKey keyOf(int trial_idx) { return {"sweep", "i=" + std::to_string(trial_idx), 0, 0}; }
std::vector<Param> paramsOf(int trial_idx) { return {{"i", std::to_string(trial_idx)}, {"lr", "0.01"}}; }
Metrics epochMetrics(int trial_idx, int epoch) {
  return {{"loss", 1.0 / (trial_idx + epoch + 1)}, {"accuracy", 0.5 + 0.01 * epoch + 0.001 * trial_idx}};
}
Metrics finalMetrics(int trial_idx) {
  return {{"objective", 0.25 * trial_idx + 0.125}, {"loss", 0.5 / (trial_idx + 1)}};
}

// Odd trials record each epoch together with a checkpoint taken after it (as a trainer
// does), even ones without.
bool checkpointed(int trial_idx) { return trial_idx % 2 == 1; }
constexpr size_t kCheckpointBytes = 1 << 16;  // large enough for kills to land inside its write
std::vector<uint8_t> checkpointBytes(int trial_idx, int epoch) {
  std::vector<uint8_t> bytes(kCheckpointBytes);
  for (size_t index = 0; index < bytes.size(); ++index) {
    bytes[index] = static_cast<uint8_t>((index * 2654435761u >> 13) + trial_idx * 31 + epoch);
  }
  return bytes;
}

StoreResult<void> recordEpochOf(Store& store, TrialHandle trial, int trial_idx, int epoch) {
  if (!checkpointed(trial_idx)) return store.recordEpoch(trial, epoch, epochMetrics(trial_idx, epoch), 0.001);
  return store.recordEpoch(trial, epoch, epochMetrics(trial_idx, epoch), 0.001,
                           {epoch, checkpointBytes(trial_idx, epoch)});
}

// Where the child kills itself: after `finished` trials, and then, unless
// `epochs_of_next` is nullopt, after beginning the next one and recording that many epochs.
struct KillPoint {
  int finished = INT_MAX;  // INT_MAX: run until the parent kills
  std::optional<int> epochs_of_next;
};

// Exit codes of a child whose store call failed (a killed child has no exit code).
enum ChildExit { kOpenFailed = 10, kStudyFailed, kBeginFailed, kEpochFailed, kFinishFailed };

// The child: runs trials 0, 1, 2, ... writing each finished index to `report_fd`.
// Never returns into Catch: it ends by SIGKILL or _exit.
[[noreturn]] void runChild(const std::string& path, KillPoint kill, int report_fd) {
  auto store = Store::open(path);
  if (!store.ok()) _exit(kOpenFailed);
  auto study = store.value().openStudy(kStudyName, kSpecHash);
  if (!study.ok()) _exit(kStudyFailed);
  for (int trial_idx = 0;; ++trial_idx) {
    if (trial_idx == kill.finished && !kill.epochs_of_next) raise(SIGKILL);
    auto start = store.value().beginTrial(study.value().id, keyOf(trial_idx), paramsOf(trial_idx), trial_idx);
    if (!start.ok()) _exit(kBeginFailed);
    TrialHandle trial = start.value().handle;
    for (int epoch = 1; epoch <= kEpochsPerTrial; ++epoch) {
      if (trial_idx == kill.finished && epoch - 1 == *kill.epochs_of_next) raise(SIGKILL);
      if (!recordEpochOf(store.value(), trial, trial_idx, epoch).ok()) _exit(kEpochFailed);
    }
    if (trial_idx == kill.finished) raise(SIGKILL);  // every epoch recorded, not finished
    if (!store.value().finishTrial(trial, finalMetrics(trial_idx), 0.004).ok()) _exit(kFinishFailed);
    if (write(report_fd, &trial_idx, sizeof trial_idx) != sizeof trial_idx) _exit(kFinishFailed);
  }
}

// A forked child writing the store at `path`, and the pipe it reports finished trials on.
class Child {
 public:
  Child(const std::string& path, KillPoint kill) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      close(fds[0]);
      runChild(path, kill, fds[1]);
    }
    close(fds[1]);
    report_fd_ = fds[0];
  }
  ~Child() {
    if (report_fd_ >= 0) close(report_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Blocks until the child reports its first finished trial.
  void awaitFirstFinished() {
    int trial_idx = -1;
    REQUIRE(read(report_fd_, &trial_idx, sizeof trial_idx) == sizeof trial_idx);
    reported_.insert(trial_idx);
  }
  void kill() { ::kill(pid_, SIGKILL); }

  // Waits for the child to die, checks it died by SIGKILL, and returns every trial it reported finished.
  std::set<int> awaitKilled() {
    int status = 0;
    REQUIRE(waitpid(pid_, &status, 0) == pid_);
    INFO("child exit code " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1));
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    int trial_idx = -1;
    while (read(report_fd_, &trial_idx, sizeof trial_idx) == sizeof trial_idx) reported_.insert(trial_idx);
    return reported_;
  }

 private:
  pid_t pid_ = -1;
  int report_fd_ = -1;
  std::set<int> reported_;
};

using nnspec::test::require;

void checkMetrics(const Metrics& actual, const Metrics& expected) {
  REQUIRE(actual.size() == expected.size());
  for (const auto& [name, value] : expected) {
    INFO("metric " << name);
    REQUIRE(actual.count(name) == 1);
    CHECK_THAT(actual.at(name), WithinRel(value, 1e-15));
  }
}

void checkEpochs(Store& store, const TrialRow& trial, int trial_idx, int expected_count) {
  auto epochs = require(store.listEpochs(TrialHandle{trial.id}));
  REQUIRE(static_cast<int>(epochs.size()) == expected_count);
  for (int epoch = 1; epoch <= expected_count; ++epoch) {
    CHECK(epochs[epoch - 1].epoch == epoch);
    checkMetrics(epochs[epoch - 1].metrics, epochMetrics(trial_idx, epoch));
  }
}

// What survived the kill, checked against what the child wrote.
struct Survivors {
  int finished = 0;                       // trials 0 .. finished-1 are finished
  std::optional<int> interrupted_epochs;  // epochs of trial `finished`, if it was begun
};

// Checks that the trials found are finished trials 0..F-1, whole, plus at most trial F left
// running with complete epochs; then that a rerun skips 0..F-1 and restarts F clean.
Survivors checkAfterKill(const std::string& path, const std::set<int>& reported) {
  Store store = require(Store::open(path));
  auto study = require(store.openStudy(kStudyName, kSpecHash));
  auto trials = require(store.listTrials(study.id));
  Survivors survivors;
  for (int trial_idx = 0; trial_idx < static_cast<int>(trials.size()); ++trial_idx) {
    const TrialRow& trial = trials[trial_idx];
    INFO("trial " << trial_idx);
    CHECK(trial.key == keyOf(trial_idx));
    CHECK(trial.params == paramsOf(trial_idx));
    CHECK(trial.seed == static_cast<uint64_t>(trial_idx));
    if (trial.status == TrialStatus::kRunning) {
      REQUIRE(trial_idx + 1 == static_cast<int>(trials.size()));  // only the last one may be in flight
      auto epochs = require(store.listEpochs(TrialHandle{trial.id}));
      survivors.interrupted_epochs = static_cast<int>(epochs.size());
      checkEpochs(store, trial, trial_idx, *survivors.interrupted_epochs);
      CHECK(trial.final_metrics.empty());
      // The checkpoint is written with its epoch: both or neither survive a kill.
      auto checkpoint = require(store.readCheckpoint(TrialHandle{trial.id}));
      CHECK(checkpoint.has_value() == (checkpointed(trial_idx) && *survivors.interrupted_epochs > 0));
      if (checkpoint) {
        CHECK(checkpoint->epoch == *survivors.interrupted_epochs);
        CHECK(checkpoint->bytes == checkpointBytes(trial_idx, checkpoint->epoch));
      }
      continue;
    }
    REQUIRE(trial.status == TrialStatus::kFinished);
    survivors.finished = trial_idx + 1;
    checkEpochs(store, trial, trial_idx, kEpochsPerTrial);
    checkMetrics(trial.final_metrics, finalMetrics(trial_idx));
  }
  for (int trial_idx : reported) CHECK(trial_idx < survivors.finished);  // reported finished ⇒ stored finished

  // Resume: finished trials are skipped; the interrupted one continues from its
  // checkpoint (its epochs up to it kept) or, without one, is reset; either way it can be run.
  for (int trial_idx = 0; trial_idx < survivors.finished; ++trial_idx) {
    auto start = require(store.beginTrial(study.id, keyOf(trial_idx), paramsOf(trial_idx), trial_idx));
    CHECK(start.status == TrialStatus::kFinished);
    CHECK_FALSE(start.interrupted);
  }
  int next = survivors.finished;
  auto start = require(store.beginTrial(study.id, keyOf(next), paramsOf(next), next));
  CHECK(start.shouldRun());
  CHECK(start.interrupted == survivors.interrupted_epochs.has_value());
  CHECK(start.checkpoint_problem.empty());
  const int kept = start.checkpoint ? start.checkpoint->epoch : 0;
  CHECK(kept == (checkpointed(next) ? survivors.interrupted_epochs.value_or(0) : 0));
  if (start.checkpoint) CHECK(start.checkpoint->bytes == checkpointBytes(next, kept));
  checkEpochs(store, require(store.readTrial(start.handle)), next, kept);
  for (int epoch = kept + 1; epoch <= kEpochsPerTrial; ++epoch) require(recordEpochOf(store, start.handle, next, epoch));
  require(store.finishTrial(start.handle, finalMetrics(next), 0.004));
  CHECK(require(store.countTrials(study.id)).finished == next + 1);
  return survivors;
}

}  // namespace

TEST_CASE("kill safety: a process killed at chosen points loses no finished trial", "[runtime]") {
  const std::vector<KillPoint> points = {
      {3, std::nullopt},     // right after finishing trial 2, before beginning trial 3
      {3, 0},                // trial 3 begun, no epoch yet
      {3, 2},                // trial 3 halfway
      {3, kEpochsPerTrial},  // trial 3 has every epoch but is not finished
      {0, 1},                // the very first trial halfway
  };
  for (const KillPoint& point : points) {
    DYNAMIC_SECTION("kill after " << point.finished << " finished trials and "
                                  << (point.epochs_of_next ? std::to_string(*point.epochs_of_next) : "no")
                                  << " epochs of the next") {
      TempDir dir;
      std::string path = dir.path("results.sqlite");
      Child child(path, point);
      std::set<int> reported = child.awaitKilled();
      CHECK(static_cast<int>(reported.size()) == point.finished);
      Survivors survivors = checkAfterKill(path, reported);
      CHECK(survivors.finished == point.finished);
      CHECK(survivors.interrupted_epochs == point.epochs_of_next);
    }
  }
}

TEST_CASE("kill safety: a process killed at arbitrary moments loses no finished trial", "[runtime]") {
  // The parent kills the writing child after a delay; wherever the kill lands (inside a
  // transaction, between two, during schema creation), the store must be consistent.
  // Many kills at scattered delays, so that some land inside each kind of write.
  constexpr int kKills = 30;
  constexpr int kMaxDelayUs = 12000;
  int interrupted_mid_trial = 0;
  for (int kill_idx = 0; kill_idx < kKills; ++kill_idx) {
    int delay_us = (kill_idx * 7919) % kMaxDelayUs;  // 0 first: the kill may precede the schema
    INFO("kill " << kill_idx << ", " << delay_us << " us after the first finished trial");
    TempDir dir;
    std::string path = dir.path("results.sqlite");
    Child child(path, KillPoint{});
    if (delay_us > 0) {
      child.awaitFirstFinished();
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    }
    child.kill();
    std::set<int> reported = child.awaitKilled();
    Survivors survivors = checkAfterKill(path, reported);
    if (delay_us > 0) CHECK(survivors.finished >= 1);
    if (survivors.interrupted_epochs) ++interrupted_mid_trial;
  }
  // About half the kills land inside a trial (the rest inside beginTrial or finishTrial,
  // whose transactions roll back or commit whole). Far fewer would mean the child spends
  // its time elsewhere and the test has lost its power.
  CHECK(interrupted_mid_trial >= kKills / 10);
}
