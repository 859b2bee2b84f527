#pragma once
// Shared by the C API tests: paths into the source tree and a temporary folder per test.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace nnspec::api_test {

inline std::string sourcePath(const std::string& relative) { return std::string(NNSPEC_SOURCE_DIR) + "/" + relative; }

inline std::string q3Spec() { return sourcePath("specs/q3_fashion_mlp.nnspec"); }

// A fresh folder, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("nnspec-api-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace nnspec::api_test
