// The PostgreSQL backend through the SqlDb interface, against a throwaway server
// (tests/store/pg_server.h): values round-trip exactly, the store's statement shapes
// work with server-inferred parameter types, transactions, and the errors users meet.
#include "runtime/store/pg_db.h"

#include <stdlib.h>

#include <bit>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/store/sql_db.h"
#include "runtime/store/store_url.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_require.h"
#include "tests/store/temp_dir.h"

namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using nnspec::rt::PgDb;
using nnspec::rt::renderSchema;
using nnspec::rt::SqlDb;
using nnspec::rt::SqlDialect;
using nnspec::rt::SqlQuery;
using nnspec::rt::SqlTransaction;
using nnspec::rt::StoreError;
using nnspec::rt::StoreResult;
using nnspec::test::PgCluster;
using nnspec::test::PgServer;
using nnspec::test::TempDir;

using nnspec::test::require;
using nnspec::test::requireError;

std::unique_ptr<PgDb> openDatabase(std::string_view name) {
  return require(PgDb::open(PgServer::instance().createDatabase(name)));
}

// A table in the store's portable DDL, rendered for PostgreSQL.
constexpr const char* kValuesTable =
    "CREATE TABLE value_row (id INTEGER PRIMARY KEY, i INTEGER, d REAL, t TEXT, b BLOB)";

void createValuesTable(SqlDb& db) { require(db.exec(renderSchema(SqlDialect::kPostgres, kValuesTable).c_str())); }

using nnspec::test::ScopedEnv;

int64_t countRows(SqlDb& db, const char* sql) {
  SqlQuery query = require(db.prepare(sql));
  REQUIRE(require(query.step()));
  return query.int64At(0);
}

TEST_CASE("pg: int64 values round-trip, including the extremes", "[pg]") {
  auto db = openDatabase("int64");
  createValuesTable(*db);
  for (int64_t value : {int64_t{0}, int64_t{-1}, int64_t{1} << 40, std::numeric_limits<int64_t>::min(),
                        std::numeric_limits<int64_t>::max()}) {
    INFO("value " << value);
    SqlQuery insert = require(db->prepare("INSERT INTO value_row (i) VALUES (?) RETURNING id"));
    insert.bind(value);
    REQUIRE(require(insert.step()));
    const int64_t id = insert.int64At(0);
    SqlQuery select = require(db->prepare("SELECT i FROM value_row WHERE id = ?"));
    select.bind(id);
    REQUIRE(require(select.step()));
    CHECK(select.int64At(0) == value);
    CHECK_FALSE(require(select.step()));
  }
}

TEST_CASE("pg: doubles round-trip bit for bit and NaN comes back as NULL and NaN", "[pg]") {
  auto db = openDatabase("doubles");
  createValuesTable(*db);
  const double values[] = {0.1,
                           1.0 / 3.0,
                           1e-300,
                           -2.5e300,
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::min() / 3,
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           -0.0,
                           0.0,
                           123456789.123456789,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()};
  for (double value : values) {
    INFO("value " << value);
    SqlQuery insert = require(db->prepare("INSERT INTO value_row (d) VALUES (?) RETURNING id"));
    insert.bind(value);
    REQUIRE(require(insert.step()));
    SqlQuery select = require(db->prepare("SELECT d FROM value_row WHERE id = ?"));
    select.bind(insert.int64At(0));
    REQUIRE(require(select.step()));
    // Bit for bit, which no tolerance expresses.
    CHECK(std::bit_cast<uint64_t>(select.doubleAt(0)) == std::bit_cast<uint64_t>(value));
  }

  SqlQuery insert_nan = require(db->prepare("INSERT INTO value_row (d) VALUES (?) RETURNING id"));
  insert_nan.bind(std::numeric_limits<double>::quiet_NaN());
  REQUIRE(require(insert_nan.step()));
  SqlQuery select_nan = require(db->prepare("SELECT d, d IS NULL FROM value_row WHERE id = ?"));
  select_nan.bind(insert_nan.int64At(0));
  REQUIRE(require(select_nan.step()));
  CHECK(select_nan.isNull(0));
  CHECK(select_nan.int64At(1) == 1);  // a boolean reads as 1
  CHECK(std::isnan(select_nan.doubleAt(0)));
}

TEST_CASE("pg: the server prints doubles as their shortest exact decimal", "[pg]") {
  auto db = openDatabase("shortest");
  SqlQuery query = require(db->prepare("SELECT CAST(CAST(? AS DOUBLE PRECISION) AS TEXT), CAST(? AS TEXT)"));
  query.bind(0.1).bind(std::numeric_limits<double>::denorm_min());
  REQUIRE(require(query.step()));
  CHECK(query.textAt(0) == "0.1");
  CHECK(query.textAt(1) == "5e-324");

  // The server's own NaN and infinities read back as such.
  SqlQuery special =
      require(db->prepare("SELECT CAST('NaN' AS DOUBLE PRECISION), CAST('Infinity' AS DOUBLE PRECISION), "
                          "CAST('-Infinity' AS DOUBLE PRECISION)"));
  REQUIRE(require(special.step()));
  CHECK(std::isnan(special.doubleAt(0)));
  CHECK(special.doubleAt(1) == std::numeric_limits<double>::infinity());
  CHECK(special.doubleAt(2) == -std::numeric_limits<double>::infinity());
}

TEST_CASE("pg: text round-trips with quotes, backslashes and unicode", "[pg]") {
  auto db = openDatabase("text");
  createValuesTable(*db);
  for (const std::string value : {"", "it's a \"quote\"", "back\\slash\\x00 and $1 and ?", "line\nbreak\ttab",
                                  "größe ✓ 日本語 😀", "'; DROP TABLE value_row; --"}) {
    INFO("value " << value);
    SqlQuery insert = require(db->prepare("INSERT INTO value_row (t) VALUES (?) RETURNING id"));
    insert.bind(std::string_view(value));
    REQUIRE(require(insert.step()));
    SqlQuery select = require(db->prepare("SELECT t, length(t) FROM value_row WHERE id = ?"));
    select.bind(insert.int64At(0));
    REQUIRE(require(select.step()));
    CHECK_FALSE(select.isNull(0));
    CHECK(select.textAt(0) == value);
  }
  SqlQuery null_text = require(db->prepare("INSERT INTO value_row (t) VALUES (?) RETURNING id"));
  null_text.bindNull();
  REQUIRE(require(null_text.step()));
  SqlQuery select = require(db->prepare("SELECT t FROM value_row WHERE id = ?"));
  select.bind(null_text.int64At(0));
  REQUIRE(require(select.step()));
  CHECK(select.isNull(0));
  CHECK(select.textAt(0).empty());
}

TEST_CASE("pg: text holding a zero byte is refused", "[pg]") {
  auto db = openDatabase("zerotext");
  createValuesTable(*db);
  SqlQuery insert = require(db->prepare("INSERT INTO value_row (t) VALUES (?)"));
  insert.bind(std::string_view("a\0b", 3));
  const StoreError error = requireError(insert.step());
  CHECK_THAT(error.message, Contains("zero byte"));
}

TEST_CASE("pg: blobs round-trip, including zero bytes and the empty blob", "[pg]") {
  auto db = openDatabase("blobs");
  createValuesTable(*db);
  std::vector<char> every_byte;
  for (int byte = 0; byte < 256; ++byte) every_byte.push_back(static_cast<char>(byte));
  std::vector<char> large(300000);
  for (size_t at = 0; at < large.size(); ++at) large[at] = static_cast<char>((at * 7919) % 251);
  const std::vector<std::vector<char>> blobs = {{}, {'\0'}, {'a', '\0', 'b', '\0'}, every_byte, large};
  for (const std::vector<char>& blob : blobs) {
    INFO("blob of " << blob.size() << " bytes");
    SqlQuery insert = require(db->prepare("INSERT INTO value_row (b) VALUES (?) RETURNING id"));
    insert.bindBlob(blob.data(), blob.size());
    REQUIRE(require(insert.step()));
    SqlQuery select = require(db->prepare("SELECT b, length(b) FROM value_row WHERE id = ?"));
    select.bind(insert.int64At(0));
    REQUIRE(require(select.step()));
    CHECK_FALSE(select.isNull(0));
    CHECK(select.int64At(1) == static_cast<int64_t>(blob.size()));
    CHECK(select.blobAt(0) == blob);
  }
}

TEST_CASE("pg: INTEGER PRIMARY KEY is assigned by the server and read back with RETURNING", "[pg]") {
  auto db = openDatabase("keys");
  createValuesTable(*db);
  std::vector<int64_t> ids;
  for (int row = 0; row < 3; ++row) {
    SqlQuery insert = require(db->prepare("INSERT INTO value_row (i) VALUES (?) RETURNING id"));
    insert.bind(int64_t{row});
    REQUIRE(require(insert.step()));
    ids.push_back(insert.int64At(0));
    CHECK_FALSE(require(insert.step()));
  }
  CHECK(ids[0] > 0);
  CHECK(ids[1] > ids[0]);
  CHECK(ids[2] > ids[1]);
  // A command without RETURNING has no rows.
  SqlQuery plain = require(db->prepare("INSERT INTO value_row (i) VALUES (?)"));
  plain.bind(int64_t{7});
  CHECK_FALSE(require(plain.step()));
  CHECK(countRows(*db, "SELECT count(*) FROM value_row") == 4);
}

TEST_CASE("pg: the store's statement shapes infer their parameter types", "[pg]") {
  auto db = openDatabase("shapes");
  require(db->exec(renderSchema(SqlDialect::kPostgres,
                                "CREATE TABLE metric (trial INTEGER NOT NULL, name TEXT NOT NULL, value REAL, "
                                "  PRIMARY KEY (trial, name)) WITHOUT ROWID;"
                                "CREATE TABLE trial (id INTEGER PRIMARY KEY, status TEXT NOT NULL, epochs INTEGER)")
                       .c_str()));
  const int64_t big = std::numeric_limits<int64_t>::max() - 1;

  SqlQuery insert = require(db->prepare("INSERT INTO trial (status, epochs) VALUES (?, ?) RETURNING id"));
  insert.bind(std::string_view("running")).bind(big);
  REQUIRE(require(insert.step()));
  const int64_t trial = insert.int64At(0);

  SqlQuery update =
      require(db->prepare("UPDATE trial SET status = ?, epochs = epochs - ? WHERE id = ? AND status = ? RETURNING id"));
  update.bind(std::string_view("finished")).bind(int64_t{1}).bind(trial).bind(std::string_view("running"));
  REQUIRE(require(update.step()));
  CHECK(update.int64At(0) == trial);

  for (double value : {0.5, 0.25}) {  // the second one updates the first
    SqlQuery upsert =
        require(db->prepare("INSERT INTO metric (trial, name, value) VALUES (?, ?, ?) "
                            "ON CONFLICT (trial, name) DO UPDATE SET value = excluded.value"));
    upsert.bind(trial).bind(std::string_view("loss")).bind(value);
    require(upsert.run());
  }

  SqlQuery between = require(db->prepare("SELECT count(*), max(epochs) FROM trial WHERE epochs BETWEEN 1 AND ?"));
  between.bind(big);
  REQUIRE(require(between.step()));
  CHECK(between.int64At(0) == 1);
  CHECK(between.int64At(1) == big - 1);

  // Untyped contexts: a bare parameter, arithmetic on it, a comparison with NULL.
  SqlQuery bare = require(db->prepare("SELECT ?, ? + 1, ?, ? * 2.0, ? IS NULL"));
  bare.bind(big).bind(big - 1).bind(std::string_view("text")).bind(0.1).bind(int64_t{3});
  REQUIRE(require(bare.step()));
  CHECK(bare.int64At(0) == big);
  CHECK(bare.int64At(1) == big);
  CHECK(bare.textAt(2) == "text");
  CHECK_THAT(bare.doubleAt(3), WithinAbs(0.2, 1e-15));
  CHECK(bare.int64At(4) == 0);

  // Text and NULL are sent untyped: where nothing names the type, the SQL must.
  SqlQuery untyped = require(db->prepare("SELECT ? IS NULL"));
  untyped.bindNull();
  CHECK_THAT(requireError(untyped.step()).message, Contains("could not determine data type of parameter $1"));
  SqlQuery cast = require(db->prepare("SELECT CAST(? AS TEXT) IS NULL, substr(?, CAST(? AS INTEGER))"));
  cast.bindNull().bind(std::string_view("abc")).bind(int64_t{2});
  REQUIRE(require(cast.step()));
  CHECK(cast.int64At(0) == 1);
  CHECK(cast.textAt(1) == "bc");

  SqlQuery read =
      require(db->prepare("SELECT t.status, m.value FROM trial t JOIN metric m ON m.trial = t.id "
                          "WHERE m.name = ? AND m.value > ?"));
  read.bind(std::string_view("loss")).bind(int64_t{0});
  REQUIRE(require(read.step()));
  CHECK(read.textAt(0) == "finished");
  CHECK(read.doubleAt(1) == 0.25);
  CHECK_FALSE(require(read.step()));
}

TEST_CASE("pg: the {now} and {clock} tokens read the server's clock", "[pg]") {
  auto db = openDatabase("clock");
  SqlQuery query = require(db->prepare("SELECT {now}, {clock}"));
  REQUIRE(require(query.step()));
  const std::string now = query.textAt(0);
  REQUIRE(now.size() == 24);  // 2026-12-01T20:47:00.123Z
  CHECK(now[10] == 'T');
  CHECK(now.back() == 'Z');
  CHECK_THAT(query.doubleAt(1), WithinAbs(static_cast<double>(std::time(nullptr)), 60.0));
}

TEST_CASE("pg: a transaction that is not committed is rolled back", "[pg]") {
  auto db = openDatabase("rollback");
  createValuesTable(*db);
  {
    SqlTransaction transaction = require(SqlTransaction::begin(*db));
    CHECK(db->inTransaction());
    require(require(db->prepare("INSERT INTO value_row (i) VALUES (1)")).run());
    CHECK(countRows(*db, "SELECT count(*) FROM value_row") == 1);
  }
  CHECK_FALSE(db->inTransaction());
  CHECK(countRows(*db, "SELECT count(*) FROM value_row") == 0);

  SqlTransaction transaction = require(SqlTransaction::begin(*db));
  require(require(db->prepare("INSERT INTO value_row (i) VALUES (2)")).run());
  require(transaction.commit());
  CHECK_FALSE(db->inTransaction());
  CHECK(countRows(*db, "SELECT count(*) FROM value_row") == 1);
}

TEST_CASE("pg: a read transaction sees one snapshot and may not write", "[pg]") {
  const std::string url = PgServer::instance().createDatabase("snapshot");
  auto reader = require(PgDb::open(url));
  auto writer = require(PgDb::open(url));
  createValuesTable(*writer);
  {
    SqlTransaction read = require(SqlTransaction::beginRead(*reader));
    CHECK(countRows(*reader, "SELECT count(*) FROM value_row") == 0);
    require(require(writer->prepare("INSERT INTO value_row (i) VALUES (1)")).run());
    CHECK(countRows(*reader, "SELECT count(*) FROM value_row") == 0);

    SqlQuery write = require(reader->prepare("INSERT INTO value_row (i) VALUES (2)"));
    const StoreError error = requireError(write.step());
    CHECK_THAT(error.message, Contains("read-only transaction"));
    CHECK_FALSE(reader->connectionLost());
  }
  CHECK(countRows(*reader, "SELECT count(*) FROM value_row") == 1);
}

TEST_CASE("pg: committing a transaction an error aborted is an error", "[pg]") {
  auto db = openDatabase("aborted");
  createValuesTable(*db);
  require(db->begin(nnspec::rt::SqlTransactionKind::kWrite));
  require(require(db->prepare("INSERT INTO value_row (i) VALUES (1)")).run());
  CHECK_FALSE(require(db->prepare("SELECT no_such_column FROM value_row")).run().ok());
  CHECK(db->inTransaction());
  const StoreError error = requireError(db->commit());
  CHECK_THAT(error.message, Contains("rolled back"));
  CHECK_FALSE(db->inTransaction());
  CHECK(countRows(*db, "SELECT count(*) FROM value_row") == 0);
}

TEST_CASE("pg: a failing statement names the store and says what the server said", "[pg]") {
  auto db = openDatabase("badsql");
  SqlQuery query = require(db->prepare("SELEKT 1"));
  const StoreError error = requireError(query.step());
  CHECK(error.path == db->path());
  CHECK_THAT(error.message, Contains("syntax error"));
  CHECK_FALSE(db->connectionLost());
  CHECK(countRows(*db, "SELECT 41 + 1") == 42);  // the connection still works
}

TEST_CASE("pg: an unreachable server fails quickly and names host and port", "[pg]") {
  const auto started = std::chrono::steady_clock::now();
  // Port 1 is reserved; nothing listens there.
  const StoreError error = requireError(PgDb::open("postgresql://nnspec@127.0.0.1:1/nnspec"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(error.path == "postgresql://nnspec@127.0.0.1:1/nnspec");
  CHECK_THAT(error.message, Contains("cannot reach") && Contains("127.0.0.1:1") && Contains("connection refused"));
  CHECK_THAT(error.hint, Contains("start the PostgreSQL server on 127.0.0.1:1"));
}

TEST_CASE("pg: an unknown host is reported as unreachable", "[pg]") {
  const StoreError error = requireError(PgDb::open("postgresql://nnspec@no-such-host.invalid:5432/nnspec"));
  CHECK_THAT(error.message, Contains("cannot reach") && Contains("no-such-host.invalid"));
}

TEST_CASE("pg: a wrong password is an authentication error with a hint", "[pg]") {
  const std::string url = PgServer::instance().createDatabase("wrongpassword");
  TempDir dir;
  const std::string wrong = dir.path("pgpass");
  std::ofstream(wrong) << "127.0.0.1:*:*:nnspec:not-the-password\n";
  std::filesystem::permissions(wrong, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ScopedEnv password_file("PGPASSFILE", wrong);
  const StoreError error = requireError(PgDb::open(url));
  CHECK(error.path == url);
  CHECK_THAT(error.message, Contains("password authentication failed for user \"nnspec\""));
  CHECK_THAT(error.hint, Contains("PGPASSWORD") && Contains("PGPASSFILE") && Contains("nnspec"));
}

TEST_CASE("pg: a database that does not exist says how to create it", "[pg]") {
  const std::string server = PgServer::instance().url();
  const std::string url = server.substr(0, server.rfind('/')) + "/no_such_database";
  const StoreError error = requireError(PgDb::open(url));
  CHECK_THAT(error.message, Contains("database \"no_such_database\" does not exist"));
  CHECK_THAT(error.hint, Contains("createdb no_such_database"));
}

TEST_CASE("pg: a password in the URL is refused and never shown", "[pg]") {
  for (const std::string url : {"postgresql://nnspec:hunter2@127.0.0.1:1/nnspec",
                                "postgres://nnspec@127.0.0.1:1/nnspec?sslmode=disable&password=hunter2"}) {
    INFO(url);
    const StoreError error = requireError(PgDb::open(url));
    CHECK_THAT(error.message, Contains("holds a password"));
    CHECK_THAT(error.hint, Contains("PGPASSWORD") && Contains("PGPASSFILE") && Contains("service file"));
    CHECK(error.path == nnspec::rt::redactStoreUrl(url));
    CHECK(error.path.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("pg: an invalid URL is refused", "[pg]") {
  const StoreError error = requireError(PgDb::open("postgresql://nnspec@127.0.0.1:1/nnspec?no_such_option=1"));
  CHECK_THAT(error.message, Contains("invalid PostgreSQL URL"));
  CHECK(requireError(PgDb::open("results.sqlite")).message == "not a PostgreSQL URL");
}

TEST_CASE("pg: a connection the server dropped is reported as lost and reconnects", "[pg]") {
  const std::string url = PgServer::instance().createDatabase("dropped");
  auto db = require(PgDb::open(url));
  auto admin = require(PgDb::open(url));
  createValuesTable(*db);
  const int64_t pid = countRows(*db, "SELECT pg_backend_pid()");

  // pg_terminate_backend takes an int4: a bound int64 (sent as bigint) needs the cast.
  SqlQuery terminate = require(admin->prepare("SELECT pg_terminate_backend(CAST(? AS INTEGER))"));
  terminate.bind(pid);
  REQUIRE(require(terminate.step()));
  REQUIRE(terminate.int64At(0) == 1);

  SqlQuery query = require(db->prepare("SELECT count(*) FROM value_row"));
  const StoreError error = requireError(query.step());
  CHECK_THAT(error.message, Contains("lost the connection"));
  CHECK(db->connectionLost());
  CHECK_FALSE(db->inTransaction());

  require(db->reconnect());
  CHECK_FALSE(db->connectionLost());
  CHECK(countRows(*db, "SELECT count(*) FROM value_row") == 0);
  CHECK(countRows(*db, "SELECT pg_backend_pid()") != pid);
}

TEST_CASE("pg: a server that stops is lost until it is back, then reconnect reaches it", "[pg]") {
  PgCluster cluster;  // its own server, to stop and start
  const std::string url = cluster.createDatabase("restart");
  ScopedEnv password_file("PGPASSFILE", cluster.passwordFile());
  auto db = require(PgDb::open(url));
  createValuesTable(*db);

  cluster.pause();
  SqlQuery query = require(db->prepare("SELECT count(*) FROM value_row"));
  CHECK_THAT(requireError(query.step()).message, Contains("lost the connection"));
  CHECK(db->connectionLost());
  const StoreError still_down = requireError(db->reconnect());
  CHECK_THAT(still_down.message, Contains("cannot reach"));
  CHECK(db->connectionLost());

  cluster.resume();
  REQUIRE(cluster.url().substr(0, cluster.url().rfind('/')) == url.substr(0, url.rfind('/')));  // the same port
  require(db->reconnect());
  CHECK_FALSE(db->connectionLost());
  CHECK(countRows(*db, "SELECT count(*) FROM value_row") == 0);
}

TEST_CASE("pg: the session is quiet and prints doubles exactly", "[pg]") {
  auto db = openDatabase("session");
  SqlQuery settings =
      require(db->prepare("SELECT current_setting('client_min_messages'), current_setting('extra_float_digits'), "
                          "current_setting('application_name')"));
  REQUIRE(require(settings.step()));
  CHECK(settings.textAt(0) == "warning");
  CHECK(settings.textAt(1) == "3");
  CHECK(settings.textAt(2) == "nnspec");
  // A notice (an existing table skipped) goes nowhere; this only checks it does no harm.
  createValuesTable(*db);
  require(db->exec("CREATE TABLE IF NOT EXISTS value_row (id BIGINT)"));
}

}  // namespace
