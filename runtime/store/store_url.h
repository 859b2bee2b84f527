#pragma once
// A store's location is a file path (SQLite) or a PostgreSQL URL
// (postgresql://user@host:port/database). These say which, and make a location safe to
// show: logs, reports and exports print redactStoreUrl(location), never the location.

#include <string>
#include <string_view>

namespace nnspec::rt {

// Whether `location` is a PostgreSQL URL: it starts with postgresql:// or postgres://.
bool isPostgresUrl(std::string_view location);

// `location` without a password: "postgresql://user:secret@host/db?password=x&sslmode=y"
// becomes "postgresql://user@host/db?sslmode=y". Anything that is not a PostgreSQL URL
// (an SQLite path) comes back unchanged.
std::string redactStoreUrl(std::string_view location);

}  // namespace nnspec::rt
