#pragma once
// The small interface through which the store reaches SQLite (private to runtime/store;
// sqlite3.h is included only by sqlite_db.cpp).
//
// SqliteDb is one connection with a cache of prepared statements; SqlQuery is one use of
// a cached statement (values are bound in order, never spliced into SQL text) and resets
// it when it goes out of scope; SqlTransaction is BEGIN ... COMMIT that rolls back
// unless committed. None of these is thread-safe: the Store serialises calls.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <string_view>
#include <unordered_map>

#include "runtime/store/store_error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace nnspec::rt {

class SqliteDb;

class SqlQuery {
 public:
  SqlQuery(SqliteDb& db, sqlite3_stmt* statement);
  SqlQuery(SqlQuery&& other) noexcept;
  SqlQuery& operator=(SqlQuery&&) = delete;
  SqlQuery(const SqlQuery&) = delete;
  ~SqlQuery();

  // Bind the next `?` (1, 2, ...). A failure is remembered and reported by step()/run().
  SqlQuery& bind(int64_t value);
  SqlQuery& bind(double value);  // NaN is stored as NULL (SQLite has no NaN)
  SqlQuery& bind(std::string_view value);
  SqlQuery& bindNull();
  SqlQuery& bindBlob(const void* data, size_t bytes);

  StoreResult<bool> step();  // true: a row is ready to read; false: done
  StoreResult<void> run();   // step to the end, ignoring rows

  bool isNull(int column) const;
  int64_t int64At(int column) const;
  double doubleAt(int column) const;  // NULL reads back as quiet NaN
  std::string textAt(int column) const;
  std::vector<char> blobAt(int column) const;

 private:
  SqliteDb* db_;
  sqlite3_stmt* statement_;
  int next_parameter_ = 1;
  int bind_status_ = 0;  // SQLITE_OK
};

class SqliteDb {
 public:
  // Opens (creating if missing) the database file. No I/O happens yet in SQLite: a file
  // that is not a database is only noticed by the first statement.
  static StoreResult<SqliteDb> open(const std::string& path);
  SqliteDb(SqliteDb&&) noexcept;
  SqliteDb& operator=(SqliteDb&&) noexcept;
  ~SqliteDb();

  const std::string& path() const { return path_; }

  // Run SQL that takes no parameters (schema, pragmas, BEGIN/COMMIT).
  StoreResult<void> exec(const char* sql);
  // A cached prepared statement for `sql` (a string literal: the cache is keyed by text).
  StoreResult<SqlQuery> prepare(const char* sql);

  int64_t lastInsertId() const;
  int64_t changes() const;
  bool inTransaction() const;
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

class [[nodiscard]] SqlTransaction {
 public:
  // A write transaction: takes the write lock at once (waiting up to the busy timeout).
  static StoreResult<SqlTransaction> begin(SqliteDb& db);
  // A read transaction: every query in it sees the same snapshot.
  static StoreResult<SqlTransaction> beginRead(SqliteDb& db);
  SqlTransaction(SqlTransaction&& other) noexcept;
  SqlTransaction& operator=(SqlTransaction&&) = delete;
  ~SqlTransaction();  // rolls back unless committed
  StoreResult<void> commit();

 private:
  explicit SqlTransaction(SqliteDb& db) : db_(&db) {}
  SqliteDb* db_;
};

}  // namespace nnspec::rt
