#include "runtime/sweep/scheduler.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <tuple>
#include <algorithm>

#include <fmt/format.h>

#include "runtime/sweep/draw_history.h"
#include "runtime/sweep/random_sampler.h"

namespace nnspec::rt {
namespace {

std::string trialPrefix(int64_t number) { return fmt::format("#{:03d}", number); }

// The draw number of a sampled point's key: "#003 lr=0.01" -> 3.
int64_t drawNumber(const std::string& point_key) { return std::strtoll(point_key.c_str() + 1, nullptr, 10); }

TrialJob makeJob(const SweepSchedule& sweep, const std::string& key, int64_t fold, int64_t replicate, int64_t index,
                 int64_t total) {
  TrialJob job;
  job.sweep = &sweep;
  job.point_key = key;
  job.fold = fold;
  job.replicate = replicate;
  job.index = index;
  job.total = total;
  return job;
}

// Keeps the larger of two exit codes, except that the first code >= 2 stays.
void noteCode(std::atomic<int>& worst, int code) {
  int seen = worst.load();
  while (seen < 2 && code > seen && !worst.compare_exchange_weak(seen, code)) {
  }
}

}  // namespace

std::string sampledPointKey(int64_t number, const std::string& description) {
  return trialPrefix(number) + " " + description;
}

int64_t SweepSchedule::trials() const {
  const int64_t count = sampled() ? points : static_cast<int64_t>(grid_points.size());
  return count * folds * replicates;
}

Scheduler::Scheduler(Store& store, int64_t study_id, int64_t jobs, SchedulerHooks hooks)
    : store_(store), study_id_(study_id), jobs_(std::max<int64_t>(1, jobs)), hooks_(std::move(hooks)) {}

int64_t Scheduler::plannedTrials(const std::vector<SweepSchedule>& sweeps) {
  int64_t planned = 0;
  for (const auto& sweep : sweeps) planned += sweep.trials() + (sweep.refit ? 1 : 0);
  return planned;
}

int Scheduler::run(const std::vector<SweepSchedule>& sweeps) {
  int worst = runGrids(sweeps);
  if (worst >= 2) return worst;
  for (const auto& sweep : sweeps) {
    if (!sweep.sampled()) continue;
    const int code = runSampled(sweep);
    if (code >= 2) return code;
    worst = std::max(worst, code);
  }
  for (const auto& sweep : sweeps) {
    const int code = finish(sweep);
    if (code >= 2) return code;
    worst = std::max(worst, code);
  }
  return worst;
}

// A trial through the callback; whatever it throws becomes an internal error naming it.
int64_t Scheduler::groupLimit(const SweepSchedule& sweep) const {
  if (sweep.fuse <= 1 || sweep.sampled() || !hooks_.run_group || !hooks_.fusion_key) return 1;
  // As many groups as `fuse` needs, rounded up to a multiple of the jobs, then as even as
  // they can be: 20 trials, fuse 8 and 2 jobs make 4 groups of 5, not 8, 8 and 4 (a job
  // idle while the other trains the last group).
  const int64_t trials = std::max<int64_t>(sweep.trials(), 1);
  const int64_t jobs = std::max<int64_t>(jobs_, 1);
  int64_t groups = (trials + sweep.fuse - 1) / sweep.fuse;
  groups = (groups + jobs - 1) / jobs * jobs;
  return std::max<int64_t>(1, (trials + groups - 1) / groups);
}

int Scheduler::runGroupGuarded(const std::vector<TrialJob>& jobs) {
  const std::string which = fmt::format("trials {} to {} of {}, fused", jobs.front().index, jobs.back().index,
                                        jobs[0].sweep->label());
  return guarded(which, "fuse fewer (--fuse N or the sweep's fuse option) or run fewer trials at once (--jobs)",
                 [&] { return hooks_.run_group(jobs); });
}

int Scheduler::runGuarded(const TrialJob& job) {
  const std::string which = fmt::format("trial {} of {} ({}{}{})", job.index, job.sweep->label(),
                                        job.point_key.empty() ? "one point" : job.point_key,
                                        job.fold < 0 ? ", refit" : fmt::format(", fold {}", job.fold + 1),
                                        fmt::format(", replicate {}", job.replicate + 1));
  return guarded(which, "run fewer trials at once (--jobs) or a smaller model or batch",
                 [&] { return hooks_.run_trial(job); });
}

int Scheduler::guarded(const std::string& which, const char* memory_hint, const std::function<int()>& run) {
  try {
    return run();
  } catch (const std::bad_alloc&) {
    setError(fmt::format("error: out of memory while running {}\nhint: {}\n", which, memory_hint));
    return 2;
  } catch (const std::exception& error) {
    setError(fmt::format("internal error: {} while running {}\n", error.what(), which));
    return 3;
  } catch (...) {
    setError(fmt::format("internal error: an unknown exception while running {}\n", which));
    return 3;
  }
}

// Waits a little before looking for work again (other workers hold the rest).
void Scheduler::pause() { std::this_thread::sleep_for(std::chrono::milliseconds(kPollMilliseconds)); }

int Scheduler::runGrids(const std::vector<SweepSchedule>& sweeps) {
  // Every grid trial is queued up front, in grid order; workers claim them one at a time.
  // The trials of points pruned in an earlier run are not queued again.
  std::vector<TrialKey> keys;
  std::map<std::tuple<std::string, std::string, int, int>, int64_t> index_of;
  std::map<std::string, PruneBoard*> board_of;  // pruned grid sweeps; threads only read it
  int64_t not_queued = 0;
  int64_t position = 0;
  for (const auto& sweep : sweeps) {
    if (sweep.sampled()) continue;
    PruneBoard* board = nullptr;
    if (sweep.pruner) {
      board = boardOf(sweep);
      if (board == nullptr) return 2;
      board_of[sweep.name] = board;
    }
    // Numbered in grid order (point, fold, replicate). A fused sweep's trials are queued
    // fold by fold and replicate by replicate, so that a group claims the points of one
    // batch order together and they read one batch (rt::runTrialGroup's input classes);
    // a pruned one's stay in grid order (its pruner judges a group on the trials finished
    // before it, which fold-major groups of first folds would not have).
    std::vector<TrialKey> sweep_keys;
    for (const auto& key : sweep.grid_points) {
      for (int64_t fold = 0; fold < sweep.folds; ++fold) {
        for (int64_t replicate = 0; replicate < sweep.replicates; ++replicate) {
          const TrialKey trial{sweep.name, key, static_cast<int>(fold), static_cast<int>(replicate)};
          index_of[{sweep.name, key, static_cast<int>(fold), static_cast<int>(replicate)}] = ++position;
          if (board != nullptr && board->pointPruned(key)) {
            ++not_queued;
            continue;
          }
          sweep_keys.push_back(trial);
        }
      }
    }
    if (groupLimit(sweep) > 1 && !sweep.pruner) {
      std::stable_sort(sweep_keys.begin(), sweep_keys.end(), [](const TrialKey& a, const TrialKey& b) {
        return std::pair(a.fold, a.replicate) < std::pair(b.fold, b.replicate);
      });
    }
    keys.insert(keys.end(), sweep_keys.begin(), sweep_keys.end());
  }
  if (index_of.empty()) return 0;
  if (not_queued > 0 && hooks_.adjust_total) hooks_.adjust_total(-not_queued);
  auto queued = store_.enqueueTrials(study_id_, keys);
  if (!queued.ok()) return storeFailure(queued.error());
  // The trials of points pruned earlier in the study leave the queue (another worker may
  // have queued them).
  for (const auto& [name, board] : board_of) {
    for (const auto& sweep : sweeps) {
      if (sweep.name != name) continue;
      for (const auto& key : sweep.grid_points) {
        if (!board->pointPruned(key)) continue;
        auto dropped = store_.dropQueued(study_id_, name, key);
        if (!dropped.ok()) return storeFailure(dropped.error());
      }
    }
  }
  const int64_t total = static_cast<int64_t>(index_of.size());
  const auto start = std::chrono::steady_clock::now();
  std::atomic<int> worst{0};
  // A claimed trial as a job (`at`: threads only read the index).
  auto jobFor = [&](const SweepSchedule& sweep, const Claim& claim) {
    const TrialKey& key = claim.key;
    TrialJob job = makeJob(sweep, key.point_key, key.fold, key.replicate,
                           index_of.at({sweep.name, key.point_key, key.fold, key.replicate}), total);
    job.claim = claim.handle;
    if (const auto found = board_of.find(sweep.name); found != board_of.end()) attachPruner(job, *found->second);
    return job;
  };
  // A claimed trial of a point pruned meanwhile (by a trial that ended or another
  // worker): handed back and dropped with the point's other queued trials.
  auto dropIfPruned = [&](const TrialJob& job) {
    const auto found = board_of.find(job.sweep->name);
    if (found == board_of.end() || !found->second->pointPruned(job.point_key)) return false;
    auto released = store_.releaseTrial(job.claim);
    if (!released.ok()) {
      noteCode(worst, storeFailure(released.error()));
      return true;
    }
    auto dropped = store_.dropQueued(study_id_, job.sweep->name, job.point_key);
    if (!dropped.ok()) noteCode(worst, storeFailure(dropped.error()));
    else if (hooks_.adjust_total) hooks_.adjust_total(-dropped.value());
    return true;
  };
  // After a trial ended: what its pruner learns of it.
  auto afterTrial = [&](const TrialJob& job) {
    const auto found = board_of.find(job.sweep->name);
    if (found != board_of.end()) noteCode(worst, notePruning(job, job.claim, *found->second));
  };
  // Whether the sweep's `timeout` says no trial starts now: once this run started one (so
  // that every run, however short its budget, gets the study further).
  std::atomic<bool> started_any{false};
  auto budgetUsed = [&](const SweepSchedule& sweep) {
    if (sweep.timeout_seconds <= 0 || !started_any.load()) return false;
    if (outOfTime(sweep)) return true;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed <= sweep.timeout_seconds) return false;
    std::lock_guard<std::mutex> lock(budget_mutex_);
    out_of_time_.insert(sweep.name);
    return true;
  };
  // A job claims a fused group's trials one after another while the others wait, so that
  // a group gets consecutive trials (the points of one fold and replicate, which read one
  // batch) rather than every other one.
  std::mutex group_claims;
  // By sweep, under group_claims: the trials left to claim when this run first claimed
  // one of it (that one included), and the claims since.
  struct ClaimCount {
    int64_t at_start = -1;
    int64_t claimed = 0;
  };
  std::map<const SweepSchedule*, ClaimCount> claims;
  auto work = [&] {
    while (worst.load() < 2 && !cancelled()) {
      bool ran = false;
      for (const auto& sweep : sweeps) {
        if (sweep.sampled() || budgetUsed(sweep)) continue;
        std::unique_lock<std::mutex> claiming(group_claims);
        auto claim = store_.claimTrial(study_id_, sweep.name);
        if (!claim.ok()) {
          noteCode(worst, storeFailure(claim.error()));
          return;
        }
        if (!claim.value()) continue;
        TrialJob job = jobFor(sweep, *claim.value());
        ran = true;
        if (dropIfPruned(job)) break;
        started_any = true;
        int64_t limit = groupLimit(sweep);
        if (limit > 1 && hooks_.fusion_limit) limit = std::min(limit, hooks_.fusion_limit(job));
        ClaimCount& count = claims[&sweep];
        if (count.at_start < 0) {
          // (The queued trials and other workers' running ones; this one is ours.)
          auto left = store_.countUnfinished(study_id_, sweep.name);
          count.at_start = left.ok() ? left.value() + 1 : std::max<int64_t>(sweep.trials(), 1);
        }
        if (limit > 1) {
          // The jobs claim in rounds of one group each; a last round too short to give
          // every job a full group shares its trials evenly among them. 10 trials in
          // groups of 2 on two jobs: two rounds of 2+2, then 1 and 1 (not a fifth group
          // of 2 on one job while the other idles); 24 in groups of 4: three rounds of 4+4.
          const int64_t round = limit * std::max<int64_t>(jobs_, 1);
          const int64_t round_start = count.at_start - count.claimed / round * round;
          if (round_start < round) limit = std::max<int64_t>(1, (round_start + jobs_ - 1) / jobs_);
        }
        const std::string fusion = limit > 1 ? hooks_.fusion_key(job) : std::string();
        ++count.claimed;
        if (fusion.empty()) {
          claiming.unlock();
          noteCode(worst, runGuarded(job));
          afterTrial(job);
          break;
        }
        // Claims the sweep's next trials (grid order) for the group; one that cannot join
        // it (another graph) runs on its own after the group.
        std::vector<TrialJob> group{job};
        std::vector<TrialJob> apart;
        while (static_cast<int64_t>(group.size()) < limit) {
          auto more = store_.claimTrial(study_id_, sweep.name);
          if (!more.ok()) {
            noteCode(worst, storeFailure(more.error()));
            break;
          }
          if (!more.value()) break;
          TrialJob other = jobFor(sweep, *more.value());
          ++count.claimed;
          if (dropIfPruned(other)) continue;
          if (hooks_.fusion_key(other) == fusion) {
            group.push_back(std::move(other));
          } else {
            apart.push_back(std::move(other));
            break;
          }
        }
        claiming.unlock();
        noteCode(worst, group.size() > 1 ? runGroupGuarded(group) : runGuarded(group[0]));
        for (const TrialJob& member : group) afterTrial(member);
        for (const TrialJob& alone : apart) {
          if (worst.load() >= 2 || cancelled()) {
            (void)store_.releaseTrial(alone.claim);  // claimed for the group, never started: back to the queue
            continue;
          }
          if (dropIfPruned(alone)) continue;
          noteCode(worst, runGuarded(alone));
          afterTrial(alone);
        }
        break;
      }
      if (ran) continue;
      auto unfinished = countUnfinishedGrids(sweeps);
      if (!unfinished.ok()) {
        noteCode(worst, storeFailure(unfinished.error()));
        return;
      }
      if (unfinished.value() == 0) return;
      pause();  // the rest is in other workers' hands: wait for them, or for a lease to lapse
    }
  };
  const int64_t threads = std::min(jobs_, std::max<int64_t>(total, 1));
  std::vector<std::thread> workers;
  for (int64_t k = 1; k < threads; ++k) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  if (worst.load() < 2) noteCode(worst, noteTimedOutGrids(sweeps));
  return worst.load();
}

bool Scheduler::outOfTime(const SweepSchedule& sweep) const {
  std::lock_guard<std::mutex> lock(budget_mutex_);
  return out_of_time_.count(sweep.name) != 0;
}

int Scheduler::noteTimedOutGrids(const std::vector<SweepSchedule>& sweeps) {
  for (const auto& sweep : sweeps) {
    if (sweep.sampled() || !outOfTime(sweep)) continue;
    auto rows = store_.listTrials(study_id_);
    if (!rows.ok()) return storeFailure(rows.error());
    std::vector<std::string> points;
    int64_t waiting = 0;
    for (const auto& row : rows.value()) {
      if (row.key.sweep != sweep.name || row.status != TrialStatus::kQueued) continue;
      ++waiting;
      if (std::find(points.begin(), points.end(), row.key.point_key) == points.end()) points.push_back(row.key.point_key);
    }
    if (waiting == 0) continue;  // the budget ran out with the last trial
    if (hooks_.adjust_total) hooks_.adjust_total(-waiting);
    constexpr size_t kNamed = 5;
    std::string named;
    for (size_t index = 0; index < std::min(points.size(), kNamed); ++index) {
      named += (index == 0 ? "" : "; ") + (points[index].empty() ? std::string("(one point)") : points[index]);
    }
    if (points.size() > kNamed) named += fmt::format("; and {} more", points.size() - kNamed);
    summary_ += fmt::format("{}: the {} s time budget (timeout) is used: {} trial{} of {} point{} did not start ({}); "
                            "a rerun continues the study\n",
                            sweep.label(), sweep.timeout_seconds, waiting, waiting == 1 ? "" : "s", points.size(),
                            points.size() == 1 ? "" : "s", named);
  }
  return 0;
}

PruneBoard* Scheduler::boardOf(const SweepSchedule& sweep) {
  if (!sweep.pruner) return nullptr;
  std::lock_guard<std::mutex> lock(board_mutex_);
  if (const auto found = boards_.find(sweep.name); found != boards_.end()) return found->second.get();
  auto rows = store_.listTrials(study_id_);
  if (!rows.ok()) {
    storeFailure(rows.error());
    return nullptr;
  }
  auto board = std::make_unique<PruneBoard>(*sweep.pruner, sweep.objective, !sweep.maximize || sweep.objective.empty());
  for (const auto& row : rows.value()) {
    if (row.key.sweep != sweep.name || row.status == TrialStatus::kQueued) continue;
    auto epochs = store_.listEpochs(TrialHandle{row.id});
    if (!epochs.ok()) {
      storeFailure(epochs.error());
      return nullptr;
    }
    board->load(row, epochs.value());
  }
  PruneBoard* kept = board.get();
  boards_.emplace(sweep.name, std::move(board));
  return kept;
}

void Scheduler::attachPruner(TrialJob& job, PruneBoard& board) {
  const TrialKey key{job.sweep->name, job.point_key, static_cast<int>(job.fold), static_cast<int>(job.replicate)};
  const SweepSchedule& sweep = *job.sweep;
  auto reason = std::make_shared<std::string>();
  const std::string scope = sweep.folds > 1 && sweep.replicates > 1 ? " of its fold and replicate"
                            : sweep.folds > 1                       ? " of its fold"
                            : sweep.replicates > 1                  ? " of its replicate"
                                                                    : "";
  job.should_prune = [&board, &sweep, key, reason, scope](const EpochRecord& record, int64_t epochs) {
    const bool by_sibling = board.pointPruned(key.point_key);
    if (!board.judge(key, record, epochs)) return false;
    if (by_sibling) {
      *reason = "another trial of its point was pruned";
    } else if (sweep.pruner->kind == PrunerChoice::Kind::kAsha) {
      *reason = fmt::format("{} not among the best 1/{} of the trials{} at the rung of epoch {}", sweep.objective,
                            sweep.pruner->asha.reduction, scope, record.epoch);
    } else {
      *reason = fmt::format("{} worse than the median of the finished trials{}", sweep.objective, scope);
    }
    return true;
  };
  job.prune_reason = [reason] { return *reason; };
}

int Scheduler::notePruning(const TrialJob& job, TrialHandle handle, PruneBoard& board) {
  if (handle.id == 0) return 0;
  auto row = store_.readTrial(handle);
  if (!row.ok()) return storeFailure(row.error());
  if (row.value().status == TrialStatus::kFinished) board.finish(row.value().key);
  if (row.value().status != TrialStatus::kPruned) return 0;
  board.prunePoint(job.point_key);
  auto dropped = store_.dropQueued(study_id_, job.sweep->name, job.point_key);
  if (!dropped.ok()) return storeFailure(dropped.error());
  if (hooks_.adjust_total) hooks_.adjust_total(-dropped.value());
  return 0;
}

StoreResult<int64_t> Scheduler::countUnfinishedGrids(const std::vector<SweepSchedule>& sweeps) {
  int64_t unfinished = 0;
  for (const auto& sweep : sweeps) {
    if (sweep.sampled() || outOfTime(sweep)) continue;  // its queued trials wait for a rerun
    auto count = store_.countUnfinished(study_id_, sweep.name);
    if (!count.ok()) return count.error();
    unfinished += count.value();
  }
  return unfinished;
}

int Scheduler::storeFailure(const StoreError& failure) {
  setError(fmt::format("error: store '{}': {}\n{}", failure.path, failure.message,
                       failure.hint.empty() ? "" : "hint: " + failure.hint + "\n"));
  return 2;
}

void Scheduler::setError(std::string message) {
  std::lock_guard<std::mutex> lock(error_mutex_);
  if (error_.empty()) error_ = std::move(message);
}

// The per-epoch objective of the finished first-fold trials of the sweep's draws numbered
// up to `last_draw`, for the pruner.
std::optional<std::vector<TrialCurve>> Scheduler::completedCurves(const SweepSchedule& sweep,
                                                                  const std::vector<TrialRow>& rows,
                                                                  int64_t last_draw) {
  std::vector<TrialCurve> curves;
  for (const auto& row : rows) {
    if (row.key.sweep != sweep.name || row.key.fold != 0 || row.key.replicate != 0) continue;
    if (row.status != TrialStatus::kFinished || drawNumber(row.key.point_key) > last_draw) continue;
    auto epochs = store_.listEpochs(TrialHandle{row.id});
    if (!epochs.ok()) {
      storeFailure(epochs.error());
      return std::nullopt;
    }
    TrialCurve curve;
    for (const auto& epoch : epochs.value()) {
      const auto it = epoch.metrics.find(sweep.objective);
      if (it != epoch.metrics.end()) curve.values[epoch.epoch] = it->second;
    }
    curves.push_back(std::move(curve));
  }
  return curves;
}

std::variant<std::string, int> Scheduler::describe(const SweepSchedule& sweep, int64_t number, const Sample& sample) {
  std::lock_guard<std::mutex> lock(describe_mutex_);
  return hooks_.describe_sample(sweep, number, sample);
}

// Makes the point of a draw known to the caller (describe_sample) when another worker
// drew it; returns a code >= 2 on failure.
int Scheduler::learnDraw(const SweepSchedule& sweep, const std::string& point_key) {
  {
    std::lock_guard<std::mutex> lock(known_mutex_);
    if (known_draws_.count({sweep.name, point_key}) != 0) return 0;
  }
  auto draws = store_.listDraws(study_id_);
  if (!draws.ok()) return storeFailure(draws.error());
  for (const DrawRow& draw : draws.value()) {
    if (draw.sweep != sweep.name || draw.point_key != point_key) continue;
    auto sample = parseSample(draw.params);
    if (!sample) {
      setError(fmt::format("error: store '{}': draw {} of {} is damaged\n", store_.path(), draw.number, sweep.label()));
      return 2;
    }
    auto described = describe(sweep, draw.number, *sample);
    if (const int* code = std::get_if<int>(&described)) return *code;
    std::lock_guard<std::mutex> lock(known_mutex_);
    known_draws_.insert({sweep.name, point_key});
    return 0;
  }
  setError(fmt::format("error: store '{}': trial '{}' of {} has no recorded draw\n", store_.path(), point_key,
                       sweep.label()));
  return 2;
}

// Random and TPE sweeps, on `jobs` threads. Each point is drawn under the study lock from
// the stored history (points other workers run count as running, as in Optuna's constant
// liar), and recorded with that history. A draw's trials (folds x replicates) are queued
// and claimed like grid trials; in a pruned sweep a point's other trials wait for its
// first (claimOrDraw's gate), so no work goes to a point that may yet be pruned.
//
// With --jobs N, draw n is made as if the N - 1 draws before it were still running,
// whatever their state, and waits until this process runs none of the draws before
// those; the pruner of its first trial compares it with the draws up to n - N. So the
// draws and verdicts of one worker depend on N but not on which trial ends first, and
// --jobs 1 draws each point with all the ones before it ended. Draws of other workers
// count as the store shows them.
int Scheduler::runSampled(const SweepSchedule& sweep) {
  const bool minimize = !sweep.maximize || sweep.objective.empty();
  const auto start = std::chrono::steady_clock::now();
  const int64_t per_point = sweep.folds * sweep.replicates;
  const int64_t lag = jobs_;
  std::atomic<int> worst{0};
  std::atomic<bool> budget_noted{false};
  // Point keys of this sweep with a trial running in this process, and a count of trials
  // ended here, which a thread waiting to draw watches.
  std::mutex running_mutex;
  std::condition_variable trial_ended;
  std::map<std::string, int> running_here;
  int64_t ended_here = 0;
  // Threads between asking the store for a trial and counting it in running_here: a draw
  // waits for them, else a trial claimed but not yet counted would look not running here
  // and the draw's history would depend on timing. settled counts the claims resolved.
  int64_t claims_in_flight = 0;
  int64_t settled = 0;
  // asha judges with every trial's rung values as they come; the median pruner of a
  // sampled sweep compares with the completed draws up to n - jobs (completedCurves).
  PruneBoard* board = nullptr;
  if (sweep.pruner && sweep.pruner->kind == PrunerChoice::Kind::kAsha) {
    board = boardOf(sweep);
    if (board == nullptr) return 2;
  }

  auto work = [&] {
    while (worst.load() < 2 && !cancelled()) {
      int described_code = 0;
      bool must_wait = false;
      int64_t ended_before = 0;
      int64_t settled_before = 0;
      {
        std::lock_guard<std::mutex> lock(running_mutex);
        ++claims_in_flight;
      }
      // This thread's claim is resolved: counted in running_here by the caller (under the
      // same lock) or there was none.
      bool in_flight = true;
      auto settle = [&](const std::string* claimed_point) {
        if (!in_flight) return;
        in_flight = false;
        {
          std::lock_guard<std::mutex> lock(running_mutex);
          if (claimed_point != nullptr) ++running_here[*claimed_point];
          --claims_in_flight;
          ++settled;
        }
        trial_ended.notify_all();
      };
      auto draw = [&](const DrawContext& context) -> std::optional<NewDraw> {
        const int64_t number = static_cast<int64_t>(context.draws.size());
        if (number >= sweep.points) return std::nullopt;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (sweep.timeout_seconds > 0 && elapsed > sweep.timeout_seconds) {
          if (!budget_noted.exchange(true)) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            summary_ += fmt::format("{}: stopped after {} trials: the {:.0f} s time budget is used\n", sweep.label(),
                                    number, sweep.timeout_seconds);
            if (hooks_.adjust_total) hooks_.adjust_total(-(sweep.points - number) * per_point);
          }
          return std::nullopt;
        }
        {
          // Draws up to number - lag must have ended here before draw `number` is made.
          std::lock_guard<std::mutex> lock(running_mutex);
          ended_before = ended_here;
          settled_before = settled;
          if (claims_in_flight > 1) must_wait = true;
          for (const auto& [key, count] : running_here) {
            if (count > 0 && drawNumber(key) <= number - lag) must_wait = true;
          }
        }
        if (must_wait) return std::nullopt;
        const std::vector<FinishedTrial> history =
            historyOfDraws(context, sweep.objective, per_point, number - lag + 1);
        Rng rng = makeTrialRng(sweep.seed, number);
        const Sample sample = sweep.method == SweepMethod::kTpe
                                  ? sampleTpe(sweep.space, history, minimize, sweep.tpe, rng)
                                  : sampleRandom(sweep.space, rng);
        auto described = describe(sweep, number, sample);
        if (const int* code = std::get_if<int>(&described)) {
          described_code = *code;
          return std::nullopt;
        }
        NewDraw made;
        made.draw = DrawRow{sweep.name, number, std::get<std::string>(described), formatSample(sample),
                            formatHistory(history)};
        for (int64_t fold = 0; fold < sweep.folds; ++fold) {
          for (int64_t replicate = 0; replicate < sweep.replicates; ++replicate) {
            made.trials.push_back(
                TrialKey{sweep.name, made.draw.point_key, static_cast<int>(fold), static_cast<int>(replicate)});
          }
        }
        std::lock_guard<std::mutex> lock(known_mutex_);
        known_draws_.insert({sweep.name, made.draw.point_key});
        return made;
      };
      // A pruned sweep's points run their other trials only once the first was not pruned.
      auto claim = store_.claimOrDraw(study_id_, sweep.name, draw, sweep.pruner.has_value() && per_point > 1);
      if (claim.ok() && claim.value()) {
        settle(&claim.value()->key.point_key);
      } else {
        settle(nullptr);
      }
      if (described_code >= 2) return noteCode(worst, described_code);
      if (!claim.ok()) return noteCode(worst, storeFailure(claim.error()));
      if (!claim.value()) {
        if (must_wait) {
          // Until a trial of this process ends or another thread's claim is counted (then
          // the draw may be possible).
          std::unique_lock<std::mutex> lock(running_mutex);
          trial_ended.wait_for(lock, std::chrono::milliseconds(kPollMilliseconds),
                               [&] { return ended_here != ended_before || settled != settled_before + 1; });
          continue;
        }
        auto unfinished = store_.countUnfinished(study_id_, sweep.name);
        if (!unfinished.ok()) return noteCode(worst, storeFailure(unfinished.error()));
        if (unfinished.value() == 0) {
          // Trials this process still runs may queue more (the other folds of a point).
          std::unique_lock<std::mutex> lock(running_mutex);
          bool running = false;
          for (const auto& [key, count] : running_here) running = running || count > 0;
          if (!running) return;
          trial_ended.wait_for(lock, std::chrono::milliseconds(kPollMilliseconds));
          continue;
        }
        pause();
        continue;
      }
      const TrialKey key = claim.value()->key;
      const int learned = learnDraw(sweep, key.point_key);
      if (learned >= 2) return noteCode(worst, learned);
      const int64_t number = drawNumber(key.point_key);
      TrialJob job = makeJob(sweep, key.point_key, key.fold, key.replicate, number + 1, sweep.points);
      std::vector<TrialCurve> curves;
      TrialCurve current;
      if (board != nullptr && key.fold == 0 && key.replicate == 0) {
        attachPruner(job, *board);
      } else if (sweep.pruner && key.fold == 0 && key.replicate == 0) {
        auto rows = store_.listTrials(study_id_);
        if (!rows.ok()) return noteCode(worst, storeFailure(rows.error()));
        auto completed = completedCurves(sweep, rows.value(), number - lag);
        if (!completed) return noteCode(worst, 2);
        curves = std::move(*completed);
        job.should_prune = [&](const EpochRecord& record, int64_t) {
          const auto it = record.metrics.find(sweep.objective);
          if (it == record.metrics.end()) return false;
          current.values[static_cast<int>(record.epoch)] = it->second;
          return shouldPrune(sweep.pruner->median, curves, current, static_cast<int>(record.epoch), minimize);
        };
        job.prune_reason = [&sweep] {
          return fmt::format("{} worse than the median of finished trials", sweep.objective);
        };
      }
      const int code = runGuarded(job);
      noteCode(worst, code);
      int after = 0;
      if (code < 2 && job.should_prune && board != nullptr) {
        after = notePruning(job, claim.value()->handle, *board);
      } else if (code < 2 && job.should_prune) {
        // A pruned first fold ends its point: its other trials leave the queue.
        auto row = store_.readTrial(claim.value()->handle);
        if (!row.ok()) {
          after = storeFailure(row.error());
        } else if (row.value().status == TrialStatus::kPruned) {
          auto dropped = store_.dropQueued(study_id_, sweep.name, key.point_key);
          if (!dropped.ok()) after = storeFailure(dropped.error());
          else if (hooks_.adjust_total) hooks_.adjust_total(1 - per_point);
        }
      }
      {
        std::lock_guard<std::mutex> lock(running_mutex);
        if (--running_here[key.point_key] == 0) running_here.erase(key.point_key);
        ++ended_here;
      }
      trial_ended.notify_all();
      if (after >= 2) return noteCode(worst, after);
    }
  };
  std::vector<std::thread> workers;
  for (int64_t k = 1; k < std::min(jobs_, std::max<int64_t>(sweep.trials(), 1)); ++k) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  return cancelled() && worst.load() < 2 ? 130 : worst.load();
}

// After every trial: refit the best point when the sweep asks for it, and combine the
// best point's models when it has an ensemble.
int Scheduler::finish(const SweepSchedule& sweep) {
  if (!sweep.refit && sweep.ensemble == EnsembleKind::kNone) return 0;
  if (outOfTime(sweep)) {
    // Its trials are not all run: the best point is chosen by the run that ends the sweep.
    if (sweep.refit && hooks_.adjust_total) hooks_.adjust_total(-1);
    summary_ += fmt::format("{}: no refit or ensemble yet: trials are left for a rerun\n", sweep.label());
    return 0;
  }
  // The best point is chosen once every trial of the sweep ended, in whichever worker.
  while (true) {
    auto unfinished = store_.countUnfinished(study_id_, sweep.name);
    if (!unfinished.ok()) return storeFailure(unfinished.error());
    if (unfinished.value() == 0) break;
    if (cancelled()) return 130;
    pause();
  }
  auto rows = store_.listTrials(study_id_);
  if (!rows.ok()) return storeFailure(rows.error());
  const SweepRanking ranking = rankSweep(sweep.name, rows.value(), sweep.objective, sweep.maximize, sweep.grid_points);
  const PointSummary* best = ranking.bestComplete();
  if (best == nullptr) {
    if (sweep.refit && hooks_.adjust_total) hooks_.adjust_total(-1);
    summary_ += fmt::format("{}: no finished trial to refit or ensemble\n", sweep.label());
    return 0;
  }
  if (sweep.sampled()) {
    // Another worker, or the run before a kill, may have drawn it: the hooks must know it.
    const int learned = learnDraw(sweep, best->key);
    if (learned >= 2) return learned;
  }
  if (sweep.ensemble != EnsembleKind::kNone) {
    const int code = ensemble(sweep, *best, rows.value());
    if (code >= 2) return code;
  }
  if (!sweep.refit) return 0;
  // The refit is one more trial: queued by the first worker here, run by one of them.
  auto queued = store_.enqueueTrials(study_id_, {TrialKey{sweep.name, best->key, -1, 0}});
  if (!queued.ok()) return storeFailure(queued.error());
  int code = 0;
  while (!cancelled()) {
    auto claim = store_.claimTrial(study_id_, sweep.name);
    if (!claim.ok()) return storeFailure(claim.error());
    if (claim.value()) {
      if (sweep.sampled()) {
        const int learned = learnDraw(sweep, claim.value()->key.point_key);
        if (learned >= 2) return learned;
      }
      code = runGuarded(makeJob(sweep, claim.value()->key.point_key, -1, 0, 1, 1));
      if (code >= 2) return code;
      continue;
    }
    auto unfinished = store_.countUnfinished(study_id_, sweep.name);
    if (!unfinished.ok()) return storeFailure(unfinished.error());
    if (unfinished.value() == 0) break;
    pause();
  }
  auto refit = store_.listTrials(study_id_);
  if (!refit.ok()) return storeFailure(refit.error());
  for (const auto& row : refit.value()) {
    if (row.key.sweep != sweep.name || row.key.fold != -1 || row.status != TrialStatus::kFinished) continue;
    std::string metrics;
    for (const auto& [name, value] : row.final_metrics) {
      if (name.rfind("test.", 0) == 0 && name != "test.error") metrics += fmt::format("  {} {:.4f}", name, value);
    }
    summary_ += fmt::format("{}: best point {} refit on all training data:{}\n", sweep.label(), row.key.point_key,
                            metrics);
  }
  return code;
}

int Scheduler::ensemble(const SweepSchedule& sweep, const PointSummary& best, const std::vector<TrialRow>& rows) {
  auto test = hooks_.test_set(sweep, best.key);
  if (const int* code = std::get_if<int>(&test)) return *code;
  const SchedulerHooks::TestSet& set = std::get<SchedulerHooks::TestSet>(test);
  if (set.data == nullptr || set.indices.empty()) return 0;
  const std::string metric = sweep.objective.empty() ? "val.loss" : sweep.objective;
  const bool larger_better = sweep.maximize && !sweep.objective.empty();
  std::vector<EnsembleMember> members;
  int64_t width = 0;
  for (const auto& row : rows) {
    if (row.key.sweep != sweep.name || row.key.point_key != best.key || row.key.fold < 0) continue;
    if (row.status != TrialStatus::kFinished) continue;
    auto output = store_.readOutput(TrialHandle{row.id}, "test.predictions");
    if (!output.ok()) return storeFailure(output.error());
    if (!output.value() || output.value()->rows != static_cast<int64_t>(set.indices.size())) continue;
    width = output.value()->width;
    const auto it = row.final_metrics.find(metric);
    const double value = it == row.final_metrics.end() ? 0 : it->second;
    members.push_back({std::move(output.value()->values), larger_better ? value : -value});
  }
  if (members.size() < 2) return 0;
  const EnsembleOutcome outcome =
      combineMembers(std::move(members), width, *set.data, set.indices, set.classification, sweep.ensemble);
  summary_ += fmt::format("{}: {} of the {} models of {}: {} {:.4f} (best single model {:.4f})\n", sweep.label(),
                          sweep.ensemble == EnsembleKind::kVote ? "majority vote" : "mean", outcome.members,
                          best.key.empty() ? "(one point)" : best.key, outcome.metric, outcome.value,
                          outcome.best_single);
  return 0;
}

}  // namespace nnspec::rt
