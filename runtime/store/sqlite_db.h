#pragma once
// The SQLite backend of the store's SqlDb (private to runtime/store; sqlite3.h is
// included only by sqlite_db.cpp): one connection with a cache of prepared statements.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "runtime/store/sql_db.h"

struct sqlite3;
struct sqlite3_stmt;

namespace nnspec::rt {

class SqliteDb final : public SqlDb {
 public:
  // Opens (creating if missing) the database file. No I/O happens yet in SQLite: a file
  // that is not a database is only noticed by the first statement.
  static StoreResult<std::unique_ptr<SqliteDb>> open(const std::string& path);
  // Opens an existing database for reading only (a file or folder this process may not
  // write): first read-only with locking; when even that needs to write (a WAL store
  // without its -shm file in a read-only folder), as immutable, which reads the main file
  // alone (a store is checkpointed into it when its last writer closes).
  static StoreResult<std::unique_ptr<SqliteDb>> openReadOnly(const std::string& path);
  ~SqliteDb() override;

  const std::string& path() const override { return path_; }
  SqlDialect dialect() const override { return SqlDialect::kSqlite; }
  StoreResult<void> exec(const char* sql) override;
  StoreResult<SqlQuery> prepare(const char* sql) override;
  StoreResult<void> begin(SqlTransactionKind kind) override;
  StoreResult<void> commit() override;
  void rollback() override;
  bool inTransaction() const override;

  void setBusyTimeout(int milliseconds);

  // The connection's last error (or `code`) as a StoreError with a hint; `doing`, when
  // not empty, prefixes the message ("preparing a statement: ...").
  StoreError lastError(std::string_view doing) const;
  StoreError errorFor(int code, std::string_view doing) const;

 private:
  struct CloseConnection {
    void operator()(sqlite3* connection) const;
  };
  struct FinalizeStatement {
    void operator()(sqlite3_stmt* statement) const;
  };
  SqliteDb(std::string path, sqlite3* connection);

  std::string path_;
  std::unique_ptr<sqlite3, CloseConnection> connection_;  // declared first: closed last
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, FinalizeStatement>> statements_;
};

}  // namespace nnspec::rt
