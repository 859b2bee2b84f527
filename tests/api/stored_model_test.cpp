// Models loaded from a store through the C API (nnspec_model_load, _load_best): the weights
// a run kept predict the test accuracy it recorded; unknown trials and trials without
// weights are NOT_FOUND with a message listing what is there.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "nnspec/nnspec.h"
#include "tests/api/api_test_support.h"

using Catch::Matchers::WithinAbs;
using nnspec::api_test::q3Spec;
using nnspec::api_test::TempDir;

TEST_CASE("a model loaded from the store predicts the test accuracy its run recorded", "[api]") {
  TempDir dir;
  const std::string store_path = dir.file("q3.sqlite");
  nnspec_spec* spec = nullptr;
  REQUIRE(nnspec_spec_open_file(q3Spec().c_str(), &spec) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_set_override(spec, "epochs", "1") == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_select_sweep(spec, "baseline") == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_check(spec) == NNSPEC_STATUS_OK);
  nnspec_run* run = nullptr;
  REQUIRE(nnspec_run_create(spec, store_path.c_str(), &run) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_run_execute(run, nullptr) == NNSPEC_STATUS_OK);
  nnspec_run_free(run);

  nnspec_store* store = nullptr;
  REQUIRE(nnspec_store_open(store_path.c_str(), &store) == NNSPEC_STATUS_OK);
  nnspec_study study{};
  REQUIRE(nnspec_store_study(store, 0, &study) == NNSPEC_STATUS_OK);
  nnspec_trials* trials = nullptr;
  REQUIRE(nnspec_store_trials(store, study.id, &trials) == NNSPEC_STATUS_OK);
  nnspec_trial trial{};
  REQUIRE(nnspec_trials_get(trials, 0, &trial) == NNSPEC_STATUS_OK);
  double stored_accuracy = 0;
  REQUIRE(nnspec_trials_find_metric(trials, 0, "test.accuracy", &stored_accuracy) == NNSPEC_STATUS_OK);

  nnspec_model* model = nullptr;
  REQUIRE(nnspec_model_load(store_path.c_str(), trial.id, &model) == NNSPEC_STATUS_OK);
  nnspec_model* best = nullptr;
  REQUIRE(nnspec_model_load_best(store_path.c_str(), nullptr, "baseline", &best) == NNSPEC_STATUS_OK);
  nnspec_model_info info{};
  REQUIRE(nnspec_model_get_info(best, &info) == NNSPEC_STATUS_OK);
  CHECK(std::string(info.sweep) == "baseline");
  CHECK(info.input_width == 784);
  CHECK(info.classifier == 1);

  nnspec_data* test = nullptr;
  REQUIRE(nnspec_spec_load_data(spec, "baseline", "test", &test) == NNSPEC_STATUS_OK);
  int64_t rows = 0;
  const float* inputs = nullptr;
  const float* labels = nullptr;
  REQUIRE(nnspec_data_shape(test, &rows, nullptr, nullptr) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_data_inputs(test, &inputs) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_data_targets(test, &labels) == NNSPEC_STATUS_OK);
  std::vector<float> probabilities(static_cast<size_t>(rows * info.output_width));
  REQUIRE(nnspec_model_predict(model, inputs, rows, probabilities.data()) == NNSPEC_STATUS_OK);
  int64_t correct = 0;
  for (int64_t row = 0; row < rows; ++row) {
    const float* p = probabilities.data() + row * info.output_width;
    int64_t top = 0;
    for (int64_t k = 1; k < info.output_width; ++k) top = p[k] > p[top] ? k : top;
    correct += top == static_cast<int64_t>(labels[row]) ? 1 : 0;
  }
  CHECK_THAT(static_cast<double>(correct) / static_cast<double>(rows), WithinAbs(stored_accuracy, 1e-9));
  std::vector<float> again(static_cast<size_t>(2 * info.output_width));
  REQUIRE(nnspec_model_predict(best, inputs, 2, again.data()) == NNSPEC_STATUS_OK);
  for (size_t index = 0; index < again.size(); ++index) CHECK(again[index] == probabilities[index]);

  nnspec_model* missing = nullptr;
  CHECK(nnspec_model_load(store_path.c_str(), 999, &missing) == NNSPEC_STATUS_NOT_FOUND);
  CHECK(std::string(nnspec_last_error()).find("no trial 999") != std::string::npos);
  CHECK(nnspec_model_load_best(store_path.c_str(), nullptr, "nope", &missing) == NNSPEC_STATUS_NOT_FOUND);
  CHECK(nnspec_model_load(dir.file("absent.sqlite").c_str(), 1, &missing) == NNSPEC_STATUS_BAD_INPUT);
  CHECK(nnspec_model_load(nullptr, 1, &missing) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(missing == nullptr);

  nnspec_data_free(test);
  nnspec_model_free(model);
  nnspec_model_free(best);
  nnspec_trials_free(trials);
  nnspec_store_free(store);
  nnspec_spec_free(spec);
}
