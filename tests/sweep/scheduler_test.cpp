// The scheduler with a callback standing for training: which trials it runs, and when.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <random>
#include <thread>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/store/store.h"
#include "runtime/sweep/scheduler.h"
#include "tests/store/store_require.h"
#include "tests/store/temp_dir.h"

namespace {

using nnspec::rt::EpochRecord;
using nnspec::rt::Scheduler;
using nnspec::rt::SchedulerHooks;
using nnspec::rt::Store;
using nnspec::rt::SweepSchedule;
using nnspec::rt::TrialJob;
using nnspec::test::require;
using nnspec::test::TempDir;

// A random sweep of 8 points x 3 folds, pruned by the median pruner (one completed first
// fold is enough). Every epoch of draw n reports n, so from the second completed point
// on, each new first fold is worse than the median and is pruned at its first epoch.
SweepSchedule prunedSweep() {
  SweepSchedule sweep;
  sweep.name = "study";
  sweep.method = nnspec::rt::SweepMethod::kRandom;
  sweep.points = 8;
  sweep.folds = 3;
  sweep.space = {nnspec::rt::makeFloatParam("x", 0, 1)};
  nnspec::rt::PrunerChoice pruner;
  pruner.median = nnspec::rt::PrunerSettings{1, 0, 1, 1};
  sweep.pruner = pruner;
  sweep.objective = "val.loss";
  sweep.maximize = false;
  sweep.seed = 5;
  return sweep;
}

// Runs trials as a run does (begin, epochs, then finish or prune), each epoch taking
// 20 ms (or a random 1-30 ms with `jitter`), and notes which trials of a point start while
// its first fold runs. A point "#003 x=0.25" reports 0.25 (+ its fold / 100) every epoch;
// one without x= reports its draw number.
struct FakeTraining {
  Store& store;
  int64_t study_id;
  bool jitter = false;
  std::mutex mutex;
  std::set<std::string> first_folds_running;
  std::vector<std::string> started_beside_first_fold;
  std::map<std::string, std::string> ends;  // "point|fold" -> finished / pruned

  int run(const TrialJob& job) {
    const std::string point = job.point_key;
    const std::string key = point + "|" + std::to_string(job.fold);
    {
      std::lock_guard lock(mutex);
      if (job.fold > 0 && first_folds_running.count(point) != 0) started_beside_first_fold.push_back(key);
      if (job.fold == 0) first_folds_running.insert(point);
    }
    auto start = store.beginTrial(study_id, nnspec::rt::TrialKey{job.sweep->name, point, static_cast<int>(job.fold), 0},
                                  {}, 1);
    REQUIRE(start.ok());
    const auto handle = start.value().handle;
    const auto x = point.find("x=");
    const double value = x == std::string::npos ? std::strtod(point.c_str() + 1, nullptr)
                                                : std::strtod(point.c_str() + x + 2, nullptr) + job.fold / 100.0;
    std::random_device entropy;
    // A first fold stops counting as running just before the store ends it: once the
    // store says it ended, the scheduler may start the point's other folds at once (while
    // this thread has not yet come back from the store call).
    auto ending = [&] {
      std::lock_guard lock(mutex);
      if (job.fold == 0) first_folds_running.erase(point);
    };
    std::string end = "finished";
    for (int epoch = 1; epoch <= 3; ++epoch) {
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter ? 1 + entropy() % 30 : 20));
      EpochRecord record{epoch, {{"val.loss", value}}, 0.02};
      REQUIRE(store.recordEpoch(handle, epoch, record.metrics, 0.02).ok());
      if (job.should_prune && job.should_prune(record, 3)) {
        ending();
        REQUIRE(store.pruneTrial(handle, epoch, 0.1).ok());
        end = "pruned";
        break;
      }
    }
    if (end == "finished") {
      ending();
      REQUIRE(store.finishTrial(handle, {{"val.loss", value}}, 0.1).ok());
    }
    std::lock_guard lock(mutex);
    ends[key] = end;
    return 0;
  }
};

TEST_CASE("scheduler: with two jobs a pruned sweep's other folds wait for the point's first fold", "[sweep]") {
  TempDir dir;
  Store store = require(Store::open(dir.path("s.sqlite")));
  const int64_t study_id = require(store.openStudy("exp", "hash")).id;
  require(store.joinStudy(study_id, nnspec::rt::WorkerSettings{}));
  FakeTraining training{store, study_id, false, {}, {}, {}, {}};
  SchedulerHooks hooks;
  hooks.run_trial = [&training](const TrialJob& job) { return training.run(job); };
  hooks.describe_sample = [](const SweepSchedule&, int64_t number, const nnspec::rt::Sample&) {
    return std::variant<std::string, int>(nnspec::rt::sampledPointKey(number, "x"));
  };
  const SweepSchedule sweep = prunedSweep();
  Scheduler scheduler(store, study_id, 2, hooks);
  REQUIRE(scheduler.run({sweep}) == 0);
  INFO(scheduler.error());
  CHECK(training.started_beside_first_fold.empty());
  // Draws 0 and 1 ran alone or beside each other; every point after them was pruned on
  // its first fold, and none of a pruned point's other folds ran.
  int pruned = 0;
  for (const auto& [key, end] : training.ends) {
    INFO(key);
    const std::string point = key.substr(0, key.find('|'));
    if (end == "pruned") {
      ++pruned;
      CHECK(key.substr(key.find('|')) == "|0");
    }
    if (training.ends.count(point + "|0") != 0 && training.ends.at(point + "|0") == "pruned") {
      CHECK(key == point + "|0");
    }
  }
  CHECK(pruned >= 5);
}

// A TPE study of 14 points x 2 folds with pruning, on `jobs` threads whose trials take
// random times: the draws (with the history each saw) and every trial's end.
std::vector<std::string> tpeStudy(int64_t jobs) {
  TempDir dir;
  Store store = require(Store::open(dir.path("s.sqlite")));
  const int64_t study_id = require(store.openStudy("exp", "hash")).id;
  require(store.joinStudy(study_id, nnspec::rt::WorkerSettings{}));
  FakeTraining training{store, study_id, true, {}, {}, {}, {}};
  SchedulerHooks hooks;
  hooks.run_trial = [&training](const TrialJob& job) { return training.run(job); };
  hooks.describe_sample = [](const SweepSchedule&, int64_t number, const nnspec::rt::Sample& sample) {
    return std::variant<std::string, int>(nnspec::rt::sampledPointKey(number, "x=" + std::to_string(sample.at("x"))));
  };
  SweepSchedule sweep = prunedSweep();
  sweep.method = nnspec::rt::SweepMethod::kTpe;
  sweep.tpe.n_startup_trials = 4;
  sweep.points = 14;
  sweep.folds = 2;
  Scheduler scheduler(store, study_id, jobs, hooks);
  REQUIRE(scheduler.run({sweep}) == 0);
  std::vector<std::string> seen;
  for (const auto& draw : require(store.listDraws(study_id))) {
    seen.push_back(draw.point_key + " " + draw.params + " after " + draw.history);
  }
  for (const auto& [key, end] : training.ends) seen.push_back(key + " " + end);
  return seen;
}

TEST_CASE("scheduler: a TPE study on two jobs makes the same draws and verdicts whichever trial ends first",
          "[sweep]") {
  const auto first = tpeStudy(2);
  CHECK(first.size() > 14);
  for (int run = 0; run < 2; ++run) CHECK(tpeStudy(2) == first);
}

}  // namespace

namespace {

// A fresh study in a temporary store, its trials trained by FakeTraining (the fusion tests).
struct FusedStudy {
  TempDir dir;
  Store store = require(Store::open(dir.path("s.sqlite")));
  int64_t study_id = require(store.openStudy("exp", "hash")).id;
  FakeTraining training{store, study_id, false, {}, {}, {}, {}};
  FusedStudy() { require(store.joinStudy(study_id, nnspec::rt::WorkerSettings{})); }
};

// A grid sweep of `points` x `folds` trials, fused up to `fuse` a group.
SweepSchedule fusedGrid(const std::string& name, std::vector<std::string> points, int64_t folds, int64_t fuse) {
  SweepSchedule sweep;
  sweep.name = name;
  sweep.method = nnspec::rt::SweepMethod::kGrid;
  sweep.points = static_cast<int64_t>(points.size());
  sweep.grid_points = std::move(points);
  sweep.folds = folds;
  sweep.fuse = fuse;
  sweep.objective = "val.loss";
  return sweep;
}

}  // namespace

TEST_CASE("scheduler: with two jobs each fused group claims consecutive trials, the points of one fold together",
          "[sweep]") {
  // lab3's rate grid: 4 points x 5 folds, fuse 8, two jobs: 4 groups of 5, queued fold by
  // fold. Groups start at the same moment; each must still get 5 trials in a row, so a
  // fold's points train in one group (reading one batch) but for the one it shares.
  for (int run = 0; run < 3; ++run) {
    FusedStudy study;
    FakeTraining& training = study.training;
    std::mutex mutex;
    std::vector<std::vector<std::string>> groups;
    SchedulerHooks hooks;
    hooks.run_trial = [&training](const TrialJob& job) { return training.run(job); };
    hooks.fusion_key = [](const TrialJob&) {  // asked for each trial a group claims: slow, so claims overlap
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return std::string("mlp");
    };
    hooks.run_group = [&](const std::vector<TrialJob>& jobs) {
      std::vector<std::string> members;
      for (const TrialJob& job : jobs) members.push_back(std::to_string(job.fold) + ":" + job.point_key);
      {
        std::lock_guard lock(mutex);
        groups.push_back(members);
      }
      for (const TrialJob& job : jobs) training.run(job);
      return 0;
    };
    const SweepSchedule sweep = fusedGrid("rate", {"lr=0.0004", "lr=0.004", "lr=0.04", "lr=0.4"}, 5, 8);
    Scheduler scheduler(study.store, study.study_id, 2, hooks);
    REQUIRE(scheduler.run({sweep}) == 0);
    INFO(scheduler.error());
    REQUIRE(groups.size() == 4);
    std::set<std::string> folds_split;  // folds whose points train in two groups
    for (const auto& members : groups) {
      INFO(fmt::format("{}", fmt::join(members, " ")));
      REQUIRE(members.size() == 5);
      std::map<char, int> per_fold;
      for (const std::string& member : members) ++per_fold[member[0]];
      CHECK(per_fold.size() == 2);  // (4, 1), (3, 2), (2, 3) or (1, 4): never 2, 2, 1
      for (const auto& [fold, count] : per_fold)
        if (count < 4) folds_split.insert(std::string(1, fold));
    }
    CHECK(folds_split.size() == 3);  // folds 1, 2 and 3 straddle two groups; 0 and 4 do not
  }
}

TEST_CASE("scheduler: a group is capped by its own graph's size, so large models of a grid train alone",
          "[sweep]") {
  // A grid of a small model (groups of up to 8) and a large one whose graph fuses none
  // (fusion_limit 1), 3 folds each, one job: the small model's folds train as one group,
  // the large model's trials one at a time.
  FusedStudy study;
  FakeTraining& training = study.training;
  std::vector<std::vector<std::string>> groups;
  std::vector<std::string> alone;
  SchedulerHooks hooks;
  hooks.run_trial = [&](const TrialJob& job) {
    alone.push_back(job.point_key);
    return training.run(job);
  };
  hooks.fusion_key = [](const TrialJob& job) { return job.point_key; };
  hooks.fusion_limit = [](const TrialJob& job) -> int64_t { return job.point_key == "width=8" ? 8 : 1; };
  hooks.run_group = [&](const std::vector<TrialJob>& jobs) {
    std::vector<std::string> members;
    for (const TrialJob& job : jobs) members.push_back(job.point_key);
    groups.push_back(members);
    for (const TrialJob& job : jobs) training.run(job);
    return 0;
  };
  const SweepSchedule sweep = fusedGrid("widths", {"width=8", "width=4096"}, 3, 8);
  Scheduler scheduler(study.store, study.study_id, 1, hooks);
  REQUIRE(scheduler.run({sweep}) == 0);
  INFO(scheduler.error());
  size_t grouped = 0;
  for (const auto& members : groups) {
    INFO(fmt::format("{}", fmt::join(members, " ")));
    for (const std::string& member : members) CHECK(member == "width=8");
    grouped += members.size();
  }
  CHECK(grouped + alone.size() == 6);
  CHECK(std::count(alone.begin(), alone.end(), "width=4096") == 3);
}

TEST_CASE("scheduler: fused groups give each job an even share when the groups do not divide among the jobs",
          "[sweep]") {
  // hw1's 10 folds of one model in groups of 2 on two jobs: 5 groups would leave one job
  // 6 trials and the other 4; each job must train 5 (two groups of 2, then one alone).
  FusedStudy study;
  FakeTraining& training = study.training;
  std::mutex mutex;
  std::map<std::thread::id, int> trained;
  auto train = [&](const TrialJob& job) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // both jobs start before either ends
    {
      std::lock_guard lock(mutex);
      ++trained[std::this_thread::get_id()];
    }
    return training.run(job);
  };
  SchedulerHooks hooks;
  hooks.run_trial = train;
  hooks.fusion_key = [](const TrialJob&) { return std::string("lenet"); };
  hooks.run_group = [&](const std::vector<TrialJob>& jobs) {
    for (const TrialJob& job : jobs) train(job);
    return 0;
  };
  const SweepSchedule sweep = fusedGrid("image_cv", {"one"}, 10, 2);
  Scheduler scheduler(study.store, study.study_id, 2, hooks);
  REQUIRE(scheduler.run({sweep}) == 0);
  INFO(scheduler.error());
  REQUIRE(trained.size() == 2);
  for (const auto& [thread, count] : trained) CHECK(count == 5);
}

TEST_CASE("scheduler: fused groups stay whole when one job runs slower than the other", "[sweep]") {
  // 24 trials (4 points x 6 folds) in groups of 4 on two jobs: 3 rounds of two groups,
  // whichever job claims them. The first group takes long, so the other job claims the
  // next three; a share fixed per job (12 each) would leave it single trials at the end.
  TempDir dir;
  Store store = require(Store::open(dir.path("s.sqlite")));
  const int64_t study_id = require(store.openStudy("exp", "hash")).id;
  require(store.joinStudy(study_id, nnspec::rt::WorkerSettings{}));
  FakeTraining training{store, study_id, false, {}, {}, {}, {}};
  std::mutex mutex;
  std::vector<size_t> sizes;
  SchedulerHooks hooks;
  hooks.run_trial = [&](const TrialJob& job) {
    {
      std::lock_guard lock(mutex);
      sizes.push_back(1);
    }
    return training.run(job);
  };
  hooks.fusion_key = [](const TrialJob&) { return std::string("mlp"); };
  hooks.run_group = [&](const std::vector<TrialJob>& jobs) {
    bool first = false;
    {
      std::lock_guard lock(mutex);
      first = sizes.empty();
      sizes.push_back(jobs.size());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(first ? 300 : 5));
    for (const TrialJob& job : jobs) training.run(job);
    return 0;
  };
  SweepSchedule sweep;
  sweep.name = "grid_cv";
  sweep.method = nnspec::rt::SweepMethod::kGrid;
  sweep.grid_points = {"a", "b", "c", "d"};
  sweep.points = 4;
  sweep.folds = 6;
  sweep.fuse = 4;
  sweep.objective = "val.loss";
  Scheduler scheduler(store, study_id, 2, hooks);
  REQUIRE(scheduler.run({sweep}) == 0);
  INFO(scheduler.error());
  CHECK(sizes == std::vector<size_t>(6, 4));
}
