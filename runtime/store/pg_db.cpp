#include "runtime/store/pg_db.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "runtime/store/store_url.h"

namespace nnspec::rt {
namespace {

// Type OIDs of the parameters we type ourselves (PostgreSQL's catalog/pg_type.h, which
// libpq does not ship); 0 lets the server infer the type from the context.
constexpr Oid kInferredOid = 0;
constexpr Oid kInt8Oid = 20;
constexpr Oid kByteaOid = 17;
constexpr Oid kFloat8Oid = 701;
constexpr int kTextFormat = 0;
constexpr int kBinaryFormat = 1;

constexpr const char* kConnectTimeoutSeconds = "10";
constexpr const char* kDefaultPort = "5432";
constexpr const char* kPasswordPlaces =
    "PGPASSWORD, a password file (PGPASSFILE, default ~/.pgpass, lines host:port:database:user:password) or a "
    "service file (PGSERVICE)";

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

std::string lowerFirst(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// The first line of a libpq message, without surrounding blanks.
std::string firstLine(std::string_view text) {
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) text.remove_suffix(1);
  return std::string(text);
}

// What the server or the system said, without libpq's "connection to server at ...
// failed: " and the server's "FATAL:  ".
std::string reason(std::string_view line) {
  constexpr std::string_view kFailed = "failed: ";
  if (size_t at = line.find(kFailed); at != std::string_view::npos) line.remove_prefix(at + kFailed.size());
  for (std::string_view severity : {"FATAL:", "ERROR:"}) {
    if (line.substr(0, severity.size()) != severity) continue;
    line.remove_prefix(severity.size());
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  }
  return lowerFirst(std::string(line));
}

std::string_view orEmpty(const char* text) { return text == nullptr ? std::string_view() : std::string_view(text); }

std::string withDoing(std::string_view doing, const std::string& message) {
  if (doing.empty()) return message;
  return fmt::format("{}: {}", doing, message);
}

// The server's host and port as the hints name them.
std::string hostPort(const PGconn* connection) {
  std::string_view host = orEmpty(PQhost(connection));
  std::string_view port = orEmpty(PQport(connection));
  return fmt::format("{}:{}", host.empty() ? "localhost" : host, port.empty() ? kDefaultPort : port);
}

// A failed connection attempt as a StoreError. libpq reports these as text only (no
// SQLSTATE before the session exists); the server's messages are in English unless its
// lc_messages says otherwise, in which case the generic error below carries them.
StoreError connectError(const std::string& url, const PGconn* connection) {
  const std::string line = firstLine(orEmpty(PQerrorMessage(connection)));
  std::string lower = line;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string where = hostPort(connection);
  const std::string user(orEmpty(PQuser(connection)));
  const std::string database(orEmpty(PQdb(connection)));

  if (contains(lower, "password authentication failed") || contains(lower, "no password supplied") ||
      contains(lower, "authentication failed")) {
    return StoreError{url, reason(line),
                      fmt::format("give the password of role '{}' in {}; check that the role exists and may log in",
                                  user, kPasswordPlaces)};
  }
  if (contains(lower, "database \"") && contains(lower, "does not exist")) {
    return StoreError{url, reason(line),
                      fmt::format("create it with 'createdb {}' (as a role that may create databases on {}) or "
                                  "check the database name in the URL",
                                  database, where)};
  }
  if (contains(lower, "role \"") && contains(lower, "does not exist")) {
    return StoreError{
        url, reason(line),
        fmt::format("create the role with 'createuser --pwprompt {}' or check the user name in the URL", user)};
  }
  for (std::string_view unreachable :
       {"connection refused", "no route to host", "network is unreachable", "timeout expired",
        "could not translate host name", "no such file or directory"}) {
    if (!contains(lower, unreachable)) continue;
    return StoreError{url, fmt::format("cannot reach the PostgreSQL server at {}: {}", where, reason(line)),
                      fmt::format("start the PostgreSQL server on {} or check the host and port in the URL", where)};
  }
  return StoreError{url, lowerFirst(line),
                    "check the URL (postgresql://user@host:port/database) and the PG* environment variables"};
}

// The fix for a statement's failure, by its SQLSTATE ("" when we know none).
std::string hintFor(std::string_view sqlstate, const PGconn* connection) {
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return "another process changed the store at the same moment; run again";
  }
  if (sqlstate == "53100") return "free some disk space on the database server";
  if (sqlstate == "53300") return "the server allows no more connections; run fewer processes or raise max_connections";
  if (sqlstate == "42501") {
    return fmt::format("grant role '{}' the privileges the store needs on database '{}', or connect as its owner",
                       orEmpty(PQuser(connection)), orEmpty(PQdb(connection)));
  }
  if (sqlstate == "57014") return "the server canceled the statement (statement_timeout?); raise the timeout";
  return "";
}

bool lostConnectionState(std::string_view sqlstate) {
  return sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" || sqlstate.substr(0, 2) == "08";
}

// Whether the URL itself carries a password, or why it cannot be read.
StoreResult<bool> urlHoldsPassword(const std::string& url) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &parse_error);
  if (options == nullptr) {
    std::string message = parse_error == nullptr ? "out of memory" : firstLine(parse_error);
    PQfreemem(parse_error);
    return StoreError{redactStoreUrl(url), fmt::format("invalid PostgreSQL URL: {}", lowerFirst(message)),
                      "write it as postgresql://user@host:port/database, optionally with ?sslmode=... and other "
                      "libpq parameters"};
  }
  bool holds_password = false;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "password" && option->val != nullptr) holds_password = true;
  }
  PQconninfoFree(options);
  return holds_password;
}

bool urlSetsConnectTimeout(const std::string& url) {
  PQconninfoOption* options = PQconninfoParse(url.c_str(), nullptr);
  if (options == nullptr) return false;
  bool sets = false;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "connect_timeout" && option->val != nullptr) sets = true;
  }
  PQconninfoFree(options);
  return sets;
}

// Doubles as their shortest exact decimal ("0.1", "5e-324"); PostgreSQL's float8 input
// reads these and its spellings of the infinities.
std::string formatDouble(double value) {
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{}", value);
}

}  // namespace

// ---- PgStatement -------------------------------------------------------------------

class PgStatement final : public SqlStatement {
 public:
  PgStatement(PgDb& db, std::string sql) : db_(&db), sql_(std::move(sql)) {}

  void bindInt(int64_t value) override { add(kInt8Oid, fmt::format("{}", value), kTextFormat); }
  void bindDouble(double value) override {
    if (std::isnan(value)) return bindNull();
    add(kFloat8Oid, formatDouble(value), kTextFormat);
  }
  void bindText(std::string_view value) override {
    if (value.find('\0') != std::string_view::npos && bind_error_.empty()) {
      bind_error_ = fmt::format(
          "binding a value: parameter {} is text holding a zero byte, which PostgreSQL "
          "text cannot store",
          types_.size() + 1);
    }
    add(kInferredOid, std::string(value), kTextFormat);
  }
  void bindNull() override {
    add(kInferredOid, "", kTextFormat);
    nulls_.back() = true;
  }
  void bindBlob(const void* data, size_t bytes) override {
    add(kByteaOid, std::string(static_cast<const char*>(data), bytes), kBinaryFormat);
  }

  StoreResult<bool> step() override {
    if (!executed_) {
      auto ran = execute();
      if (!ran.ok()) return ran.error();
      executed_ = true;
    }
    if (row_ < rows_) ++row_;
    return row_ < rows_;
  }

  bool isNull(int column) const override { return value(column) == nullptr; }

  int64_t int64At(int column) const override {
    const char* text = value(column);
    if (text == nullptr) return 0;
    const std::string_view digits(text);
    if (digits == "t") return 1;  // a boolean, as SQLite would give it
    if (digits == "f") return 0;
    int64_t number = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), number);
    return number;
  }

  double doubleAt(int column) const override {
    const char* text = value(column);
    if (text == nullptr) return std::numeric_limits<double>::quiet_NaN();
    const std::string_view digits(text);
    double number = std::numeric_limits<double>::quiet_NaN();
    std::from_chars(digits.data(), digits.data() + digits.size(), number);  // also NaN, Infinity, -Infinity
    return number;
  }

  std::string textAt(int column) const override {
    const char* text = value(column);
    if (text == nullptr) return {};
    return std::string(text, PQgetlength(result_.get(), row_, column));
  }

  std::vector<char> blobAt(int column) const override {
    const char* text = value(column);
    if (text == nullptr) return {};
    size_t bytes = 0;
    unsigned char* data = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &bytes);
    if (data == nullptr) return {};
    std::vector<char> blob(data, data + bytes);
    PQfreemem(data);
    return blob;
  }

 private:
  void add(Oid type, std::string text, int format) {
    types_.push_back(type);
    values_.push_back(std::move(text));
    formats_.push_back(format);
    nulls_.push_back(false);
  }

  StoreResult<void> execute() {
    if (!bind_error_.empty()) return StoreError{db_->path(), bind_error_, ""};
    const size_t count = values_.size();
    std::vector<const char*> values(count);
    std::vector<int> lengths(count);
    for (size_t k = 0; k < count; ++k) {
      values[k] = nulls_[k] ? nullptr : values_[k].data();
      lengths[k] = static_cast<int>(values_[k].size());
    }
    auto name = db_->preparedName(sql_, types_);
    if (!name.ok()) return name.error();
    PGresult* raw = PQexecPrepared(db_->connection_.get(), name.value().c_str(), static_cast<int>(count),
                                   values.data(), lengths.data(), formats_.data(), kTextFormat);
    auto checked = db_->check(raw, "");
    if (!checked.ok()) return checked.error();
    result_ = std::move(checked.value());
    rows_ = PQntuples(result_.get());
    return {};
  }

  // The current row's value in `column` as the server's text, or null for NULL (and for
  // a column or row that is not there).
  const char* value(int column) const {
    if (result_ == nullptr || row_ < 0 || row_ >= rows_ || column < 0 || column >= PQnfields(result_.get())) {
      return nullptr;
    }
    if (PQgetisnull(result_.get(), row_, column) != 0) return nullptr;
    return PQgetvalue(result_.get(), row_, column);
  }

  PgDb* db_;
  std::string sql_;
  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<int> formats_;
  std::vector<bool> nulls_;
  std::string bind_error_;
  bool executed_ = false;
  PgDb::Result result_;
  int rows_ = 0;
  int row_ = -1;
};

// ---- PgDb --------------------------------------------------------------------------

void PgDb::FinishConnection::operator()(pg_conn* connection) const { PQfinish(connection); }
void PgDb::ClearResult::operator()(pg_result* result) const { PQclear(result); }

PgDb::PgDb(const OpenKey&, std::string url, pg_conn* connection) : url_(std::move(url)), connection_(connection) {}
PgDb::~PgDb() = default;

StoreResult<std::unique_ptr<PgDb>> PgDb::open(const std::string& url) {
  if (!isPostgresUrl(url)) {
    return StoreError{redactStoreUrl(url), "not a PostgreSQL URL", "write it as postgresql://user@host:port/database"};
  }
  auto holds_password = urlHoldsPassword(url);
  if (!holds_password.ok()) return holds_password.error();
  if (holds_password.value()) {
    return StoreError{
        redactStoreUrl(url), "the store URL holds a password",
        fmt::format("remove it from the URL (command lines and logs show URLs) and give it in {}", kPasswordPlaces)};
  }

  // Our keywords first: the URL's own settings, expanded from dbname, override them; an
  // explicit connect_timeout also overrides PGCONNECT_TIMEOUT, so it is set only when
  // neither gives one.
  std::vector<const char*> keywords = {"fallback_application_name"};
  std::vector<const char*> values = {"nnspec"};
  if (!urlSetsConnectTimeout(url) && std::getenv("PGCONNECT_TIMEOUT") == nullptr) {
    keywords.push_back("connect_timeout");
    values.push_back(kConnectTimeoutSeconds);
  }
  keywords.push_back("dbname");
  values.push_back(url.c_str());
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* raw = PQconnectdbParams(keywords.data(), values.data(), 1);
  if (raw == nullptr) return StoreError{url, "out of memory while connecting to the store", ""};
  auto db = std::make_unique<PgDb>(OpenKey{}, url, raw);  // owns the connection even when it failed
  // The server's notices (e.g. "relation already exists, skipping") are not for users.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  if (PQstatus(raw) != CONNECTION_OK) return connectError(url, raw);
  auto configured = db->configureSession();
  if (!configured.ok()) return configured.error();
  return db;
}

StoreResult<void> PgDb::configureSession() {
  // extra_float_digits > 0 selects shortest-exact float output, whatever the server's
  // default (PostgreSQL 12 and later).
  return command("SET client_min_messages = warning; SET extra_float_digits = 3", "configuring the session");
}

StoreResult<PgDb::Result> PgDb::check(pg_result* raw, std::string_view doing) {
  Result result(raw);
  const ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    connection_lost_ = false;
    return result;
  }
  const std::string_view sqlstate = orEmpty(PQresultErrorField(result.get(), PG_DIAG_SQLSTATE));
  std::string_view primary = orEmpty(PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY));
  const std::string connection_message = firstLine(orEmpty(PQerrorMessage(connection_.get())));
  if (primary.empty()) primary = connection_message;
  if (primary.empty()) primary = "unknown error";
  connection_lost_ = PQstatus(connection_.get()) == CONNECTION_BAD || lostConnectionState(sqlstate);
  if (connection_lost_) {
    return StoreError{
        url_, withDoing(doing, fmt::format("lost the connection to the server: {}", reason(primary))),
        fmt::format("check that the PostgreSQL server at {} is running and reachable", hostPort(connection_.get()))};
  }
  return StoreError{url_, withDoing(doing, lowerFirst(std::string(primary))), hintFor(sqlstate, connection_.get())};
}

StoreResult<void> PgDb::command(const char* sql, std::string_view doing) {
  auto checked = check(PQexec(connection_.get(), sql), doing);
  if (!checked.ok()) return checked.error();
  return {};
}

StoreResult<void> PgDb::exec(const char* sql) { return command(renderSql(SqlDialect::kPostgres, sql).c_str(), ""); }

StoreResult<std::string> PgDb::preparedName(const std::string& sql, const std::vector<unsigned int>& types) {
  std::string key = sql;
  for (unsigned int type : types) key += fmt::format(",{}", type);
  const auto found = prepared_.find(key);
  if (found != prepared_.end()) return found->second;
  // Bounded: the store's statements are a few dozen shapes; a long run never grows this.
  if (prepared_.size() >= 1000) {
    auto cleared = command("DEALLOCATE ALL", "forgetting prepared statements");
    if (!cleared.ok()) return cleared.error();
    prepared_.clear();
  }
  std::string name = fmt::format("nnspec_{}", prepared_.size() + 1);
  auto checked = check(PQprepare(connection_.get(), name.c_str(), sql.c_str(), static_cast<int>(types.size()),
                                 types.data()),
                       "preparing a statement");
  if (!checked.ok()) return checked.error();
  prepared_.emplace(std::move(key), name);
  return name;
}

StoreResult<SqlQuery> PgDb::prepare(const char* sql) {
  return SqlQuery(std::make_unique<PgStatement>(*this, renderSql(SqlDialect::kPostgres, sql)));
}

StoreResult<void> PgDb::begin(SqlTransactionKind kind) {
  const char* sql = kind == SqlTransactionKind::kWrite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  return command(sql, "beginning a transaction");
}

StoreResult<void> PgDb::commit() {
  auto checked = check(PQexec(connection_.get(), "COMMIT"), "committing");
  if (!checked.ok()) return checked.error();
  // COMMIT of a transaction that an error aborted succeeds as a ROLLBACK.
  if (std::string_view(PQcmdStatus(checked.value().get())) != "COMMIT") {
    return StoreError{url_, "committing: the transaction was rolled back after an earlier error in it", ""};
  }
  return {};
}

void PgDb::rollback() {
  // Nothing to report: on a lost connection the server has rolled back already.
  auto ignored = check(PQexec(connection_.get(), "ROLLBACK"), "rolling back");
  (void)ignored;
}

bool PgDb::inTransaction() const {
  const PGTransactionStatusType status = PQtransactionStatus(connection_.get());
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

StoreResult<void> PgDb::reconnect() {
  prepared_.clear();  // a new session has none of them
  PQreset(connection_.get());
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    connection_lost_ = true;
    return connectError(url_, connection_.get());
  }
  connection_lost_ = false;
  return configureSession();
}

}  // namespace nnspec::rt
