#include "runtime/store/schema.h"

#include <fmt/format.h>

#include <array>

namespace nnspec::rt {
namespace {

// Version 1. Metric values are REAL; NULL stands for NaN, which SQLite cannot store.
// Times: `seconds` are measured by the caller, `*_at` are UTC ISO-8601 stamps.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE study (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  spec_hash  TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT ({now}),
  UNIQUE (name, spec_hash)
);

-- One row per (sweep, point, fold, replicate) of a study. `end_epoch` is the epoch at
-- which a trial failed or was pruned; `attempts` counts starts (interrupted runs + 1).
CREATE TABLE trial (
  id         INTEGER PRIMARY KEY,
  study_id   INTEGER NOT NULL REFERENCES study (id) ON DELETE CASCADE,
  sweep      TEXT NOT NULL,
  point_key  TEXT NOT NULL,
  fold       INTEGER NOT NULL,
  replicate  INTEGER NOT NULL,
  seed       INTEGER NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'pruned')),
  end_epoch  INTEGER,
  reason     TEXT NOT NULL DEFAULT '',
  attempts   INTEGER NOT NULL DEFAULT 1,
  seconds    REAL,
  started_at TEXT NOT NULL DEFAULT ({now}),
  ended_at   TEXT,
  UNIQUE (study_id, sweep, point_key, fold, replicate)
);
CREATE INDEX trial_by_status ON trial (study_id, status);

-- Parameters as the caller wrote them (`value`), and as a number when the text is one,
-- so that a sampler or an export can query them without parsing.
CREATE TABLE trial_param (
  trial_id INTEGER NOT NULL REFERENCES trial (id) ON DELETE CASCADE,
  name     TEXT NOT NULL,
  position INTEGER NOT NULL,
  value    TEXT NOT NULL,
  number   REAL,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;

CREATE TABLE epoch (
  trial_id INTEGER NOT NULL REFERENCES trial (id) ON DELETE CASCADE,
  epoch    INTEGER NOT NULL,
  seconds  REAL NOT NULL,
  PRIMARY KEY (trial_id, epoch)
) WITHOUT ROWID;

CREATE TABLE epoch_metric (
  trial_id INTEGER NOT NULL,
  epoch    INTEGER NOT NULL,
  name     TEXT NOT NULL,
  value    REAL,
  PRIMARY KEY (trial_id, epoch, name),
  FOREIGN KEY (trial_id, epoch) REFERENCES epoch (trial_id, epoch) ON DELETE CASCADE
) WITHOUT ROWID;

-- Model outputs kept for later use (ensembles, confusion matrices, reports): e.g.
-- "test.predictions", rows x width float32 values, little-endian.
CREATE TABLE trial_output (
  trial_id INTEGER NOT NULL REFERENCES trial (id) ON DELETE CASCADE,
  name     TEXT NOT NULL,
  rows     INTEGER NOT NULL,
  width    INTEGER NOT NULL,
  data     BLOB NOT NULL,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;

CREATE TABLE final_metric (
  trial_id INTEGER NOT NULL REFERENCES trial (id) ON DELETE CASCADE,
  name     TEXT NOT NULL,
  value    REAL,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;
)sql";

// Version 2: what a report needs besides the trials. The spec text a study ran (and its
// --set options), the report items it asked for, and each sweep's plan: method, axes,
// objective, folds, replicates, and the class names of its data. Lists are one item per
// line (names and canonical values never hold a newline). Stores of version 1 gain these
// tables empty; their reports then say what they cannot show.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE study_spec (
  study_id  INTEGER PRIMARY KEY REFERENCES study (id) ON DELETE CASCADE,
  path      TEXT NOT NULL,
  text      TEXT NOT NULL,
  overrides TEXT NOT NULL DEFAULT ''
);

-- `args`: "name=value" per line, values in spec syntax.
CREATE TABLE study_report_item (
  study_id INTEGER NOT NULL REFERENCES study (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name     TEXT NOT NULL,
  args     TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (study_id, position)
) WITHOUT ROWID;

-- `objective` is e.g. "val.accuracy" ("" when the sweep has none); `trials` is planned.
CREATE TABLE study_sweep (
  study_id   INTEGER NOT NULL REFERENCES study (id) ON DELETE CASCADE,
  sweep      TEXT NOT NULL,
  position   INTEGER NOT NULL,
  method     TEXT NOT NULL,
  axes       TEXT NOT NULL DEFAULT '',
  objective  TEXT NOT NULL DEFAULT '',
  maximize   INTEGER NOT NULL DEFAULT 1,
  folds      INTEGER NOT NULL DEFAULT 1,
  replicates INTEGER NOT NULL DEFAULT 1,
  trials     INTEGER NOT NULL DEFAULT 0,
  model      TEXT NOT NULL DEFAULT '',
  classes    TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (study_id, sweep)
) WITHOUT ROWID;
)sql";

// Version 3: what lets a trained model and a running trial leave the process. A kept
// trial's tensors (its parameters and state leaves such as batch normalization's moving
// statistics) by name, float32 little-endian, zlib-compressed; and the last epoch
// checkpoint of a running trial, an opaque zlib-compressed blob the trainer writes
// (runtime/train), replaced after every epoch and deleted when the trial ends.
constexpr const char* kSchemaV3 = R"sql(
-- `kind`: 'param' or 'state'; `shape`: extents separated by commas ("784,50"; "" for a
-- scalar); `position`: the order the compiled step lists them in.
CREATE TABLE trial_tensor (
  trial_id INTEGER NOT NULL REFERENCES trial (id) ON DELETE CASCADE,
  name     TEXT NOT NULL,
  kind     TEXT NOT NULL CHECK (kind IN ('param', 'state')),
  position INTEGER NOT NULL,
  shape    TEXT NOT NULL,
  data     BLOB NOT NULL,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;

CREATE TABLE trial_checkpoint (
  trial_id INTEGER PRIMARY KEY REFERENCES trial (id) ON DELETE CASCADE,
  epoch    INTEGER NOT NULL,
  data     BLOB NOT NULL,
  saved_at TEXT NOT NULL DEFAULT ({now})
);
)sql";


// Version 4: a study run by many workers (processes, here or on other machines). Every
// process running a study registers as a worker and writes its heartbeat with the
// database's clock. Trials may be created before they run ('queued', in `position`
// order) and are claimed by one worker at a time: `worker_id` holds the lease, which
// lasts while that worker's heartbeat is fresh; `attempts` counts claims, and each is
// kept in trial_attempt. The draws of random and TPE sweeps are kept with the history
// each one saw, so that any draw can be replayed.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE worker (
  id         INTEGER PRIMARY KEY,
  study_id   INTEGER NOT NULL REFERENCES study (id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  host       TEXT NOT NULL,
  pid        INTEGER NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('active', 'done', 'released', 'lost')),
  started_at TEXT NOT NULL DEFAULT ({now}),
  heartbeat  REAL NOT NULL
);
CREATE INDEX worker_by_study ON worker (study_id, state);

ALTER TABLE trial ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trial ADD COLUMN worker_id INTEGER;

-- `outcome`: 'running' while the attempt holds its lease, then how it ended: finished,
-- failed, pruned, released (its worker was stopped and handed it back), lost (its worker
-- fell silent and another reclaimed it). `from_epoch`: the checkpoint it continued from.
CREATE TABLE trial_attempt (
  trial_id   INTEGER NOT NULL REFERENCES trial (id) ON DELETE CASCADE,
  attempt    INTEGER NOT NULL,
  worker_id  INTEGER,
  from_epoch INTEGER NOT NULL DEFAULT 0,
  outcome    TEXT NOT NULL,
  started_at TEXT NOT NULL DEFAULT ({now}),
  ended_at   TEXT,
  PRIMARY KEY (trial_id, attempt)
) WITHOUT ROWID;

-- `params`: the draw, "name=value" per line (values with 17 significant digits);
-- `history`: the trials the sampler saw, one per line (see runtime/sweep/draw_history.h).
CREATE TABLE sweep_draw (
  study_id  INTEGER NOT NULL REFERENCES study (id) ON DELETE CASCADE,
  sweep     TEXT NOT NULL,
  number    INTEGER NOT NULL,
  point_key TEXT NOT NULL,
  params    TEXT NOT NULL,
  history   TEXT NOT NULL,
  worker_id INTEGER,
  drawn_at  TEXT NOT NULL DEFAULT ({now}),
  PRIMARY KEY (study_id, sweep, number)
) WITHOUT ROWID;
)sql";

// Version 4 also lets a trial be 'queued', version 5 'timed_out' (a trial that reached its
// `trial_timeout`). A CHECK constraint cannot be altered in SQLite: the table is rebuilt
// from its own definition, as SQLite's documentation describes (foreign keys are off while
// the store is migrated).
constexpr const char* kTrialStatusesV3 = "'running', 'finished', 'failed', 'pruned')";
constexpr const char* kTrialStatusesV4 = "'queued', 'running', 'finished', 'failed', 'pruned')";
constexpr const char* kTrialStatusesV5 = "'queued', 'running', 'finished', 'failed', 'pruned', 'timed_out')";

constexpr const char* kSchemaV4Indexes = R"sql(
CREATE INDEX trial_queue ON trial (study_id, sweep, status, position);
)sql";

// Version 5 adds no table: only the statuses change (allowStatuses).
constexpr const char* kSchemaV5 = "";

// kMigrations[v] takes a store from version v to v + 1.
constexpr std::array<const char*, kStoreSchemaVersion> kMigrations = {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4,
                                                                      kSchemaV5};

// PostgreSQL has no PRAGMA user_version or application_id: a table holds them.
constexpr const char* kPostgresMeta = R"sql(
CREATE TABLE IF NOT EXISTS nnspec_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql";

struct Header {
  bool ours = false;         // stamped as an nnspec store
  int64_t version = 0;       // its schema version (0 when not stamped)
  int64_t object_count = 0;  // tables, indexes, views, triggers (SQLite); tables (PostgreSQL)
};

// The first column of the first row, as an integer (0 without a row).
StoreResult<int64_t> readInteger(SqlDb& db, const char* sql) {
  auto query = db.prepare(sql);
  if (!query.ok()) return query.error();
  auto row = query.value().step();
  if (!row.ok()) return row.error();
  if (!row.value()) return int64_t{0};
  return query.value().int64At(0);
}

StoreResult<Header> readSqliteFields(SqlDb& db) {
  Header header;
  auto application_id = readInteger(db, "PRAGMA application_id");
  if (!application_id.ok()) return application_id.error();
  header.ours = application_id.value() == kStoreApplicationId;
  auto user_version = readInteger(db, "PRAGMA user_version");
  if (!user_version.ok()) return user_version.error();
  header.version = user_version.value();
  auto object_count = readInteger(db, "SELECT count(*) FROM sqlite_master");
  if (!object_count.ok()) return object_count.error();
  header.object_count = object_count.value();
  return header;
}

StoreResult<Header> readPostgresFields(SqlDb& db) {
  Header header;
  auto tables = readInteger(db,
                            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()");
  if (!tables.ok()) return tables.error();
  header.object_count = tables.value();
  auto has_meta = readInteger(db,
                              "SELECT count(*) FROM information_schema.tables "
                              "WHERE table_schema = current_schema() AND table_name = 'nnspec_meta'");
  if (!has_meta.ok()) return has_meta.error();
  if (has_meta.value() == 0) return header;
  auto query = db.prepare("SELECT key, value FROM nnspec_meta");
  if (!query.ok()) return query.error();
  while (true) {
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (!row.value()) break;
    const std::string key = query.value().textAt(0);
    const std::string value = query.value().textAt(1);
    if (key == "application") header.ours = value == "nnspec";
    if (key == "schema_version") header.version = std::strtoll(value.c_str(), nullptr, 10);
  }
  return header;
}

StoreResult<Header> readFields(SqlDb& db) {
  return db.dialect() == SqlDialect::kSqlite ? readSqliteFields(db) : readPostgresFields(db);
}

// The fields in one read transaction: read one by one, a look racing another process's
// creation of the store could see no stamp and then the tables it committed, and take
// the new store for a foreign database.
StoreResult<Header> readHeader(SqlDb& db) {
  auto read = SqlTransaction::beginRead(db);
  if (!read.ok()) return read.error();
  auto header = readFields(db);
  if (!header.ok()) return header;
  auto ended = read.value().commit();
  if (!ended.ok()) return ended.error();
  return header;
}

// An error when the store is not ours or is too new to touch.
StoreResult<void> checkHeader(const SqlDb& db, const Header& header) {
  const bool empty = !header.ours && header.version == 0 && header.object_count == 0;
  if (!empty && !header.ours) {
    return StoreError{db.path(),
                      db.dialect() == SqlDialect::kSqlite
                          ? "file is an SQLite database but not an nnspec result store"
                          : "the database holds tables but is not an nnspec result store",
                      db.dialect() == SqlDialect::kSqlite
                          ? "pass --store with a new file name, or move this file away"
                          : "create a database for nnspec (createdb NAME) and pass its URL with --store"};
  }
  if (header.version > kStoreSchemaVersion) {
    return StoreError{db.path(),
                      fmt::format("store has schema version {}, newer than the {} this nnspec reads", header.version,
                                  kStoreSchemaVersion),
                      "it was written by a newer nnspec: upgrade nnspec, or pass --store with another store"};
  }
  return {};
}

// SQLite: rebuilds the trial table with the statuses `to` in place of `from` (see
// kTrialStatusesV4), with its indexes (`indexes`: those of the versions before).
StoreResult<void> allowStatusesSqlite(SqlDb& db, const char* from, const char* to, const char* indexes) {
  std::string sql;
  {  // the statement is done with before the schema changes
    auto query = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'trial'");
    if (!query.ok()) return query.error();
    auto row = query.value().step();
    if (!row.ok()) return row.error();
    if (row.value()) sql = query.value().textAt(0);
  }
  // Allowed already (the newest list allows every status before it).
  if (sql.find(to) != std::string::npos || sql.find(kTrialStatusesV5) != std::string::npos) return {};
  // SQLite keeps a renamed table's statement with its new name quoted: `CREATE TABLE "trial"`.
  const size_t columns = sql.find('(');
  const std::string head = columns == std::string::npos ? "" : sql.substr(0, columns);
  const size_t statuses = sql.find(from);
  if ((head != "CREATE TABLE trial " && head != "CREATE TABLE \"trial\" ") || statuses == std::string::npos) {
    return StoreError{db.path(), "the store's trial table is not the one nnspec wrote", "move this file away"};
  }
  sql.replace(statuses, std::string_view(from).size(), to);
  sql.replace(0, head.size(), "CREATE TABLE trial_rebuilt ");
  auto created = db.exec(sql.c_str());
  if (!created.ok()) return created;
  const std::string rebuild = fmt::format(
      "INSERT INTO trial_rebuilt SELECT * FROM trial; DROP TABLE trial; ALTER TABLE trial_rebuilt RENAME TO trial; "
      "CREATE INDEX trial_by_status ON trial (study_id, status);{}",
      indexes);
  return db.exec(rebuild.c_str());
}

StoreResult<void> allowStatusesPostgres(SqlDb& db, const char* to) {
  const std::string sql = fmt::format(
      "ALTER TABLE trial DROP CONSTRAINT trial_status_check, ADD CONSTRAINT trial_status_check CHECK (status IN ({})",
      to);
  return db.exec(sql.c_str());
}

StoreResult<void> stamp(SqlDb& db) {
  if (db.dialect() == SqlDialect::kSqlite) {
    // Constants, not user data: PRAGMA values cannot be bound.
    const std::string sql = fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {};", kStoreApplicationId,
                                        kStoreSchemaVersion);
    return db.exec(sql.c_str());
  }
  const std::string sql = fmt::format(
      "INSERT INTO nnspec_meta (key, value) VALUES ('application', 'nnspec'), ('schema_version', '{}') "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      kStoreSchemaVersion);
  return db.exec(sql.c_str());
}

StoreResult<void> applyMigrations(SqlDb& db, int64_t from) {
  if (db.dialect() == SqlDialect::kPostgres) {
    auto meta = db.exec(kPostgresMeta);
    if (!meta.ok()) return meta;
  }
  for (int64_t version = from; version < kStoreSchemaVersion; ++version) {
    const std::string ddl = renderSchema(db.dialect(), kMigrations[static_cast<size_t>(version)]);
    StoreResult<void> migrated;
    if (!ddl.empty()) migrated = db.exec(ddl.c_str());
    if (!migrated.ok()) return migrated;
    if (version + 1 == 4) {
      migrated = db.dialect() == SqlDialect::kSqlite ? allowStatusesSqlite(db, kTrialStatusesV3, kTrialStatusesV4, "")
                                                     : allowStatusesPostgres(db, kTrialStatusesV4);
      if (!migrated.ok()) return migrated;
      const std::string indexes = renderSchema(db.dialect(), kSchemaV4Indexes);
      migrated = db.exec(indexes.c_str());
      if (!migrated.ok()) return migrated;
    }
    if (version + 1 == 5) {
      const std::string indexes = renderSchema(db.dialect(), kSchemaV4Indexes);
      migrated = db.dialect() == SqlDialect::kSqlite
                     ? allowStatusesSqlite(db, kTrialStatusesV4, kTrialStatusesV5, indexes.c_str())
                     : allowStatusesPostgres(db, kTrialStatusesV5);
      if (!migrated.ok()) return migrated;
    }
  }
  return stamp(db);
}

}  // namespace

StoreResult<void> migrateSchema(SqlDb& db) {
  // Look before writing anything (even the journal mode), so that a foreign or newer
  // store is left as it was.
  auto header = readHeader(db);
  if (!header.ok()) return header.error();
  auto checked = checkHeader(db, header.value());
  if (!checked.ok() || header.value().version == kStoreSchemaVersion) return checked;

  // SQLite rebuilds a table in versions 4 and 5: foreign keys off while it does (a no-op
  // inside a transaction, so before it).
  if (db.dialect() == SqlDialect::kSqlite) {
    auto off = db.exec("PRAGMA foreign_keys = OFF");
    if (!off.ok()) return off;
  }
  auto transaction = SqlTransaction::begin(db);
  if (!transaction.ok()) return transaction.error();
  if (db.dialect() == SqlDialect::kPostgres) {
    // One migrating worker at a time; the others wait here, then find the work done.
    auto locked = db.exec("SELECT pg_advisory_xact_lock(7236837376)");
    if (!locked.ok()) return locked;
  }
  // Another process may have migrated between our look and our lock: look again.
  header = readFields(db);  // inside the transaction: one snapshot already
  if (!header.ok()) return header.error();
  checked = checkHeader(db, header.value());
  if (!checked.ok()) return checked;
  if (header.value().version == kStoreSchemaVersion) return transaction.value().commit();
  auto migrated = applyMigrations(db, header.value().version);
  if (!migrated.ok()) return migrated;
  if (db.dialect() == SqlDialect::kSqlite) {
    auto violations = readInteger(db, "SELECT count(*) FROM pragma_foreign_key_check");
    if (!violations.ok()) return violations.error();
    if (violations.value() != 0) {
      return StoreError{db.path(), "migrating the store would break its links between tables", "move this file away"};
    }
  }
  return transaction.value().commit();
}

}  // namespace nnspec::rt
