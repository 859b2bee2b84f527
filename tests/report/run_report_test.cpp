// `nnspec run` writes the report of the spec's `report` block, and the report of real
// short runs renders in headless Chromium: a small MLP grid, a small CNN (filters and
// feature maps) and dat565's weight-decay study shortened to one epoch (error bars over
// 3 replicates and learning curves). Screenshots go to the build folder.

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "compiler/driver/report.h"
#include "compiler/driver/run.h"
#include "runtime/report/outputs.h"
#include "tests/report/browser.h"
#include "tests/report/fixture.h"

namespace {

using namespace nnspec;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

std::string source(const std::string& relative) { return std::string(NNSPEC_SOURCE_DIR) + "/" + relative; }

driver::Outcome runSpec(const std::string& spec, const std::string& store, std::vector<driver::Override> overrides,
                        std::vector<std::string> sweeps, std::string* printed, const std::string& report = "") {
  driver::RunRequest request;
  request.check.path = spec;
  request.check.data_paths = driver::defaultDataPaths();
  request.store_path = store;
  request.report_path = report;
  request.overrides = std::move(overrides);
  request.sweeps = std::move(sweeps);
  request.jobs = 2;
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  auto outcome = driver::runFile(request, out);
  std::fclose(out);
  *printed = std::string(buffer, size);
  std::free(buffer);
  return outcome;
}

std::string readText(const std::string& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

std::string screenshotPath(const std::string& name) { return std::string(NNSPEC_BINARY_DIR) + "/report-" + name + ".png"; }

}  // namespace

TEST_CASE("run writes the report beside the store and records only what the report asks for", "[report][e2e]") {
  test::TempDir dir;
  const std::string store = dir.path("mlp.store.sqlite");
  std::string printed;
  const auto outcome = runSpec(source("tests/report/specs/report_mlp.nnspec"), store, {}, {}, &printed);
  INFO(outcome.err << printed);
  REQUIRE(outcome.exit_code == 0);
  const std::string report = dir.path("mlp.report.html");
  CHECK_THAT(printed, Contains("report: " + report));
  REQUIRE(fs::exists(report));
  // Images for one trial per point (replicate 0), confusion matrices for every trial.
  rt::Store opened = test::require(rt::Store::open(store));
  const auto study = test::require(opened.listStudies()).at(0);
  int with_images = 0, with_confusion = 0;
  for (const auto& row : test::require(opened.listTrials(study.id))) {
    const auto outputs = test::require(opened.listOutputs(rt::TrialHandle{row.id}));
    for (const auto& output : outputs) {
      with_images += output.name == rt::outputs::denseWeights(1) ? 1 : 0;
      with_confusion += output.name == rt::outputs::confusion("test") ? 1 : 0;
      CHECK(output.name != "test.predictions");  // no ensemble: no predictions kept
      CHECK(output.name.find("filters") == std::string::npos);
      if (output.name == rt::outputs::denseWeights(1)) CHECK(output.width == 784);
      if (output.name == rt::outputs::misclassifiedImages("test")) CHECK(output.rows == 12);
    }
  }
  CHECK(with_images == 4);
  CHECK(with_confusion == 8);
  const auto info = test::require(opened.readStudyInfo(study.id));
  REQUIRE(info.has_value());
  CHECK(info->sweeps.at(0).class_names.at(9) == "Ankle boot");
  CHECK(info->report.size() == 12);
  // curves(by: lr) over hidden x lr: colour by lr, the dash by hidden.
  const std::string html = readText(report);
  CHECK_THAT(html, Contains(R"("strokeDash":{"field":"dash","type":"nominal","title":"hidden")"));
  CHECK_THAT(html, Contains("hidden varies too, so the line's dash tells it apart"));

  REQUIRE(test::chromiumAvailable());
  const test::RenderStatus status = test::openInChromium(report, screenshotPath("mlp"), 6000);
  INFO(status.describe());
  CHECK(status.plots.size() >= 8);
  CHECK(status.images_total >= 12 + 32);
  CHECK(status.allRendered());
  REQUIRE(status.plot("plot-1") != nullptr);  // the loss curves
  CHECK(status.plot("plot-1")->legends == std::vector<std::string>{"lr", "hidden"});
  for (const auto& table : status.tables) CHECK(table.scroll_width <= table.visible_width);
}

TEST_CASE("a CNN's report shows its filters and feature maps and renders", "[report][e2e]") {
  test::TempDir dir;
  const std::string store = dir.path("cnn.sqlite");
  const std::string report = dir.path("elsewhere.html");
  std::string printed;
  const auto outcome = runSpec(source("tests/report/specs/report_cnn.nnspec"), store, {}, {}, &printed, report);
  INFO(outcome.err << printed);
  REQUIRE(outcome.exit_code == 0);
  const std::string html = readText(report);
  CHECK_THAT(html, Contains("6 filters of 5x5 over 1 input channel"));
  CHECK_THAT(html, Contains("8 filters of 3x3 over 6 input channels"));
  CHECK_THAT(html, Contains("the outputs of conv layer 1 (28x28"));
  CHECK_THAT(html, Contains("the outputs of conv layer 2 (12x12"));
  CHECK_THAT(html, Contains("Confusion matrix on the validation set"));
  REQUIRE(test::chromiumAvailable());
  const test::RenderStatus status = test::openInChromium(report, screenshotPath("cnn"), 5000);
  INFO(status.describe());
  CHECK(status.allRendered());
}

TEST_CASE("dat565's weight-decay study, shortened: error bars over 3 replicates and learning curves", "[report][e2e]") {
  test::TempDir dir;
  const std::string store = dir.path("dat565.store.sqlite");
  std::string printed;
  const auto outcome = runSpec(source("specs/dat565_mnist.nnspec"), store, {{"epochs", "1"}}, {"decay_sweep"}, &printed);
  INFO(outcome.err << printed);
  REQUIRE(outcome.exit_code == 0);
  const std::string report = dir.path("dat565.report.html");
  const std::string html = readText(report);
  CHECK_THAT(html, Contains("<h2>validation accuracy vs decay"));
  CHECK_THAT(html, Contains("mean ± std over 3 replicates"));
  CHECK_THAT(html, Contains("\"n\":3}"));
  CHECK_THAT(html, Contains("\"text\":\"validation accuracy per epoch\""));
  CHECK_THAT(html, Contains("<code>--set epochs=1</code>"));
  REQUIRE(test::chromiumAvailable());
  const test::RenderStatus status = test::openInChromium(report, screenshotPath("dat565"), 3500);
  INFO(status.describe());
  CHECK(status.plots.size() >= 2);
  CHECK(status.allRendered());
}

TEST_CASE("lab3's rate grid, shortened: parallel coordinates and slices render", "[report][e2e]") {
  test::TempDir dir;
  const std::string store = dir.path("lab3.store.sqlite");
  std::string printed;
  const auto outcome = runSpec(source("specs/lab3_fashion_mlp.nnspec"), store, {{"epochs", "1"}}, {"rate"}, &printed);
  INFO(outcome.err << printed);
  REQUIRE(outcome.exit_code == 0);
  const std::string report = dir.path("lab3.report.html");
  const std::string html = readText(report);
  CHECK_THAT(html, Contains("<h2>Parallel coordinates"));
  CHECK_THAT(html, Contains("<h2>Slices"));
  // The rate axis of the parallel plot runs over four rates on a log scale: 4e-4 at the
  // bottom, 0.4 at the top; the slice panel of lr is on a log axis ticked at the four rates.
  CHECK_THAT(html, Contains(R"("axis":"lr","order":0,"y":0,"label":"0.0004")"));
  CHECK_THAT(html, Contains(R"("axis":"lr","order":0,"y":1,"label":"0.4")"));
  CHECK_THAT(html, Contains(R"("scale":{"type":"log","zero":false,"nice":false,"padding":16})"));
  CHECK_THAT(html, Contains(R"("values":[0.0004,0.004,0.04,0.4])"));
  REQUIRE(test::chromiumAvailable());
  const test::RenderStatus status = test::openInChromium(report, screenshotPath("lab3"), 3500);
  INFO(status.describe());
  CHECK(status.plots.size() >= 4);
  CHECK(status.allRendered());
}

TEST_CASE("run checks the report path before it trains", "[report][e2e]") {
  test::TempDir dir;
  std::string printed;
  const auto bad = runSpec(source("tests/report/specs/report_cnn.nnspec"), dir.path("s.sqlite"), {}, {}, &printed,
                           dir.path("missing/folder/r.html"));
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Contains("folder '" + dir.path("missing/folder") + "' does not exist"));
  CHECK_FALSE(fs::exists(dir.path("s.sqlite")));
}
