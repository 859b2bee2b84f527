// svm models end to end: lab3's SVM baseline against its published test error, a CV grid
// over C (ranking, held-out metrics, a vote, resuming), and export/predict refusing them.

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <catch2/catch.hpp>

#include "compiler/driver/driver.h"
#include "compiler/driver/run.h"
#include "runtime/store/store.h"
#include "tests/e2e/e2e_fixture.h"

namespace {

namespace fs = std::filesystem;

std::string sourcePath(const std::string& name) { return std::string(NNSPEC_SOURCE_DIR) + "/" + name; }

using TempDir = nnspec::e2e::ScratchDir;

nnspec::driver::Outcome runSweeps(const std::string& spec, const std::string& store, std::vector<std::string> sweeps,
                                  std::string* printed) {
  nnspec::driver::RunRequest request;
  request.check.path = spec;
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  request.store_path = store;
  request.sweeps = std::move(sweeps);
  request.write_report = true;
  nnspec::e2e::Ran ran = nnspec::e2e::runCaptured(request);
  *printed = std::move(ran.printed);
  return ran.outcome;
}

std::vector<nnspec::rt::TrialRow> trialsOf(const std::string& store_path) { return nnspec::e2e::studyTrials(store_path); }

size_t epochCount(const std::string& store_path, int64_t trial_id) {
  return nnspec::e2e::trialEpochs(store_path, trial_id).size();
}

struct Command {
  int exit_code = 0;
  std::string err;
};

Command runNnspec(const TempDir& dir, const std::string& args) {
  const std::string err = dir.file("stderr.txt");
  const std::string command = std::string(NNSPEC_BINARY_DIR) + "/nnspec " + args + " > /dev/null 2> '" + err + "'";
  const int status = std::system(command.c_str());
  std::ifstream in(err);
  std::stringstream text;
  text << in.rdbuf();
  return Command{WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

}  // namespace

// lab3 (B.4): SVC(kernel='rbf', C=10, gamma=0.01) fitted on 500 images, published test
// error 0.197 on the other 59,500 training images. scikit-learn reproduces 0.1966 with
// lab3's own draw of the 500; the error of other draws spreads over about 0.205-0.22.
TEST_CASE("lab3 SVM baseline lands within 0.02 of the published test error 0.197", "[e2e][reference][svm]") {
  TempDir dir;
  const std::string store = dir.file("lab3.sqlite");
  std::string printed;
  const auto outcome = runSweeps(sourcePath("specs/lab3_fashion_mlp.nnspec"), store, {"svm_tiny"}, &printed);
  INFO(outcome.err << printed);
  REQUIRE(outcome.exit_code == 0);
  const auto rows = trialsOf(store);
  REQUIRE(rows.size() == 1);
  const auto& row = rows[0];
  REQUIRE(row.status == nnspec::rt::TrialStatus::kFinished);
  const double test_error = row.final_metrics.at("test.error");
  WARN("lab3 SVM baseline: test error " << test_error << " (published 0.197)");
  CHECK(std::fabs(test_error - 0.197) <= 0.02);
  CHECK_THAT(test_error + row.final_metrics.at("test.accuracy"), Catch::Matchers::WithinAbs(1.0, 1e-12));
  CHECK(row.final_metrics.at("train.accuracy") >= 0.99);  // lab3: training error 0.0
  CHECK(row.final_metrics.count("train.loss") == 0);
  CHECK(epochCount(store, row.id) == 1);
  CHECK(printed.find("test.error") != std::string::npos);
  CHECK(fs::exists(dir.file("lab3.report.html")));

  // A finished svm trial is not fitted again.
  std::string again;
  REQUIRE(runSweeps(sourcePath("specs/lab3_fashion_mlp.nnspec"), store, {"svm_tiny"}, &again).exit_code == 0);
  CHECK(again.find("1 trials already ended in the store (1 finished") != std::string::npos);
  CHECK(trialsOf(store).size() == 1);

  // export and predict refuse it with a message, exit 2.
  for (const std::string& args :
       {"export '" + store + "' --model --best svm_tiny --format onnx -o '" + dir.file("m.onnx") + "'",
        "export '" + store + "' --model --best svm_tiny --format object -o '" + dir.file("m") + "'",
        "predict '" + store + "' --best svm_tiny --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"}) {
    const Command command = runNnspec(dir, args);
    INFO(args << "\n" << command.err);
    CHECK(command.exit_code == 2);
    CHECK(command.err.find("svm models cannot be exported or used by `predict` yet") != std::string::npos);
  }
}

TEST_CASE("an svm CV grid over C runs every fold, ranks the points and votes on the test images", "[e2e][svm]") {
  TempDir dir;
  const std::string store = dir.file("cv.sqlite");
  std::string printed;
  const auto outcome = runSweeps(sourcePath("tests/e2e/specs/svm_cv_grid.nnspec"), store, {}, &printed);
  INFO(outcome.err << printed);
  REQUIRE(outcome.exit_code == 0);
  const auto rows = trialsOf(store);
  REQUIRE(rows.size() == 9);
  std::map<std::string, double> val_accuracy;  // point -> mean over the folds
  for (const auto& row : rows) {
    INFO(row.key.point_key << " fold " << row.key.fold);
    REQUIRE(row.status == nnspec::rt::TrialStatus::kFinished);
    CHECK(epochCount(store, row.id) == 1);
    for (const char* metric : {"train.accuracy", "val.accuracy", "val.error", "val.f1_macro", "test.accuracy"}) {
      CHECK(row.final_metrics.count(metric) == 1);
    }
    CHECK(row.final_metrics.count("val.loss") == 0);
    val_accuracy[row.key.point_key] += row.final_metrics.at("val.accuracy") / 3;
  }
  // A tiny C underfits: most samples end up margin errors.
  CHECK(val_accuracy.at("C=0.01") + 0.03 < val_accuracy.at("C=1"));
  CHECK(val_accuracy.at("C=1") > 0.7);
  const std::string best = val_accuracy.at("C=10") > val_accuracy.at("C=1") ? "C=10" : "C=1";
  CHECK(printed.find("best: " + best + " with val.accuracy") != std::string::npos);
  CHECK(printed.find("fold 1") != std::string::npos);
  CHECK(printed.find("fused") == std::string::npos);  // svm trials never train fused
  CHECK(printed.find("vote") != std::string::npos);
  // svm trials store no weights: the keep line drops none of them.
  CHECK(printed.find("trained weights kept (keep best): 0 trials\n") != std::string::npos);
  CHECK(printed.find("dropped those of") == std::string::npos);

  std::string again;
  REQUIRE(runSweeps(sourcePath("tests/e2e/specs/svm_cv_grid.nnspec"), store, {}, &again).exit_code == 0);
  CHECK(again.find("9 trials already ended in the store") != std::string::npos);
  CHECK(trialsOf(store).size() == 9);
}
