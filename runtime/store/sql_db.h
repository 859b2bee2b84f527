#pragma once
// The one interface through which the store reaches a database (private to
// runtime/store). Two backends implement it: SQLite (sqlite_db.h, the embedded default)
// and PostgreSQL (pg_db.h, through libpq). The store's SQL is written once, in the
// common subset of both dialects, with these conventions, which prepare() and exec()
// render for their backend (renderSql below):
//   ?          a parameter, bound in order (PostgreSQL: $1, $2, ...)
//   {now}      the database's clock as UTC ISO-8601 text, "2026-12-01T20:47:00.123Z"
//   {clock}    the database's clock in seconds since 1970 (a double), for leases
// and the schema (schema.cpp) with these, which renderSchema maps to each dialect:
//   INTEGER PRIMARY KEY   a 64-bit key the database assigns (read back with RETURNING)
//   INTEGER, REAL, BLOB   64-bit integers, doubles, bytes (PostgreSQL: BIGINT,
//                         DOUBLE PRECISION, BYTEA)
//   WITHOUT ROWID         an SQLite storage option, dropped for PostgreSQL
//
// Values are bound, never spliced into SQL text. NaN is bound as NULL and a NULL double
// reads back as NaN (SQLite has no NaN). None of these classes is thread-safe: the Store
// serialises calls.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/store/store_error.h"

namespace nnspec::rt {

enum class SqlDialect { kSqlite, kPostgres };

// One execution of a statement, as a backend runs it.
class SqlStatement {
 public:
  virtual ~SqlStatement() = default;
  // Bind the next parameter. A failure is remembered and reported by step().
  virtual void bindInt(int64_t value) = 0;
  virtual void bindDouble(double value) = 0;  // NaN binds NULL
  virtual void bindText(std::string_view value) = 0;
  virtual void bindNull() = 0;
  virtual void bindBlob(const void* data, size_t bytes) = 0;
  virtual StoreResult<bool> step() = 0;  // true: a row is ready to read; false: done
  virtual bool isNull(int column) const = 0;
  virtual int64_t int64At(int column) const = 0;
  virtual double doubleAt(int column) const = 0;  // NULL reads back as quiet NaN
  virtual std::string textAt(int column) const = 0;
  virtual std::vector<char> blobAt(int column) const = 0;
};

// A statement being bound, run and read; what the store's code holds.
class SqlQuery {
 public:
  explicit SqlQuery(std::unique_ptr<SqlStatement> statement) : statement_(std::move(statement)) {}
  SqlQuery(SqlQuery&&) noexcept = default;
  SqlQuery& operator=(SqlQuery&&) noexcept = default;

  SqlQuery& bind(int64_t value) { return statement_->bindInt(value), *this; }
  SqlQuery& bind(double value) { return statement_->bindDouble(value), *this; }
  SqlQuery& bind(std::string_view value) { return statement_->bindText(value), *this; }
  SqlQuery& bindNull() { return statement_->bindNull(), *this; }
  SqlQuery& bindBlob(const void* data, size_t bytes) { return statement_->bindBlob(data, bytes), *this; }

  StoreResult<bool> step() { return statement_->step(); }
  StoreResult<void> run();  // step to the end, ignoring rows

  bool isNull(int column) const { return statement_->isNull(column); }
  int64_t int64At(int column) const { return statement_->int64At(column); }
  double doubleAt(int column) const { return statement_->doubleAt(column); }
  std::string textAt(int column) const { return statement_->textAt(column); }
  std::vector<char> blobAt(int column) const { return statement_->blobAt(column); }

 private:
  std::unique_ptr<SqlStatement> statement_;
};

enum class SqlTransactionKind {
  kWrite,  // takes the write lock at once (SQLite: BEGIN IMMEDIATE)
  kRead,   // every query sees one snapshot (PostgreSQL: REPEATABLE READ, READ ONLY)
};

class SqlDb {
 public:
  virtual ~SqlDb() = default;
  // What messages name: the file, or the URL without its password.
  virtual const std::string& path() const = 0;
  virtual SqlDialect dialect() const = 0;
  // SQL without parameters; may hold several statements (schema, BEGIN/COMMIT).
  virtual StoreResult<void> exec(const char* sql) = 0;
  // `sql` is a string literal (backends may cache by its text).
  virtual StoreResult<SqlQuery> prepare(const char* sql) = 0;
  virtual StoreResult<void> begin(SqlTransactionKind kind) = 0;
  virtual StoreResult<void> commit() = 0;
  virtual void rollback() = 0;
  virtual bool inTransaction() const = 0;
  // Whether the connection to the server was lost (the last call failed for it); then
  // reconnect() tries once to open a new one. SQLite never loses its file.
  virtual bool connectionLost() const { return false; }
  virtual StoreResult<void> reconnect() { return {}; }
};

// BEGIN ... COMMIT that rolls back unless committed.
class [[nodiscard]] SqlTransaction {
 public:
  static StoreResult<SqlTransaction> begin(SqlDb& db);      // kWrite
  static StoreResult<SqlTransaction> beginRead(SqlDb& db);  // kRead
  SqlTransaction(SqlTransaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  SqlTransaction& operator=(SqlTransaction&&) = delete;
  ~SqlTransaction();
  StoreResult<void> commit();

 private:
  explicit SqlTransaction(SqlDb& db) : db_(&db) {}
  SqlDb* db_;
};

// The store's SQL for a backend: placeholders and the {now} and {clock} tokens (see the
// top of this file). Text inside single quotes is left alone.
std::string renderSql(SqlDialect dialect, std::string_view sql);
// The schema's DDL for a backend: renderSql plus the type names (see the top).
std::string renderSchema(SqlDialect dialect, std::string_view ddl);

}  // namespace nnspec::rt
