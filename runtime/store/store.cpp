#include "runtime/store/store.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "runtime/store/pg_db.h"
#include "runtime/store/schema.h"
#include "runtime/store/sqlite_db.h"
#include "runtime/store/store_internal.h"
#include "runtime/store/store_url.h"
#include "runtime/store/tensor_blob.h"

namespace nnspec::rt {
namespace {

// How long a call waits for another process that is writing the same store.
constexpr int kBusyTimeoutMs = 10000;

// ---- statuses -----------------------------------------------------------------------

std::optional<TrialStatus> parseStatus(std::string_view text) {
  for (TrialStatus status :
       {TrialStatus::kRunning, TrialStatus::kFinished, TrialStatus::kFailed, TrialStatus::kPruned,
        TrialStatus::kQueued, TrialStatus::kTimedOut}) {
    if (statusName(status) == text) return status;
  }
  return std::nullopt;
}

}  // namespace

StoreResult<TrialStatus> readStatus(const SqlDb& db, const std::string& text) {
  auto status = parseStatus(text);
  if (!status) return StoreError{db.path(), fmt::format("unknown trial status '{}'", text), ""};
  return *status;
}

StoreError inContext(StoreError error, std::string_view context) {
  error.message = fmt::format("{}: {}", context, error.message);
  return error;
}

StoreResult<void> requireRunning(SqlDb& db, Leases& leases, TrialHandle trial) {
  auto query = bound(db, "SELECT status, worker_id, attempts FROM trial WHERE id = ?", trial.id);
  if (!query.ok()) return query.error();
  auto row = query.value().step();
  if (!row.ok()) return row.error();
  if (!row.value()) {
    return StoreError{db.path(), fmt::format("no trial with id {}", trial.id), "begin it with beginTrial first"};
  }
  const std::string status = query.value().textAt(0);
  // -1 stands for no worker on both sides (a Store that did not join a study).
  const int64_t worker = query.value().isNull(1) ? -1 : query.value().int64At(1);
  const int attempt = static_cast<int>(query.value().int64At(2));
  const auto held = leases.held.find(trial.id);
  const bool ours = held != leases.held.end() && held->second == attempt && worker == leases.worker_id.value_or(-1);
  if (held != leases.held.end() && (!ours || status != statusName(TrialStatus::kRunning))) {
    leases.lost.insert(trial.id);
    return StoreError{db.path(),
                      fmt::format("this worker lost its lease on trial {}: it was silent for longer than the lease "
                                  "timeout and another worker took the trial over",
                                  trial.id),
                      "nothing is lost: the other worker continues the trial; if workers are often this slow to "
                      "write their heartbeat, raise --lease-timeout"};
  }
  if (status != statusName(TrialStatus::kRunning)) {
    return StoreError{db.path(), fmt::format("trial {} is {}, not running", trial.id, status),
                      "a trial records epochs and ends once, between beginTrial and its end"};
  }
  if (held == leases.held.end() && leases.worker_id) {
    return StoreError{db.path(), fmt::format("trial {} is not held by this worker", trial.id),
                      "claim it (beginTrial) before writing to it"};
  }
  return {};
}

namespace {

// ---- writing a trial ----------------------------------------------------------------

// The param's value as a number when its whole text is one (finite), else nullopt.
std::optional<double> numberOf(std::string_view text) {
  double number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(number)) return std::nullopt;
  return number;
}

StoreResult<void> checkParamNames(const SqlDb& db, const std::vector<Param>& params) {
  std::set<std::string_view> names;
  for (const Param& param : params) {
    if (!names.insert(param.name).second) {
      return StoreError{db.path(), fmt::format("parameter '{}' is given twice", param.name), ""};
    }
  }
  return {};
}

// `head` followed by `rows` copies of `row` separated by commas: one statement for many
// rows (a round trip each would dominate a trial's cost on a database server).
std::string multiRowSql(std::string_view head, std::string_view row, size_t rows) {
  std::string sql(head);
  for (size_t index = 0; index < rows; ++index) {
    if (index > 0) sql += ", ";
    sql += row;
  }
  return sql;
}

StoreResult<void> insertParams(SqlDb& db, int64_t trial_id, const std::vector<Param>& params) {
  if (params.empty()) return {};
  const std::string sql = multiRowSql("INSERT INTO trial_param (trial_id, name, position, value, number) VALUES ",
                                      "(?, ?, ?, ?, ?)", params.size());
  auto query = db.prepare(sql.c_str());
  if (!query.ok()) return query.error();
  for (size_t position = 0; position < params.size(); ++position) {
    const Param& param = params[position];
    bindValue(query.value(), trial_id);
    bindValue(query.value(), param.name);
    bindValue(query.value(), static_cast<int64_t>(position));
    bindValue(query.value(), param.value);
    bindValue(query.value(), numberOf(param.value));
  }
  return query.value().run();
}

// Metrics of a trial (an epoch's when `epoch` is given) in one statement.
StoreResult<void> insertMetrics(SqlDb& db, int64_t trial_id, std::optional<int> epoch, const Metrics& metrics) {
  if (metrics.empty()) return {};
  const std::string sql =
      epoch ? multiRowSql("INSERT INTO epoch_metric (trial_id, epoch, name, value) VALUES ", "(?, ?, ?, ?)",
                          metrics.size())
            : multiRowSql("INSERT INTO final_metric (trial_id, name, value) VALUES ", "(?, ?, ?)", metrics.size());
  auto query = db.prepare(sql.c_str());
  if (!query.ok()) return query.error();
  for (const auto& [name, value] : metrics) {
    bindValue(query.value(), trial_id);
    if (epoch) bindValue(query.value(), *epoch);
    bindValue(query.value(), name);
    bindValue(query.value(), value);
  }
  return query.value().run();
}

// What an interrupted run wrote about a trial besides its epochs and its checkpoint.
StoreResult<void> clearPartialRecords(SqlDb& db, int64_t trial_id) {
  for (const char* sql :
       {"DELETE FROM final_metric WHERE trial_id = ?", "DELETE FROM trial_param WHERE trial_id = ?",
        "DELETE FROM trial_output WHERE trial_id = ?", "DELETE FROM trial_tensor WHERE trial_id = ?"}) {
    auto deleted = execute(db, sql, trial_id);
    if (!deleted.ok()) return deleted;
  }
  return {};
}

// The epochs of a trial after `epoch` (all of them for 0).
StoreResult<void> clearEpochsAfter(SqlDb& db, int64_t trial_id, int epoch) {
  auto deleted = execute(db, "DELETE FROM epoch_metric WHERE trial_id = ? AND epoch > ?", trial_id, epoch);
  if (!deleted.ok()) return deleted;
  return execute(db, "DELETE FROM epoch WHERE trial_id = ? AND epoch > ?", trial_id, epoch);
}

// Everything an interrupted run wrote about a trial, so that the rerun starts clean.
StoreResult<void> clearTrialRecords(SqlDb& db, int64_t trial_id) {
  auto cleared = clearPartialRecords(db, trial_id);
  if (!cleared.ok()) return cleared;
  cleared = clearEpochsAfter(db, trial_id, 0);
  if (!cleared.ok()) return cleared;
  return execute(db, "DELETE FROM trial_checkpoint WHERE trial_id = ?", trial_id);
}

// The trial's checkpoint, nullopt when it has none, or when its blob is damaged: then
// `damaged` says so.
StoreResult<std::optional<Checkpoint>> readCheckpointLocked(SqlDb& db, int64_t trial_id, std::string& damaged) {
  auto query = bound(db, "SELECT epoch, data FROM trial_checkpoint WHERE trial_id = ?", trial_id);
  if (!query.ok()) return query.error();
  auto row = query.value().step();
  if (!row.ok()) return row.error();
  if (!row.value()) return std::optional<Checkpoint>{};
  auto bytes = decompressBytes(query.value().blobAt(1));
  if (!bytes) {
    damaged = fmt::format("the checkpoint of trial {} is corrupt", trial_id);
    return std::optional<Checkpoint>{};
  }
  Checkpoint checkpoint;
  checkpoint.epoch = static_cast<int>(query.value().int64At(0));
  checkpoint.bytes.assign(bytes->begin(), bytes->end());
  return std::optional<Checkpoint>{std::move(checkpoint)};
}

}  // namespace

// An interrupted trial's checkpoint if it can serve a rerun: readable, and the trial's
// recorded epochs include 1 .. its epoch. `problem` says why one there is not used.
StoreResult<std::optional<Checkpoint>> resumableCheckpoint(SqlDb& db, int64_t trial_id, std::string& problem) {
  auto checkpoint = readCheckpointLocked(db, trial_id, problem);
  if (!checkpoint.ok() || !checkpoint.value()) return checkpoint;
  const int epoch = checkpoint.value()->epoch;
  auto recorded =
      selectInteger(db, "SELECT count(*) FROM epoch WHERE trial_id = ? AND epoch BETWEEN 1 AND ?", trial_id, epoch);
  if (!recorded.ok()) return recorded.error();
  if (epoch < 0 || recorded.value().value_or(0) != epoch) {
    problem = fmt::format("the checkpoint of trial {} is after epoch {}, but the store holds {} of its epochs",
                          trial_id, epoch, recorded.value().value_or(0));
    return std::optional<Checkpoint>{};
  }
  return checkpoint;
}

// Prepares an interrupted trial's rerun: keeps its epochs up to its checkpoint and hands
// the checkpoint back, or clears everything when there is none to continue from.
StoreResult<void> prepareRerun(SqlDb& db, TrialStart& start) {
  const int64_t trial_id = start.handle.id;
  auto checkpoint = resumableCheckpoint(db, trial_id, start.checkpoint_problem);
  if (!checkpoint.ok()) return checkpoint.error();
  if (!checkpoint.value()) return clearTrialRecords(db, trial_id);
  auto cleared = clearPartialRecords(db, trial_id);
  if (!cleared.ok()) return cleared;
  cleared = clearEpochsAfter(db, trial_id, checkpoint.value()->epoch);
  if (!cleared.ok()) return cleared;
  start.checkpoint = std::move(checkpoint.value());
  return {};
}

namespace {

// The trial with this key, if the study has one: its status, and whether it runs
// under a lapsed lease (its worker fell silent, is gone, or it has no worker).
struct FoundTrial {
  TrialHandle handle;
  TrialStatus status = TrialStatus::kRunning;
  bool lapsed = false;
};

StoreResult<std::optional<FoundTrial>> findTrial(SqlDb& db, int64_t study_id, const TrialKey& key,
                                                 double lease_timeout) {
  auto query = bound(db,
                     "SELECT t.id, t.status, CASE WHEN t.worker_id IS NULL OR w.id IS NULL OR w.state <> 'active' "
                     "OR w.heartbeat < {clock} - ? THEN 1 ELSE 0 END FROM trial t LEFT JOIN worker w ON w.id = "
                     "t.worker_id WHERE t.study_id = ? AND t.sweep = ? AND t.point_key = ? AND t.fold = ? AND "
                     "t.replicate = ?",
                     lease_timeout, study_id, key.sweep, key.point_key, key.fold, key.replicate);
  if (!query.ok()) return query.error();
  auto row = query.value().step();
  if (!row.ok()) return row.error();
  if (!row.value()) return std::optional<FoundTrial>();
  auto status = readStatus(db, query.value().textAt(1));
  if (!status.ok()) return status.error();
  return std::optional<FoundTrial>(
      FoundTrial{TrialHandle{query.value().int64At(0)}, status.value(), query.value().int64At(2) != 0});
}

// Inside a write transaction: findTrial, with the trial's row locked first on PostgreSQL.
// Its write transactions do not exclude each other as SQLite's write lock does: a worker
// claiming or beginning the trial right now is waited for, and findTrial, a statement
// after the lock (a new snapshot in READ COMMITTED), sees what it committed.
StoreResult<std::optional<FoundTrial>> lockTrial(SqlDb& db, int64_t study_id, const TrialKey& key,
                                                 double lease_timeout) {
  if (db.dialect() == SqlDialect::kPostgres) {
    auto locked = execute(db,
                          "SELECT id FROM trial WHERE study_id = ? AND sweep = ? AND point_key = ? AND fold = ? "
                          "AND replicate = ? FOR UPDATE",
                          study_id, key.sweep, key.point_key, key.fold, key.replicate);
    if (!locked.ok()) return locked.error();
  }
  return findTrial(db, study_id, key, lease_timeout);
}

}  // namespace

std::string thisHost() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  std::string boot;
  if (std::FILE* file = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    char id[64] = {};
    if (std::fgets(id, sizeof(id), file) != nullptr) boot = id;
    std::fclose(file);
  }
  while (!boot.empty() && (boot.back() == '\n' || boot.back() == ' ')) boot.pop_back();
  return boot.empty() ? std::string(name) : fmt::format("{} ({})", name, boot.substr(0, 8));
}

bool processGone(int64_t pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Inside a write transaction: workers of the study on this host whose process is gone
// are marked lost at once (their trials are then reclaimed without waiting for the lease
// timeout).
StoreResult<void> reapLocalWorkers(SqlDb& db, const Leases& leases, int64_t study_id) {
  auto query = bound(db, "SELECT id, pid FROM worker WHERE study_id = ? AND host = ? AND state = 'active'", study_id,
                     thisHost());
  if (!query.ok()) return query.error();
  std::vector<int64_t> gone;
  while (true) {
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) break;
    const int64_t worker = query.value().int64At(0);
    if (worker != leases.worker_id.value_or(-1) && processGone(query.value().int64At(1))) gone.push_back(worker);
  }
  for (int64_t worker : gone) {
    auto marked = execute(db, "UPDATE worker SET state = 'lost' WHERE id = ?", worker);
    if (!marked.ok()) return marked;
  }
  return {};
}

// Inside a write transaction: makes trial `trial_id` (queued, or running under a lapsed
// lease) this Store's, as a new attempt with its rerun prepared.
StoreResult<TrialStart> takeTrial(SqlDb& db, Leases& leases, int64_t trial_id, bool lapsed) {
  TrialStart start;
  start.handle.id = trial_id;
  if (lapsed) {
    auto lost = execute(db,
                        "UPDATE trial_attempt SET outcome = 'lost', ended_at = {now} "
                        "WHERE trial_id = ? AND outcome = 'running'",
                        trial_id);
    if (!lost.ok()) return lost.error();
  }
  int attempt = 0;
  {
    auto query = bound(db,
                       "UPDATE trial SET status = 'running', worker_id = ?, attempts = attempts + 1, end_epoch = NULL, "
                       "reason = '', seconds = NULL, ended_at = NULL, started_at = {now} WHERE id = ? RETURNING attempts",
                       leases.worker_id, trial_id);
    if (!query.ok()) return query.error();
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) return StoreError{db.path(), fmt::format("no trial with id {}", trial_id), ""};
    attempt = static_cast<int>(query.value().int64At(0));
    auto finished = query.value().run();
    if (!finished.ok()) return finished.error();
  }
  if (attempt > 1) {  // it ran before: keep what its checkpoint covers, clear the rest
    auto prepared = prepareRerun(db, start);
    if (!prepared.ok()) return prepared.error();
  }
  const int from_epoch = start.checkpoint ? start.checkpoint->epoch : 0;
  auto recorded = execute(db,
                          "INSERT INTO trial_attempt (trial_id, attempt, worker_id, from_epoch, outcome) "
                          "VALUES (?, ?, ?, ?, 'running')",
                          trial_id, attempt, leases.worker_id, from_epoch);
  if (!recorded.ok()) return recorded.error();
  start.interrupted = attempt > 1;
  leases.held[trial_id] = attempt;
  leases.lost.erase(trial_id);
  return start;
}

namespace {

// Inside a write transaction: a new trial, running under this Store's lease; nullopt when
// another worker inserted it since our look (PostgreSQL).
StoreResult<std::optional<TrialStart>> insertTrial(SqlDb& db, Leases& leases, int64_t study_id,
                                                   const TrialKey& key) {
  auto study = selectInteger(db, "SELECT id FROM study WHERE id = ?", study_id);
  if (!study.ok()) return study.error();
  if (!study.value()) {
    return StoreError{db.path(), fmt::format("no study with id {}", study_id), "open it with openStudy first"};
  }
  auto inserted = selectInteger(db,
                                "INSERT INTO trial (study_id, sweep, point_key, fold, replicate, seed, status, "
                                "attempts, worker_id, position) VALUES (?, ?, ?, ?, ?, 0, 'running', 1, ?, "
                                "(SELECT coalesce(max(position), 0) + 1 FROM trial WHERE study_id = ?)) "
                                "ON CONFLICT (study_id, sweep, point_key, fold, replicate) DO NOTHING RETURNING id",
                                study_id, key.sweep, key.point_key, key.fold, key.replicate, leases.worker_id,
                                study_id);
  if (!inserted.ok()) return inserted.error();
  if (!inserted.value()) return std::optional<TrialStart>();
  TrialStart start;
  start.handle.id = inserted.value().value_or(0);
  auto recorded = execute(db,
                          "INSERT INTO trial_attempt (trial_id, attempt, worker_id, from_epoch, outcome) "
                          "VALUES (?, 1, ?, 0, 'running')",
                          start.handle.id, leases.worker_id);
  if (!recorded.ok()) return recorded.error();
  leases.held[start.handle.id] = 1;
  return std::optional<TrialStart>(std::move(start));
}

StoreResult<TrialStart> beginTrialLocked(SqlDb& db, Leases& leases, double lease_timeout, int64_t study_id,
                                         const TrialKey& key, const std::vector<Param>& params, uint64_t seed) {
  auto names = checkParamNames(db, params);
  if (!names.ok()) return names.error();
  auto transaction = SqlTransaction::begin(db);
  if (!transaction.ok()) return transaction.error();
  auto reaped = reapLocalWorkers(db, leases, study_id);
  if (!reaped.ok()) return reaped.error();
  auto existing = lockTrial(db, study_id, key, lease_timeout);
  if (!existing.ok()) return existing.error();

  TrialStart start;
  if (!existing.value()) {
    auto inserted = insertTrial(db, leases, study_id, key);
    if (!inserted.ok()) return inserted.error();
    if (inserted.value()) {
      start = std::move(*inserted.value());
    } else {  // another worker inserted it since our look: it is there now
      existing = lockTrial(db, study_id, key, lease_timeout);
      if (!existing.ok()) return existing.error();
      if (!existing.value()) return StoreError{db.path(), "the trial was inserted and removed by another worker", ""};
    }
  }
  if (existing.value()) {
    const FoundTrial& found = *existing.value();
    start.handle = found.handle;
    start.status = found.status;
    if (found.status != TrialStatus::kRunning && found.status != TrialStatus::kQueued) return start;  // ended before
    const auto held = leases.held.find(found.handle.id);
    if (held != leases.held.end() && found.status == TrialStatus::kRunning) {
      if (leases.begun.count(found.handle.id) != 0) {
        return StoreError{db.path(), fmt::format("trial {} is already running in this process", start.handle.id),
                          "each (sweep, point, fold, replicate) is begun once per run"};
      }
      // Claimed with claimTrial: its rerun was prepared then.
      start.interrupted = held->second > 1;
      auto checkpoint = resumableCheckpoint(db, found.handle.id, start.checkpoint_problem);
      if (!checkpoint.ok()) return checkpoint.error();
      start.checkpoint = std::move(checkpoint.value());
    } else if (found.status == TrialStatus::kQueued || found.lapsed) {
      auto taken = takeTrial(db, leases, found.handle.id, found.status == TrialStatus::kRunning);
      if (!taken.ok()) return taken;
      start = std::move(taken.value());
    } else {
      start.held_elsewhere = true;  // another worker runs it now
      return start;
    }
  }
  const int64_t stored_seed = static_cast<int64_t>(seed);  // bit pattern kept: SQL integers are signed
  auto seeded = execute(db, "UPDATE trial SET seed = ? WHERE id = ?", stored_seed, start.handle.id);
  if (!seeded.ok()) return seeded.error();
  if (start.interrupted) {
    auto cleared = execute(db, "DELETE FROM trial_param WHERE trial_id = ?", start.handle.id);
    if (!cleared.ok()) return cleared.error();
  }
  auto params_written = insertParams(db, start.handle.id, params);
  if (!params_written.ok()) return params_written.error();
  auto committed = transaction.value().commit();
  if (!committed.ok()) {
    leases.held.erase(start.handle.id);
    return committed.error();
  }
  leases.begun.insert(start.handle.id);
  return start;
}

// Inside a transaction: one epoch's row and metrics.
// The epoch's row, inserted only while this Store's lease on the trial holds; false when
// it was not (the caller then finds out why).
// Inserts an epoch's row only while the trial runs under this lease (parameters: trial,
// epoch, seconds, trial, worker or -1, attempt), returning its (trial_id, epoch).
const std::string& leasedEpochInsert() {
  static const std::string sql =
      "INSERT INTO epoch (trial_id, epoch, seconds) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM trial "
      "WHERE id = ? AND status = 'running' AND coalesce(worker_id, -1) = ? AND attempts = ?) "
      "ON CONFLICT (trial_id, epoch) DO NOTHING RETURNING trial_id, epoch";
  return sql;
}

// Whether the statement returned a row (it is run to its end).
StoreResult<bool> returnsRow(SqlQuery& query) {
  auto row = query.step();
  if (!row.ok()) return row.error();
  const bool returned = row.value();
  auto rest = query.run();
  if (!rest.ok()) return rest.error();
  return returned;
}

StoreResult<bool> insertLeasedEpoch(SqlDb& db, const Leases& leases, TrialHandle trial, int epoch, double seconds) {
  const auto held = leases.held.find(trial.id);
  if (held == leases.held.end()) return false;
  auto query = bound(db, leasedEpochInsert().c_str(), trial.id, epoch, seconds, trial.id,
                     leases.worker_id.value_or(-1), held->second);
  if (!query.ok()) return query.error();
  return returnsRow(query.value());
}

StoreResult<void> insertEpoch(SqlDb& db, Leases& leases, TrialHandle trial, int epoch, const Metrics& metrics,
                              double seconds) {
  auto leased = insertLeasedEpoch(db, leases, trial, epoch, seconds);
  if (!leased.ok()) return leased.error();
  if (!leased.value()) {  // not held, not running, lease lost, or recorded already: say which
    auto running = requireRunning(db, leases, trial);
    if (!running.ok()) return running;
    auto recorded = selectInteger(db, "SELECT 1 FROM epoch WHERE trial_id = ? AND epoch = ?", trial.id, epoch);
    if (!recorded.ok()) return recorded.error();
    if (recorded.value()) return StoreError{db.path(), "the epoch is already recorded", ""};
    auto inserted =
        execute(db, "INSERT INTO epoch (trial_id, epoch, seconds) VALUES (?, ?, ?)", trial.id, epoch, seconds);
    if (!inserted.ok()) return inserted;
  }
  return insertMetrics(db, trial.id, epoch, metrics);
}

// Inside a transaction: the trial's checkpoint, replacing the one before.
StoreResult<void> writeCheckpoint(SqlDb& db, TrialHandle trial, const Checkpoint& checkpoint) {
  auto query = db.prepare("INSERT INTO trial_checkpoint (trial_id, epoch, data) VALUES (?, ?, ?) ON CONFLICT (trial_id) DO UPDATE "
      "SET epoch = excluded.epoch, data = excluded.data, saved_at = {now}");
  if (!query.ok()) return query.error();
  const std::vector<char> blob = compressBytes(checkpoint.bytes.data(), checkpoint.bytes.size());
  query.value().bind(trial.id).bind(static_cast<int64_t>(checkpoint.epoch));
  query.value().bindBlob(blob.data(), blob.size());
  return query.value().run();
}

StoreResult<void> replaceCheckpoint(SqlDb& db, Leases& leases, TrialHandle trial, const Checkpoint& checkpoint) {
  auto running = requireRunning(db, leases, trial);
  if (!running.ok()) return running;
  return writeCheckpoint(db, trial, checkpoint);
}

// One transaction: the epoch and, when given, the checkpoint taken after it.
// PostgreSQL: an epoch without a checkpoint, its row and metrics, in one statement (one
// round trip, atomic by itself), inserted only while the lease holds. False when nothing
// was inserted: the caller takes the transaction's path, which says why.
StoreResult<bool> recordEpochInOneStatement(SqlDb& db, const Leases& leases, TrialHandle trial, int epoch,
                                            const Metrics& metrics, double seconds) {
  const auto held = leases.held.find(trial.id);
  if (db.dialect() != SqlDialect::kPostgres || held == leases.held.end() || metrics.empty()) return false;
  const std::string sql = multiRowSql(
      "WITH e AS (" + leasedEpochInsert() + ") "
      "INSERT INTO epoch_metric (trial_id, epoch, name, value) SELECT e.trial_id, e.epoch, v.name, v.value "
      "FROM e CROSS JOIN (VALUES ",
      "(CAST(? AS TEXT), CAST(? AS DOUBLE PRECISION))", metrics.size()) + ") AS v (name, value) RETURNING 1";
  auto query = db.prepare(sql.c_str());
  if (!query.ok()) return query.error();
  bindValue(query.value(), trial.id);
  bindValue(query.value(), epoch);
  bindValue(query.value(), seconds);
  bindValue(query.value(), trial.id);
  bindValue(query.value(), leases.worker_id.value_or(-1));
  bindValue(query.value(), held->second);
  for (const auto& [name, value] : metrics) {
    bindValue(query.value(), name);
    bindValue(query.value(), value);
  }
  return returnsRow(query.value());
}

StoreResult<void> recordEpochLocked(SqlDb& db, Leases& leases, TrialHandle trial, int epoch, const Metrics& metrics,
                                    double seconds, const Checkpoint* checkpoint) {
  if (checkpoint == nullptr) {
    auto done = recordEpochInOneStatement(db, leases, trial, epoch, metrics, seconds);
    if (!done.ok()) return done.error();
    if (done.value()) return {};
  }
  auto transaction = SqlTransaction::begin(db);
  if (!transaction.ok()) return transaction.error();
  auto inserted = insertEpoch(db, leases, trial, epoch, metrics, seconds);
  if (!inserted.ok()) return inserted;
  if (checkpoint != nullptr) {
    auto saved = writeCheckpoint(db, trial, *checkpoint);  // the lease was checked by insertEpoch
    if (!saved.ok()) return saved;
  }
  return transaction.value().commit();
}

struct TrialEnd {
  TrialStatus status = TrialStatus::kFinished;
  std::optional<int> epoch;
  std::string_view reason;
  double seconds = 0;
  const Metrics* final_metrics = nullptr;
};

StoreResult<void> endTrialLocked(SqlDb& db, Leases& leases, TrialHandle trial, const TrialEnd& end) {
  auto transaction = SqlTransaction::begin(db);
  if (!transaction.ok()) return transaction.error();
  auto running = requireRunning(db, leases, trial);
  if (!running.ok()) return running;
  auto attempt = execute(db,
                         "UPDATE trial_attempt SET outcome = ?, ended_at = {now} WHERE trial_id = ? AND outcome = "
                         "'running'",
                         statusName(end.status), trial.id);
  if (!attempt.ok()) return attempt;
  auto updated = execute(db,
                         "UPDATE trial SET status = ?, end_epoch = ?, reason = ?, seconds = ?, "
                         "ended_at = {now} WHERE id = ?",
                         statusName(end.status), end.epoch, end.reason, end.seconds, trial.id);
  if (!updated.ok()) return updated;
  // A checkpoint only serves a trial that is still running.
  auto dropped = execute(db, "DELETE FROM trial_checkpoint WHERE trial_id = ?", trial.id);
  if (!dropped.ok()) return dropped;
  if (end.final_metrics != nullptr) {
    auto inserted = insertMetrics(db, trial.id, std::nullopt, *end.final_metrics);
    if (!inserted.ok()) return inserted;
  }
  return transaction.value().commit();
}

// ---- reading trials -----------------------------------------------------------------

// A read transaction, unless the caller's transaction already gives one snapshot.
StoreResult<std::optional<SqlTransaction>> readSnapshot(SqlDb& db) {
  if (db.inTransaction()) return std::optional<SqlTransaction>();
  auto read = SqlTransaction::beginRead(db);
  if (!read.ok()) return read.error();
  return std::optional<SqlTransaction>(std::move(read.value()));
}

// The three queries that read trials, either of a study or one by id (the `?`).
struct TrialQueries {
  const char* trials;
  const char* params;
  const char* final_metrics;
};

constexpr TrialQueries kTrialsOfStudy = {
    "SELECT id, study_id, sweep, point_key, fold, replicate, seed, status, end_epoch, reason, attempts, seconds, "
    "started_at, ended_at FROM trial WHERE study_id = ? ORDER BY id",
    "SELECT p.trial_id, p.name, p.value FROM trial_param p JOIN trial t ON t.id = p.trial_id "
    "WHERE t.study_id = ? ORDER BY p.trial_id, p.position",
    "SELECT m.trial_id, m.name, m.value FROM final_metric m JOIN trial t ON t.id = m.trial_id WHERE t.study_id = ?",
};

constexpr TrialQueries kTrialById = {
    "SELECT id, study_id, sweep, point_key, fold, replicate, seed, status, end_epoch, reason, attempts, seconds, "
    "started_at, ended_at FROM trial WHERE id = ?",
    "SELECT trial_id, name, value FROM trial_param WHERE trial_id = ? ORDER BY position",
    "SELECT trial_id, name, value FROM final_metric WHERE trial_id = ?",
};

StoreResult<TrialRow> readTrialRow(const SqlDb& db, const SqlQuery& query) {
  TrialRow row;
  row.id = query.int64At(0);
  row.study_id = query.int64At(1);
  row.key.sweep = query.textAt(2);
  row.key.point_key = query.textAt(3);
  row.key.fold = static_cast<int>(query.int64At(4));
  row.key.replicate = static_cast<int>(query.int64At(5));
  row.seed = static_cast<uint64_t>(query.int64At(6));
  auto status = readStatus(db, query.textAt(7));
  if (!status.ok()) return status.error();
  row.status = status.value();
  if (!query.isNull(8)) row.end_epoch = static_cast<int>(query.int64At(8));
  row.reason = query.textAt(9);
  row.attempts = static_cast<int>(query.int64At(10));
  if (!query.isNull(11)) row.seconds = query.doubleAt(11);
  row.started_at = query.textAt(12);
  row.ended_at = query.textAt(13);
  return row;
}

StoreResult<std::vector<TrialRow>> readTrials(SqlDb& db, const TrialQueries& sql, int64_t id) {
  auto read = readSnapshot(db);  // one snapshot for the three queries
  if (!read.ok()) return read.error();
  std::vector<TrialRow> trials;
  std::unordered_map<int64_t, size_t> index_of;

  auto query = bound(db, sql.trials, id);
  if (!query.ok()) return query.error();
  while (true) {
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) break;
    auto trial = readTrialRow(db, query.value());
    if (!trial.ok()) return trial.error();
    index_of[trial.value().id] = trials.size();
    trials.push_back(std::move(trial.value()));
  }

  auto params = bound(db, sql.params, id);
  if (!params.ok()) return params.error();
  while (true) {
    auto row = params.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) break;
    TrialRow& trial = trials[index_of.at(params.value().int64At(0))];
    trial.params.push_back(Param{params.value().textAt(1), params.value().textAt(2)});
  }

  auto finals = bound(db, sql.final_metrics, id);
  if (!finals.ok()) return finals.error();
  while (true) {
    auto row = finals.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) break;
    TrialRow& trial = trials[index_of.at(finals.value().int64At(0))];
    trial.final_metrics[finals.value().textAt(1)] = finals.value().doubleAt(2);
  }
  return trials;
}

}  // namespace

StoreResult<std::vector<TrialRow>> readTrialsOfStudy(SqlDb& db, int64_t study_id) {
  return readTrials(db, kTrialsOfStudy, study_id);
}

StoreResult<std::vector<EpochRow>> readEpochs(SqlDb& db, TrialHandle trial) {
  auto read = readSnapshot(db);
  if (!read.ok()) return read.error();
  auto exists = selectInteger(db, "SELECT 1 FROM trial WHERE id = ?", trial.id);
  if (!exists.ok()) return exists.error();
  if (!exists.value()) return StoreError{db.path(), fmt::format("no trial with id {}", trial.id), ""};

  auto query = bound(db,
                     "SELECT e.epoch, e.seconds, m.name, m.value FROM epoch e "
                     "LEFT JOIN epoch_metric m ON m.trial_id = e.trial_id AND m.epoch = e.epoch "
                     "WHERE e.trial_id = ? ORDER BY e.epoch, m.name",
                     trial.id);
  if (!query.ok()) return query.error();
  std::vector<EpochRow> epochs;
  while (true) {
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) break;
    int epoch = static_cast<int>(query.value().int64At(0));
    if (epochs.empty() || epochs.back().epoch != epoch) {
      epochs.push_back(EpochRow{epoch, query.value().doubleAt(1), {}});
    }
    if (!query.value().isNull(2)) epochs.back().metrics[query.value().textAt(2)] = query.value().doubleAt(3);
  }
  return epochs;
}

// ---- study info (schema version 2) ---------------------------------------------------

std::string joinLines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : "\n") + item;
  return out;
}

namespace {

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

StoreResult<void> saveStudyInfoLocked(SqlDb& db, int64_t study_id, const StudyInfo& info) {
  auto transaction = SqlTransaction::begin(db);
  if (!transaction.ok()) return transaction.error();
  auto saved = execute(db, "INSERT INTO study_spec (study_id, path, text, overrides) VALUES (?, ?, ?, ?) ON CONFLICT (study_id) DO "
                       "UPDATE SET path = excluded.path, text = excluded.text, overrides = excluded.overrides",
                       study_id, info.spec_path, info.spec_text, joinLines(info.overrides));
  if (!saved.ok()) return saved;
  saved = execute(db, "DELETE FROM study_report_item WHERE study_id = ?", study_id);
  if (!saved.ok()) return saved;
  for (size_t position = 0; position < info.report.size(); ++position) {
    std::vector<std::string> args;
    for (const auto& arg : info.report[position].args) args.push_back(arg.name + "=" + arg.value);
    saved = execute(db, "INSERT INTO study_report_item (study_id, position, name, args) VALUES (?, ?, ?, ?)", study_id,
                    static_cast<int64_t>(position), info.report[position].name, joinLines(args));
    if (!saved.ok()) return saved;
  }
  for (size_t position = 0; position < info.sweeps.size(); ++position) {
    const SweepRow& sweep = info.sweeps[position];
    saved = execute(db,
                    "INSERT INTO study_sweep (study_id, sweep, position, method, axes, objective, maximize, folds, replicates, "
                    "trials, model, classes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (study_id, sweep) DO "
                    "UPDATE SET position = excluded.position, method = excluded.method, axes = excluded.axes, "
                    "objective = excluded.objective, maximize = excluded.maximize, folds = excluded.folds, "
                    "replicates = excluded.replicates, trials = excluded.trials, model = excluded.model, "
                    "classes = excluded.classes",
                    study_id, sweep.name, static_cast<int64_t>(position), sweep.method, joinLines(sweep.axes),
                    sweep.objective, static_cast<int64_t>(sweep.maximize ? 1 : 0), sweep.folds, sweep.replicates,
                    sweep.trials, sweep.model, joinLines(sweep.class_names));
    if (!saved.ok()) return saved;
  }
  return transaction.value().commit();
}

StoreResult<std::optional<StudyInfo>> readStudyInfoLocked(SqlDb& db, int64_t study_id) {
  auto read = SqlTransaction::beginRead(db);
  if (!read.ok()) return read.error();
  auto spec = bound(db, "SELECT path, text, overrides FROM study_spec WHERE study_id = ?", study_id);
  if (!spec.ok()) return spec.error();
  auto row = spec.value().step();
  if (!row.ok()) return row.error();
  if (!row.value()) return std::optional<StudyInfo>();
  StudyInfo info;
  info.spec_path = spec.value().textAt(0);
  info.spec_text = spec.value().textAt(1);
  info.overrides = splitLines(spec.value().textAt(2));
  auto items = bound(db, "SELECT name, args FROM study_report_item WHERE study_id = ? ORDER BY position", study_id);
  if (!items.ok()) return items.error();
  while (true) {
    auto item = items.value().step();
    if (!item.ok()) return item.error();
    if (!item.value()) break;
    ReportItemRow report{items.value().textAt(0), {}};
    for (const auto& arg : splitLines(items.value().textAt(1))) {
      const size_t equals = arg.find('=');
      if (equals == std::string::npos) continue;
      report.args.push_back({arg.substr(0, equals), arg.substr(equals + 1)});
    }
    info.report.push_back(std::move(report));
  }
  auto sweeps = bound(db,
                      "SELECT sweep, method, axes, objective, maximize, folds, replicates, trials, model, classes "
                      "FROM study_sweep WHERE study_id = ? ORDER BY position, sweep",
                      study_id);
  if (!sweeps.ok()) return sweeps.error();
  while (true) {
    auto next = sweeps.value().step();
    if (!next.ok()) return next.error();
    if (!next.value()) break;
    const SqlQuery& q = sweeps.value();
    info.sweeps.push_back(SweepRow{q.textAt(0), q.textAt(1), splitLines(q.textAt(2)), q.textAt(3), q.int64At(4) != 0,
                                   q.int64At(5), q.int64At(6), q.int64At(7), q.textAt(8), splitLines(q.textAt(9))});
  }
  return std::optional<StudyInfo>(std::move(info));
}

// ---- opening ------------------------------------------------------------------------

// A clearer message than SQLite's "unable to open database file" for the usual mistake.
StoreResult<void> checkFolder(const std::string& path) {
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) return {};
  std::error_code error;
  auto status = std::filesystem::status(folder, error);
  if (!std::filesystem::exists(status)) {
    return StoreError{path, fmt::format("cannot open the store: folder '{}' does not exist", folder.string()),
                      "create the folder, or pass --store with a path in an existing folder"};
  }
  if (!std::filesystem::is_directory(status)) {
    return StoreError{path, fmt::format("cannot open the store: '{}' is not a folder", folder.string()),
                      "pass --store with a path in an existing folder"};
  }
  return {};
}

StoreResult<void> configureConnection(SqlDb& db) {
  auto journal = db.prepare("PRAGMA journal_mode = WAL");
  if (!journal.ok()) return journal.error();
  auto row = journal.value().step();
  if (!row.ok()) return row.error();
  std::string mode = row.value() ? journal.value().textAt(0) : "";
  if (mode != "wal" && mode != "memory") {
    return StoreError{db.path(), fmt::format("cannot switch the store to WAL mode (journal mode is '{}')", mode),
                      "put the store on a local file system"};
  }
  // WAL + NORMAL: a commit survives the process being killed; only power loss can undo
  // the last commits. Foreign keys keep params and metrics tied to existing trials.
  return db.exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
}

}  // namespace

std::string_view statusName(TrialStatus status) {
  switch (status) {
    case TrialStatus::kRunning:
      return "running";
    case TrialStatus::kFinished:
      return "finished";
    case TrialStatus::kFailed:
      return "failed";
    case TrialStatus::kPruned:
      return "pruned";
    case TrialStatus::kQueued:
      return "queued";
    case TrialStatus::kTimedOut:
      return "timed_out";
  }
  return "running";
}

std::string defaultStorePath(const std::string& spec_path) {
  return std::filesystem::path(spec_path).replace_extension("store.sqlite").string();
}

Store::State::~State() { stopHeartbeat(); }

StoreError Store::State::lostConnection(StoreError error, double waited) const {
  error.message = fmt::format("lost the connection to the database and could not reconnect in {:.0f} s: {}", waited,
                              error.message);
  error.hint = "check that the server is up and reachable; finished trials are kept: run again to continue";
  return error;
}

Store::Store(std::unique_ptr<State> state) : state_(std::move(state)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

StoreResult<Store> Store::open(const std::string& location) {
  std::unique_ptr<SqlDb> db;
  if (isPostgresUrl(location)) {
    auto opened = PgDb::open(location);
    if (!opened.ok()) return inContext(opened.error(), "cannot open the store");
    db = std::move(opened.value());
  } else {
    auto folder = checkFolder(location);
    if (!folder.ok()) return folder.error();
    auto opened = SqliteDb::open(location);
    if (!opened.ok()) return inContext(opened.error(), "cannot open the store");
    // Before anything else: two processes may be creating the same store right now.
    opened.value()->setBusyTimeout(kBusyTimeoutMs);
    db = std::move(opened.value());
  }
  // Schema first: it reads before it writes, so a foreign or newer store stays untouched.
  // Connections creating one new SQLite store together: SQLite may return "database is
  // locked" at once, without the busy timeout (8 connections at once under load hit it in
  // configureConnection, after the schema step; most likely its switch to WAL). Both
  // steps are safe to repeat: the schema's writes are one transaction, the pragmas
  // idempotent.
  const auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    auto migrated = migrateSchema(*db);
    StoreResult<void> configured = migrated;
    if (migrated.ok() && db->dialect() == SqlDialect::kSqlite) configured = configureConnection(*db);
    if (configured.ok()) break;
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!configured.error().busy || waited * 1000 >= kBusyTimeoutMs)
      return inContext(configured.error(), "cannot open the store");
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 5 * std::min(attempt, 10)));
  }
  return Store(std::make_unique<State>(std::move(db)));
}

StoreResult<Store> Store::openForReading(const std::string& location) {
  if (isPostgresUrl(location)) return open(location);
  const std::filesystem::path file(location);
  const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  if (::access(location.c_str(), W_OK) == 0 && ::access(folder.c_str(), W_OK) == 0) return open(location);
  auto opened = SqliteDb::openReadOnly(location);
  if (!opened.ok()) return inContext(opened.error(), "cannot read the store");
  opened.value()->setBusyTimeout(kBusyTimeoutMs);
  std::unique_ptr<SqlDb> db = std::move(opened.value());
  // A store of this version is only read here; an older one would need writing.
  auto migrated = migrateSchema(*db);
  if (!migrated.ok()) {
    StoreError error = inContext(migrated.error(), "cannot read the store (opened read-only)");
    if (error.hint.empty()) {
      error.hint = "an older nnspec wrote it and it needs upgrading: open it once where it may be written "
                   "(e.g. `nnspec status` on a writable copy)";
    }
    return error;
  }
  return Store(std::make_unique<State>(std::move(db)));
}

const std::string& Store::path() const { return state_->db->path(); }

StoreResult<Study> Store::openStudy(std::string_view name, std::string_view spec_hash) {
  auto opened = state_->call([&](SqlDb& db) -> StoreResult<Study> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    Study study;
    constexpr const char* kFind = "SELECT id FROM study WHERE name = ? AND spec_hash = ?";
    auto existing = selectInteger(db, kFind, name, spec_hash);
    if (!existing.ok()) return existing.error();
    if (!existing.value()) {
      // Workers started together create it at once: PostgreSQL's transactions do not
      // exclude each other as SQLite's write lock does. The one that comes second finds
      // nothing to insert and reads the first one's study (a new statement: it sees it).
      auto inserted = selectInteger(db,
                                    "INSERT INTO study (name, spec_hash) VALUES (?, ?) "
                                    "ON CONFLICT (name, spec_hash) DO NOTHING RETURNING id",
                                    name, spec_hash);
      if (!inserted.ok()) return inserted.error();
      study.id = inserted.value().value_or(0);
      if (!inserted.value()) existing = selectInteger(db, kFind, name, spec_hash);
      if (!existing.ok()) return existing.error();
      if (!inserted.value() && !existing.value()) {
        return StoreError{db.path(), fmt::format("study '{}' was created and removed by another worker", name), ""};
      }
    }
    if (existing.value()) {
      study.id = *existing.value();
      study.resumed = true;
    }
    auto others = selectInteger(db, "SELECT count(*) FROM study WHERE name = ? AND spec_hash <> ?", name, spec_hash);
    if (!others.ok()) return others.error();
    study.other_versions = others.value().value_or(0);
    auto committed = transaction.value().commit();
    if (!committed.ok()) return committed.error();
    return study;
  });
  if (!opened.ok()) return inContext(opened.error(), "opening a study");
  return opened;
}

StoreResult<std::vector<StudyRow>> Store::listStudies() {
  return state_->call([&](SqlDb& db) -> StoreResult<std::vector<StudyRow>> {
    auto query = db.prepare("SELECT id, name, spec_hash, created_at FROM study ORDER BY id");
    if (!query.ok()) return inContext(query.error(), "listing studies");
    std::vector<StudyRow> studies;
    while (true) {
      auto row = query.value().step();
      if (!row.ok()) return inContext(row.error(), "listing studies");
      if (!row.value()) return studies;
      const SqlQuery& q = query.value();
      studies.push_back(StudyRow{q.int64At(0), q.textAt(1), q.textAt(2), q.textAt(3)});
    }
  });
}

StoreResult<TrialStart> Store::beginTrial(int64_t study_id, const TrialKey& key, const std::vector<Param>& params,
                                          uint64_t seed) {
  return state_->call([&](SqlDb& db) -> StoreResult<TrialStart> {
    auto start = beginTrialLocked(db, state_->leases, state_->settings.lease_timeout_seconds, study_id, key, params,
                                  seed);
    if (!start.ok()) return inContext(start.error(), fmt::format("beginning trial '{}'", key.point_key));
    return start;
  });
}

StoreResult<void> Store::recordEpoch(TrialHandle trial, int epoch, const Metrics& metrics, double seconds) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    auto recorded = recordEpochLocked(db, state_->leases, trial, epoch, metrics, seconds, nullptr);
    if (!recorded.ok()) {
      return inContext(recorded.error(), fmt::format("recording epoch {} of trial {}", epoch, trial.id));
    }
    return {};
  });
}

StoreResult<void> Store::recordEpoch(TrialHandle trial, int epoch, const Metrics& metrics, double seconds,
                                     const Checkpoint& checkpoint) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    if (checkpoint.epoch != epoch) {
      return StoreError{db.path(), fmt::format("a checkpoint after epoch {} recorded with epoch {}", checkpoint.epoch, epoch),
                        ""};
    }
    auto recorded = recordEpochLocked(db, state_->leases, trial, epoch, metrics, seconds, &checkpoint);
    if (!recorded.ok()) {
      return inContext(recorded.error(), fmt::format("recording epoch {} of trial {} with its checkpoint", epoch, trial.id));
    }
    return {};
  });
}

StoreResult<void> Store::recordEpochs(TrialHandle trial, const std::vector<EpochRow>& epochs,
                                      const Checkpoint* checkpoint) {
  if (epochs.empty() && checkpoint == nullptr) return {};
  if (checkpoint != nullptr && !epochs.empty() && checkpoint->epoch != epochs.back().epoch) {
    return StoreError{path(), fmt::format("a checkpoint after epoch {} recorded with epochs up to {}", checkpoint->epoch,
                                          epochs.back().epoch),
                      ""};
  }
  auto recorded = state_->call([&](SqlDb& db) -> StoreResult<void> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    auto running = requireRunning(db, state_->leases, trial);
    if (!running.ok()) return running;
    // In chunks, under both backends' limits on a statement's parameters.
    constexpr size_t kRowsPerStatement = 500;
    for (size_t first = 0; first < epochs.size(); first += kRowsPerStatement) {
      const size_t count = std::min(kRowsPerStatement, epochs.size() - first);
      const std::string sql = multiRowSql("INSERT INTO epoch (trial_id, epoch, seconds) VALUES ", "(?, ?, ?)", count);
      auto query = db.prepare(sql.c_str());
      if (!query.ok()) return query.error();
      for (size_t index = first; index < first + count; ++index) {
        bindValue(query.value(), trial.id);
        bindValue(query.value(), epochs[index].epoch);
        bindValue(query.value(), epochs[index].seconds);
      }
      auto inserted = query.value().run();
      if (!inserted.ok()) return inserted;
    }
    std::vector<std::pair<int, const std::pair<const std::string, double>*>> metrics;
    for (const EpochRow& epoch : epochs) {
      for (const auto& metric : epoch.metrics) metrics.emplace_back(epoch.epoch, &metric);
    }
    for (size_t first = 0; first < metrics.size(); first += kRowsPerStatement) {
      const size_t count = std::min(kRowsPerStatement, metrics.size() - first);
      const std::string sql =
          multiRowSql("INSERT INTO epoch_metric (trial_id, epoch, name, value) VALUES ", "(?, ?, ?, ?)", count);
      auto query = db.prepare(sql.c_str());
      if (!query.ok()) return query.error();
      for (size_t index = first; index < first + count; ++index) {
        bindValue(query.value(), trial.id);
        bindValue(query.value(), metrics[index].first);
        bindValue(query.value(), metrics[index].second->first);
        bindValue(query.value(), metrics[index].second->second);
      }
      auto inserted = query.value().run();
      if (!inserted.ok()) return inserted;
    }
    if (checkpoint != nullptr) {
      auto saved = writeCheckpoint(db, trial, *checkpoint);
      if (!saved.ok()) return saved;
    }
    return transaction.value().commit();
  });
  if (!recorded.ok()) {
    return inContext(recorded.error(), fmt::format("recording {} epochs of trial {}", epochs.size(), trial.id));
  }
  return recorded;
}

StoreResult<void> Store::restartTrial(TrialHandle trial) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    auto running = requireRunning(db, state_->leases, trial);
    if (!running.ok()) return running;
    auto cleared = clearTrialRecords(db, trial.id);
    if (!cleared.ok()) return inContext(cleared.error(), fmt::format("restarting trial {}", trial.id));
    return transaction.value().commit();
  });
}

StoreResult<void> Store::saveOutput(TrialHandle trial, const TrialOutput& output) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    if (output.values.size() != static_cast<size_t>(output.rows * output.width)) {
      return StoreError{db.path(), fmt::format("output '{}' has {} values, not {} x {}", output.name, output.values.size(),
                                            output.rows, output.width),
                        ""};
    }
    auto query = db.prepare(
        "INSERT INTO trial_output (trial_id, name, rows, width, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT (trial_id, name) "
        "DO UPDATE SET rows = excluded.rows, width = excluded.width, data = excluded.data");
    if (!query.ok()) return query.error();
    query.value().bind(trial.id).bind(std::string_view(output.name)).bind(output.rows).bind(output.width);
    query.value().bindBlob(output.values.data(), output.values.size() * sizeof(float));
    auto saved = query.value().run();
    if (!saved.ok()) return inContext(saved.error(), fmt::format("saving output '{}' of trial {}", output.name, trial.id));
    return {};
  });
}

StoreResult<std::optional<TrialOutput>> Store::readOutput(TrialHandle trial, std::string_view name) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::optional<TrialOutput>> {
    auto query = db.prepare("SELECT rows, width, data FROM trial_output WHERE trial_id = ? AND name = ?");
    if (!query.ok()) return query.error();
    query.value().bind(trial.id).bind(name);
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) return std::optional<TrialOutput>{};
    TrialOutput output;
    output.name = std::string(name);
    output.rows = query.value().int64At(0);
    output.width = query.value().int64At(1);
    const std::vector<char> bytes = query.value().blobAt(2);
    output.values.resize(bytes.size() / sizeof(float));
    std::memcpy(output.values.data(), bytes.data(), output.values.size() * sizeof(float));
    if (output.values.size() != static_cast<size_t>(output.rows * output.width)) {
      return StoreError{db.path(), fmt::format("output '{}' of trial {} is damaged", output.name, trial.id), ""};
    }
    return std::optional<TrialOutput>(std::move(output));
  });
}

StoreResult<std::vector<OutputInfo>> Store::listOutputs(TrialHandle trial) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::vector<OutputInfo>> {
    auto query = bound(db, "SELECT name, rows, width FROM trial_output WHERE trial_id = ? ORDER BY name", trial.id);
    if (!query.ok()) return query.error();
    std::vector<OutputInfo> outputs;
    while (true) {
      auto row = query.value().step();
      if (!row.ok()) return inContext(row.error(), fmt::format("listing the outputs of trial {}", trial.id));
      if (!row.value()) return outputs;
      outputs.push_back({query.value().textAt(0), query.value().int64At(1), query.value().int64At(2)});
    }
  });
}

StoreResult<void> Store::saveTensors(TrialHandle trial, const std::vector<StoredTensor>& tensors) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    auto cleared = execute(db, "DELETE FROM trial_tensor WHERE trial_id = ?", trial.id);
    if (!cleared.ok()) return cleared;
    for (size_t position = 0; position < tensors.size(); ++position) {
      const StoredTensor& tensor = tensors[position];
      int64_t count = 1;
      for (int64_t extent : tensor.shape) count *= extent;
      if (count != static_cast<int64_t>(tensor.values.size())) {
        return StoreError{db.path(), fmt::format("tensor '{}' has {} values, not the {} of its shape", tensor.name,
                                              tensor.values.size(), count), ""};
      }
      auto query = db.prepare(
          "INSERT INTO trial_tensor (trial_id, name, kind, position, shape, data) VALUES (?, ?, ?, ?, ?, ?)");
      if (!query.ok()) return query.error();
      const std::vector<char> blob = compressBytes(tensor.values.data(), tensor.values.size() * sizeof(float));
      query.value().bind(trial.id).bind(std::string_view(tensor.name)).bind(std::string_view(tensor.state ? "state" : "param"));
      query.value().bind(static_cast<int64_t>(position)).bind(std::string_view(shapeText(tensor.shape)));
      query.value().bindBlob(blob.data(), blob.size());
      auto saved = query.value().run();
      if (!saved.ok()) return inContext(saved.error(), fmt::format("saving tensor '{}' of trial {}", tensor.name, trial.id));
    }
    return transaction.value().commit();
  });
}

StoreResult<std::vector<StoredTensor>> Store::readTensors(TrialHandle trial) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::vector<StoredTensor>> {
    auto query = bound(db,
                       "SELECT name, kind, shape, data FROM trial_tensor WHERE trial_id = ? ORDER BY position", trial.id);
    if (!query.ok()) return query.error();
    std::vector<StoredTensor> tensors;
    while (true) {
      auto row = query.value().step();
      if (!row.ok()) return inContext(row.error(), fmt::format("reading the tensors of trial {}", trial.id));
      if (!row.value()) return tensors;
      StoredTensor tensor;
      tensor.name = query.value().textAt(0);
      tensor.state = query.value().textAt(1) == "state";
      auto shape = parseShapeText(query.value().textAt(2));
      auto bytes = decompressBytes(query.value().blobAt(3));
      int64_t count = 1;
      for (int64_t extent : shape.value_or(std::vector<int64_t>{})) count *= extent;
      if (!shape || !bytes || bytes->size() != static_cast<size_t>(count) * sizeof(float)) {
        return StoreError{db.path(), fmt::format("tensor '{}' of trial {} is corrupt", tensor.name, trial.id),
                          "the store file was damaged; rerun the trial with a new store"};
      }
      tensor.shape = std::move(*shape);
      tensor.values.resize(static_cast<size_t>(count));
      std::memcpy(tensor.values.data(), bytes->data(), bytes->size());
      tensors.push_back(std::move(tensor));
    }
  });
}

StoreResult<void> Store::dropTensors(TrialHandle trial) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    return execute(db, "DELETE FROM trial_tensor WHERE trial_id = ?", trial.id);
  });
}

StoreResult<void> Store::saveCheckpoint(TrialHandle trial, const Checkpoint& checkpoint) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    auto transaction = SqlTransaction::begin(db);
    if (!transaction.ok()) return transaction.error();
    auto saved = replaceCheckpoint(db, state_->leases, trial, checkpoint);
    if (!saved.ok()) return inContext(saved.error(), fmt::format("saving the checkpoint of trial {}", trial.id));
    return transaction.value().commit();
  });
}

StoreResult<std::optional<Checkpoint>> Store::readCheckpoint(TrialHandle trial) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::optional<Checkpoint>> {
    std::string damaged;
    auto checkpoint = readCheckpointLocked(db, trial.id, damaged);
    if (!checkpoint.ok()) return inContext(checkpoint.error(), fmt::format("reading the checkpoint of trial {}", trial.id));
    if (!damaged.empty()) {
      return StoreError{db.path(), damaged, "the store file was damaged; delete the trial's checkpoint or use a new store"};
    }
    return checkpoint;
  });
}

StoreResult<void> Store::dropCheckpoint(TrialHandle trial) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    return execute(db, "DELETE FROM trial_checkpoint WHERE trial_id = ?", trial.id);
  });
}

StoreResult<void> Store::finishTrial(TrialHandle trial, const Metrics& final_metrics, double seconds) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    TrialEnd end{TrialStatus::kFinished, std::nullopt, "", seconds, &final_metrics};
    auto ended = endTrialLocked(db, state_->leases, trial, end);
    if (!ended.ok()) return inContext(ended.error(), fmt::format("finishing trial {}", trial.id));
    state_->leases.held.erase(trial.id);
    state_->leases.begun.erase(trial.id);
    return {};
  });
}

StoreResult<void> Store::failTrial(TrialHandle trial, int epoch, std::string_view reason, double seconds) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    TrialEnd end{TrialStatus::kFailed, epoch, reason, seconds, nullptr};
    auto ended = endTrialLocked(db, state_->leases, trial, end);
    if (!ended.ok()) return inContext(ended.error(), fmt::format("marking trial {} failed", trial.id));
    state_->leases.held.erase(trial.id);
    state_->leases.begun.erase(trial.id);
    return {};
  });
}

StoreResult<void> Store::pruneTrial(TrialHandle trial, int epoch, double seconds) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    TrialEnd end{TrialStatus::kPruned, epoch, "", seconds, nullptr};
    auto ended = endTrialLocked(db, state_->leases, trial, end);
    if (!ended.ok()) return inContext(ended.error(), fmt::format("marking trial {} pruned", trial.id));
    state_->leases.held.erase(trial.id);
    state_->leases.begun.erase(trial.id);
    return {};
  });
}

StoreResult<void> Store::timeOutTrial(TrialHandle trial, int epochs, const Metrics& final_metrics, double seconds) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    TrialEnd end{TrialStatus::kTimedOut, epochs, "", seconds, &final_metrics};
    auto ended = endTrialLocked(db, state_->leases, trial, end);
    if (!ended.ok()) return inContext(ended.error(), fmt::format("marking trial {} timed out", trial.id));
    state_->leases.held.erase(trial.id);
    state_->leases.begun.erase(trial.id);
    return {};
  });
}

StoreResult<std::vector<TrialRow>> Store::listTrials(int64_t study_id) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::vector<TrialRow>> {
    auto trials = readTrials(db, kTrialsOfStudy, study_id);
    if (!trials.ok()) return inContext(trials.error(), fmt::format("listing the trials of study {}", study_id));
    return trials;
  });
}

StoreResult<TrialRow> Store::readTrial(TrialHandle trial) {
  return state_->call([&](SqlDb& db) -> StoreResult<TrialRow> {
    auto trials = readTrials(db, kTrialById, trial.id);
    if (!trials.ok()) return inContext(trials.error(), fmt::format("reading trial {}", trial.id));
    if (trials.value().empty()) return StoreError{db.path(), fmt::format("no trial with id {}", trial.id), ""};
    return std::move(trials.value().front());
  });
}

StoreResult<std::vector<EpochRow>> Store::listEpochs(TrialHandle trial) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::vector<EpochRow>> {
    auto epochs = readEpochs(db, trial);
    if (!epochs.ok()) return inContext(epochs.error(), fmt::format("reading the epochs of trial {}", trial.id));
    return epochs;
  });
}

StoreResult<TrialCounts> Store::countTrials(int64_t study_id) {
  return state_->call([&](SqlDb& db) -> StoreResult<TrialCounts> {
    auto query = bound(db, "SELECT status, count(*) FROM trial WHERE study_id = ? GROUP BY status", study_id);
    if (!query.ok()) return inContext(query.error(), "counting trials");
    TrialCounts counts;
    while (true) {
      auto row = query.value().step();
      if (!row.ok()) return inContext(row.error(), "counting trials");
      if (!row.value()) return counts;
      auto status = readStatus(db, query.value().textAt(0));
      if (!status.ok()) return status.error();
      int64_t count = query.value().int64At(1);
      switch (status.value()) {
        case TrialStatus::kRunning:
          counts.running = count;
          break;
        case TrialStatus::kFinished:
          counts.finished = count;
          break;
        case TrialStatus::kFailed:
          counts.failed = count;
          break;
        case TrialStatus::kPruned:
          counts.pruned = count;
          break;
        case TrialStatus::kQueued:
          counts.queued = count;
          break;
        case TrialStatus::kTimedOut:
          counts.timed_out = count;
          break;
      }
    }
  });
}

StoreResult<void> Store::saveStudyInfo(int64_t study_id, const StudyInfo& info) {
  return state_->call([&](SqlDb& db) -> StoreResult<void> {
    auto saved = saveStudyInfoLocked(db, study_id, info);
    if (!saved.ok()) return inContext(saved.error(), fmt::format("saving the plan of study {}", study_id));
    return {};
  });
}

StoreResult<std::optional<StudyInfo>> Store::readStudyInfo(int64_t study_id) {
  return state_->call([&](SqlDb& db) -> StoreResult<std::optional<StudyInfo>> {
    auto info = readStudyInfoLocked(db, study_id);
    if (!info.ok()) return inContext(info.error(), fmt::format("reading the plan of study {}", study_id));
    return info;
  });
}

}  // namespace nnspec::rt
