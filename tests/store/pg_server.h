#pragma once
// Throwaway PostgreSQL servers for tests, run by tests/cluster/pg_cluster.sh.
//
// PgServer::instance() is the server of this test process: started on first use in a
// fresh temp folder, stopped (and the folder removed) at exit — or, should the process
// crash, by the script's watcher. Each test takes its own database:
//
//   const std::string url = nnspec::test::PgServer::instance().createDatabase("roundtrip");
//   auto db = nnspec::rt::PgDb::open(url);
//
// Its password file is set as PGPASSFILE for libpq. With NNSPEC_PG_CLUSTER_DIR set to a
// folder where `pg_cluster.sh start` already runs a server, the tests use that one and
// leave it running (a CI job can share one server between test processes).
//
// A test that stops and restarts its server makes its own PgCluster. Failing to start a
// server throws std::runtime_error, which fails the test that needed it.

#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace nnspec::test {

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class PgCluster {
 public:
  // A new server in a fresh temp folder, stopped and removed by the destructor.
  static std::string makeTempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nnspec_pg_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a temp folder for PostgreSQL");
    return pattern;
  }

  // Starts the server in `dir` (or finds it running there); `owned`: stop it and remove
  // `dir` in the destructor.
  explicit PgCluster(std::string dir, bool owned = true) : dir_(std::move(dir)), owned_(owned) {
    const std::string watch = owned_ ? " --watch " + std::to_string(getpid()) : "";
    if (!runScript("start '" + dir_ + "'" + watch, url_) || url_.empty()) {
      if (owned_) stop();
      throw std::runtime_error("cannot start the test PostgreSQL server (pg_cluster.sh start " + dir_ +
                               "; its message is above)");
    }
  }
  PgCluster() : PgCluster(makeTempDir()) {}
  ~PgCluster() {
    if (owned_) stop();
  }
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // The database 'nnspec'; the server's folder (data/, pgpass, url) and password file.
  const std::string& url() const { return url_; }
  const std::string& dir() const { return dir_; }
  std::string passwordFile() const { return dir_ + "/pgpass"; }

  // A new, empty database owned by the role 'nnspec'; `name` (letters, digits, '_') makes
  // it recognisable, the process id and a counter make it unique.
  std::string createDatabase(std::string_view name) {
    std::string database;
    for (char c : name) {
      if (database.size() >= 32) break;
      database += std::isalnum(static_cast<unsigned char>(c)) != 0 ? static_cast<char>(std::tolower(c)) : '_';
    }
    database = "t_" + database + "_" + std::to_string(getpid()) + "_" + std::to_string(++databases_);
    std::string url;
    if (!runScript("createdb '" + dir_ + "' " + database, url) || url.empty()) {
      throw std::runtime_error("pg_cluster.sh createdb " + database + " failed (its message is above)");
    }
    return url;
  }

  // Stops the server, keeping its data; resume() starts it again on the same port.
  void pause() {
    std::string ignored;
    runScript("pause '" + dir_ + "'", ignored);
  }
  void resume() {
    if (!runScript("start '" + dir_ + "'", url_) || url_.empty())
      throw std::runtime_error("cannot restart the test PostgreSQL server");
  }

 private:
  void stop() {
    std::string ignored;
    runScript("stop '" + dir_ + "'", ignored);
  }

  // Runs pg_cluster.sh with `arguments`; the last line of its output goes to `line`.
  static bool runScript(const std::string& arguments, std::string& line) {
    const std::string command = "bash '" NNSPEC_SOURCE_DIR "/tests/cluster/pg_cluster.sh' " + arguments;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return false;
    char buffer[512];
    line.clear();
    while (fgets(buffer, sizeof buffer, pipe) != nullptr) line = buffer;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return pclose(pipe) == 0;
  }

  std::string dir_;
  std::string url_;
  bool owned_;
  int databases_ = 0;
};

class PgServer {
 public:
  // This process's server, started on first use; sets PGPASSFILE to its password file.
  static PgCluster& instance() {
    static const std::unique_ptr<PgCluster> cluster = start();
    return *cluster;
  }

 private:
  static std::unique_ptr<PgCluster> start() {
    const char* shared = std::getenv("NNSPEC_PG_CLUSTER_DIR");
    auto cluster = shared != nullptr && *shared != '\0' ? std::make_unique<PgCluster>(shared, false)
                                                        : std::make_unique<PgCluster>();
    setenv("PGPASSFILE", cluster->passwordFile().c_str(), 1);
    return cluster;
  }
};

}  // namespace nnspec::test
