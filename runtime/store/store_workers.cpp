// The Store's side of a study run by many workers: joining, the heartbeat, the queue of
// trials, claims and leases, the draws of sampled sweeps, and what `nnspec status` shows.
// See the top of store.h.

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

#include "runtime/store/store.h"
#include "runtime/store/store_internal.h"

namespace nnspec::rt {
namespace {

// Claims look at trials of one sweep that are queued, or running under a lease that
// lapsed: no worker, a worker marked gone, or a heartbeat older than the lease timeout.
// PostgreSQL skips rows another worker is claiming right now; SQLite's write lock
// already lets one claim through at a time.
// With the gate on (its parameter 1), a queued trial other than a point's first fold and
// replicate waits until that first trial has finished, failed or timed out: a pruned sweep judges a
// point on its first trial, and its other folds run only for a point that was not pruned.
#define kFirstTrialGate                                                                                     \
  "AND (? = 0 OR t.status <> 'queued' OR (t.fold = 0 AND t.replicate = 0) OR EXISTS (SELECT 1 FROM trial f " \
  "WHERE f.study_id = t.study_id AND f.sweep = t.sweep AND f.point_key = t.point_key AND f.fold = 0 AND "    \
  "f.replicate = 0 AND f.status IN ('finished', 'failed', 'timed_out'))) "
constexpr const char* kCandidateSqlite =
    "SELECT t.id, t.status, t.point_key, t.fold, t.replicate FROM trial t LEFT JOIN worker w ON w.id = t.worker_id "
    "WHERE t.study_id = ? AND t.sweep = ? AND (t.status = 'queued' OR (t.status = 'running' AND (t.worker_id IS "
    "NULL OR w.id IS NULL OR w.state <> 'active' OR w.heartbeat < {clock} - ?))) " kFirstTrialGate
    "ORDER BY t.position, t.id LIMIT 1";
constexpr const char* kCandidatePostgres =
    "SELECT t.id, t.status, t.point_key, t.fold, t.replicate FROM trial t LEFT JOIN worker w ON w.id = t.worker_id "
    "WHERE t.study_id = ? AND t.sweep = ? AND (t.status = 'queued' OR (t.status = 'running' AND (t.worker_id IS "
    "NULL OR w.id IS NULL OR w.state <> 'active' OR w.heartbeat < {clock} - ?))) " kFirstTrialGate
    "ORDER BY t.position, t.id LIMIT 1 FOR UPDATE OF t SKIP LOCKED";

#undef kFirstTrialGate

struct Candidate {
  int64_t id = 0;
  bool lapsed = false;  // running under a lapsed lease (else queued)
  TrialKey key;
};

// PostgreSQL: whether a candidate the claim just locked is still claimable. The candidate
// query judged the row by the snapshot it started with; a row another worker claimed and
// committed meanwhile is locked in its new version but rechecked against the worker it
// had then (none, for a queued trial: it passes as lapsed). A new statement sees the
// claim. Updates `lapsed`.
StoreResult<bool> stillClaimable(SqlDb& db, Candidate& candidate, double lease_timeout) {
  auto query = bound(db,
                     "SELECT t.status, CASE WHEN t.worker_id IS NULL OR w.id IS NULL OR w.state <> 'active' "
                     "OR w.heartbeat < {clock} - ? THEN 1 ELSE 0 END FROM trial t LEFT JOIN worker w ON w.id = "
                     "t.worker_id WHERE t.id = ?",
                     lease_timeout, candidate.id);
  if (!query.ok()) return query.error();
  auto row = query.value().step();
  if (!row.ok()) return row.error();
  if (!row.value()) return false;
  const std::string status = query.value().textAt(0);
  const bool lapsed = query.value().int64At(1) != 0;
  auto rest = query.value().run();
  if (!rest.ok()) return rest.error();
  if (status == "queued") {
    candidate.lapsed = false;
    return true;
  }
  candidate.lapsed = true;
  return status == "running" && lapsed;
}

// Inside a write transaction: the next claimable trial of `sweep`, failing on the way
// those whose workers were lost max_attempts times.
StoreResult<std::optional<Claim>> claimLocked(SqlDb& db, Leases& leases, const WorkerSettings& settings,
                                              int64_t study_id, std::string_view sweep, bool first_trial_gates) {
  auto reaped = reapLocalWorkers(db, leases, study_id);
  if (!reaped.ok()) return reaped.error();
  // Positions are not unique across enqueues of several sweeps; ids break ties, and a
  // failed candidate is skipped by the order of the next look (it is no longer claimable).
  for (int guard = 0; guard < 100000; ++guard) {
    std::optional<Candidate> candidate;
    {
      auto query = bound(db, db.dialect() == SqlDialect::kSqlite ? kCandidateSqlite : kCandidatePostgres, study_id,
                         sweep, settings.lease_timeout_seconds, int64_t{first_trial_gates ? 1 : 0});
      if (!query.ok()) return query.error();
      auto row = query.value().step();
      if (!row.ok()) return row.error();
      if (row.value()) {
        const SqlQuery& q = query.value();
        candidate = Candidate{q.int64At(0), q.textAt(1) == "running",
                              TrialKey{std::string(sweep), q.textAt(2), static_cast<int>(q.int64At(3)),
                                       static_cast<int>(q.int64At(4))}};
      }
      auto rest = query.value().run();
      if (!rest.ok()) return rest.error();
    }
    if (!candidate) return std::optional<Claim>();
    if (db.dialect() == SqlDialect::kPostgres) {
      auto claimable = stillClaimable(db, *candidate, settings.lease_timeout_seconds);
      if (!claimable.ok()) return claimable.error();
      if (!claimable.value()) continue;  // the next look no longer finds it
    }
    if (candidate->lapsed) {
      auto lost = selectInteger(db, "SELECT count(*) FROM trial_attempt WHERE trial_id = ? AND outcome = 'lost'",
                                candidate->id);
      if (!lost.ok()) return lost.error();
      const int64_t losses = lost.value().value_or(0) + 1;  // counting the lapse found now
      if (losses >= settings.max_attempts) {
        auto marked = execute(db,
                              "UPDATE trial_attempt SET outcome = 'lost', ended_at = {now} "
                              "WHERE trial_id = ? AND outcome = 'running'",
                              candidate->id);
        if (!marked.ok()) return marked.error();
        const std::string reason = fmt::format(
            "its worker was lost {} times (killed, or silent for more than the {:g} s lease timeout); not retried",
            losses, settings.lease_timeout_seconds);
        auto failed = execute(db,
                              "UPDATE trial SET status = 'failed', reason = ?, worker_id = NULL, ended_at = {now} "
                              "WHERE id = ?",
                              reason, candidate->id);
        if (!failed.ok()) return failed.error();
        continue;
      }
    }
    auto taken = takeTrial(db, leases, candidate->id, candidate->lapsed);
    if (!taken.ok()) return taken.error();
    return std::optional<Claim>(Claim{taken.value().handle, candidate->key, leases.held.at(candidate->id)});
  }
  return StoreError{db.path(), "too many trials failed while claiming one", ""};
}

StoreResult<std::vector<DrawRow>> readDraws(SqlDb& db, int64_t study_id) {
  auto query = bound(db,
                     "SELECT sweep, number, point_key, params, history FROM sweep_draw WHERE study_id = ? "
                     "ORDER BY sweep, number",
                     study_id);
  if (!query.ok()) return query.error();
  std::vector<DrawRow> draws;
  while (true) {
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) return draws;
    const SqlQuery& q = query.value();
    draws.push_back(DrawRow{q.textAt(0), q.int64At(1), q.textAt(2), q.textAt(3), q.textAt(4)});
  }
}

StoreResult<void> insertQueued(SqlDb& db, int64_t study_id, const std::vector<TrialKey>& keys) {
  auto last = selectInteger(db, "SELECT coalesce(max(position), 0) FROM trial WHERE study_id = ?", study_id);
  if (!last.ok()) return last.error();
  int64_t position = last.value().value_or(0);
  for (const TrialKey& key : keys) {
    auto inserted = execute(db,
                            "INSERT INTO trial (study_id, sweep, point_key, fold, replicate, seed, status, attempts, "
                            "position) VALUES (?, ?, ?, ?, ?, 0, 'queued', 0, ?) "
                            "ON CONFLICT (study_id, sweep, point_key, fold, replicate) DO NOTHING",
                            study_id, key.sweep, key.point_key, key.fold, key.replicate, ++position);
    if (!inserted.ok()) return inserted;
  }
  return {};
}

}  // namespace

void Store::State::startHeartbeat(double seconds) {
  stopHeartbeat();
  {
    std::lock_guard lock(mutex);
    stopping = false;
  }
  heartbeat = std::thread([this, seconds] {
    std::unique_lock lock(mutex);
    while (!stopping) {
      wake.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stopping; });
      if (stopping || !leases.worker_id) break;
      const auto started = std::chrono::steady_clock::now();
      auto beat = execute(*db,
                          "UPDATE worker SET heartbeat = {clock}, state = 'active' "
                          "WHERE id = ? AND state IN ('active', 'lost')",
                          *leases.worker_id);
      if (!beat.ok() && db->connectionLost()) (void)db->reconnect();
      ++usage.calls;
      usage.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }
  });
}

void Store::State::stopHeartbeat() {
  {
    std::lock_guard lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  if (heartbeat.joinable()) heartbeat.join();
}

StoreResult<int64_t> Store::joinStudy(int64_t study_id, const WorkerSettings& settings) {
  WorkerSettings chosen = settings;
  if (chosen.name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    chosen.name = fmt::format("{}:{}", host, getpid());
  }
  if (chosen.heartbeat_seconds <= 0) chosen.heartbeat_seconds = std::max(0.05, chosen.lease_timeout_seconds / 6);
  auto joined = state_->call([&](SqlDb& db) -> StoreResult<int64_t> {
    auto worker = selectInteger(db,
                                "INSERT INTO worker (study_id, name, host, pid, state, heartbeat) "
                                "VALUES (?, ?, ?, ?, 'active', {clock}) RETURNING id",
                                study_id, chosen.name, thisHost(), static_cast<int64_t>(getpid()));
    if (!worker.ok()) return worker.error();
    state_->leases.worker_id = worker.value().value_or(0);
    state_->settings = chosen;
    state_->study_id = study_id;
    return *state_->leases.worker_id;
  });
  if (!joined.ok()) return inContext(joined.error(), "joining the study as a worker");
  state_->startHeartbeat(chosen.heartbeat_seconds);
  return joined;
}

StoreResult<void> Store::leaveStudy(bool released) {
  state_->stopHeartbeat();
  if (!state_->leases.worker_id) return {};
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    return execute(db, "UPDATE worker SET state = ?, heartbeat = {clock} WHERE id = ?",
                   std::string_view(released ? "released" : "done"), *state_->leases.worker_id);
  });
}

StoreResult<void> Store::enqueueTrials(int64_t study_id, const std::vector<TrialKey>& keys) {
  auto queued = state_->call([&](SqlDb& db) -> StoreResult<void> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    auto inserted = insertQueued(db, study_id, keys);
    if (!inserted.ok()) return inserted;
    return transaction.value().commit();
  });
  if (!queued.ok()) return inContext(queued.error(), "queueing trials");
  return queued;
}

StoreResult<std::optional<Claim>> Store::claimTrial(int64_t study_id, std::string_view sweep) {
  auto claimed = state_->call([&](SqlDb& db) -> StoreResult<std::optional<Claim>> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    auto claim = claimLocked(db, state_->leases, state_->settings, study_id, sweep, false);
    if (!claim.ok()) return claim;
    auto committed = transaction.value().commit();
    if (!committed.ok()) {
      if (claim.value()) state_->leases.held.erase(claim.value()->handle.id);
      return committed.error();
    }
    return claim;
  });
  if (!claimed.ok()) return inContext(claimed.error(), "claiming a trial");
  return claimed;
}

StoreResult<std::optional<Claim>> Store::claimOrDraw(
    int64_t study_id, std::string_view sweep, const std::function<std::optional<NewDraw>(const DrawContext&)>& draw,
    bool first_trial_gates) {
  auto claimed = state_->call([&](SqlDb& db) -> StoreResult<std::optional<Claim>> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    if (db.dialect() == SqlDialect::kPostgres) {
      // The study lock: draws are made one at a time, each seeing the ones before.
      auto locked = execute(db, "SELECT pg_advisory_xact_lock(1852797808, CAST(? AS INTEGER))", study_id);
      if (!locked.ok()) return locked.error();
    }
    auto claim = claimLocked(db, state_->leases, state_->settings, study_id, sweep, first_trial_gates);
    if (!claim.ok() || claim.value()) {
      if (!claim.ok()) return claim;
      auto committed = transaction.value().commit();
      if (!committed.ok()) return committed.error();
      return claim;
    }
    DrawContext context;
    auto draws = readDraws(db, study_id);
    if (!draws.ok()) return draws.error();
    for (auto& row : draws.value()) {
      if (row.sweep == sweep) context.draws.push_back(std::move(row));
    }
    auto trials = readTrialsOfStudy(db, study_id);
    if (!trials.ok()) return trials.error();
    for (auto& trial : trials.value()) {
      if (trial.key.sweep != sweep) continue;
      if (trial.status == TrialStatus::kPruned) {
        auto epochs = readEpochs(db, TrialHandle{trial.id});
        if (!epochs.ok()) return epochs.error();
        if (!epochs.value().empty()) context.pruned_last_epochs[trial.id] = epochs.value().back();
      }
      context.trials.push_back(std::move(trial));
    }
    std::optional<NewDraw> made = draw(context);
    if (!made) {
      auto committed = transaction.value().commit();
      if (!committed.ok()) return committed.error();
      return std::optional<Claim>();
    }
    auto recorded = execute(db,
                            "INSERT INTO sweep_draw (study_id, sweep, number, point_key, params, history, worker_id) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            study_id, sweep, made->draw.number, made->draw.point_key, made->draw.params,
                            made->draw.history, state_->leases.worker_id);
    if (!recorded.ok()) return recorded.error();
    auto queued = insertQueued(db, study_id, made->trials);
    if (!queued.ok()) return queued.error();
    claim = claimLocked(db, state_->leases, state_->settings, study_id, sweep, first_trial_gates);
    if (!claim.ok()) return claim;
    auto committed = transaction.value().commit();
    if (!committed.ok()) {
      if (claim.value()) state_->leases.held.erase(claim.value()->handle.id);
      return committed.error();
    }
    return claim;
  });
  if (!claimed.ok()) return inContext(claimed.error(), "drawing a trial");
  return claimed;
}

StoreResult<std::optional<double>> Store::bestFinal(int64_t study_id, std::string_view sweep, std::string_view metric,
                                                    bool maximize) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::optional<double>> {
    auto query = bound(db,
                       maximize ? "SELECT max(m.value) FROM final_metric m JOIN trial t ON t.id = m.trial_id "
                                  "WHERE t.study_id = ? AND t.sweep = ? AND t.status = 'finished' AND m.name = ?"
                                : "SELECT min(m.value) FROM final_metric m JOIN trial t ON t.id = m.trial_id "
                                  "WHERE t.study_id = ? AND t.sweep = ? AND t.status = 'finished' AND m.name = ?",
                       study_id, sweep, metric);
    if (!query.ok()) return query.error();
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (!row.value() || query.value().isNull(0)) return std::optional<double>();
    return std::optional<double>(query.value().doubleAt(0));
  });
}

StoreResult<int64_t> Store::countUnfinished(int64_t study_id, std::string_view sweep) {
  return state_->call([&](SqlDb& db) -> StoreResult<int64_t> {
    auto count = selectInteger(db,
                               "SELECT count(*) FROM trial t LEFT JOIN worker w ON w.id = t.worker_id "
                               "WHERE t.study_id = ? AND (t.sweep = ? OR CAST(? AS TEXT) = '') AND "
                               "(t.status = 'queued' OR (t.status = 'running' AND t.worker_id <> ? AND "
                               "w.state = 'active' AND w.heartbeat >= {clock} - ?))",
                               study_id, sweep, sweep, state_->leases.worker_id.value_or(-1),
                               state_->settings.lease_timeout_seconds);
    if (!count.ok()) return count.error();
    return count.value().value_or(0);
  });
}

StoreResult<int64_t> Store::dropQueued(int64_t study_id, std::string_view sweep, std::string_view point_key) {
  return state_->call([&](SqlDb& db) -> StoreResult<int64_t> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    auto count = selectInteger(db,
                               "SELECT count(*) FROM trial WHERE study_id = ? AND sweep = ? AND point_key = ? AND "
                               "status = 'queued'",
                               study_id, sweep, point_key);
    if (!count.ok()) return count.error();
    auto dropped = execute(db, "DELETE FROM trial WHERE study_id = ? AND sweep = ? AND point_key = ? AND status = 'queued'",
                           study_id, sweep, point_key);
    if (!dropped.ok()) return dropped.error();
    auto committed = transaction.value().commit();
    if (!committed.ok()) return committed.error();
    return count.value().value_or(0);
  });
}

StoreResult<void> Store::releaseTrial(TrialHandle trial) {
  auto released = state_->call([&](SqlDb& db) -> StoreResult<void> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    auto running = requireRunning(db, state_->leases, trial);
    if (!running.ok()) return running;
    auto queued = execute(db, "UPDATE trial SET status = 'queued', worker_id = NULL WHERE id = ?", trial.id);
    if (!queued.ok()) return queued;
    auto attempt = execute(db,
                           "UPDATE trial_attempt SET outcome = 'released', ended_at = {now} "
                           "WHERE trial_id = ? AND outcome = 'running'",
                           trial.id);
    if (!attempt.ok()) return attempt;
    auto committed = transaction.value().commit();
    if (!committed.ok()) return committed;
    state_->leases.held.erase(trial.id);
    state_->leases.begun.erase(trial.id);
    return {};
  });
  if (!released.ok()) return inContext(released.error(), fmt::format("handing trial {} back", trial.id));
  return released;
}

Store::Usage Store::usage() const {
  std::lock_guard lock(state_->mutex);
  return state_->usage;
}

bool Store::holdsLease(TrialHandle trial) const {
  std::lock_guard lock(state_->mutex);
  return state_->leases.held.count(trial.id) != 0 && state_->leases.lost.count(trial.id) == 0;
}

StoreResult<std::vector<WorkerRow>> Store::listWorkers(int64_t study_id) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::vector<WorkerRow>> {
    auto query = bound(db,
                       "SELECT w.id, w.name, w.host, w.pid, w.state, w.started_at, {clock} - w.heartbeat, "
                       "(SELECT count(*) FROM trial t WHERE t.worker_id = w.id AND t.status = 'running') "
                       "FROM worker w WHERE w.study_id = ? ORDER BY w.id",
                       study_id);
    if (!query.ok()) return query.error();
    std::vector<WorkerRow> workers;
    while (true) {
      auto row = query.value().step();
      if (!row.ok()) return row.error();
      if (!row.value()) return workers;
      const SqlQuery& q = query.value();
      workers.push_back(WorkerRow{q.int64At(0), q.textAt(1), q.textAt(2), q.int64At(3), q.textAt(4), q.textAt(5),
                                  q.doubleAt(6), q.int64At(7)});
    }
  });
}

StoreResult<std::vector<AttemptRow>> Store::listAttempts(int64_t study_id) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::vector<AttemptRow>> {
    auto query = bound(db,
                       "SELECT a.trial_id, a.attempt, coalesce(w.name, ''), a.from_epoch, a.outcome, a.started_at, "
                       "coalesce(a.ended_at, '') FROM trial_attempt a JOIN trial t ON t.id = a.trial_id "
                       "LEFT JOIN worker w ON w.id = a.worker_id WHERE t.study_id = ? ORDER BY a.trial_id, a.attempt",
                       study_id);
    if (!query.ok()) return query.error();
    std::vector<AttemptRow> attempts;
    while (true) {
      auto row = query.value().step();
      if (!row.ok()) return row.error();
      if (!row.value()) return attempts;
      const SqlQuery& q = query.value();
      attempts.push_back(AttemptRow{q.int64At(0), static_cast<int>(q.int64At(1)), q.textAt(2),
                                    static_cast<int>(q.int64At(3)), q.textAt(4), q.textAt(5), q.textAt(6)});
    }
  });
}

StoreResult<std::vector<DrawRow>> Store::listDraws(int64_t study_id) {
  return state_->call([&](SqlDb& db) { return readDraws(db, study_id); });
}

}  // namespace nnspec::rt
