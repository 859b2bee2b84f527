// Store locations: which are PostgreSQL URLs, and passwords kept out of what is shown.
#include "runtime/store/store_url.h"

#include <catch2/catch.hpp>

namespace {

using nnspec::rt::isPostgresUrl;
using nnspec::rt::redactStoreUrl;

TEST_CASE("store url: postgresql:// and postgres:// are PostgreSQL, paths are not", "[store][pg]") {
  CHECK(isPostgresUrl("postgresql://nnspec@127.0.0.1:5432/nnspec"));
  CHECK(isPostgresUrl("postgres://db.example.org/results"));
  CHECK_FALSE(isPostgresUrl("results.sqlite"));
  CHECK_FALSE(isPostgresUrl("/data/postgresql://x.sqlite"));
  CHECK_FALSE(isPostgresUrl("postgresql:/x"));
  CHECK_FALSE(isPostgresUrl(""));
}

TEST_CASE("store url: a password in the user information is removed", "[store][pg]") {
  CHECK(redactStoreUrl("postgresql://nnspec:secret@127.0.0.1:5432/nnspec") ==
        "postgresql://nnspec@127.0.0.1:5432/nnspec");
  CHECK(redactStoreUrl("postgres://u:p%40ss@host/db?sslmode=require") == "postgres://u@host/db?sslmode=require");
  CHECK(redactStoreUrl("postgresql://u:@host/db") == "postgresql://u@host/db");
  // An unescaped '@' in the password: nothing of it stays.
  CHECK(redactStoreUrl("postgresql://u:p@ss@host/db") == "postgresql://u@host/db");
  CHECK(redactStoreUrl("postgresql://u:secret@h1:5432,h2:5433/db") == "postgresql://u@h1:5432,h2:5433/db");
  CHECK(redactStoreUrl("postgresql://u:secret@host") == "postgresql://u@host");
}

TEST_CASE("store url: a password query parameter is removed", "[store][pg]") {
  CHECK(redactStoreUrl("postgresql://u@host/db?password=secret") == "postgresql://u@host/db");
  CHECK(redactStoreUrl("postgresql://u@host/db?sslmode=require&password=secret&connect_timeout=5") ==
        "postgresql://u@host/db?sslmode=require&connect_timeout=5");
  CHECK(redactStoreUrl("postgresql://u@host/db?PASSWORD=secret&sslmode=require") ==
        "postgresql://u@host/db?sslmode=require");
  CHECK(redactStoreUrl("postgresql://u:a@host/db?password=b") == "postgresql://u@host/db");
  CHECK(redactStoreUrl("postgresql://host?password=secret") == "postgresql://host");
}

TEST_CASE("store url: locations without a password are unchanged", "[store][pg]") {
  for (const char* location :
       {"postgresql://nnspec@127.0.0.1:5432/nnspec", "postgresql://host/db?sslmode=verify-full&passfile=/p",
        "postgres://", "results.sqlite", "/tmp/user:pass@host.sqlite", "run?password=x.sqlite"}) {
    CHECK(redactStoreUrl(location) == location);
  }
}

}  // namespace
