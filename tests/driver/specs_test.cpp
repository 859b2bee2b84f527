// Every spec in specs/ checks cleanly, and the reference models have the parameter
// counts of the studies they come from.

#include <filesystem>
#include <regex>

#include <catch2/catch.hpp>

#include "compiler/driver/driver.h"

namespace {

nnspec::driver::Outcome checkSpecFile(const std::string& name) {
  nnspec::driver::CheckRequest request;
  request.path = std::string(NNSPEC_SOURCE_DIR) + "/specs/" + name;
  request.data_paths = nnspec::driver::defaultDataPaths();
  return nnspec::driver::checkFile(request);
}

// The "total params" line of the summary of model `model`.
std::string totalParams(const std::string& plan, const std::string& model) {
  const std::regex pattern("model '" + model + "'[^\\n]*\\n(?:[^\\n]*\\n)*?  total params: ([0-9,]+)");
  std::smatch match;
  if (!std::regex_search(plan, match, pattern)) return "";
  return match[1];
}

}  // namespace

TEST_CASE("every spec in specs/ checks without errors or warnings", "[driver]") {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(NNSPEC_SOURCE_DIR) + "/specs")) {
    if (entry.path().extension() != ".nnspec") continue;
    ++count;
    const auto outcome = checkSpecFile(entry.path().filename().string());
    INFO(entry.path().string() << "\n" << outcome.err);
    CHECK(outcome.exit_code == 0);
    CHECK(outcome.err.empty());
    CHECK_THAT(outcome.out, Catch::Contains("trials"));
  }
  CHECK(count == 5);
}

TEST_CASE("reference models have the published parameter counts", "[driver]") {
  const auto dat565 = checkSpecFile("dat565_mnist.nnspec");
  REQUIRE(dat565.exit_code == 0);
  CHECK(totalParams(dat565.out, "lenet5") == "61,706");
  CHECK(totalParams(dat565.out, "mlp500") == "545,810");
  CHECK(totalParams(dat565.out, "mlp64") == "55,050");
  const auto amath = checkSpecFile("amath482_fashion.nnspec");
  REQUIRE(amath.exit_code == 0);
  CHECK(totalParams(amath.out, "cnn") == "112,806");
  CHECK(totalParams(amath.out, "mlp") == "625,810");
}

TEST_CASE("the plan counts trials, folds and compilations", "[driver]") {
  const auto lab3 = checkSpecFile("lab3_fashion_mlp.nnspec");
  REQUIRE(lab3.exit_code == 0);
  CHECK_THAT(lab3.out, Catch::Contains("5 points x 5 folds x 1 replicate = 25 trials"));
  CHECK_THAT(lab3.out, Catch::Contains("4 points x 5 folds x 1 replicate = 20 trials"));
  // A learning-rate grid shares one compiled graph; batch sizes need one each.
  CHECK_THAT(lab3.out, Catch::Contains("3 distinct graphs (3 compilations)"));
  const auto dat565 = checkSpecFile("dat565_mnist.nnspec");
  CHECK_THAT(dat565.out, Catch::Contains("5 points x 1 fold x 3 replicates = 15 trials"));
  const auto hw1 = checkSpecFile("hw1_optuna.nnspec");
  CHECK_THAT(hw1.out, Catch::Contains("100 sampled points x 5 folds x 1 replicate = 500 trials"));
  CHECK_THAT(hw1.out, Catch::Contains("1 point x 10 folds x 1 replicate = 10 trials"));
}
