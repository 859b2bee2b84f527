// Checking through the C API: diagnostics as records, the plan and per-sweep numbers.

#include <algorithm>
#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

#include "nnspec/nnspec.h"
#include "nnspec/nnspec.hpp"
#include "tests/api/api_test_support.h"

using nnspec::api_test::q3Spec;

namespace {

constexpr const char* kBroken =
    "experiment broken\n"
    "data d = fashion_mnist() | scale(1/255)\n"
    "split train = d.train.take(100), test = d.test\n"
    "model m {\n"
    "  input [28, 28]\n"
    "  flatten\n"
    "  dens(16, relu)\n"
    "  dense(10)\n"
    "}\n"
    "train t { model m loss cross_entropy optimizer sgd(lr: 0.1) batch 10 epochs 1 }\n";

std::string commandOutput(const std::string& command) {
  std::string out;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, read);
  ::pclose(pipe);
  return out;
}

}  // namespace

TEST_CASE("a spec with an unknown layer gives a diagnostic record with place and hint", "[api]") {
  nnspec_spec* spec = nullptr;
  REQUIRE(nnspec_spec_open_string(kBroken, "broken.nnspec", &spec) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_check(spec) == NNSPEC_STATUS_BAD_INPUT);
  int64_t count = 0;
  REQUIRE(nnspec_spec_diagnostic_count(spec, &count) == NNSPEC_STATUS_OK);
  REQUIRE(count == 1);
  nnspec_diagnostic first{};
  REQUIRE(nnspec_spec_diagnostic(spec, 0, &first) == NNSPEC_STATUS_OK);
  CHECK(std::string(first.file) == "broken.nnspec");
  CHECK(first.line == 7);
  CHECK(first.column == 3);
  CHECK(first.end_line == 7);
  CHECK(first.end_column == 7);
  CHECK(first.severity == NNSPEC_SEVERITY_ERROR);
  CHECK(std::string(first.message) == "unknown layer 'dens'");
  CHECK(std::string(first.hint) == "did you mean 'dense'?");
  nnspec_diagnostic out_of_range{};
  CHECK(nnspec_spec_diagnostic(spec, count, &out_of_range) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_spec_diagnostic(spec, -1, &out_of_range) == NNSPEC_STATUS_BAD_ARGUMENT);
  const char* text = nullptr;
  REQUIRE(nnspec_spec_diagnostics_text(spec, &text) == NNSPEC_STATUS_OK);
  CHECK(std::string(text).find("broken.nnspec:7:3: error: unknown layer 'dens'") != std::string::npos);
  CHECK(std::string(text).find("^~~~\n") != std::string::npos);
  CHECK(nnspec_spec_plan_text(spec, &text) == NNSPEC_STATUS_BAD_INPUT);
  nnspec_spec_free(spec);
}

TEST_CASE("an unknown override or sweep is a record with no place", "[api]") {
  nnspec_spec* spec = nullptr;
  REQUIRE(nnspec_spec_open_file(q3Spec().c_str(), &spec) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_select_sweep(spec, "baselin") == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_check(spec) == NNSPEC_STATUS_BAD_INPUT);
  int64_t count = 0;
  REQUIRE(nnspec_spec_diagnostic_count(spec, &count) == NNSPEC_STATUS_OK);
  REQUIRE(count == 1);
  nnspec_diagnostic record{};
  REQUIRE(nnspec_spec_diagnostic(spec, 0, &record) == NNSPEC_STATUS_OK);
  CHECK(record.line == 0);
  CHECK(std::string(record.message) == "--sweep baselin: no sweep of that name");
  CHECK(std::string(record.hint) == "did you mean 'baseline'?");

  REQUIRE(nnspec_spec_clear_sweeps(spec) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_set_override(spec, "epoch", "2") == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_check(spec) == NNSPEC_STATUS_BAD_INPUT);
  REQUIRE(nnspec_spec_diagnostic(spec, 0, &record) == NNSPEC_STATUS_OK);
  CHECK(std::string(record.message).find("epoch") != std::string::npos);
  nnspec_spec_free(spec);
}

TEST_CASE("the plan is the text nnspec check prints, with each sweep's numbers", "[api]") {
  nnspec_spec* spec = nullptr;
  REQUIRE(nnspec_spec_open_file(q3Spec().c_str(), &spec) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_check(spec) == NNSPEC_STATUS_OK);
  const char* plan = nullptr;
  REQUIRE(nnspec_spec_plan_text(spec, &plan) == NNSPEC_STATUS_OK);
  const std::string cli = commandOutput(std::string(NNSPEC_BINARY_DIR) + "/nnspec check " + q3Spec());
  CHECK(std::string(plan) == cli);
  int64_t count = 0;
  REQUIRE(nnspec_spec_sweep_count(spec, &count) == NNSPEC_STATUS_OK);
  REQUIRE(count == 4);
  nnspec_sweep_info baseline{};
  REQUIRE(nnspec_spec_sweep(spec, 0, &baseline) == NNSPEC_STATUS_OK);
  CHECK(std::string(baseline.name) == "baseline");
  CHECK(std::string(baseline.method) == "grid");
  CHECK(baseline.points == 1);
  CHECK(baseline.trials == 1);
  CHECK(baseline.epochs == 10);
  nnspec_sweep_info shape{};
  REQUIRE(nnspec_spec_sweep(spec, 1, &shape) == NNSPEC_STATUS_OK);
  CHECK(std::string(shape.name) == "shape");
  CHECK(shape.points == 5);
  CHECK(shape.folds == 1);
  CHECK(shape.replicates == 1);
  CHECK(shape.trials == 5);
  CHECK(std::string(shape.objective) == "val.accuracy");
  CHECK(shape.maximize == 1);
  nnspec_spec_free(spec);
}

TEST_CASE("overrides and chosen sweeps change the plan", "[api]") {
  nnspec::Spec spec = nnspec::Spec::fromFile(q3Spec());
  spec.set("epochs", "3").set("epochs", "2").selectSweep("baseline");
  REQUIRE(spec.check());
  const auto sweeps = spec.sweeps();
  REQUIRE(sweeps.size() == 1);
  CHECK(sweeps[0].name == "baseline");
  CHECK(sweeps[0].epochs == 2);
  CHECK(spec.planText().find("baseline") != std::string::npos);
}

TEST_CASE("a sweep's data comes with the spec's transforms", "[api]") {
  nnspec::Spec spec = nnspec::Spec::fromFile(q3Spec());
  spec.selectSweep("baseline");
  REQUIRE(spec.check());
  const nnspec::Data test = spec.loadData("test");
  CHECK(test.rows == 10000);
  CHECK(test.features == 784);
  CHECK(test.target_width == 1);
  float largest = 0;
  for (float value : test.inputs) largest = std::max(largest, value);
  CHECK(largest <= 1.0f);  // scale(1/255)
  const nnspec::Data val = spec.loadData("val");
  CHECK(val.rows == 5000);
  try {
    spec.loadData("everything");
    FAIL("a bad role was accepted");
  } catch (const nnspec::Error& error) {
    CHECK(error.status() == NNSPEC_STATUS_BAD_ARGUMENT);
  }
}
