// The result store on both of its backends: every check here runs once on a fresh SQLite
// file and once on a fresh database of the throwaway PostgreSQL server
// (tests/store/pg_server.h). The trial lifecycle round-trips bit for bit, the schema is
// the same on both, and workers share a study: claims, leases lost and reclaimed from a
// checkpoint, trials handed back, draws made one at a time, and workers racing to open a
// study, claim or begin the same trials (threads, each with its own Store: SQLite's write
// lock serialises them, PostgreSQL's transactions do not). PostgreSQL's faults (a dropped
// connection, a server that goes away for a while) are at the end.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runtime/store/pg_db.h"
#include "runtime/store/sql_db.h"
#include "runtime/store/sqlite_db.h"
#include "runtime/store/store.h"
#include "runtime/store/store_url.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_require.h"
#include "tests/store/temp_dir.h"

namespace {

using Catch::Matchers::Contains;
using nnspec::rt::AttemptRow;
using nnspec::rt::Checkpoint;
using nnspec::rt::Claim;
using nnspec::rt::DrawContext;
using nnspec::rt::EpochRow;
using nnspec::rt::Metrics;
using nnspec::rt::NewDraw;
using nnspec::rt::Param;
using nnspec::rt::PgDb;
using nnspec::rt::SqlDb;
using nnspec::rt::SqliteDb;
using nnspec::rt::SqlQuery;
using nnspec::rt::Store;
using nnspec::rt::StoredTensor;
using nnspec::rt::StoreError;
using nnspec::rt::StoreResult;
using nnspec::rt::StudyInfo;
using nnspec::rt::TrialHandle;
using nnspec::rt::TrialKey;
using nnspec::rt::TrialOutput;
using nnspec::rt::TrialRow;
using nnspec::rt::TrialStart;
using nnspec::rt::TrialStatus;
using nnspec::rt::WorkerRow;
using nnspec::rt::WorkerSettings;
using nnspec::test::PgCluster;
using nnspec::test::PgServer;
using nnspec::test::TempDir;

using nnspec::test::require;
using nnspec::test::requireError;

// ---- the two backends ------------------------------------------------------------------

enum class Backend { kSqlite, kPostgres };

const char* backendName(Backend backend) { return backend == Backend::kSqlite ? "sqlite" : "postgresql"; }

// A fresh, empty store location: a file in `dir`, or a new database on the test server.
std::string freshLocation(Backend backend, const TempDir& dir, std::string_view name) {
  if (backend == Backend::kSqlite) return dir.path(std::string(name) + ".sqlite");
  return PgServer::instance().createDatabase(name);
}

// A connection of our own to the store, beside the Store's: to look at it, or to do
// what another machine would do to it.
std::unique_ptr<SqlDb> openRaw(const std::string& location) {
  if (nnspec::rt::isPostgresUrl(location)) return require(PgDb::open(location));
  auto db = require(SqliteDb::open(location));
  db->setBusyTimeout(10000);
  return db;
}

void run(SqlDb& db, const char* sql) { require(db.exec(sql)); }

// The first column of the first row, as an integer.
int64_t integerOf(SqlDb& db, const char* sql) {
  SqlQuery query = require(db.prepare(sql));
  REQUIRE(require(query.step()));
  return query.int64At(0);
}

// Every row of a query, its text columns joined by '|'.
std::vector<std::string> rowsOf(SqlDb& db, const char* sql, int columns) {
  SqlQuery query = require(db.prepare(sql));
  std::vector<std::string> rows;
  while (require(query.step())) {
    std::string row;
    for (int column = 0; column < columns; ++column) row += (column == 0 ? "" : "|") + query.textAt(column);
    rows.push_back(row);
  }
  return rows;
}

// Runs a statement with one integer parameter.
void runWith(SqlDb& db, const char* sql, int64_t value) {
  SqlQuery query = require(db.prepare(sql));
  query.bind(value);
  require(query.run());
}

// ---- values ---------------------------------------------------------------------------

uint64_t bitsOf(double value) { return std::bit_cast<uint64_t>(value); }

// Equal bit for bit; any NaN equals any NaN (NaN is stored as NULL).
void checkSameDouble(double actual, double expected) {
  if (std::isnan(expected)) {
    CHECK(std::isnan(actual));
    return;
  }
  CHECK(bitsOf(actual) == bitsOf(expected));
}

void checkSameMetrics(const Metrics& actual, const Metrics& expected) {
  REQUIRE(actual.size() == expected.size());
  for (const auto& [name, value] : expected) {
    INFO("metric " << name);
    REQUIRE(actual.count(name) == 1);
    checkSameDouble(actual.at(name), value);
  }
}

bool sameFloats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Doubles that tell a decimal or a binary round trip from an exact one.
const Metrics kHardMetrics = {
    {"loss", 0.1},
    {"third", 1.0 / 3.0},
    {"denormal", 5e-324},
    {"largest", std::numeric_limits<double>::max()},
    {"negative", -2.5e-10},
    {"pi", 3.141592653589793},
    {"infinite", std::numeric_limits<double>::infinity()},
    {"nan", std::numeric_limits<double>::quiet_NaN()},
};

// ISO 8601 in UTC with milliseconds, as both backends write it.
bool isUtcStamp(const std::string& text) {
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
      text[19] != '.' || text[23] != 'Z') {
    return false;
  }
  for (size_t at : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22}) {
    if (std::isdigit(static_cast<unsigned char>(text[at])) == 0) return false;
  }
  return true;
}

Checkpoint checkpointAfter(int epoch) {
  Checkpoint checkpoint;
  checkpoint.epoch = epoch;
  for (int k = 0; k < 64; ++k) checkpoint.bytes.push_back(static_cast<uint8_t>(epoch * 31 + k));
  return checkpoint;
}

Metrics epochMetrics(int epoch) { return {{"loss", 1.0 / epoch}, {"val.accuracy", 0.5 + epoch / 100.0}}; }

// ---- workers --------------------------------------------------------------------------

// A live worker: it writes its heartbeat every lease_timeout / 6 s, so its lease holds.
WorkerSettings liveWorker(const std::string& name, int max_attempts = 3) {
  WorkerSettings settings;
  settings.name = name;
  settings.lease_timeout_seconds = 5;
  settings.max_attempts = max_attempts;
  return settings;
}

// A worker that falls silent once it joined: its heartbeat thread waits an hour.
WorkerSettings silentWorker(const std::string& name, int max_attempts = 3) {
  WorkerSettings settings = liveWorker(name, max_attempts);
  settings.heartbeat_seconds = 3600;
  return settings;
}

// What another machine's worker that stopped writing its heartbeat looks like: another
// host (no pid probe here), and a heartbeat 100 s old.
void makeSilentElsewhere(SqlDb& raw, int64_t worker_id) {
  runWith(raw, "UPDATE worker SET host = 'elsewhere', heartbeat = heartbeat - 100 WHERE id = ?", worker_id);
}

std::vector<TrialKey> pointKeys(const std::string& sweep, int count) {
  std::vector<TrialKey> keys;
  for (int k = 0; k < count; ++k) keys.push_back(TrialKey{sweep, "p" + std::to_string(k), 0, 0});
  return keys;
}

// Begins a claimed trial as a run does.
TrialStart beginClaimed(Store& store, int64_t study_id, const Claim& claim) {
  TrialStart start = require(store.beginTrial(study_id, claim.key, {{"x", claim.key.point_key}}, 7));
  REQUIRE(start.handle.id == claim.handle.id);
  REQUIRE(start.shouldRun());
  return start;
}

std::map<int64_t, std::vector<AttemptRow>> attemptsByTrial(Store& store, int64_t study_id) {
  std::map<int64_t, std::vector<AttemptRow>> by_trial;
  for (AttemptRow& row : require(store.listAttempts(study_id))) by_trial[row.trial_id].push_back(std::move(row));
  return by_trial;
}

std::vector<int> epochNumbers(Store& store, TrialHandle trial) {
  std::vector<int> numbers;
  for (const EpochRow& row : require(store.listEpochs(trial))) numbers.push_back(row.epoch);
  return numbers;
}

// Two workers of one study, each its own Store (its own connection), as two processes.
struct TwoWorkers {
  TwoWorkers(const std::string& location, const WorkerSettings& first, const WorkerSettings& second)
      : a(require(Store::open(location))), b(require(Store::open(location))) {
    study_id = require(a.openStudy("workers", "hash")).id;
    REQUIRE(require(b.openStudy("workers", "hash")).id == study_id);
    a_id = require(a.joinStudy(study_id, first));
    b_id = require(b.joinStudy(study_id, second));
  }
  Store a;
  Store b;
  int64_t study_id = 0;
  int64_t a_id = 0;
  int64_t b_id = 0;
};

#define FOR_EACH_BACKEND(name)                                            \
  const Backend backend = GENERATE(Backend::kSqlite, Backend::kPostgres); \
  INFO("backend: " << backendName(backend));                              \
  TempDir dir;                                                            \
  const std::string location = freshLocation(backend, dir, name)

// ---- the trial lifecycle --------------------------------------------------------------

TEST_CASE("backends: a trial's lifecycle round-trips bit for bit", "[store]") {
  FOR_EACH_BACKEND("lifecycle");
  const uint64_t big_seed = 0xFEDCBA9876543210ULL;  // > 2^63: stored as its bit pattern
  const std::vector<Param> params = {{"lr", "0.001"}, {"act", "relu"}, {"hidden", "[64, 32]"}};
  const TrialKey key{"grid", "act=relu,lr=0.001", 2, 1};
  const std::vector<float> predictions = {0.1f, -0.0f, 1e-45f, 3.4028235e38f, 0.5f, 0.25f};
  const std::vector<StoredTensor> tensors = {
      {"dense1.kernel", false, {2, 3}, {1.5f, -2.25f, 0.1f, 1e-30f, 7.0f, -0.0f}},
      {"dense1.bias", false, {3}, {0.0f, 1.0f, -1.0f}},
      {"batchnorm1.moving_mean", true, {}, {42.5f}},
  };
  StudyInfo info;
  info.spec_path = "specs/a 'quoted' spec.nnspec";
  info.spec_text = "experiment x\n// é, ü, 漢字, \"quotes\", 'single', back\\slash\nseed 1\n";
  info.overrides = {"lr=0.1", "epochs=3"};
  info.report = {{"curves", {{"y", "[val.accuracy, loss]"}}}, {"table", {}}};
  info.sweeps = {{"grid", "grid", {"lr", "act"}, "val.accuracy", true, 3, 2, 12, "mlp", {"cat", "dog"}},
                 {"other", "tpe", {"lr"}, "", false, 1, 1, 40, "cnn", {}}};

  int64_t study_id = 0;
  TrialHandle finished, failed, pruned;
  {
    Store store = require(Store::open(location));
    CHECK(store.path() == location);
    const auto study = require(store.openStudy("exp", "hash-1"));
    study_id = study.id;
    CHECK_FALSE(study.resumed);

    const TrialStart start = require(store.beginTrial(study_id, key, params, big_seed));
    REQUIRE(start.shouldRun());
    CHECK_FALSE(start.interrupted);
    finished = start.handle;
    for (int epoch = 1; epoch <= 3; ++epoch) {
      Metrics metrics = kHardMetrics;
      metrics["epoch"] = epoch;
      require(store.recordEpoch(finished, epoch, metrics, 0.1 * epoch, checkpointAfter(epoch)));
    }
    const auto checkpoint = require(store.readCheckpoint(finished));
    REQUIRE(checkpoint);
    CHECK(checkpoint->epoch == 3);
    CHECK(checkpoint->bytes == checkpointAfter(3).bytes);
    require(store.saveOutput(finished, TrialOutput{"test.predictions", 3, 2, predictions}));
    require(store.saveTensors(finished, tensors));
    require(store.finishTrial(finished, kHardMetrics, 1.0 / 7.0));
    CHECK_FALSE(require(store.readCheckpoint(finished)));  // dropped at the end

    failed = require(store.beginTrial(study_id, TrialKey{"grid", "lr=1", 0, 0}, {}, 0)).handle;
    require(store.recordEpoch(failed, 1, {{"loss", std::numeric_limits<double>::quiet_NaN()}}, 0.5));
    require(store.failTrial(failed, 1, "loss became nan at epoch 1: 'quoted'", 0.75));
    pruned = require(store.beginTrial(study_id, TrialKey{"grid", "lr=2", 0, 0}, {}, UINT64_MAX)).handle;
    require(store.pruneTrial(pruned, 2, 2.5));
    require(store.saveStudyInfo(study_id, info));
  }

  // Everything again through a new connection.
  Store store = require(Store::open(location));
  const auto reopened = require(store.openStudy("exp", "hash-1"));
  CHECK(reopened.id == study_id);
  CHECK(reopened.resumed);
  CHECK(reopened.other_versions == 0);

  const TrialRow row = require(store.readTrial(finished));
  CHECK(row.study_id == study_id);
  CHECK(row.key == key);
  CHECK(row.params == params);
  CHECK(row.seed == big_seed);
  CHECK(row.status == TrialStatus::kFinished);
  CHECK_FALSE(row.end_epoch);
  CHECK(row.reason.empty());
  CHECK(row.attempts == 1);
  checkSameMetrics(row.final_metrics, kHardMetrics);
  REQUIRE(row.seconds);
  checkSameDouble(*row.seconds, 1.0 / 7.0);
  CHECK(isUtcStamp(row.started_at));
  CHECK(isUtcStamp(row.ended_at));

  const auto epochs = require(store.listEpochs(finished));
  REQUIRE(epochs.size() == 3);
  for (int epoch = 1; epoch <= 3; ++epoch) {
    const EpochRow& stored = epochs[static_cast<size_t>(epoch - 1)];
    CHECK(stored.epoch == epoch);
    checkSameDouble(stored.seconds, 0.1 * epoch);
    Metrics expected = kHardMetrics;
    expected["epoch"] = epoch;
    checkSameMetrics(stored.metrics, expected);
  }

  const auto output = require(store.readOutput(finished, "test.predictions"));
  REQUIRE(output);
  CHECK(output->rows == 3);
  CHECK(output->width == 2);
  CHECK(sameFloats(output->values, predictions));
  CHECK_FALSE(require(store.readOutput(finished, "missing")));
  const auto outputs = require(store.listOutputs(finished));
  REQUIRE(outputs.size() == 1);
  CHECK(outputs[0].name == "test.predictions");

  const auto read_tensors = require(store.readTensors(finished));
  REQUIRE(read_tensors.size() == tensors.size());
  for (size_t k = 0; k < tensors.size(); ++k) {
    INFO("tensor " << tensors[k].name);
    CHECK(read_tensors[k].name == tensors[k].name);
    CHECK(read_tensors[k].state == tensors[k].state);
    CHECK(read_tensors[k].shape == tensors[k].shape);
    CHECK(sameFloats(read_tensors[k].values, tensors[k].values));
  }

  const TrialRow failed_row = require(store.readTrial(failed));
  CHECK(failed_row.status == TrialStatus::kFailed);
  CHECK(failed_row.end_epoch == 1);
  CHECK(failed_row.reason == "loss became nan at epoch 1: 'quoted'");
  CHECK(failed_row.seed == 0);
  CHECK(std::isnan(require(store.listEpochs(failed)).at(0).metrics.at("loss")));
  const TrialRow pruned_row = require(store.readTrial(pruned));
  CHECK(pruned_row.status == TrialStatus::kPruned);
  CHECK(pruned_row.end_epoch == 2);
  CHECK(pruned_row.seed == UINT64_MAX);

  const auto trials = require(store.listTrials(study_id));
  REQUIRE(trials.size() == 3);
  CHECK(trials[0].id == finished.id);
  CHECK(trials[1].id == failed.id);
  CHECK(trials[2].id == pruned.id);
  CHECK(trials[0].seed == big_seed);
  CHECK(trials[0].params == params);
  const auto counts = require(store.countTrials(study_id));
  CHECK(counts.finished == 1);
  CHECK(counts.failed == 1);
  CHECK(counts.pruned == 1);
  CHECK(counts.running == 0);
  CHECK(counts.queued == 0);

  // An ended trial is reported ended, and left as it was.
  const TrialStart again = require(store.beginTrial(study_id, key, params, 1));
  CHECK(again.status == TrialStatus::kFinished);
  CHECK_FALSE(again.shouldRun());
  CHECK(require(store.readTrial(finished)).seed == big_seed);

  const auto read_info = require(store.readStudyInfo(study_id));
  REQUIRE(read_info);
  CHECK(read_info->spec_path == info.spec_path);
  CHECK(read_info->spec_text == info.spec_text);
  CHECK(read_info->overrides == info.overrides);
  REQUIRE(read_info->report.size() == 2);
  CHECK(read_info->report[0].name == "curves");
  CHECK(read_info->report[0].args == info.report[0].args);
  CHECK(read_info->report[1].name == "table");
  CHECK(read_info->report[1].args.empty());
  REQUIRE(read_info->sweeps.size() == 2);
  for (size_t k = 0; k < 2; ++k) {
    const auto& got = read_info->sweeps[k];
    const auto& want = info.sweeps[k];
    INFO("sweep " << want.name);
    CHECK(got.name == want.name);
    CHECK(got.method == want.method);
    CHECK(got.axes == want.axes);
    CHECK(got.objective == want.objective);
    CHECK(got.maximize == want.maximize);
    CHECK(got.folds == want.folds);
    CHECK(got.replicates == want.replicates);
    CHECK(got.trials == want.trials);
    CHECK(got.model == want.model);
    CHECK(got.class_names == want.class_names);
  }
  CHECK_FALSE(require(store.readStudyInfo(study_id + 1000)));

  // Another spec hash is another study beside this one.
  const auto edited = require(store.openStudy("exp", "hash-2"));
  CHECK(edited.id != study_id);
  CHECK_FALSE(edited.resumed);
  CHECK(edited.other_versions == 1);
  CHECK(require(store.listStudies()).size() == 2);
}

// ---- the schema -----------------------------------------------------------------------

// Table → its columns in order, each "name type" with the type in the portable DDL's
// words (INTEGER, REAL, TEXT, BLOB), from the database's own catalogue.
std::map<std::string, std::vector<std::string>> tableColumns(SqlDb& db) {
  std::map<std::string, std::vector<std::string>> tables;
  const bool sqlite = db.dialect() == nnspec::rt::SqlDialect::kSqlite;
  const char* sql = sqlite ? "SELECT m.name, p.name, upper(p.type) FROM sqlite_master m, pragma_table_info(m.name) p "
                             "WHERE m.type = 'table' ORDER BY m.name, p.cid"
                           : "SELECT table_name, column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position";
  static const std::map<std::string, std::string> kPortable = {
      {"bigint", "INTEGER"}, {"double precision", "REAL"}, {"text", "TEXT"}, {"bytea", "BLOB"}};
  for (const std::string& row : rowsOf(db, sql, 3)) {
    const size_t first = row.find('|');
    const size_t second = row.find('|', first + 1);
    std::string type = row.substr(second + 1);
    if (!sqlite) type = kPortable.count(type) != 0 ? kPortable.at(type) : "?" + type;
    tables[row.substr(0, first)].push_back(row.substr(first + 1, second - first - 1) + " " + type);
  }
  return tables;
}

// The indexes the schema creates by name (not those behind keys and UNIQUE).
std::set<std::string> namedIndexes(SqlDb& db) {
  const char* sql = db.dialect() == nnspec::rt::SqlDialect::kSqlite
                        ? "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                        : "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                          "AND indexname NOT IN (SELECT conname FROM pg_constraint)";
  const auto rows = rowsOf(db, sql, 1);
  return {rows.begin(), rows.end()};
}

// Everything the schema is made of, as text, to tell whether opening changed it.
std::vector<std::string> schemaDump(SqlDb& db) {
  if (db.dialect() == nnspec::rt::SqlDialect::kSqlite) {
    auto rows =
        rowsOf(db, "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY name", 1);
    rows.push_back("user_version " + std::to_string(integerOf(db, "PRAGMA user_version")));
    rows.push_back("application_id " + std::to_string(integerOf(db, "PRAGMA application_id")));
    return rows;
  }
  auto rows = rowsOf(db,
                     "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || "
                     "coalesce(column_default, '') FROM information_schema.columns "
                     "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
                     1);
  for (auto& row : rowsOf(db,
                          "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = "
                          "current_schema() ORDER BY indexname",
                          1)) {
    rows.push_back(row);
  }
  for (auto& row : rowsOf(db,
                          "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
                          "WHERE connamespace = current_schema()::regnamespace ORDER BY conname",
                          1)) {
    rows.push_back(row);
  }
  for (auto& row : rowsOf(db, "SELECT key || '=' || value FROM nnspec_meta ORDER BY key", 1)) rows.push_back(row);
  return rows;
}

TEST_CASE("backends: a fresh PostgreSQL store has the tables and columns of a fresh SQLite store", "[store][pg]") {
  TempDir dir;
  const std::string file = dir.path("schema.sqlite");
  const std::string url = PgServer::instance().createDatabase("schema");
  require(Store::open(file));
  require(Store::open(url));
  auto sqlite = openRaw(file);
  auto postgres = openRaw(url);

  auto sqlite_tables = tableColumns(*sqlite);
  auto postgres_tables = tableColumns(*postgres);
  // PostgreSQL has no PRAGMA user_version and application_id: one table more holds them.
  REQUIRE(postgres_tables.count("nnspec_meta") == 1);
  postgres_tables.erase("nnspec_meta");
  std::vector<std::string> sqlite_names, postgres_names;
  for (const auto& [name, columns] : sqlite_tables) sqlite_names.push_back(name);
  for (const auto& [name, columns] : postgres_tables) postgres_names.push_back(name);
  CHECK(sqlite_names == postgres_names);
  CHECK(sqlite_names.size() == 15);
  for (const auto& [name, columns] : sqlite_tables) {
    INFO("table " << name);
    CHECK(columns == postgres_tables[name]);
  }
  CHECK(namedIndexes(*sqlite) == namedIndexes(*postgres));
  CHECK(namedIndexes(*sqlite) == std::set<std::string>{"trial_by_status", "trial_queue", "worker_by_study"});
  CHECK(rowsOf(*postgres, "SELECT key || '=' || value FROM nnspec_meta ORDER BY key", 1) ==
        std::vector<std::string>{"application=nnspec", "schema_version=5"});
  CHECK(integerOf(*sqlite, "PRAGMA user_version") == 5);
}

TEST_CASE("backends: reopening a store changes nothing", "[store]") {
  FOR_EACH_BACKEND("reopen");
  {
    Store store = require(Store::open(location));
    const int64_t study = require(store.openStudy("exp", "hash")).id;
    require(store.beginTrial(study, TrialKey{"", "p", 0, 0}, {{"lr", "0.1"}}, 3));
  }
  auto raw = openRaw(location);
  const auto before = schemaDump(*raw);
  REQUIRE_FALSE(before.empty());
  for (int k = 0; k < 2; ++k) {
    Store store = require(Store::open(location));
    const auto studies = require(store.listStudies());
    REQUIRE(studies.size() == 1);
    CHECK(require(store.listTrials(studies[0].id)).size() == 1);
  }
  CHECK(schemaDump(*raw) == before);
}

TEST_CASE("backends: a store with a newer schema version is refused untouched, naming the store", "[store]") {
  FOR_EACH_BACKEND("newer");
  require(Store::open(location));
  auto raw = openRaw(location);
  if (backend == Backend::kSqlite) {
    run(*raw, "PRAGMA user_version = 99");
  } else {
    run(*raw, "UPDATE nnspec_meta SET value = '99' WHERE key = 'schema_version'");
  }
  const auto before = schemaDump(*raw);

  const StoreError error = requireError(Store::open(location));
  CHECK(error.path == location);
  CHECK_THAT(error.message, Contains("schema version 99") && Contains("newer"));
  CHECK_THAT(error.hint, Contains("upgrade nnspec"));
  CHECK(schemaDump(*raw) == before);
}

TEST_CASE("backends: a database holding another program's table is refused as not a store", "[store]") {
  FOR_EACH_BACKEND("foreign");
  {
    auto raw = openRaw(location);
    run(*raw, "CREATE TABLE other (x INTEGER)");
  }
  const StoreError error = requireError(Store::open(location));
  CHECK(error.path == location);
  CHECK_THAT(error.message, Contains("not an nnspec result store"));
  CHECK_FALSE(error.hint.empty());
  auto raw = openRaw(location);
  const auto tables = tableColumns(*raw);
  CHECK(tables.size() == 1);
  CHECK(tables.count("other") == 1);
}

// ---- workers --------------------------------------------------------------------------

// Workers started together open the study at the same time.
TEST_CASE("backends: two workers opening the same studies at once share them", "[store]") {
  FOR_EACH_BACKEND("open_race");
  constexpr int kStudies = 30;
  struct Outcome {
    std::vector<int64_t> ids;
    int resumed = 0;
    std::string error;
  };
  auto work = [&location](Outcome& outcome) {
    auto store = Store::open(location);
    if (!store.ok()) return void(outcome.error = store.error().message);
    for (int k = 0; k < kStudies; ++k) {
      auto study = store.value().openStudy("study" + std::to_string(k), "hash");
      if (!study.ok()) return void(outcome.error = study.error().message);
      outcome.ids.push_back(study.value().id);
      outcome.resumed += study.value().resumed ? 1 : 0;
    }
  };
  require(Store::open(location));  // the schema first: its creation is tested elsewhere
  Outcome a, b;
  std::thread first([&] { work(a); });
  std::thread second([&] { work(b); });
  first.join();
  second.join();
  CHECK(a.error == "");
  CHECK(b.error == "");
  CHECK(a.ids == b.ids);
  CHECK(a.resumed + b.resumed == kStudies);  // each created by one, resumed by the other
  Store store = require(Store::open(location));
  CHECK(require(store.listStudies()).size() == kStudies);
}

TEST_CASE("backends: interleaved claims of two workers take every queued trial once", "[store]") {
  FOR_EACH_BACKEND("claims");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  require(workers.a.enqueueTrials(study, pointKeys("grid", 7)));
  require(workers.a.enqueueTrials(study, pointKeys("grid", 9)));  // the first 7 again: not queued twice
  CHECK(require(workers.a.countTrials(study)).queued == 9);

  std::vector<int64_t> claimed_by_a, claimed_by_b;
  std::vector<std::string> order;
  for (int turn = 0;; ++turn) {
    Store& store = turn % 2 == 0 ? workers.a : workers.b;
    const auto claim = require(store.claimTrial(study, "grid"));
    if (!claim) break;
    CHECK(claim->attempt == 1);
    CHECK(claim->key.sweep == "grid");
    CHECK(store.holdsLease(claim->handle));
    (turn % 2 == 0 ? claimed_by_a : claimed_by_b).push_back(claim->handle.id);
    order.push_back(claim->key.point_key);
  }
  // In queue order, and none twice.
  CHECK(order == std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"});
  CHECK(claimed_by_a.size() == 5);
  CHECK(claimed_by_b.size() == 4);
  std::set<int64_t> all(claimed_by_a.begin(), claimed_by_a.end());
  all.insert(claimed_by_b.begin(), claimed_by_b.end());
  CHECK(all.size() == 9);
  // The other worker's lease holds: neither may claim or write its trials.
  CHECK_FALSE(require(workers.a.claimTrial(study, "grid")));
  CHECK_FALSE(workers.a.holdsLease(TrialHandle{claimed_by_b[0]}));
  CHECK_THAT(requireError(workers.a.recordEpoch(TrialHandle{claimed_by_b[0]}, 1, {}, 0.1)).message,
             Contains("not held by this worker"));
  const auto counts = require(workers.a.countTrials(study));
  CHECK(counts.running == 9);
  CHECK(counts.queued == 0);
  // Another sweep's queue is its own.
  CHECK_FALSE(require(workers.b.claimTrial(study, "other")));
}

// Claims made at the same time by two workers (threads, each with its own Store) until
// the queue is empty; each claimed trial is begun and finished.
TEST_CASE("backends: two workers claiming at the same time never take the same trial", "[store]") {
  FOR_EACH_BACKEND("concurrent");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  constexpr int kTrials = 24;
  require(workers.a.enqueueTrials(study, pointKeys("grid", kTrials)));

  struct Outcome {
    std::vector<int64_t> trials;
    std::string error;
  };
  auto work = [study](Store& store, Outcome& outcome) {
    while (true) {
      auto claim = store.claimTrial(study, "grid");
      if (!claim.ok()) return void(outcome.error = claim.error().message);
      if (!claim.value()) return;
      const Claim& claimed = *claim.value();
      auto start = store.beginTrial(study, claimed.key, {}, 1);
      if (!start.ok()) return void(outcome.error = start.error().message);
      auto done = store.finishTrial(claimed.handle, {{"loss", 0.5}}, 0.01);
      if (!done.ok()) return void(outcome.error = done.error().message);
      outcome.trials.push_back(claimed.handle.id);
    }
  };
  Outcome a, b;
  std::thread first([&] { work(workers.a, a); });
  std::thread second([&] { work(workers.b, b); });
  first.join();
  second.join();
  CHECK(a.error == "");
  CHECK(b.error == "");
  INFO("a took " << a.trials.size() << ", b took " << b.trials.size());
  std::set<int64_t> all(a.trials.begin(), a.trials.end());
  all.insert(b.trials.begin(), b.trials.end());
  CHECK(all.size() == a.trials.size() + b.trials.size());
  CHECK(all.size() == kTrials);
  CHECK(require(workers.a.countTrials(study)).finished == kTrials);
  const auto attempts = attemptsByTrial(workers.a, study);
  CHECK(attempts.size() == kTrials);
  for (const auto& [trial, rows] : attempts) {
    INFO("trial " << trial);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].outcome == "finished");
  }
}

// beginTrial of a key not in the store yet, by two workers at once (no claim before it).
TEST_CASE("backends: two workers beginning the same new trials at once run each once", "[store]") {
  FOR_EACH_BACKEND("begin_race");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  constexpr int kTrials = 30;
  struct Outcome {
    std::vector<int64_t> ran;
    int held_elsewhere = 0;
    std::string error;
  };
  auto work = [study](Store& store, Outcome& outcome) {
    for (const TrialKey& key : pointKeys("grid", kTrials)) {
      auto start = store.beginTrial(study, key, {{"x", key.point_key}}, 1);
      if (!start.ok()) return void(outcome.error = start.error().message);
      if (start.value().held_elsewhere) {
        ++outcome.held_elsewhere;
        continue;
      }
      if (!start.value().shouldRun()) continue;  // the other one finished it already
      auto done = store.finishTrial(start.value().handle, {}, 0.01);
      if (!done.ok()) return void(outcome.error = done.error().message);
      outcome.ran.push_back(start.value().handle.id);
    }
  };
  Outcome a, b;
  std::thread first([&] { work(workers.a, a); });
  std::thread second([&] { work(workers.b, b); });
  first.join();
  second.join();
  CHECK(a.error == "");
  CHECK(b.error == "");
  std::set<int64_t> ran(a.ran.begin(), a.ran.end());
  ran.insert(b.ran.begin(), b.ran.end());
  CHECK(ran.size() == a.ran.size() + b.ran.size());
  CHECK(ran.size() == kTrials);
  for (const auto& [trial, rows] : attemptsByTrial(workers.a, study)) {
    INFO("trial " << trial);
    CHECK(rows.size() == 1);
  }
}

// A queued trial begun by its key (beginTrial) while another worker claims from the queue.
TEST_CASE("backends: beginning queued trials by key while another worker claims runs each once", "[store]") {
  FOR_EACH_BACKEND("begin_claim_race");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  constexpr int kTrials = 30;
  require(workers.a.enqueueTrials(study, pointKeys("grid", kTrials)));
  std::vector<int64_t> claimed, begun;
  std::string claim_error, begin_error;
  std::thread claimer([&] {
    while (true) {
      auto claim = workers.a.claimTrial(study, "grid");
      if (!claim.ok()) return void(claim_error = claim.error().message);
      if (!claim.value()) return;
      auto start = workers.a.beginTrial(study, claim.value()->key, {}, 1);
      if (!start.ok()) return void(claim_error = start.error().message);
      auto done = workers.a.finishTrial(claim.value()->handle, {}, 0.01);
      if (!done.ok()) return void(claim_error = done.error().message);
      claimed.push_back(claim.value()->handle.id);
    }
  });
  for (const TrialKey& key : pointKeys("grid", kTrials)) {
    auto start = workers.b.beginTrial(study, key, {}, 1);
    if (!start.ok()) {
      begin_error = start.error().message;
      break;
    }
    if (!start.value().shouldRun()) continue;  // held by a, or finished by it already
    auto done = workers.b.finishTrial(start.value().handle, {}, 0.01);
    if (!done.ok()) {
      begin_error = done.error().message;
      break;
    }
    begun.push_back(start.value().handle.id);
  }
  claimer.join();
  CHECK(claim_error == "");
  CHECK(begin_error == "");
  std::set<int64_t> ran(claimed.begin(), claimed.end());
  ran.insert(begun.begin(), begun.end());
  CHECK(ran.size() == claimed.size() + begun.size());
  CHECK(ran.size() == kTrials);
  for (const auto& [trial, rows] : attemptsByTrial(workers.a, study)) {
    INFO("trial " << trial);
    CHECK(rows.size() == 1);
  }
}

TEST_CASE("backends: a silent worker's trial is reclaimed and continued from its checkpoint", "[store]") {
  FOR_EACH_BACKEND("reclaim");
  TwoWorkers workers(location, silentWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  require(workers.a.enqueueTrials(study, pointKeys("grid", 1)));
  const Claim claim = *require(workers.a.claimTrial(study, "grid"));
  const TrialHandle trial = claim.handle;
  beginClaimed(workers.a, study, claim);
  require(workers.a.recordEpoch(trial, 1, epochMetrics(1), 0.1, checkpointAfter(1)));
  require(workers.a.recordEpoch(trial, 2, epochMetrics(2), 0.1, checkpointAfter(2)));
  require(workers.a.recordEpoch(trial, 3, epochMetrics(3), 0.1));  // after the checkpoint

  // While a's lease holds, b finds nothing to claim.
  CHECK_FALSE(require(workers.b.claimTrial(study, "grid")));
  CHECK(require(workers.b.countUnfinished(study, "grid")) == 1);

  auto raw = openRaw(location);
  makeSilentElsewhere(*raw, workers.a_id);
  CHECK(require(workers.b.countUnfinished(study, "grid")) == 0);  // a lapsed trial holds no one up
  const auto taken = require(workers.b.claimTrial(study, "grid"));
  REQUIRE(taken);
  CHECK(taken->handle.id == trial.id);
  CHECK(taken->attempt == 2);
  const TrialStart start = beginClaimed(workers.b, study, *taken);
  CHECK(start.interrupted);
  REQUIRE(start.checkpoint);
  CHECK(start.checkpoint->epoch == 2);
  CHECK(start.checkpoint->bytes == checkpointAfter(2).bytes);
  CHECK(start.checkpoint_problem.empty());
  CHECK(epochNumbers(workers.b, trial) == std::vector<int>{1, 2});  // epoch 3 came after the checkpoint

  // The old holder learns at its next write that the trial is no longer its own.
  CHECK(workers.a.holdsLease(trial));  // it has not written since
  const StoreError lost = requireError(workers.a.recordEpoch(trial, 3, epochMetrics(3), 0.1));
  CHECK_THAT(lost.message, Contains("lost its lease"));
  CHECK(lost.path == location);
  CHECK_FALSE(workers.a.holdsLease(trial));
  CHECK_THAT(requireError(workers.a.finishTrial(trial, {}, 1)).message, Contains("lost its lease"));
  CHECK(workers.b.holdsLease(trial));

  require(workers.b.recordEpoch(trial, 3, epochMetrics(3), 0.2, checkpointAfter(3)));
  require(workers.b.recordEpoch(trial, 4, epochMetrics(4), 0.2, checkpointAfter(4)));
  require(workers.b.finishTrial(trial, {{"val.accuracy", 0.9}}, 2));
  CHECK(epochNumbers(workers.b, trial) == std::vector<int>{1, 2, 3, 4});
  const auto epochs = require(workers.b.listEpochs(trial));
  checkSameDouble(epochs[1].seconds, 0.1);  // a's, kept
  checkSameDouble(epochs[2].seconds, 0.2);  // b's
  const TrialRow row = require(workers.b.readTrial(trial));
  CHECK(row.status == TrialStatus::kFinished);
  CHECK(row.attempts == 2);

  const auto attempts = attemptsByTrial(workers.b, study).at(trial.id);
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].attempt == 1);
  CHECK(attempts[0].worker == "a");
  CHECK(attempts[0].outcome == "lost");
  CHECK(attempts[0].from_epoch == 0);
  CHECK(isUtcStamp(attempts[0].ended_at));
  CHECK(attempts[1].attempt == 2);
  CHECK(attempts[1].worker == "b");
  CHECK(attempts[1].outcome == "finished");
  CHECK(attempts[1].from_epoch == 2);
}

TEST_CASE("backends: a worker whose process is gone on this host loses its trial at once", "[store]") {
  FOR_EACH_BACKEND("reaped");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  require(workers.a.enqueueTrials(study, pointKeys("grid", 1)));
  const Claim claim = *require(workers.a.claimTrial(study, "grid"));
  beginClaimed(workers.a, study, claim);
  CHECK_FALSE(require(workers.b.claimTrial(study, "grid")));

  // A process of this host that exited: a's heartbeat stays fresh, but its pid is gone.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  REQUIRE(child > 0);
  REQUIRE(waitpid(child, nullptr, 0) == child);
  auto raw = openRaw(location);
  runWith(*raw, "UPDATE worker SET pid = ? WHERE name = 'a'", child);

  const auto taken = require(workers.b.claimTrial(study, "grid"));
  REQUIRE(taken);
  CHECK(taken->handle.id == claim.handle.id);
  CHECK(taken->attempt == 2);
  std::map<std::string, std::string> states;
  for (const WorkerRow& worker : require(workers.b.listWorkers(study))) states[worker.name] = worker.state;
  CHECK(states["b"] == "active");
  CHECK((states["a"] == "lost" || states["a"] == "active"));  // a's heartbeat may have revived it since
  CHECK(attemptsByTrial(workers.b, study).at(claim.handle.id).at(0).outcome == "lost");
}

TEST_CASE("backends: a trial lost max_attempts times is failed with a reason, not claimed", "[store]") {
  FOR_EACH_BACKEND("attempts");
  Store a = require(Store::open(location));
  Store b = require(Store::open(location));
  Store c = require(Store::open(location));
  const int64_t study = require(a.openStudy("workers", "hash")).id;
  const int64_t a_id = require(a.joinStudy(study, silentWorker("a", 2)));
  const int64_t b_id = require(b.joinStudy(study, silentWorker("b", 2)));
  require(c.joinStudy(study, liveWorker("c", 2)));
  require(a.enqueueTrials(study, pointKeys("grid", 2)));
  auto raw = openRaw(location);

  const Claim first = *require(a.claimTrial(study, "grid"));
  CHECK(first.key.point_key == "p0");
  makeSilentElsewhere(*raw, a_id);
  const Claim second = *require(b.claimTrial(study, "grid"));  // the first loss: claimed again
  CHECK(second.handle.id == first.handle.id);
  CHECK(second.attempt == 2);
  makeSilentElsewhere(*raw, b_id);

  // The second loss reaches max_attempts (2): c fails p0 and claims the next trial.
  const auto third = require(c.claimTrial(study, "grid"));
  REQUIRE(third);
  CHECK(third->key.point_key == "p1");
  CHECK(third->attempt == 1);
  const TrialRow row = require(c.readTrial(first.handle));
  CHECK(row.status == TrialStatus::kFailed);
  CHECK(row.attempts == 2);
  CHECK_THAT(row.reason, Contains("lost 2 times") && Contains("lease timeout"));
  CHECK(isUtcStamp(row.ended_at));
  const auto attempts = attemptsByTrial(c, study).at(first.handle.id);
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].outcome == "lost");
  CHECK(attempts[1].outcome == "lost");
  CHECK(attempts[1].worker == "b");
  CHECK_FALSE(require(c.claimTrial(study, "grid")));
  CHECK_THAT(requireError(b.recordEpoch(first.handle, 1, {}, 0.1)).message, Contains("lost its lease"));
  const auto counts = require(c.countTrials(study));
  CHECK(counts.failed == 1);
  CHECK(counts.running == 1);
}

TEST_CASE("backends: a released trial is queued with its checkpoint and the next claim continues it", "[store]") {
  FOR_EACH_BACKEND("release");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  require(workers.a.enqueueTrials(study, pointKeys("grid", 2)));
  const Claim claim = *require(workers.a.claimTrial(study, "grid"));
  const TrialHandle trial = claim.handle;
  beginClaimed(workers.a, study, claim);
  require(workers.a.recordEpoch(trial, 1, epochMetrics(1), 0.1, checkpointAfter(1)));
  require(workers.a.recordEpoch(trial, 2, epochMetrics(2), 0.1));

  require(workers.a.releaseTrial(trial));
  CHECK_FALSE(workers.a.holdsLease(trial));
  CHECK(require(workers.a.readTrial(trial)).status == TrialStatus::kQueued);
  CHECK(require(workers.a.countTrials(study)).queued == 2);
  CHECK(require(workers.a.countUnfinished(study, "grid")) == 2);
  CHECK_FALSE(requireError(workers.a.recordEpoch(trial, 3, epochMetrics(3), 0.1)).message.empty());
  require(workers.a.leaveStudy(true));

  const auto taken = require(workers.b.claimTrial(study, "grid"));  // first in the queue again
  REQUIRE(taken);
  CHECK(taken->handle.id == trial.id);
  CHECK(taken->attempt == 2);
  const TrialStart start = beginClaimed(workers.b, study, *taken);
  CHECK(start.interrupted);
  REQUIRE(start.checkpoint);
  CHECK(start.checkpoint->epoch == 1);
  CHECK(epochNumbers(workers.b, trial) == std::vector<int>{1});
  require(workers.b.recordEpoch(trial, 2, epochMetrics(2), 0.1, checkpointAfter(2)));
  require(workers.b.finishTrial(trial, {{"val.accuracy", 0.8}}, 1));

  const auto attempts = attemptsByTrial(workers.b, study).at(trial.id);
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].worker == "a");
  CHECK(attempts[0].outcome == "released");
  CHECK(attempts[1].worker == "b");
  CHECK(attempts[1].outcome == "finished");
  CHECK(attempts[1].from_epoch == 1);
  std::map<std::string, std::string> states;
  for (const WorkerRow& worker : require(workers.b.listWorkers(study))) states[worker.name] = worker.state;
  CHECK(states == std::map<std::string, std::string>{{"a", "released"}, {"b", "active"}});
}

TEST_CASE("backends: listWorkers shows both workers and what they hold", "[store]") {
  FOR_EACH_BACKEND("list");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  require(workers.a.enqueueTrials(study, pointKeys("grid", 3)));
  require(workers.a.claimTrial(study, "grid"));
  require(workers.a.claimTrial(study, "grid"));
  require(workers.b.claimTrial(study, "grid"));

  const auto rows = require(workers.b.listWorkers(study));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].id == workers.a_id);
  CHECK(rows[0].name == "a");
  CHECK(rows[0].running == 2);
  CHECK(rows[1].id == workers.b_id);
  CHECK(rows[1].name == "b");
  CHECK(rows[1].running == 1);
  for (const WorkerRow& row : rows) {
    INFO("worker " << row.name);
    CHECK(row.state == "active");
    CHECK(row.pid == getpid());
    CHECK_FALSE(row.host.empty());
    CHECK(isUtcStamp(row.started_at));
    CHECK(row.heartbeat_age >= -1);  // the database's clock; a beat every lease / 6 s
    CHECK(row.heartbeat_age < 5);
  }
  require(workers.a.leaveStudy(false));
  CHECK(require(workers.b.listWorkers(study))[0].state == "done");
  CHECK(require(workers.b.listWorkers(study + 1)).empty());
}

TEST_CASE("backends: countUnfinished counts queued and live-held trials but not the caller's own", "[store]") {
  FOR_EACH_BACKEND("unfinished");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  require(workers.a.enqueueTrials(study, pointKeys("grid", 3)));
  require(workers.a.enqueueTrials(study, pointKeys("other", 2)));
  CHECK(require(workers.a.countUnfinished(study, "grid")) == 3);
  CHECK(require(workers.a.countUnfinished(study, "")) == 5);

  const Claim claim = *require(workers.a.claimTrial(study, "grid"));
  CHECK(require(workers.a.countUnfinished(study, "grid")) == 2);  // its own trial is not waited for
  CHECK(require(workers.b.countUnfinished(study, "grid")) == 3);  // a's lease holds
  CHECK(require(workers.b.countUnfinished(study, "")) == 5);
  beginClaimed(workers.a, study, claim);
  require(workers.a.finishTrial(claim.handle, {}, 1));
  CHECK(require(workers.b.countUnfinished(study, "grid")) == 2);
  CHECK(require(workers.b.countUnfinished(study, "other")) == 2);
}

TEST_CASE("backends: dropQueued removes a point's queued trials only", "[store]") {
  FOR_EACH_BACKEND("drop");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  std::vector<TrialKey> folds;
  for (int fold = 0; fold < 3; ++fold) folds.push_back(TrialKey{"grid", "p", fold, 0});
  folds.push_back(TrialKey{"grid", "q", 0, 0});
  require(workers.a.enqueueTrials(study, folds));
  const Claim claim = *require(workers.a.claimTrial(study, "grid"));
  CHECK(claim.key == (TrialKey{"grid", "p", 0, 0}));

  CHECK(require(workers.b.dropQueued(study, "grid", "p")) == 2);  // folds 2 and 3
  const auto counts = require(workers.b.countTrials(study));
  CHECK(counts.running == 1);  // the claimed fold stays
  CHECK(counts.queued == 1);   // q
  const auto next = require(workers.b.claimTrial(study, "grid"));
  REQUIRE(next);
  CHECK(next->key.point_key == "q");
  CHECK_FALSE(require(workers.b.claimTrial(study, "grid")));
}

// A drawer as a random sweep is: draw number n is point "dn", made from the history seen.
struct Drawer {
  int64_t limit = 0;
  std::vector<std::string> problems;  // what a draw saw that it should not have
  std::optional<NewDraw> operator()(const DrawContext& context) {
    const auto number = static_cast<int64_t>(context.draws.size());
    for (size_t k = 0; k < context.draws.size(); ++k) {
      if (context.draws[k].number != static_cast<int64_t>(k)) problems.push_back("draws out of order");
    }
    if (context.trials.size() != context.draws.size()) {
      problems.push_back("draw " + std::to_string(number) + " saw " + std::to_string(context.trials.size()) +
                         " trials");
    }
    if (number >= limit) return std::nullopt;
    NewDraw made;
    made.draw.sweep = "random";
    made.draw.number = number;
    made.draw.point_key = "d" + std::to_string(number);
    made.draw.params = "x=" + std::to_string(number);
    made.draw.history = "seen " + std::to_string(context.trials.size());
    made.trials = {TrialKey{"random", made.draw.point_key, 0, 0}};
    return made;
  }
};

TEST_CASE("backends: two workers drawing in turn get draws 0, 1, 2, ... that saw the ones before", "[store]") {
  FOR_EACH_BACKEND("draws");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  Drawer drawer{6, {}};
  auto draw = [&drawer](const DrawContext& context) { return drawer(context); };
  std::vector<std::string> points;
  for (int turn = 0;; ++turn) {
    Store& store = turn % 2 == 0 ? workers.a : workers.b;
    const auto claim = require(store.claimOrDraw(study, "random", draw));
    if (!claim) break;
    REQUIRE(turn < 10);
    points.push_back(claim->key.point_key);
    beginClaimed(store, study, *claim);
    require(store.finishTrial(claim->handle, {{"loss", 1.0 / (turn + 1)}}, 0.1));
  }
  CHECK(drawer.problems.empty());
  CHECK(points == std::vector<std::string>{"d0", "d1", "d2", "d3", "d4", "d5"});
  const auto draws = require(workers.a.listDraws(study));
  REQUIRE(draws.size() == 6);
  for (size_t k = 0; k < draws.size(); ++k) {
    CHECK(draws[k].number == static_cast<int64_t>(k));
    CHECK(draws[k].point_key == "d" + std::to_string(k));
    CHECK(draws[k].history == "seen " + std::to_string(k));
  }
  // A queued trial is claimed before anything is drawn.
  require(workers.a.enqueueTrials(study, {TrialKey{"random", "extra", 0, 0}}));
  drawer.limit = 100;
  const auto claim = require(workers.b.claimOrDraw(study, "random", draw));
  REQUIRE(claim);
  CHECK(claim->key.point_key == "extra");
  CHECK(require(workers.a.listDraws(study)).size() == 6);
}

TEST_CASE("backends: with the first-trial gate a point's other folds wait for its first fold to end", "[store]") {
  FOR_EACH_BACKEND("gate");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  int64_t limit = 2;
  auto draw = [&limit](const DrawContext& context) -> std::optional<NewDraw> {
    const auto number = static_cast<int64_t>(context.draws.size());
    if (number >= limit) return std::nullopt;
    NewDraw made;
    made.draw = nnspec::rt::DrawRow{"random", number, "p" + std::to_string(number), "x=1", ""};
    made.trials = {TrialKey{"random", made.draw.point_key, 0, 0}, TrialKey{"random", made.draw.point_key, 1, 0},
                   TrialKey{"random", made.draw.point_key, 2, 0}};
    return made;
  };
  auto claimed = [](const std::optional<Claim>& claim) {
    return claim ? claim->key.point_key + "/" + std::to_string(claim->key.fold) : std::string("none");
  };
  // p0's first fold runs: the other worker draws p1 rather than take p0's fold 2.
  const auto first = require(workers.a.claimOrDraw(study, "random", draw, true));
  CHECK(claimed(first) == "p0/0");
  beginClaimed(workers.a, study, *first);
  const auto second = require(workers.b.claimOrDraw(study, "random", draw, true));
  CHECK(claimed(second) == "p1/0");
  beginClaimed(workers.b, study, *second);
  // Nothing is left to draw and both first folds run: nothing is claimable, yet the four
  // other folds and the other worker's first fold are unfinished.
  CHECK(claimed(require(workers.a.claimOrDraw(study, "random", draw, true))) == "none");
  CHECK(require(workers.a.countUnfinished(study, "random")) == 5);
  // Without the gate the queue is plain: p0's fold 2 is next.
  CHECK(claimed(require(workers.a.claimTrial(study, "random"))) == "p0/1");
  // p1's first fold fails: its other folds still run; p0's, now claimed, no longer wait.
  require(workers.b.failTrial(second->handle, 1, "diverged", 0.1));
  CHECK(claimed(require(workers.b.claimOrDraw(study, "random", draw, true))) == "p1/1");
  // p0's first fold finishes: its last fold is claimable.
  require(workers.a.finishTrial(first->handle, {{"loss", 0.5}}, 0.1));
  CHECK(claimed(require(workers.a.claimOrDraw(study, "random", draw, true))) == "p0/2");
  CHECK(claimed(require(workers.b.claimOrDraw(study, "random", draw, true))) == "p1/2");
}

TEST_CASE("backends: two workers drawing at the same time never make the same draw", "[store]") {
  FOR_EACH_BACKEND("draws_race");
  TwoWorkers workers(location, liveWorker("a"), liveWorker("b"));
  const int64_t study = workers.study_id;
  constexpr int kDraws = 16;
  // Each worker's drawer runs under the study lock, never both at once.
  struct Outcome {
    Drawer drawer{kDraws, {}};
    std::vector<std::string> points;
    std::string error;
  };
  auto work = [study](Store& store, Outcome& outcome) {
    auto draw = [&outcome](const DrawContext& context) { return outcome.drawer(context); };
    while (true) {
      auto claim = store.claimOrDraw(study, "random", draw);
      if (!claim.ok()) return void(outcome.error = claim.error().message);
      if (!claim.value()) return;
      auto start = store.beginTrial(study, claim.value()->key, {}, 1);
      if (!start.ok()) return void(outcome.error = start.error().message);
      auto done = store.finishTrial(claim.value()->handle, {}, 0.01);
      if (!done.ok()) return void(outcome.error = done.error().message);
      outcome.points.push_back(claim.value()->key.point_key);
    }
  };
  Outcome a, b;
  std::thread first([&] { work(workers.a, a); });
  std::thread second([&] { work(workers.b, b); });
  first.join();
  second.join();
  CHECK(a.error == "");
  CHECK(b.error == "");
  CHECK(a.drawer.problems.empty());
  CHECK(b.drawer.problems.empty());
  std::set<std::string> points(a.points.begin(), a.points.end());
  points.insert(b.points.begin(), b.points.end());
  CHECK(points.size() == a.points.size() + b.points.size());
  CHECK(points.size() == kDraws);
  const auto draws = require(workers.a.listDraws(study));
  REQUIRE(draws.size() == kDraws);
  for (size_t k = 0; k < draws.size(); ++k) CHECK(draws[k].number == static_cast<int64_t>(k));
}

// ---- PostgreSQL faults ----------------------------------------------------------------

// The backend of the one other nnspec connection to this database: the Store's.
int64_t otherBackendPid(SqlDb& admin) {
  const auto pids = rowsOf(admin,
                           "SELECT CAST(pid AS TEXT) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND application_name = 'nnspec' AND pid <> pg_backend_pid()",
                           1);
  REQUIRE(pids.size() == 1);
  return std::stoll(pids[0]);
}

// Terminates a backend as an administrator or a failing network would, and waits until
// it is gone from pg_stat_activity.
void terminateBackend(SqlDb& admin, int64_t pid) {
  // pg_terminate_backend takes an int4: a bound int64 (sent as bigint) needs the cast.
  SqlQuery terminate = require(admin.prepare("SELECT pg_terminate_backend(CAST(? AS INTEGER))"));
  terminate.bind(pid);
  REQUIRE(require(terminate.step()));
  REQUIRE(terminate.int64At(0) == 1);
  for (int wait = 0; wait < 100; ++wait) {
    SqlQuery alive = require(admin.prepare("SELECT count(*) FROM pg_stat_activity WHERE pid = CAST(? AS INTEGER)"));
    alive.bind(pid);
    REQUIRE(require(alive.step()));
    if (alive.int64At(0) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("backend " << pid << " was terminated but did not exit");
}

TEST_CASE("backends pg: a Store whose connection was dropped reconnects on its next call", "[store][pg]") {
  const std::string url = PgServer::instance().createDatabase("dropped");
  Store store = require(Store::open(url));
  const int64_t study = require(store.openStudy("exp", "hash")).id;
  require(store.joinStudy(study, liveWorker("a")));
  require(store.enqueueTrials(study, pointKeys("grid", 2)));
  auto admin = openRaw(url);
  const int64_t pid = otherBackendPid(*admin);
  terminateBackend(*admin, pid);

  const auto claim = require(store.claimTrial(study, "grid"));  // succeeds on a new connection
  REQUIRE(claim);
  CHECK(claim->key.point_key == "p0");
  CHECK(otherBackendPid(*admin) != pid);
  beginClaimed(store, study, *claim);
  require(store.recordEpoch(claim->handle, 1, epochMetrics(1), 0.1, checkpointAfter(1)));

  // Dropped again between two writes of a trial: the lease is still this worker's.
  terminateBackend(*admin, otherBackendPid(*admin));
  require(store.recordEpoch(claim->handle, 2, epochMetrics(2), 0.1, checkpointAfter(2)));
  require(store.finishTrial(claim->handle, {{"loss", 0.1}}, 1));
  CHECK(epochNumbers(store, claim->handle) == std::vector<int>{1, 2});
  CHECK(require(store.readTrial(claim->handle)).attempts == 1);
}

using nnspec::test::ScopedEnv;

TEST_CASE("backends pg: a call made while the server is down waits for it and succeeds", "[store][pg]") {
  PgCluster cluster;  // its own server, to stop and start
  ScopedEnv password_file("PGPASSFILE", cluster.passwordFile());
  const std::string url = cluster.createDatabase("paused");
  Store store = require(Store::open(url));
  const int64_t study = require(store.openStudy("exp", "hash")).id;

  cluster.pause();
  std::atomic<bool> resumed{false};
  std::string resume_error;
  std::thread restarter([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    try {
      cluster.resume();
    } catch (const std::exception& error) {
      resume_error = error.what();
    }
    resumed = true;
  });
  const auto started = std::chrono::steady_clock::now();
  auto trial = store.beginTrial(study, TrialKey{"", "p", 0, 0}, {{"lr", "0.1"}}, 5);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  restarter.join();
  REQUIRE(resume_error.empty());
  REQUIRE(trial.ok());
  CHECK(resumed);
  CHECK(waited > 1.5);  // it waited for the server
  CHECK(waited < 20);
  CHECK(require(store.readTrial(trial.value().handle)).seed == 5);
  CHECK(store.usage().calls >= 3);
}

// 30 s of retries (Store::State::kReconnectSeconds): hidden, and left out of [store].
TEST_CASE("backends pg: a call made while the server stays down fails after the retries", "[pg][.slow]") {
  PgCluster cluster;
  ScopedEnv password_file("PGPASSFILE", cluster.passwordFile());
  const std::string url = cluster.createDatabase("down");
  Store store = require(Store::open(url));
  cluster.pause();
  const auto started = std::chrono::steady_clock::now();
  const StoreError error = requireError(store.openStudy("exp", "hash"));
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK_THAT(error.message, Contains("lost the connection"));
  CHECK(error.path == url);
  CHECK_THAT(error.hint, Contains("run again"));
  CHECK(waited >= 25);
  cluster.resume();
  CHECK(require(store.listStudies()).empty());
}

}  // namespace
