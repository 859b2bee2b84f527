// `nnspec report` and `nnspec export` from the command line: outputs, and bad input
// (missing store, not a store, unknown format, unwritable output) as exit status 2 with
// an error that names the place and the fix.

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/report/fixture.h"

namespace {

using namespace nnspec;
using Catch::Matchers::Contains;

struct Result {
  int status = -1;
  std::string out;  // stdout and stderr
};

Result runCli(const std::string& args) {
  const std::string command = std::string(NNSPEC_BINARY_DIR) + "/nnspec " + args + " 2>&1";
  Result result;
  std::FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, read);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string fixtureStore(test::TempDir& dir) {
  const std::string path = dir.path("f.store.sqlite");
  rt::Store store = test::require(rt::Store::open(path));
  test::writeFixtureStudy(store);
  return path;
}

}  // namespace

TEST_CASE("nnspec report writes the HTML beside the store or where -o says", "[report][cli]") {
  test::TempDir dir;
  const std::string store = fixtureStore(dir);
  const Result beside = runCli("report " + store);
  INFO(beside.out);
  CHECK(beside.status == 0);
  CHECK_THAT(beside.out, Contains(dir.path("f.report.html")));
  CHECK(std::filesystem::file_size(dir.path("f.report.html")) > 500000);  // the libraries are inside
  const Result chosen = runCli("report " + store + " -o " + dir.path("r.html") + " --study fixture");
  CHECK(chosen.status == 0);
  CHECK(std::filesystem::exists(dir.path("r.html")));
}

TEST_CASE("nnspec export prints CSV and JSON, or writes them with -o", "[report][cli]") {
  test::TempDir dir;
  const std::string store = fixtureStore(dir);
  const Result csv = runCli("export " + store + " --format csv");
  CHECK(csv.status == 0);
  CHECK(csv.out.rfind("study,sweep,trial,point,fold,replicate,status,rank,param.lr,", 0) == 0);
  const Result epochs = runCli("export " + store + " --format=csv --epochs");
  CHECK(epochs.status == 0);
  CHECK(epochs.out.rfind("study,sweep,trial,point,fold,replicate,epoch,seconds,", 0) == 0);
  const Result json = runCli("export " + store + " --format json -o " + dir.path("s.json"));
  CHECK(json.status == 0);
  std::ifstream file(dir.path("s.json"));
  const std::string text((std::istreambuf_iterator<char>(file)), {});
  CHECK(text.rfind("{\n \"store\": ", 0) == 0);
}

TEST_CASE("report and export reject bad input with status 2 and say where and how to fix it", "[report][cli]") {
  test::TempDir dir;
  const std::string store = fixtureStore(dir);
  {
    const Result missing = runCli("report " + dir.path("nope.sqlite"));
    CHECK(missing.status == 2);
    CHECK_THAT(missing.out, Contains("'" + dir.path("nope.sqlite") + "': no such store"));
    CHECK_THAT(missing.out, Contains("hint: pass the store a run wrote"));
    CHECK_FALSE(std::filesystem::exists(dir.path("nope.sqlite")));  // not created
  }
  {
    std::ofstream(dir.path("text.sqlite")) << "just some text, long enough to look like a file header...........\n";
    const Result not_store = runCli("export " + dir.path("text.sqlite") + " --format csv");
    CHECK(not_store.status == 2);
    CHECK_THAT(not_store.out, Contains(dir.path("text.sqlite")));
    CHECK_THAT(not_store.out, Contains("not a database"));
  }
  {
    const Result format = runCli("export " + store + " --format xml");
    CHECK(format.status == 2);
    CHECK_THAT(format.out, Contains("unknown format 'xml': use --format csv or --format json"));
    CHECK(runCli("export " + store).status == 2);
  }
  {
    const Result unwritable = runCli("report " + store + " -o " + dir.path("no/such/dir/r.html"));
    CHECK(unwritable.status == 2);
    CHECK_THAT(unwritable.out, Contains("folder '" + dir.path("no/such/dir") + "' does not exist"));
    const Result folder = runCli("export " + store + " --format json -o " + dir.path(""));
    CHECK(folder.status == 2);
  }
  {
    const Result study = runCli("report " + store + " --study other");
    CHECK(study.status == 2);
    CHECK_THAT(study.out, Contains("no study named 'other'"));
  }
}
