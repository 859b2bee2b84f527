#include "runtime/sweep/scheduler.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <new>
#include <thread>

#include <fmt/format.h>

#include "runtime/sweep/random_sampler.h"

namespace nnspec::rt {
namespace {

std::string trialPrefix(int64_t number) { return fmt::format("#{:03d}", number); }

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
int Scheduler::runGuarded(const TrialJob& job) {
  const std::string which = fmt::format("trial {} of {} ({}{}{})", job.index, job.sweep->label(),
                                        job.point_key.empty() ? "one point" : job.point_key,
                                        job.fold < 0 ? ", refit" : fmt::format(", fold {}", job.fold + 1),
                                        fmt::format(", replicate {}", job.replicate + 1));
  try {
    return hooks_.run_trial(job);
  } catch (const std::bad_alloc&) {
    setError(fmt::format("error: out of memory while running {}\nhint: run fewer trials at once (--jobs) or a "
                         "smaller model or batch\n", which));
    return 2;
  } catch (const std::exception& error) {
    setError(fmt::format("internal error: {} while running {}\n", error.what(), which));
    return 3;
  } catch (...) {
    setError(fmt::format("internal error: an unknown exception while running {}\n", which));
    return 3;
  }
}

int Scheduler::runGrids(const std::vector<SweepSchedule>& sweeps) {
  std::vector<TrialJob> jobs;
  for (const auto& sweep : sweeps) {
    if (sweep.sampled()) continue;
    for (const auto& key : sweep.grid_points) {
      for (int64_t fold = 0; fold < sweep.folds; ++fold) {
        for (int64_t replicate = 0; replicate < sweep.replicates; ++replicate) {
          jobs.push_back(makeJob(sweep, key, fold, replicate, 0, 0));
        }
      }
    }
  }
  const int64_t total = static_cast<int64_t>(jobs.size());
  for (int64_t index = 0; index < total; ++index) {
    jobs[static_cast<size_t>(index)].index = index + 1;
    jobs[static_cast<size_t>(index)].total = total;
  }
  std::atomic<int64_t> next{0};
  std::atomic<int> worst{0};
  auto work = [&] {
    for (;;) {
      const int64_t index = next.fetch_add(1);
      if (index >= total || worst.load() >= 2) return;
      noteCode(worst, runGuarded(jobs[static_cast<size_t>(index)]));
    }
  };
  const int64_t threads = std::min(jobs_, std::max<int64_t>(total, 1));
  std::vector<std::thread> workers;
  for (int64_t k = 1; k < threads; ++k) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  return worst.load();
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

// Finished points of a sampled sweep as the sampler's history, rebuilt from the store (so
// a rerun after a kill continues where it stopped).
std::vector<FinishedTrial> Scheduler::history(const SweepSchedule& sweep, const std::vector<TrialRow>& rows,
                                              const std::map<int64_t, Sample>& samples) {
  std::vector<FinishedTrial> out;
  for (const auto& [number, sample] : samples) {
    const std::string prefix = trialPrefix(number) + " ";
    std::vector<double> values;
    bool pruned = false, complete = true;
    FinishedTrial trial;
    trial.number = number;
    trial.params = sample;
    for (const auto& row : rows) {
      if (row.key.sweep != sweep.name || row.key.point_key.rfind(prefix, 0) != 0 || row.key.fold < 0) continue;
      if (row.status == TrialStatus::kPruned) {
        pruned = true;
        auto epochs = store_.listEpochs(TrialHandle{row.id});
        if (epochs.ok() && !epochs.value().empty()) {
          const auto& last = epochs.value().back();
          trial.last_step = last.epoch;
          const auto it = last.metrics.find(sweep.objective);
          trial.value = it != last.metrics.end() ? it->second : std::nan("");
        }
      } else if (row.status == TrialStatus::kFinished && row.final_metrics.count(sweep.objective) != 0) {
        values.push_back(row.final_metrics.at(sweep.objective));
      } else {
        complete = false;
      }
    }
    if (pruned) {
      trial.outcome = TrialOutcome::kPruned;
      out.push_back(trial);
    } else if (complete && static_cast<int64_t>(values.size()) == sweep.folds * sweep.replicates) {
      trial.outcome = TrialOutcome::kComplete;
      trial.value = meanOf(values);
      out.push_back(trial);
    }
  }
  return out;
}

// The per-epoch objective of the sweep's finished first-fold trials, for the pruner.
std::optional<std::vector<TrialCurve>> Scheduler::completedCurves(const SweepSchedule& sweep,
                                                                  const std::vector<TrialRow>& rows) {
  std::vector<TrialCurve> curves;
  for (const auto& row : rows) {
    if (row.key.sweep != sweep.name || row.key.fold != 0 || row.key.replicate != 0) continue;
    if (row.status != TrialStatus::kFinished) continue;
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

// Random and TPE sweeps: one point at a time, each drawn from the history of the points
// before it, so the result does not depend on --jobs or on restarts.
int Scheduler::runSampled(const SweepSchedule& sweep) {
  const bool minimize = !sweep.maximize || sweep.objective.empty();
  const auto start = std::chrono::steady_clock::now();
  std::map<int64_t, Sample> samples;
  int worst = 0;
  for (int64_t number = 0; number < sweep.points; ++number) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (sweep.timeout_seconds > 0 && elapsed > sweep.timeout_seconds) {
      summary_ += fmt::format("{}: stopped after {} trials: the {:.0f} s time budget is used\n", sweep.label(), number,
                              sweep.timeout_seconds);
      if (hooks_.adjust_total) hooks_.adjust_total(-(sweep.points - number) * sweep.folds * sweep.replicates);
      break;
    }
    auto rows = store_.listTrials(study_id_);
    if (!rows.ok()) return storeFailure(rows.error());
    Rng rng = makeTrialRng(sweep.seed, number);
    const auto finished = history(sweep, rows.value(), samples);
    const Sample sample = sweep.method == SweepMethod::kTpe ? sampleTpe(sweep.space, finished, minimize, sweep.tpe, rng)
                                                            : sampleRandom(sweep.space, rng);
    samples[number] = sample;
    auto described = hooks_.describe_sample(sweep, number, sample);
    if (const int* code = std::get_if<int>(&described)) return *code;
    const std::string key = std::get<std::string>(described);
    std::vector<TrialCurve> curves;
    if (sweep.pruner) {
      auto completed = completedCurves(sweep, rows.value());
      if (!completed) return 2;
      curves = std::move(*completed);
    }
    bool pruned = false;
    for (int64_t fold = 0; fold < sweep.folds && !pruned; ++fold) {
      for (int64_t replicate = 0; replicate < sweep.replicates && !pruned; ++replicate) {
        TrialJob job = makeJob(sweep, key, fold, replicate, number + 1, sweep.points);
        TrialCurve current;
        if (sweep.pruner && fold == 0 && replicate == 0) {
          job.should_prune = [&](const EpochRecord& record) {
            const auto it = record.metrics.find(sweep.objective);
            if (it == record.metrics.end()) return false;
            current.values[static_cast<int>(record.epoch)] = it->second;
            return shouldPrune(*sweep.pruner, curves, current, static_cast<int>(record.epoch), minimize);
          };
        }
        const int code = runGuarded(job);
        if (code >= 2) return code;
        worst = std::max(worst, code);
        auto after = store_.listTrials(study_id_);
        if (!after.ok()) return storeFailure(after.error());
        for (const auto& trial : after.value()) {
          pruned = pruned || (trial.key.sweep == sweep.name && trial.key.point_key == key && trial.key.fold == fold &&
                              trial.key.replicate == replicate && trial.status == TrialStatus::kPruned);
        }
      }
    }
    if (pruned && hooks_.adjust_total) hooks_.adjust_total(1 - sweep.folds * sweep.replicates);
  }
  return worst;
}

// After every trial: refit the best point when the sweep asks for it, and combine the
// best point's models when it has an ensemble.
int Scheduler::finish(const SweepSchedule& sweep) {
  if (!sweep.refit && sweep.ensemble == EnsembleKind::kNone) return 0;
  auto rows = store_.listTrials(study_id_);
  if (!rows.ok()) return storeFailure(rows.error());
  const SweepRanking ranking = rankSweep(sweep.name, rows.value(), sweep.objective, sweep.maximize, sweep.grid_points);
  const PointSummary* best = ranking.bestComplete();
  if (best == nullptr) {
    if (sweep.refit && hooks_.adjust_total) hooks_.adjust_total(-1);
    summary_ += fmt::format("{}: no finished trial to refit or ensemble\n", sweep.label());
    return 0;
  }
  if (sweep.ensemble != EnsembleKind::kNone) {
    const int code = ensemble(sweep, *best, rows.value());
    if (code >= 2) return code;
  }
  if (!sweep.refit) return 0;
  const int code = runGuarded(makeJob(sweep, best->key, -1, 0, 1, 1));
  if (code >= 2) return code;
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
