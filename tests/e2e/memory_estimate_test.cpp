// `nnspec check`'s memory estimate against what `nnspec run` really holds: the peak
// resident set of the child process (wait4's ru_maxrss) must be within 25% of the
// printed peak, on reference specs shortened with --set so each runs in seconds.

#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace {

namespace fs = std::filesystem;

const std::string kBinary = std::string(NNSPEC_BINARY_DIR) + "/nnspec";

struct ChildResult {
  int exit_code = -1;
  double peak_rss_bytes = 0;
  std::string out;
};

// Runs the nnspec binary with `args` from the source folder; stdout goes to `out`
// (stderr is dropped), the peak RSS is the child's own (not its parent's, this test).
ChildResult runNnspec(const std::vector<std::string>& args) {
  const fs::path out_path = fs::temp_directory_path() / ("nnspec_mem_" + std::to_string(::getpid()) + ".out");
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (::chdir(NNSPEC_SOURCE_DIR) != 0) ::_exit(127);
    std::vector<char*> argv{const_cast<char*>(kBinary.c_str())};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(kBinary.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  ChildResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.peak_rss_bytes = static_cast<double>(usage.ru_maxrss) * 1024.0;  // ru_maxrss is in KiB
  std::ifstream stream(out_path);
  std::stringstream text;
  text << stream.rdbuf();
  result.out = text.str();
  fs::remove(out_path);
  return result;
}

// "310 MiB", "1.2 GiB", "900.0 KiB" -> bytes.
double parseBytes(const std::string& number, const std::string& unit) {
  const double value = std::stod(number);
  if (unit == "KiB") return value * 1024.0;
  if (unit == "MiB") return value * 1024.0 * 1024.0;
  if (unit == "GiB") return value * 1024.0 * 1024.0 * 1024.0;
  if (unit == "TiB") return value * 1024.0 * 1024.0 * 1024.0 * 1024.0;
  FAIL("unknown unit '" << unit << "'");
  return 0;
}

// The peak `check` prints for sweep (or train block run once) `sweep`: the
// `memory      peak about N UNIT` line of its block.
std::optional<double> printedPeak(const std::string& plan, const std::string& sweep) {
  size_t block = plan.find("\nsweep '" + sweep + "'");
  if (block == std::string::npos) block = plan.find("\nrun train '" + sweep + "'");
  if (block == std::string::npos) return std::nullopt;
  const std::string marker = "memory      peak about ";
  const size_t line = plan.find(marker, block);
  if (line == std::string::npos) return std::nullopt;
  std::istringstream words(plan.substr(line + marker.size()));
  std::string number, unit;
  words >> number >> unit;
  return parseBytes(number, unit);
}

void checkEstimate(const std::string& spec, const std::string& sweep, const std::vector<std::string>& sets) {
  const ChildResult check = runNnspec({"check", spec});
  REQUIRE(check.exit_code == 0);
  const auto estimate = printedPeak(check.out, sweep);
  REQUIRE(estimate.has_value());

  const fs::path store = fs::temp_directory_path() / ("nnspec_mem_" + std::to_string(::getpid()) + ".sqlite");
  fs::remove(store);
  std::vector<std::string> args{"run", spec, "--sweep", sweep, "--jobs", "1", "--store", store.string(),
                                "--no-report", "--quiet"};
  for (const auto& set : sets) {
    args.push_back("--set");
    args.push_back(set);
  }
  const ChildResult run = runNnspec(args);
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(store.string() + suffix);
  REQUIRE(run.exit_code == 0);
  INFO(spec << " sweep " << sweep << ": estimate " << *estimate / (1024 * 1024) << " MiB, measured peak RSS "
            << run.peak_rss_bytes / (1024 * 1024) << " MiB");
  CHECK(*estimate >= 0.75 * run.peak_rss_bytes);
  CHECK(*estimate <= 1.25 * run.peak_rss_bytes);
}

}  // namespace

TEST_CASE("check's peak memory is within 25% of q3's baseline run", "[e2e][memory]") {
  checkEstimate("specs/q3_fashion_mlp.nnspec", "baseline", {"epochs=1"});
}

TEST_CASE("check's peak memory is within 25% of lab3's holdout architecture grid", "[e2e][memory]") {
  checkEstimate("specs/lab3_fashion_mlp.nnspec", "arch_holdout", {"epochs=1"});
}

TEST_CASE("check's peak memory is within 25% of dat565's LeNet-5 on MNIST digits", "[e2e][memory]") {
  checkEstimate("specs/dat565_mnist.nnspec", "lenet", {"epochs=1"});
}
