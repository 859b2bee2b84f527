#pragma once
// The PostgreSQL backend of the store's SqlDb (sql_db.h), over libpq (included only by
// pg_db.cpp).
//
// A PgDb is one connection, opened from a URL such as
// postgresql://nnspec@db.example.org:5432/nnspec?sslmode=verify-full. The URL never holds
// a password: libpq finds it in PGPASSWORD, the password file (PGPASSFILE, ~/.pgpass) or
// a service file (PGSERVICE), and its other settings (TLS, timeouts) work as documented
// for libpq. A statement is sent with its values on its first step() (PQexecParams) and
// its whole result is fetched then; the later steps read the rows.
//
// Values: integers are sent as bigint, doubles as double precision, blobs as bytea (in
// binary), text and NULL untyped (the server infers the type from the context). Doubles
// are sent and read as their shortest exact decimal, so they round-trip bit for bit.
// Typed numbers never turn into a 32-bit integer ("? + 1", "1 BETWEEN 1 AND ?" would
// infer int4 and overflow past 2^31), but a function that takes an int4 (substr,
// pg_terminate_backend) needs CAST(? AS INTEGER); an untyped parameter in a context that
// names no type ("? IS NULL" bound to text or NULL) needs CAST(? AS TEXT). Both casts are
// also SQLite's.
//
// A lost connection (the server restarted, the backend was terminated) makes the failing
// call's connectionLost() true; reconnect() then tries once. Retrying is the caller's.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/store/sql_db.h"
#include "runtime/store/store_error.h"

struct pg_conn;
struct pg_result;

namespace nnspec::rt {

class PgStatement;

class PgDb final : public SqlDb {
  struct OpenKey {};  // only open() makes a PgDb

 public:
  // Connects to the database at `url` (postgresql://... or postgres://...). Refuses a URL
  // that holds a password.
  static StoreResult<std::unique_ptr<PgDb>> open(const std::string& url);
  PgDb(const OpenKey&, std::string url, pg_conn* connection);
  ~PgDb() override;
  PgDb(const PgDb&) = delete;
  PgDb& operator=(const PgDb&) = delete;

  const std::string& path() const override { return url_; }
  SqlDialect dialect() const override { return SqlDialect::kPostgres; }
  StoreResult<void> exec(const char* sql) override;
  StoreResult<SqlQuery> prepare(const char* sql) override;
  StoreResult<void> begin(SqlTransactionKind kind) override;
  StoreResult<void> commit() override;
  void rollback() override;
  bool inTransaction() const override;
  bool connectionLost() const override { return connection_lost_; }
  StoreResult<void> reconnect() override;

  // PgStatement (pg_db.cpp) runs its statements through the connection.
  friend class PgStatement;

 private:
  struct FinishConnection {
    void operator()(pg_conn* connection) const;
  };
  struct ClearResult {
    void operator()(pg_result* result) const;
  };
  using Result = std::unique_ptr<pg_result, ClearResult>;

  StoreResult<void> configureSession();
  // A command's or a statement's result, or its failure as a StoreError (its message
  // prefixed with `doing` when not empty), noting a lost connection.
  StoreResult<Result> check(pg_result* result, std::string_view doing);
  StoreResult<void> command(const char* sql, std::string_view doing);

  // The name of the server-side prepared statement for `sql` with these parameter types,
  // preparing it on first use: a statement is parsed and planned once per connection,
  // not on every call (about half of a short statement's time on the server).
  StoreResult<std::string> preparedName(const std::string& sql, const std::vector<unsigned int>& types);

  std::string url_;
  std::unique_ptr<pg_conn, FinishConnection> connection_;
  bool connection_lost_ = false;
  std::unordered_map<std::string, std::string> prepared_;  // sql + types -> statement name
};

}  // namespace nnspec::rt
