#include "runtime/store/sqlite_db.h"

#include <cctype>

#include <fmt/format.h>
#include <sqlite3.h>

#include <cmath>
#include <limits>

namespace nnspec::rt {
namespace {

std::string joinDoing(std::string_view doing, const char* message) {
  if (doing.empty()) return message;
  return fmt::format("{}: {}", doing, message);
}

}  // namespace

// ---- SqliteStatement ----------------------------------------------------------------

// A cached statement in use: reset and cleared when the query is done with it.
class SqliteStatement final : public SqlStatement {
 public:
  SqliteStatement(SqliteDb& db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  ~SqliteStatement() override {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  void bindInt(int64_t value) override { keep(sqlite3_bind_int64(statement_, next_parameter_++, value)); }
  void bindDouble(double value) override {
    if (std::isnan(value)) return bindNull();
    keep(sqlite3_bind_double(statement_, next_parameter_++, value));
  }
  void bindText(std::string_view value) override {
    keep(sqlite3_bind_text64(statement_, next_parameter_++, value.data(), value.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8));
  }
  void bindNull() override { keep(sqlite3_bind_null(statement_, next_parameter_++)); }
  void bindBlob(const void* data, size_t bytes) override {
    keep(sqlite3_bind_blob64(statement_, next_parameter_++, data, bytes, SQLITE_TRANSIENT));
  }
  StoreResult<bool> step() override {
    if (bind_status_ != SQLITE_OK) return db_.errorFor(bind_status_, "binding a value");
    int status = sqlite3_step(statement_);
    if (status == SQLITE_ROW) return true;
    if (status == SQLITE_DONE) return false;
    return db_.lastError("");
  }
  bool isNull(int column) const override { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  int64_t int64At(int column) const override { return sqlite3_column_int64(statement_, column); }
  double doubleAt(int column) const override {
    if (isNull(column)) return std::numeric_limits<double>::quiet_NaN();
    return sqlite3_column_double(statement_, column);
  }
  std::string textAt(int column) const override {
    const unsigned char* text = sqlite3_column_text(statement_, column);
    if (text == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(statement_, column));
  }
  std::vector<char> blobAt(int column) const override {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(statement_, column));
    const int bytes = sqlite3_column_bytes(statement_, column);
    if (data == nullptr || bytes <= 0) return {};
    return std::vector<char>(data, data + bytes);
  }

 private:
  void keep(int status) {
    if (bind_status_ == SQLITE_OK) bind_status_ = status;
  }
  SqliteDb& db_;
  sqlite3_stmt* statement_;
  int next_parameter_ = 1;
  int bind_status_ = SQLITE_OK;
};

// ---- SqliteDb ----------------------------------------------------------------------

void SqliteDb::CloseConnection::operator()(sqlite3* connection) const { sqlite3_close_v2(connection); }

void SqliteDb::FinalizeStatement::operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }

SqliteDb::SqliteDb(std::string path, sqlite3* connection) : path_(std::move(path)), connection_(connection) {}
SqliteDb::~SqliteDb() { statements_.clear(); }

StoreResult<std::unique_ptr<SqliteDb>> SqliteDb::open(const std::string& path) {
  sqlite3* connection = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int status = sqlite3_open_v2(path.c_str(), &connection, flags, nullptr);
  std::unique_ptr<SqliteDb> db(new SqliteDb(path, connection));  // owns the handle even when opening failed
  if (connection == nullptr) return StoreError{path, "out of memory while opening the store", ""};
  if (status != SQLITE_OK) return db->lastError("");
  sqlite3_extended_result_codes(connection, 1);
  // SQLite quietly falls back to read-only for a file it may not write; every write
  // would then fail, so say it now.
  if (sqlite3_db_readonly(connection, "main") == 1) {
    StoreError error = db->errorFor(SQLITE_READONLY, "");
    error.message = "the file is read-only";
    return error;
  }
  return db;
}

namespace {

// `path` as a file: URI (RFC 3986: every byte but unreserved ones and '/' escaped).
std::string fileUri(const std::string& path, const char* query) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      uri += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789ABCDEF";
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 15];
    }
  }
  return uri + "?" + query;
}

}  // namespace

StoreResult<std::unique_ptr<SqliteDb>> SqliteDb::openReadOnly(const std::string& path) {
  StoreError last{path, "cannot read the store", ""};
  for (const char* query : {"mode=ro", "immutable=1"}) {
    sqlite3* connection = nullptr;
    const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    const int status = sqlite3_open_v2(fileUri(path, query).c_str(), &connection, flags, nullptr);
    std::unique_ptr<SqliteDb> db(new SqliteDb(path, connection));
    if (connection == nullptr) return StoreError{path, "out of memory while opening the store", ""};
    if (status != SQLITE_OK) {
      last = db->lastError("");
      continue;
    }
    sqlite3_extended_result_codes(connection, 1);
    // Opening reads nothing yet: a first read tells whether this mode can read the file.
    if (sqlite3_exec(connection, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) != SQLITE_OK) {
      last = db->lastError("");
      continue;
    }
    return db;
  }
  return last;
}

StoreResult<void> SqliteDb::exec(const char* sql) {
  const std::string text = renderSql(SqlDialect::kSqlite, sql);
  if (sqlite3_exec(connection_.get(), text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return lastError("");
  }
  return {};
}

StoreResult<SqlQuery> SqliteDb::prepare(const char* sql) {
  auto cached = statements_.find(sql);
  if (cached != statements_.end()) return SqlQuery(std::make_unique<SqliteStatement>(*this, cached->second.get()));
  const std::string text = renderSql(SqlDialect::kSqlite, sql);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(connection_.get(), text.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) !=
      SQLITE_OK) {
    return lastError("preparing a statement");
  }
  statements_.emplace(sql, statement);
  return SqlQuery(std::make_unique<SqliteStatement>(*this, statement));
}

StoreResult<void> SqliteDb::begin(SqlTransactionKind kind) {
  // IMMEDIATE takes the write lock now, so the busy timeout applies here rather than
  // failing later when a read transaction would need upgrading.
  return exec(kind == SqlTransactionKind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
}

StoreResult<void> SqliteDb::commit() { return exec("COMMIT"); }

void SqliteDb::rollback() { (void)exec("ROLLBACK"); }

bool SqliteDb::inTransaction() const { return sqlite3_get_autocommit(connection_.get()) == 0; }
void SqliteDb::setBusyTimeout(int milliseconds) { sqlite3_busy_timeout(connection_.get(), milliseconds); }

StoreError SqliteDb::lastError(std::string_view doing) const {
  StoreError error = errorFor(sqlite3_extended_errcode(connection_.get()), doing);
  error.message = joinDoing(doing, sqlite3_errmsg(connection_.get()));
  return error;
}

StoreError SqliteDb::errorFor(int code, std::string_view doing) const {
  StoreError error{path_, joinDoing(doing, sqlite3_errstr(code)), ""};
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      error.hint = "another process holds the store; wait for it to finish or pass --store with another file";
      error.busy = true;
      break;
    case SQLITE_NOTADB:
      error.hint = "this file is not a result store; pass --store with a new file name or move the file away";
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      error.hint =
          "check that the folder exists and that it and the file are writable (SQLite also creates the files "
          "'-wal' and '-shm' beside the store)";
      break;
    case SQLITE_FULL:
      error.hint = "free some disk space and run again; finished trials are kept";
      break;
    case SQLITE_CORRUPT:
      error.hint = "the file is damaged; move it away and run again";
      break;
    case SQLITE_IOERR:
      error.hint = "check the disk and the file system the store is on";
      break;
    default:
      break;
  }
  return error;
}

}  // namespace nnspec::rt
