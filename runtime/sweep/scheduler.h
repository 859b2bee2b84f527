#pragma once
// Runs a study's sweeps against a store, knowing nothing of specs or compilers: what a
// trial is and how it trains is the caller's run-one-trial callback. The store must have
// joined the study as a worker (Store::joinStudy): any number of processes, here or on
// other machines, may run the same study at once, each one a worker. The scheduler
//  - queues every trial of the grid sweeps (points x folds x replicates) up front and
//    claims them one at a time on `jobs` threads; results do not depend on `jobs` or on
//    the number of workers (seeds come from the trial's key), except which trials a pruned
//    grid prunes: each trial is judged (runtime/sweep/prune_board.h) against the trials
//    this process knows to have finished or reached a rung when its epoch ends, which with
//    --jobs 1 is every trial before it in grid order (the same verdicts in every run) and
//    with more jobs depends on which trials end first; a grid with a `timeout` starts no
//    trial after it and leaves the rest queued for a rerun;
//  - draws the points of random and TPE sweeps under the study lock from the stored
//    history (running points counted as in Optuna's constant liar), records each draw
//    with that history, and prunes them with the median pruner over every worker's
//    epochs, on `jobs` threads (see runSampled for how the draws stay independent of
//    timing); a rerun after a kill continues the same sequence of draws;
//  - waits for the other workers' trials, then refits the best point of sweeps that ask
//    for it (one worker runs it) and ensembles its models.
// Trials already finished in the store are the callback's to skip. A callback that throws
// ends the run as an internal error (exit code 3) naming the trial; it never escapes a
// worker thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "runtime/data/dataset.h"
#include "runtime/store/store.h"
#include "runtime/sweep/ensemble.h"
#include "runtime/sweep/median_pruner.h"
#include "runtime/sweep/prune_board.h"
#include "runtime/sweep/ranking.h"
#include "runtime/sweep/search_space.h"
#include "runtime/sweep/tpe_sampler.h"
#include "runtime/train/trial.h"

namespace nnspec::rt {

enum class SweepMethod { kGrid, kRandom, kTpe };

// The trial key of a sampled sweep's draw `number`: "#003 lr=0.01".
std::string sampledPointKey(int64_t number, const std::string& description);

// One sweep as the scheduler sees it.
struct SweepSchedule {
  std::string name;  // "" for the unnamed sweep
  SweepMethod method = SweepMethod::kGrid;
  std::vector<std::string> grid_points;  // kGrid: the points' keys, in grid order
  int64_t points = 0;                    // kRandom, kTpe: how many points to draw
  int64_t folds = 1;
  int64_t replicates = 1;
  SearchSpace space;  // kRandom, kTpe
  TpeSettings tpe;
  std::optional<PrunerChoice> pruner;
  std::string objective;                 // "" when the sweep selects nothing
  bool maximize = true;
  double timeout_seconds = 0;  // no new trial (grid) or draw (kRandom, kTpe) after this long; 0 = none
  bool refit = false;
  EnsembleKind ensemble = EnsembleKind::kNone;
  uint64_t seed = 0;  // the stream of the draws: makeTrialRng(seed, number)
  // Sweep fusion (grid sweeps): up to this many trials train together in one compiled
  // step (SchedulerHooks::run_group); 1: one trial at a time.
  int64_t fuse = 1;

  bool sampled() const { return method != SweepMethod::kGrid; }
  // Trials before refits: points x folds x replicates.
  int64_t trials() const;
  // "sweep NAME", or "results" for the unnamed sweep.
  std::string label() const { return name.empty() ? std::string("results") : "sweep " + name; }
};

struct TrialJob {
  const SweepSchedule* sweep = nullptr;
  std::string point_key;  // grid: grid_points[point]; sampled: "#003 " + the point
  int64_t fold = 0;       // -1: the refit of the best point on all training data
  int64_t replicate = 0;
  int64_t index = 0;      // 1-based, for progress lines
  int64_t total = 0;
  // A pruned sweep's verdict after each epoch of the trial's `epochs` (true: prune it):
  // every trial of a grid, the first fold and replicate of a random or tpe point.
  std::function<bool(const EpochRecord& record, int64_t epochs)> should_prune;
  // Why should_prune pruned it, for the trial's log line.
  std::function<std::string()> prune_reason;
  // The trial as claimed for this job (grid sweeps); id 0 when not claimed ahead. A job
  // that does not start (the run was stopped) hands it back (Store::releaseTrial).
  TrialHandle claim;
};

// Exit codes: 0 ok, 1 a trial failed (the run goes on), 2 bad input, 3 internal error,
// 130 cancelled. Any code >= 2 stops the run; the callback keeps its own message.
struct SchedulerHooks {
  // Called from up to `jobs` threads at once.
  std::function<int(const TrialJob& job)> run_trial;
  // Sweep fusion: trials of a grid sweep whose keys are equal and not empty may train
  // together; run_group trains such a group (2 or more trials) and returns the worst code.
  std::function<std::string(const TrialJob& job)> fusion_key;
  // The most trials a group led by `job` takes (its graph's own size; unset: no cap below
  // the sweep's `fuse`).
  std::function<int64_t(const TrialJob& job)> fusion_limit;
  std::function<int(const std::vector<TrialJob>& jobs)> run_group;
  // A sampled sweep's draw `number`: the key its trials are stored under,
  // sampledPointKey(number, the point's description), or a code >= 2 on failure.
  std::function<std::variant<std::string, int>(const SweepSchedule& sweep, int64_t number, const Sample& sample)>
      describe_sample;
  // The test set an ensemble of point `point_key` is scored on (a code >= 2 on failure).
  struct TestSet {
    const Dataset* data = nullptr;
    std::vector<int64_t> indices;
    bool classification = true;
  };
  std::function<std::variant<TestSet, int>(const SweepSchedule& sweep, const std::string& point_key)> test_set;
  std::function<void(int64_t delta)> adjust_total;  // the planned trial count changed
  // Whether the run was told to stop (a signal): no new trial starts; 130 is returned.
  std::function<bool()> cancelled;
};

class Scheduler {
 public:
  Scheduler(Store& store, int64_t study_id, int64_t jobs, SchedulerHooks hooks);

  // Runs the sweeps; returns the worst code seen (0, 1, or the first >= 2).
  int run(const std::vector<SweepSchedule>& sweeps);

  // Lines for the run's summary (refits, ensembles, time budgets used).
  const std::string& summary() const { return summary_; }
  // The scheduler's own error (store failures, a callback that threw); "" when the code
  // came from a callback, which keeps its message.
  const std::string& error() const { return error_; }

  // Trials planned in all: every sweep's trials, plus one per refit.
  static int64_t plannedTrials(const std::vector<SweepSchedule>& sweeps);

 private:
  static constexpr int kPollMilliseconds = 200;

  int runGrids(const std::vector<SweepSchedule>& sweeps);
  StoreResult<int64_t> countUnfinishedGrids(const std::vector<SweepSchedule>& sweeps);
  // The prune board of a pruned sweep, filled from the store on first use; null for a
  // sweep without a pruner or on a store failure (then error() says it).
  PruneBoard* boardOf(const SweepSchedule& sweep);
  // Gives a job of a pruned sweep its verdicts from the sweep's board.
  void attachPruner(TrialJob& job, PruneBoard& board);
  // After a trial of a pruned sweep ended: the board learns how; a pruned trial drops its
  // point's queued trials. A code >= 2 on a store failure.
  int notePruning(const TrialJob& job, TrialHandle handle, PruneBoard& board);
  // Whether `sweep` used its time budget (a grid's `timeout`) in this run.
  bool outOfTime(const SweepSchedule& sweep) const;
  // The summary lines of grid sweeps stopped by their `timeout`: what did not run.
  int noteTimedOutGrids(const std::vector<SweepSchedule>& sweeps);
  int learnDraw(const SweepSchedule& sweep, const std::string& point_key);
  void pause();
  bool cancelled() const { return hooks_.cancelled && hooks_.cancelled(); }
  int runSampled(const SweepSchedule& sweep);
  int finish(const SweepSchedule& sweep);
  int ensemble(const SweepSchedule& sweep, const PointSummary& best, const std::vector<TrialRow>& rows);
  int runGuarded(const TrialJob& job);
  int runGroupGuarded(const std::vector<TrialJob>& jobs);
  // Runs `run`, turning an exception into the run's error naming `which` (2 for memory,
  // 3 for anything else).
  int guarded(const std::string& which, const char* memory_hint, const std::function<int()>& run);
  // The most trials of `sweep` one fused group takes here: at most its `fuse` limit, sized
  // so that the groups divide evenly among the jobs (every core gets as much work).
  int64_t groupLimit(const SweepSchedule& sweep) const;
  int storeFailure(const StoreError& failure);
  void setError(std::string message);  // keeps the first
  std::optional<std::vector<TrialCurve>> completedCurves(const SweepSchedule& sweep, const std::vector<TrialRow>& rows,
                                                         int64_t last_draw);
  // hooks_.describe_sample, one call at a time (draws on several threads).
  std::variant<std::string, int> describe(const SweepSchedule& sweep, int64_t number, const Sample& sample);

  Store& store_;
  int64_t study_id_;
  int64_t jobs_;
  SchedulerHooks hooks_;
  std::string summary_;
  std::mutex error_mutex_;  // guards error_: trials on several threads may fail at once
  std::string error_;
  std::mutex describe_mutex_;
  std::mutex known_mutex_;  // guards known_draws_
  std::set<std::pair<std::string, std::string>> known_draws_;  // (sweep, point key) described here
  std::mutex board_mutex_;  // guards boards_
  std::map<std::string, std::unique_ptr<PruneBoard>> boards_;  // sweep name -> its board
  mutable std::mutex budget_mutex_;  // guards out_of_time_
  std::set<std::string> out_of_time_;  // grid sweeps whose `timeout` ended them in this run
};

}  // namespace nnspec::rt
