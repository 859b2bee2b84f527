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
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
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
  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
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
  saved_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
)sql";

// kMigrations[v] takes a store from user_version v to v + 1.
constexpr std::array<const char*, kStoreSchemaVersion> kMigrations = {kSchemaV1, kSchemaV2, kSchemaV3};

struct Header {
  int64_t application_id = 0;
  int64_t user_version = 0;
  int64_t object_count = 0;  // tables, indexes, views, triggers
};

StoreResult<int64_t> readInteger(SqliteDb& db, const char* sql) {
  auto query = db.prepare(sql);
  if (!query.ok()) return query.error();
  auto row = query.value().step();
  if (!row.ok()) return row.error();
  if (!row.value()) return StoreError{db.path(), fmt::format("'{}' returned no row", sql), ""};
  return query.value().int64At(0);
}

StoreResult<Header> readFields(SqliteDb& db) {
  Header header;
  auto application_id = readInteger(db, "PRAGMA application_id");
  if (!application_id.ok()) return application_id.error();
  header.application_id = application_id.value();
  auto user_version = readInteger(db, "PRAGMA user_version");
  if (!user_version.ok()) return user_version.error();
  header.user_version = user_version.value();
  auto object_count = readInteger(db, "SELECT count(*) FROM sqlite_master");
  if (!object_count.ok()) return object_count.error();
  header.object_count = object_count.value();
  return header;
}

// The three fields in one read transaction: read one by one, a look racing another
// process's creation of the store could see application_id 0 and then the tables it
// committed, and take the new store for a foreign database.
StoreResult<Header> readHeader(SqliteDb& db) {
  auto begun = db.exec("BEGIN");
  if (!begun.ok()) return begun.error();
  auto header = readFields(db);
  auto ended = db.exec(header.ok() ? "COMMIT" : "ROLLBACK");
  if (!header.ok()) return header;
  if (!ended.ok()) return ended.error();
  return header;
}

// An error when the file is not ours or is too new to touch.
StoreResult<void> checkHeader(const SqliteDb& db, const Header& header) {
  bool empty = header.application_id == 0 && header.user_version == 0 && header.object_count == 0;
  if (!empty && header.application_id != kStoreApplicationId) {
    return StoreError{db.path(), "file is an SQLite database but not an nnspec result store",
                      "pass --store with a new file name, or move this file away"};
  }
  if (header.user_version > kStoreSchemaVersion) {
    return StoreError{db.path(),
                      fmt::format("store has schema version {}, newer than the {} this nnspec reads",
                                  header.user_version, kStoreSchemaVersion),
                      "it was written by a newer nnspec: upgrade nnspec, or pass --store with another file"};
  }
  return {};
}

}  // namespace

StoreResult<void> migrateSchema(SqliteDb& db) {
  // Look before writing anything (even the journal mode), so that a foreign or newer file
  // is left as it was.
  auto header = readHeader(db);
  if (!header.ok()) return header.error();
  auto checked = checkHeader(db, header.value());
  if (!checked.ok() || header.value().user_version == kStoreSchemaVersion) return checked;

  auto transaction = SqlTransaction::begin(db);
  if (!transaction.ok()) return transaction.error();
  // Another process may have migrated between our look and our lock: look again.
  header = readFields(db);  // inside the transaction: one snapshot already
  if (!header.ok()) return header.error();
  checked = checkHeader(db, header.value());
  if (!checked.ok()) return checked;

  for (int64_t version = header.value().user_version; version < kStoreSchemaVersion; ++version) {
    auto migrated = db.exec(kMigrations[version]);
    if (!migrated.ok()) return migrated;
  }
  // Constants, not user data: PRAGMA values cannot be bound.
  std::string stamp =
      fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {};", kStoreApplicationId, kStoreSchemaVersion);
  auto stamped = db.exec(stamp.c_str());
  if (!stamped.ok()) return stamped;
  return transaction.value().commit();
}

}  // namespace nnspec::rt
