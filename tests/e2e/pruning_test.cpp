// Pruning, per-trial timeouts and study timeouts end to end, on a few hundred
// Fashion-MNIST images: median pruning of a grid with 3-fold CV, asha in a grid and in a
// random sweep, a trial that reaches its `trial_timeout`, and a grid whose `timeout`
// leaves trials for a rerun. Each verdict in the store is checked against the pruner's
// rule applied again to the stored epochs, in the order the trials ran (--jobs 1).

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/driver/run.h"
#include "runtime/store/store.h"
#include "runtime/sweep/asha_pruner.h"
#include "runtime/sweep/median_pruner.h"
#include "tests/e2e/e2e_fixture.h"

namespace {

namespace fs = std::filesystem;
using nnspec::rt::TrialStatus;
using Catch::Matchers::Contains;

using nnspec::e2e::ScratchDir;

// 300 training images with cv (each fold holds out 100), else 300 and 100 for val.
constexpr const char* kCvSplit = "split train = fmnist.train.shuffle().take(300), test = fmnist.test.shuffle().take(100)";
constexpr const char* kValSplit =
    "split train = fmnist.train.shuffle().take(400), val = train.holdout(100), test = fmnist.test.shuffle().take(100)";

// A spec of an MLP: its split, param line, extra train settings, epochs and sweep.
std::string specText(const std::string& name, const std::string& split, const std::string& param,
                     const std::string& train_extra, int64_t epochs, const std::string& sweep) {
  return "experiment " + name + "\nseed 3\n"
         "data fmnist = fashion_mnist() | scale(1/255)\n" +
         split + "\n" + param +
         "\nmodel mlp {\n  input [28, 28]\n  flatten\n  dense(16, relu)\n  dense(10)\n}\n"
         "train {\n  model mlp\n  loss cross_entropy\n  optimizer sgd(lr: lr, momentum: 0.9)\n  batch 50\n  epochs " +
         std::to_string(epochs) + "\n" + train_extra + "}\n" + sweep + "\n";
}

struct Ran {
  nnspec::driver::Outcome outcome;
  std::string out;  // what the run printed
};

Ran runSpec(const std::string& text, const fs::path& store, int64_t fuse = 1, int64_t jobs = 1) {
  nnspec::driver::RunRequest request;
  request.check.path = (store.parent_path() / "spec.nnspec").string();
  request.check.source = text;
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  request.check.fuse = fuse;
  request.store_path = store.string();
  request.write_report = false;
  request.quiet = true;
  request.jobs = jobs;
  nnspec::e2e::Ran ran = nnspec::e2e::runCaptured(request);
  return Ran{ran.outcome, std::move(ran.printed)};
}

struct StoredTrial {
  nnspec::rt::TrialRow row;
  std::map<int, double> curve;  // epoch -> objective
  int epochs = 0;               // stored epochs
};

// The study's trials in the order they were queued (and, with --jobs 1, run).
std::vector<StoredTrial> storedTrials(const fs::path& path, const std::string& objective) {
  std::vector<StoredTrial> trials;
  for (const auto& row : nnspec::e2e::studyTrials(path.string())) {
    StoredTrial trial;
    trial.row = row;
    const auto epochs = nnspec::e2e::trialEpochs(path.string(), row.id);
    trial.epochs = static_cast<int>(epochs.size());
    for (const auto& epoch : epochs) {
      const auto it = epoch.metrics.find(objective);
      if (it != epoch.metrics.end()) trial.curve[epoch.epoch] = it->second;
    }
    trials.push_back(std::move(trial));
  }
  return trials;
}

int count(const std::vector<StoredTrial>& trials, TrialStatus status) {
  int found = 0;
  for (const auto& trial : trials) found += trial.row.status == status ? 1 : 0;
  return found;
}

// Applies asha again, trial by trial in the order they ran (grid order, or draw order),
// each fold against the same fold of the trials before it; checks every verdict.
void checkAshaVerdicts(const std::vector<StoredTrial>& trials, nnspec::rt::AshaSettings settings, int epochs) {
  std::map<int, std::vector<std::map<int, double>>> seen;  // fold -> curves of earlier trials
  for (const auto& trial : trials) {
    INFO("trial " << trial.row.key.point_key << " fold " << trial.row.key.fold);
    int expected_pruned = 0;
    std::map<int, double> curve;
    for (int epoch = 1; epoch <= epochs && expected_pruned == 0; ++epoch) {
      REQUIRE(trial.curve.count(epoch) == 1);
      curve[epoch] = trial.curve.at(epoch);
      if (epoch >= epochs || nnspec::rt::ashaRung(settings, epoch) < 0) continue;
      std::vector<double> at_rung = {curve[epoch]};
      for (const auto& other : seen[trial.row.key.fold]) {
        if (other.count(epoch) != 0) at_rung.push_back(other.at(epoch));
      }
      if (!nnspec::rt::ashaPromotes(settings, at_rung, curve[epoch], false)) expected_pruned = epoch;
    }
    if (expected_pruned > 0) {
      CHECK(trial.row.status == TrialStatus::kPruned);
      CHECK(trial.row.end_epoch == expected_pruned);
      CHECK(trial.epochs == expected_pruned);
    } else {
      CHECK(trial.row.status == TrialStatus::kFinished);
      CHECK(trial.epochs == epochs);  // survivors trained to the end
    }
    seen[trial.row.key.fold].push_back(curve);
  }
}

}  // namespace

TEST_CASE("pruning e2e: a median-pruned grid with 3-fold cv judges each fold against the same fold",
          "[e2e][pruning]") {
  ScratchDir dir;
  const fs::path store = dir.path / "store.sqlite";
  const std::string text =
      specText("e2e_median_cv", kCvSplit, "param lr in [0.1, 1e-6, 0.05, 2e-6, 0.2, 3e-6]", "", 3,
               "sweep grid(lr) cv 3 prune median(startup: 1) select max val.accuracy");
  const Ran first = runSpec(text, store);
  INFO(first.outcome.err << first.out);
  REQUIRE(first.outcome.exit_code == 0);
  const auto trials = storedTrials(store, "val.accuracy");

  // The median rule again, in grid order: a fold against the finished same fold of the
  // points before it; a pruned fold ends its point (no later fold of it has a row).
  std::map<int, std::vector<nnspec::rt::TrialCurve>> finished;  // fold -> curves
  std::map<std::string, int> rows_of_point;
  std::map<std::string, bool> point_pruned;
  nnspec::rt::PrunerSettings settings;
  settings.n_startup_trials = 1;
  for (const auto& trial : trials) {
    const std::string& point = trial.row.key.point_key;
    INFO("point " << point << " fold " << trial.row.key.fold);
    CHECK_FALSE(point_pruned[point]);  // nothing of a pruned point runs after it
    CHECK(trial.row.key.fold == rows_of_point[point]++);
    nnspec::rt::TrialCurve curve;
    int expected_pruned = 0;
    for (const auto& [epoch, value] : trial.curve) {
      curve.values[epoch] = value;
      if (nnspec::rt::shouldPrune(settings, finished[trial.row.key.fold], curve, epoch, false)) {
        expected_pruned = epoch;
        break;
      }
    }
    if (expected_pruned > 0) {
      CHECK(trial.row.status == TrialStatus::kPruned);
      CHECK(trial.row.end_epoch == expected_pruned);
      point_pruned[point] = true;
    } else {
      CHECK(trial.row.status == TrialStatus::kFinished);
      CHECK(trial.epochs == 3);
      finished[trial.row.key.fold].push_back(curve);
    }
  }
  // The tiny rates learn nothing: some point is pruned, and some point kept all 3 folds.
  CHECK(count(trials, TrialStatus::kPruned) >= 2);
  int complete_points = 0;
  for (const auto& [point, rows] : rows_of_point) complete_points += !point_pruned[point] && rows == 3 ? 1 : 0;
  CHECK(complete_points >= 1);
  CHECK(static_cast<int>(trials.size()) < 18);
  // The table ranks the complete points and lists the pruned ones after them, unranked.
  CHECK_THAT(first.out, Contains("pruned at epoch 1"));
  const size_t best = first.out.find("  best: ");
  REQUIRE(best != std::string::npos);
  CHECK(first.out.rfind("pruned at epoch", best) > first.out.find("     1  lr="));

  // A rerun trains nothing and queues no fold of a pruned point again.
  const Ran second = runSpec(text, store);
  INFO(second.outcome.err << second.out);
  REQUIRE(second.outcome.exit_code == 0);
  const auto again = storedTrials(store, "val.accuracy");
  REQUIRE(again.size() == trials.size());
  for (size_t index = 0; index < trials.size(); ++index) {
    CHECK(again[index].row.status == trials[index].row.status);
    CHECK(again[index].row.attempts == 1);
  }
}

TEST_CASE("pruning e2e: a median-pruned cv grid trained in fused groups ends every pruned point's trials",
          "[e2e][pruning]") {
  ScratchDir dir;
  const fs::path store = dir.path / "store.sqlite";
  const std::string text =
      specText("e2e_median_fused", kCvSplit, "param lr in [0.1, 0.2, 1e-6, 0.05, 2e-6, 3e-6]", "", 3,
               "sweep grid(lr) cv 3 prune median(startup: 1) select max val.accuracy fuse 6");
  const Ran ran = runSpec(text, store, -1);
  INFO(ran.outcome.err << ran.out);
  REQUIRE(ran.outcome.exit_code == 0);
  CHECK_THAT(ran.out, Contains("fused groups"));
  const auto trials = storedTrials(store, "val.accuracy");
  // Groups of 6 trials: the first (lr 0.1 and 0.2) has nothing finished to compare with;
  // the tiny rates after it are pruned. A point with a pruned trial has none queued or
  // running, and its trials pruned in one group stop together.
  std::map<std::string, int> pruned_of, rows_of;
  for (const auto& trial : trials) {
    INFO(trial.row.key.point_key << " fold " << trial.row.key.fold);
    CHECK(trial.row.status != TrialStatus::kQueued);
    CHECK(trial.row.status != TrialStatus::kRunning);
    ++rows_of[trial.row.key.point_key];
    if (trial.row.status == TrialStatus::kPruned) ++pruned_of[trial.row.key.point_key];
  }
  CHECK(pruned_of.count("lr=0.1") == 0);
  CHECK(pruned_of.count("lr=0.2") == 0);
  CHECK(rows_of["lr=0.1"] == 3);
  // The tiny rates: every fold pruned at epoch 1 (its own verdict, or its point's), none
  // trained to the end though they trained side by side in one group.
  for (const char* point : {"lr=1e-06", "lr=2e-06", "lr=3e-06"}) {
    INFO(point);
    CHECK(pruned_of[point] == 3);
    for (const auto& trial : trials) {
      if (trial.row.key.point_key == point) CHECK(trial.row.end_epoch == 1);
    }
  }
  CHECK_THAT(ran.out, Contains("pruned at epoch 1"));
}

TEST_CASE("pruning e2e: asha prunes a grid at its rungs and the survivors train to the end", "[e2e][pruning]") {
  ScratchDir dir;
  const fs::path store = dir.path / "store.sqlite";
  const std::string text =
      specText("e2e_asha_grid", kValSplit, "param lr in [0.05, 1e-6, 0.2, 0.01, 2e-6, 0.1, 0.002, 0.3]", "", 4,
               "sweep grid(lr) prune asha(min_epochs: 1, reduction: 3) select max val.accuracy");
  const Ran ran = runSpec(text, store);
  INFO(ran.outcome.err << ran.out);
  REQUIRE(ran.outcome.exit_code == 0);
  const auto trials = storedTrials(store, "val.accuracy");
  REQUIRE(trials.size() == 8);
  checkAshaVerdicts(trials, {1, 3}, 4);
  CHECK(trials[0].row.status == TrialStatus::kFinished);  // the first at every rung goes on
  CHECK(count(trials, TrialStatus::kPruned) >= 2);
  CHECK(count(trials, TrialStatus::kFinished) >= 2);
  CHECK_THAT(ran.out, Contains("pruned at epoch"));
}

TEST_CASE("pruning e2e: asha prunes a random sweep's draws with the same rule", "[e2e][pruning]") {
  ScratchDir dir;
  const fs::path store = dir.path / "store.sqlite";
  const std::string text =
      specText("e2e_asha_random", kValSplit, "param lr in float(1e-6, 0.3, log: true)", "", 4,
               "sweep random(lr) trials 8 prune asha(min_epochs: 1, reduction: 2) select max val.accuracy");
  const Ran ran = runSpec(text, store);
  INFO(ran.outcome.err << ran.out);
  REQUIRE(ran.outcome.exit_code == 0);
  const auto trials = storedTrials(store, "val.accuracy");
  REQUIRE(trials.size() == 8);
  checkAshaVerdicts(trials, {1, 2}, 4);
  CHECK(count(trials, TrialStatus::kPruned) >= 1);
  CHECK(count(trials, TrialStatus::kFinished) >= 1);
}

TEST_CASE("pruning e2e: a trial reaching its trial_timeout keeps its epochs, is timed out and is not retrained",
          "[e2e][pruning]") {
  ScratchDir dir;
  const fs::path store = dir.path / "store.sqlite";
  const std::string text = specText("e2e_trial_timeout", kValSplit, "param lr in [0.1, 0.05]",
                                    "  trial_timeout 50ms\n", 400, "sweep grid(lr) select max val.accuracy");
  const Ran first = runSpec(text, store);
  INFO(first.outcome.err << first.out);
  REQUIRE(first.outcome.exit_code == 0);
  const auto trials = storedTrials(store, "val.accuracy");
  REQUIRE(trials.size() == 2);
  for (const StoredTrial& trial : trials) {
    INFO(trial.row.key.point_key);
    CHECK(trial.row.status == TrialStatus::kTimedOut);
    REQUIRE(trial.row.end_epoch);
    CHECK(*trial.row.end_epoch == trial.epochs);  // the epochs it finished are kept
    CHECK(trial.epochs < 400);
    CHECK(trial.row.seconds.value_or(0) >= 0.05);
    if (trial.epochs > 0) CHECK(trial.row.final_metrics.at("val.accuracy") == trial.curve.at(trial.epochs));
  }
  // Listed as timed out, not ranked.
  CHECK_THAT(first.out, Contains("1 timed out after"));
  CHECK_THAT(first.out, !Contains("  best: "));

  const Ran second = runSpec(text, store);
  INFO(second.outcome.err << second.out);
  REQUIRE(second.outcome.exit_code == 0);
  CHECK_THAT(second.out, Contains("1 timed out after"));
  const auto again = storedTrials(store, "val.accuracy");
  REQUIRE(again.size() == 2);
  for (size_t index = 0; index < 2; ++index) {
    CHECK(again[index].row.status == TrialStatus::kTimedOut);
    CHECK(again[index].row.attempts == 1);
    CHECK(again[index].epochs == trials[index].epochs);
    CHECK(again[index].row.seconds == trials[index].row.seconds);
  }
}

TEST_CASE("pruning e2e: a grid's timeout starts nothing after it and reruns continue the study", "[e2e][pruning]") {
  ScratchDir dir;
  const fs::path store = dir.path / "store.sqlite";
  // 1 ms: each run starts one trial (a run always starts one), then the budget is used.
  const std::string text = specText("e2e_grid_timeout", kValSplit, "param lr in [0.1, 0.05, 0.2]", "", 2,
                                    "sweep grid(lr) timeout 1ms select max val.accuracy");
  for (int run = 1; run <= 3; ++run) {
    const Ran ran = runSpec(text, store);
    INFO("run " << run << "\n" << ran.outcome.err << ran.out);
    REQUIRE(ran.outcome.exit_code == 0);
    const auto trials = storedTrials(store, "val.accuracy");
    CHECK(count(trials, TrialStatus::kFinished) == run);
    CHECK(count(trials, TrialStatus::kQueued) == 3 - run);
    if (run < 3) {
      CHECK_THAT(ran.out, Contains(std::to_string(3 - run) + " trial") && Contains("did not start") &&
                              Contains("a rerun continues the study"));
    } else {
      CHECK_FALSE(Contains("did not start").match(ran.out));
    }
  }
}

TEST_CASE("pruning e2e: with --jobs 2 a pruned cv grid leaves nothing queued and trains each trial as --jobs 1 does",
          "[e2e][pruning]") {
  const std::string text =
      specText("e2e_median_jobs", kCvSplit, "param lr in [0.1, 1e-6, 0.05, 2e-6, 0.2, 3e-6]", "", 3,
               "sweep grid(lr) cv 3 prune median(startup: 1) select max val.accuracy");
  ScratchDir one;
  ScratchDir two;
  const Ran alone = runSpec(text, one.path / "store.sqlite", 1, 1);
  const Ran parallel = runSpec(text, two.path / "store.sqlite", 1, 2);
  INFO(alone.outcome.err << parallel.outcome.err << parallel.out);
  REQUIRE(alone.outcome.exit_code == 0);
  REQUIRE(parallel.outcome.exit_code == 0);
  const auto serial_trials = storedTrials(one.path / "store.sqlite", "val.accuracy");
  const auto parallel_trials = storedTrials(two.path / "store.sqlite", "val.accuracy");
  std::map<std::string, const StoredTrial*> by_key;
  for (const auto& trial : serial_trials) {
    by_key[trial.row.key.point_key + "|" + std::to_string(trial.row.key.fold)] = &trial;
  }
  int compared = 0;
  for (const auto& trial : parallel_trials) {
    INFO(trial.row.key.point_key << " fold " << trial.row.key.fold);
    CHECK(trial.row.status != TrialStatus::kQueued);
    CHECK(trial.row.status != TrialStatus::kRunning);
    const auto found = by_key.find(trial.row.key.point_key + "|" + std::to_string(trial.row.key.fold));
    if (found == by_key.end()) continue;
    // The epochs both runs trained are the same numbers, pruned or not.
    for (const auto& [epoch, value] : trial.curve) {
      if (found->second->curve.count(epoch) == 0) continue;
      CHECK(value == found->second->curve.at(epoch));
      ++compared;
    }
  }
  CHECK(compared >= 6);
  CHECK(count(parallel_trials, TrialStatus::kPruned) >= 1);
}
