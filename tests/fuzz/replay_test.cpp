// The fuzzers' inputs through the normal build: every input that once failed
// (tests/fuzz/regressions/<target>/, each named after the bug it found) and the seeds
// must give a clean outcome. tests/fuzz/run.sh runs the same inputs under
// ASan and UBSan first.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/fuzz/fuzz_targets.h"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputsIn(const std::string& dir) {
  std::vector<fs::path> out;
  std::error_code missing;
  for (const auto& entry : fs::directory_iterator(std::string(NNSPEC_SOURCE_DIR) + "/" + dir, missing)) {
    if (entry.is_regular_file()) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string readFile(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::stringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

struct ScratchDir {
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "nnspec-fuzz-replay-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

}  // namespace

TEST_CASE("the check fuzzer's seeds and past failures end in a plan or in diagnostics", "[fuzz]") {
  const std::string fixtures = std::string(NNSPEC_SOURCE_DIR) + "/tests/fuzz/fixtures";
  auto inputs = inputsIn("tests/fuzz/regressions/check");
  for (const std::string dir : {"specs", "tests/golden/ast", "tests/golden/diagnostics", "tests/golden/ir", "tests/golden/plan"}) {
    for (const auto& input : inputsIn(dir)) {
      if (input.extension() == ".nnspec") inputs.push_back(input);
    }
  }
  REQUIRE(inputs.size() > 50);
  for (const auto& input : inputs) {
    INFO(input.string());
    CHECK(nnspec::fuzz::checkSpecText(readFile(input), fixtures) == "");
  }
}

// The fixtures stand in for the real data sets well enough that the check fuzzer's seeds
// reach the plan, the end of the path it fuzzes.
TEST_CASE("the check fuzzer's fixtures give the reference specs a plan", "[fuzz]") {
  const std::string fixtures = std::string(NNSPEC_SOURCE_DIR) + "/tests/fuzz/fixtures";
  const auto inputs = inputsIn("specs");
  REQUIRE(!inputs.empty());
  for (const auto& input : inputs) {
    if (input.extension() != ".nnspec") continue;
    INFO(input.filename().string());
    bool planned = false;
    CHECK(nnspec::fuzz::checkSpecText(readFile(input), fixtures, nullptr, &planned) == "");
    CHECK(planned);
  }
}

TEST_CASE("the data fuzzer's seeds and past failures read cleanly", "[fuzz]") {
  const ScratchDir scratch;
  auto inputs = inputsIn("tests/fuzz/seeds/data");
  REQUIRE(!inputs.empty());
  for (const auto& input : inputsIn("tests/fuzz/regressions/data")) inputs.push_back(input);
  for (const auto& input : inputs) {
    INFO(input.filename().string());
    CHECK(nnspec::fuzz::readDataFiles(readFile(input), scratch.path) == "");
  }
}
