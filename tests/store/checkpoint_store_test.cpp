// Checkpoints in the store: an epoch and the checkpoint after it written together, and an
// interrupted trial's rerun that keeps its epochs up to its checkpoint (or, without a
// usable one, starts clean).
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/store/sqlite_db.h"
#include "runtime/store/store.h"
#include "tests/store/store_require.h"
#include "tests/store/temp_dir.h"

namespace {

using nnspec::rt::Checkpoint;
using nnspec::rt::Metrics;
using nnspec::rt::Param;
using nnspec::rt::Store;
using nnspec::rt::StoreResult;
using nnspec::rt::TrialHandle;
using nnspec::rt::TrialKey;
using nnspec::rt::TrialStart;
using nnspec::test::TempDir;

using nnspec::test::require;

const TrialKey kKey{"sweep", "lr=0.1", 0, 0};
const std::vector<Param> kParams = {{"lr", "0.1"}};
Metrics metricsOf(int epoch) { return {{"train.loss", 1.0 / epoch}, {"val.accuracy", 0.5 + 0.01 * epoch}}; }
std::vector<uint8_t> bytesOf(int epoch) { return std::vector<uint8_t>(100, static_cast<uint8_t>(epoch)); }

// A store whose one trial was left running after `epochs` epochs, each recorded with a
// checkpoint when `checkpoints`, then an output; returns the study id.
int64_t leaveRunning(const std::string& path, int epochs, bool checkpoints) {
  Store store = require(Store::open(path));
  const int64_t study = require(store.openStudy("s", "h")).id;
  const TrialHandle trial = require(store.beginTrial(study, kKey, kParams, 7)).handle;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    if (checkpoints) {
      require(store.recordEpoch(trial, epoch, metricsOf(epoch), 0.5, Checkpoint{epoch, bytesOf(epoch)}));
    } else {
      require(store.recordEpoch(trial, epoch, metricsOf(epoch), 0.5));
    }
  }
  require(store.saveOutput(trial, {"test.predictions", 1, 2, {0.25f, 0.75f}}));
  return study;
}

}  // namespace

TEST_CASE("a rerun of an interrupted trial keeps its epochs up to its checkpoint and hands it back", "[runtime]") {
  TempDir dir;
  const std::string path = dir.path("s.sqlite");
  const int64_t study = leaveRunning(path, 3, true);
  {
    // A later epoch recorded without a checkpoint (as an older nnspec would): cleared on rerun.
    Store store = require(Store::open(path));
    const TrialHandle trial{require(store.listTrials(study)).at(0).id};
    require(store.recordEpoch(trial, 4, metricsOf(4), 0.5));
  }
  Store store = require(Store::open(path));
  const TrialStart start = require(store.beginTrial(study, kKey, kParams, 7));
  CHECK(start.shouldRun());
  CHECK(start.interrupted);
  CHECK(start.checkpoint_problem.empty());
  REQUIRE(start.checkpoint.has_value());
  CHECK(start.checkpoint->epoch == 3);
  CHECK(start.checkpoint->bytes == bytesOf(3));
  const auto epochs = require(store.listEpochs(start.handle));
  REQUIRE(epochs.size() == 3);
  CHECK(epochs[2].metrics == metricsOf(3));
  CHECK(require(store.listOutputs(start.handle)).empty());
  CHECK(require(store.readTrial(start.handle)).attempts == 2);
  CHECK(require(store.readTrial(start.handle)).params == kParams);
  // The rerun goes on from epoch 4 and ends; the checkpoint goes with the trial's end.
  require(store.recordEpoch(start.handle, 4, metricsOf(4), 0.5, Checkpoint{4, bytesOf(4)}));
  require(store.finishTrial(start.handle, {{"val.accuracy", 0.9}}, 2.0));
  CHECK(require(store.listEpochs(start.handle)).size() == 4);
  CHECK_FALSE(require(store.readCheckpoint(start.handle)).has_value());
}

TEST_CASE("an interrupted trial without a checkpoint is cleared as before", "[runtime]") {
  TempDir dir;
  const std::string path = dir.path("s.sqlite");
  const int64_t study = leaveRunning(path, 2, false);
  Store store = require(Store::open(path));
  const TrialStart start = require(store.beginTrial(study, kKey, kParams, 7));
  CHECK(start.interrupted);
  CHECK_FALSE(start.checkpoint.has_value());
  CHECK(start.checkpoint_problem.empty());
  CHECK(require(store.listEpochs(start.handle)).empty());
}

TEST_CASE("a checkpoint that does not match the kept epochs, or is damaged, is not used", "[runtime]") {
  TempDir dir;
  const std::string path = dir.path("s.sqlite");
  SECTION("epochs missing") {
    const int64_t study = leaveRunning(path, 1, false);
    {
      Store store = require(Store::open(path));
      const TrialHandle trial{require(store.listTrials(study)).at(0).id};
      require(store.saveCheckpoint(trial, Checkpoint{3, bytesOf(3)}));  // after epoch 3, but only 1 recorded
    }
    Store store = require(Store::open(path));
    const TrialStart start = require(store.beginTrial(study, kKey, kParams, 7));
    CHECK_FALSE(start.checkpoint.has_value());
    CHECK_THAT(start.checkpoint_problem, Catch::Contains("holds 1 of its epochs"));
    CHECK(require(store.listEpochs(start.handle)).empty());
    CHECK_FALSE(require(store.readCheckpoint(start.handle)).has_value());
  }
  SECTION("damaged blob") {
    const int64_t study = leaveRunning(path, 2, true);
    {
      auto db = nnspec::rt::SqliteDb::open(path);
      REQUIRE(db.ok());
      require(db.value()->exec("UPDATE trial_checkpoint SET data = x'0102030405'"));
    }
    Store store = require(Store::open(path));
    const TrialStart start = require(store.beginTrial(study, kKey, kParams, 7));
    CHECK_FALSE(start.checkpoint.has_value());
    CHECK_THAT(start.checkpoint_problem, Catch::Contains("corrupt"));
    CHECK(require(store.listEpochs(start.handle)).empty());
    CHECK_FALSE(require(store.readCheckpoint(start.handle)).has_value());
  }
}

TEST_CASE("an epoch and its checkpoint are written together or not at all", "[runtime]") {
  TempDir dir;
  Store store = require(Store::open(dir.path("s.sqlite")));
  const int64_t study = require(store.openStudy("s", "h")).id;
  const TrialHandle trial = require(store.beginTrial(study, kKey, kParams, 7)).handle;
  require(store.recordEpoch(trial, 1, metricsOf(1), 0.5, Checkpoint{1, bytesOf(1)}));
  // Epoch 1 again: refused, and the checkpoint of that call is not kept either.
  CHECK_FALSE(store.recordEpoch(trial, 1, metricsOf(1), 0.5, Checkpoint{1, bytesOf(9)}).ok());
  CHECK(require(store.readCheckpoint(trial))->bytes == bytesOf(1));
  // A checkpoint that is not the epoch's.
  CHECK_FALSE(store.recordEpoch(trial, 2, metricsOf(2), 0.5, Checkpoint{1, bytesOf(2)}).ok());
  CHECK(require(store.listEpochs(trial)).size() == 1);
  // The trainer refused the checkpoint: the trial starts over.
  require(store.restartTrial(trial));
  CHECK(require(store.listEpochs(trial)).empty());
  CHECK_FALSE(require(store.readCheckpoint(trial)).has_value());
  require(store.recordEpoch(trial, 1, metricsOf(1), 0.5, Checkpoint{1, bytesOf(1)}));
  require(store.failTrial(trial, 2, "loss became nan at epoch 2, batch 1", 1.0));
  CHECK_FALSE(require(store.readCheckpoint(trial)).has_value());
  CHECK_FALSE(store.restartTrial(trial).ok());  // ended: nothing to restart
}
