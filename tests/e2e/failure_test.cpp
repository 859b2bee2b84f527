// A bug that throws inside a trial thread ends the run as an internal error (exit 3) that
// names the trial, for one job and for several; trials finished before it stay finished.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "compiler/driver/run.h"
#include "runtime/store/store.h"

namespace {

namespace fs = std::filesystem;

struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("nnspec_failure_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
};

nnspec::driver::RunRequest regressionRun(const fs::path& store) {
  nnspec::driver::RunRequest request;
  request.check.path = std::string(NNSPEC_SOURCE_DIR) + "/tests/e2e/specs/synthetic_regression.nnspec";
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  request.store_path = store.string();
  request.write_report = false;
  request.quiet = true;
  request.check.fuse = 1;  // one trial at a time: the tests count trials as they start and end
  return request;
}

int64_t finishedTrials(const fs::path& path) {
  auto store = nnspec::rt::Store::open(path.string());
  REQUIRE(store.ok());
  auto studies = store.value().listStudies();
  REQUIRE(studies.ok());
  auto rows = store.value().listTrials(studies.value().at(0).id);
  REQUIRE(rows.ok());
  int64_t finished = 0;
  for (const auto& row : rows.value()) finished += row.status == nnspec::rt::TrialStatus::kFinished ? 1 : 0;
  return finished;
}

}  // namespace

TEST_CASE("an exception thrown inside a trial thread ends the run with exit 3 and an internal error", "[e2e]") {
  for (int64_t jobs : {1, 2}) {
    ScratchDir dir("throw" + std::to_string(jobs));
    auto request = regressionRun(dir.path / "store.sqlite");
    request.jobs = jobs;
    std::atomic<int> started{0};
    // The injected bug: the third trial to start throws from inside its trial thread.
    request.on_event = [&](const nnspec::driver::RunEvent& event) {
      if (event.kind == nnspec::driver::RunEvent::Kind::kTrialStarted && ++started == 3) {
        throw std::runtime_error("injected failure");
      }
    };
    std::FILE* out = std::tmpfile();
    const auto outcome = nnspec::driver::runFile(request, out);
    std::fclose(out);
    INFO("jobs " << jobs << "\n" << outcome.err);
    CHECK(outcome.exit_code == 3);
    CHECK_THAT(outcome.err, Catch::StartsWith("internal error: injected failure while running trial "));
    CHECK(finishedTrials(dir.path / "store.sqlite") >= 1);
  }
}

TEST_CASE("a run cancelled from another thread stops before the next batch with exit 130", "[e2e]") {
  const int64_t fuse = GENERATE(1, 4);
  INFO("fuse " << fuse);
  ScratchDir dir("cancel" + std::to_string(fuse));
  auto request = regressionRun(dir.path / "store.sqlite");
  request.check.fuse = fuse;  // trials fused stop as those alone do
  std::atomic<bool> cancel{false};
  request.cancel = &cancel;
  request.on_event = [&](const nnspec::driver::RunEvent& event) {
    if (event.kind == nnspec::driver::RunEvent::Kind::kEpoch) cancel = true;
  };
  std::FILE* out = std::tmpfile();
  const auto outcome = nnspec::driver::runFile(request, out);
  std::fclose(out);
  CHECK(outcome.exit_code == 130);
  CHECK_THAT(outcome.err, Catch::Contains("run cancelled"));
  CHECK(finishedTrials(dir.path / "store.sqlite") == 0);
}
