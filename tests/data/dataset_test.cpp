// defaultDataDir: $NNSPEC_DATA_DIR wins when set and non-empty.
#include "runtime/data/dataset.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <string>

namespace {

// Sets or clears NNSPEC_DATA_DIR for one scope and restores it afterwards.
class DataDirEnv {
 public:
  explicit DataDirEnv(const char* value) {
    if (const char* old = std::getenv("NNSPEC_DATA_DIR")) saved_ = old;
    if (value == nullptr) {
      unsetenv("NNSPEC_DATA_DIR");
    } else {
      setenv("NNSPEC_DATA_DIR", value, 1);
    }
  }
  ~DataDirEnv() {
    if (saved_) {
      setenv("NNSPEC_DATA_DIR", saved_->c_str(), 1);
    } else {
      unsetenv("NNSPEC_DATA_DIR");
    }
  }

 private:
  std::optional<std::string> saved_;
};

std::string builtInDataDir() {
  DataDirEnv unset(nullptr);
  return nnspec::rt::defaultDataDir();
}

}  // namespace

TEST_CASE("data dir: the build's default applies without the variable", "[runtime]") {
  std::string built_in = builtInDataDir();
  CHECK_FALSE(built_in.empty());
  CHECK(built_in != "/elsewhere/data");
}

TEST_CASE("data dir: NNSPEC_DATA_DIR overrides the default", "[runtime]") {
  DataDirEnv set("/elsewhere/data");
  CHECK(nnspec::rt::defaultDataDir() == "/elsewhere/data");
}

TEST_CASE("data dir: an empty NNSPEC_DATA_DIR is ignored", "[runtime]") {
  std::string built_in = builtInDataDir();
  DataDirEnv empty("");
  CHECK(nnspec::rt::defaultDataDir() == built_in);
}
