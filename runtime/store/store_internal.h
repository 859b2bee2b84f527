#pragma once
// What store.cpp and store_workers.cpp share (private to runtime/store): the Store's
// state, the small query shapes, and the steps of beginning and reclaiming a trial.

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "runtime/store/sql_db.h"
#include "runtime/store/store.h"

namespace nnspec::rt {

StoreError inContext(StoreError error, std::string_view context);

// ---- binding values in order, and small query shapes --------------------------------

inline void bindValue(SqlQuery& query, int64_t value) { query.bind(value); }
inline void bindValue(SqlQuery& query, int value) { query.bind(static_cast<int64_t>(value)); }
inline void bindValue(SqlQuery& query, double value) { query.bind(value); }
inline void bindValue(SqlQuery& query, std::string_view value) { query.bind(value); }
inline void bindValue(SqlQuery& query, const std::string& value) { query.bind(std::string_view(value)); }
template <class T>
void bindValue(SqlQuery& query, const std::optional<T>& value) {
  if (!value) {
    query.bindNull();
    return;
  }
  bindValue(query, *value);
}

template <class... Values>
StoreResult<SqlQuery> bound(SqlDb& db, const char* sql, const Values&... values) {
  auto query = db.prepare(sql);
  if (!query.ok()) return query;
  (bindValue(query.value(), values), ...);
  return query;
}

template <class... Values>
StoreResult<void> execute(SqlDb& db, const char* sql, const Values&... values) {
  auto query = bound(db, sql, values...);
  if (!query.ok()) return query.error();
  return query.value().run();
}

// The first column of the first row, as an integer; nullopt when there is no row.
template <class... Values>
StoreResult<std::optional<int64_t>> selectInteger(SqlDb& db, const char* sql, const Values&... values) {
  auto query = bound(db, sql, values...);
  if (!query.ok()) return query.error();
  auto row = query.value().step();
  if (!row.ok()) return row.error();
  if (!row.value()) return std::optional<int64_t>();
  return std::optional<int64_t>(query.value().int64At(0));
}

StoreResult<TrialStatus> readStatus(const SqlDb& db, const std::string& text);

// ---- leases -------------------------------------------------------------------------

// What this Store holds: its worker (once it joined a study) and the trials it claimed,
// each with the attempt number that is its lease.
struct Leases {
  std::optional<int64_t> worker_id;
  std::map<int64_t, int> held;  // trial id -> attempt
  std::set<int64_t> begun;      // held trials begun with beginTrial
  std::set<int64_t> lost;       // held trials another worker took over
};

// An error unless the trial exists, is running, and (when this Store holds it or is a
// worker) is still held by this Store's lease.
StoreResult<void> requireRunning(SqlDb& db, Leases& leases, TrialHandle trial);

// Prepares an interrupted or released trial's rerun: keeps its epochs up to its
// checkpoint and hands the checkpoint back, or clears everything when there is none.
StoreResult<void> prepareRerun(SqlDb& db, TrialStart& start);

StoreResult<std::optional<Checkpoint>> resumableCheckpoint(SqlDb& db, int64_t trial_id, std::string& problem);

// Inside a write transaction: workers of the study on this host whose process is gone
// are marked lost.
StoreResult<void> reapLocalWorkers(SqlDb& db, const Leases& leases, int64_t study_id);

// Inside a write transaction: makes a queued trial, or one running under a lapsed lease
// (`lapsed`), this Store's as a new attempt, with its rerun prepared.
StoreResult<TrialStart> takeTrial(SqlDb& db, Leases& leases, int64_t trial_id, bool lapsed);

StoreResult<std::vector<TrialRow>> readTrialsOfStudy(SqlDb& db, int64_t study_id);
StoreResult<std::vector<EpochRow>> readEpochs(SqlDb& db, TrialHandle trial);

std::string joinLines(const std::vector<std::string>& items);

struct Store::State {
  explicit State(std::unique_ptr<SqlDb> opened) : db(std::move(opened)) {}
  ~State();

  // Runs `body` on the connection with the store locked. A connection lost on the way
  // (PostgreSQL) is reopened with backoff and `body` run again; a write transaction the
  // server never committed is safe to repeat.
  template <class Body>
  auto call(Body&& body) -> decltype(body(std::declval<SqlDb&>())) {
    std::lock_guard lock(mutex);
    const auto started = std::chrono::steady_clock::now();
    struct Count {  // the time spent in the store, however the call returns
      Store::Usage& usage;
      std::chrono::steady_clock::time_point started;
      ~Count() {
        ++usage.calls;
        usage.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      }
    } count{usage, started};
    auto result = body(*db);
    double wait = 0.25, waited = 0;
    while (!result.ok() && db->connectionLost()) {
      if (waited >= kReconnectSeconds) return lostConnection(result.error(), waited);
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      waited += wait;
      wait = std::min(wait * 2, 4.0);
      if (!db->reconnect().ok()) continue;
      result = body(*db);
    }
    return result;
  }
  StoreError lostConnection(StoreError error, double waited) const;

  void startHeartbeat(double seconds);
  void stopHeartbeat();

  static constexpr double kReconnectSeconds = 30;

  std::unique_ptr<SqlDb> db;
  std::mutex mutex;  // one call at a time on the connection
  Leases leases;
  WorkerSettings settings;
  int64_t study_id = 0;  // the study joined
  Store::Usage usage;    // guarded by `mutex`

  std::thread heartbeat;
  std::condition_variable wake;  // with `mutex`: stop the heartbeat
  bool stopping = false;
};

// This machine, as workers name it: the host name and the boot id, so that a pid is
// only probed on the machine (and boot) that started it.
std::string thisHost();
// Whether process `pid` of this host is gone.
bool processGone(int64_t pid);

}  // namespace nnspec::rt
