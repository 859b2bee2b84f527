#pragma once
// The store's tables, created and migrated in one place (private to runtime/store).

#include "runtime/store/sql_db.h"
#include "runtime/store/store_error.h"

namespace nnspec::rt {

// PRAGMA user_version of stores this build writes; a migration step per version.
inline constexpr int kStoreSchemaVersion = 5;
// PRAGMA application_id of every nnspec store ("nnsp"), so that another program's
// SQLite file is refused instead of being written into.
inline constexpr int kStoreApplicationId = 0x6e6e7370;

// Checks that `db` is an empty file or an nnspec store no newer than this build, and
// brings its schema up to kStoreSchemaVersion. Leaves foreign or newer files untouched.
StoreResult<void> migrateSchema(SqlDb& db);

}  // namespace nnspec::rt
