// libFuzzer entry: the IDX and CSV readers on each input (format in data_target.cpp).

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/fuzz/fuzz_targets.h"

namespace {

// One scratch folder per process, removed at exit (parallel jobs must not share files).
struct ScratchDir {
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nnspec-fuzz-data-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("data fuzzer: mkdtemp");
      std::abort();
    }
    path = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ScratchDir scratch;
  const std::string problem =
      nnspec::fuzz::readDataFiles(std::string_view(reinterpret_cast<const char*>(data), size), scratch.path);
  if (!problem.empty()) {
    std::fprintf(stderr, "data fuzzer: unclean outcome: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
