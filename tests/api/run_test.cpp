// Running through the C API: progress, cancellation, the store's trials, and prediction
// with the trained model matching the test accuracy the run recorded.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "nnspec/nnspec.h"
#include "nnspec/nnspec.hpp"
#include "tests/api/api_test_support.h"

using Catch::Matchers::WithinAbs;
using nnspec::api_test::q3Spec;
using nnspec::api_test::TempDir;

namespace {

nnspec_spec* q3Baseline(const char* epochs) {
  nnspec_spec* spec = nullptr;
  REQUIRE(nnspec_spec_open_file(q3Spec().c_str(), &spec) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_set_override(spec, "epochs", epochs) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_select_sweep(spec, "baseline") == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_spec_check(spec) == NNSPEC_STATUS_OK);
  return spec;
}

struct Progress {
  std::vector<nnspec_event_kind> kinds;
  std::vector<std::string> statuses;
  std::atomic<int> epochs{0};
  bool cancel_at_start = false;
};

int record(const nnspec_event* event, void* user_data) {
  auto* progress = static_cast<Progress*>(user_data);
  progress->kinds.push_back(event->kind);
  if (event->kind == NNSPEC_EVENT_EPOCH) progress->epochs.fetch_add(1);
  if (event->kind == NNSPEC_EVENT_TRIAL_ENDED) progress->statuses.emplace_back(event->status);
  return progress->cancel_at_start && event->kind == NNSPEC_EVENT_TRIAL_STARTED ? 1 : 0;
}

int argmax(const float* row, int64_t width) {
  int best = 0;
  for (int k = 1; k < width; ++k) {
    if (row[k] > row[best]) best = k;
  }
  return best;
}

}  // namespace

TEST_CASE("a run reports progress, keeps its trials in the store and predicts its test accuracy", "[api]") {
  TempDir dir;
  const std::string store_path = dir.file("q3.sqlite");
  nnspec_spec* spec = q3Baseline("2");
  nnspec_run* run = nullptr;
  REQUIRE(nnspec_run_create(spec, store_path.c_str(), &run) == NNSPEC_STATUS_OK);
  Progress progress;
  REQUIRE(nnspec_run_set_progress(run, record, &progress) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_run_set_jobs(run, 0) == NNSPEC_STATUS_BAD_ARGUMENT);
  REQUIRE(nnspec_run_set_jobs(run, 2) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_run_execute(run, nullptr) == NNSPEC_STATUS_OK);
  REQUIRE(progress.kinds.size() == 4);
  CHECK(progress.kinds.front() == NNSPEC_EVENT_TRIAL_STARTED);
  CHECK(progress.epochs.load() == 2);
  CHECK(progress.kinds.back() == NNSPEC_EVENT_TRIAL_ENDED);
  CHECK(progress.statuses == std::vector<std::string>{"finished"});

  // The store: one study, one finished trial with params and final metrics.
  nnspec_store* store = nullptr;
  REQUIRE(nnspec_store_open(store_path.c_str(), &store) == NNSPEC_STATUS_OK);
  int64_t studies = 0;
  REQUIRE(nnspec_store_study_count(store, &studies) == NNSPEC_STATUS_OK);
  REQUIRE(studies == 1);
  nnspec_study study{};
  REQUIRE(nnspec_store_study(store, 0, &study) == NNSPEC_STATUS_OK);
  CHECK(std::string(study.name) == "q3_fashion_mlp");
  int64_t study_id = 0;
  REQUIRE(nnspec_store_find_study(store, "q3_fashion_mlp", &study_id) == NNSPEC_STATUS_OK);
  CHECK(study_id == study.id);
  CHECK(nnspec_store_find_study(store, "other", &study_id) == NNSPEC_STATUS_NOT_FOUND);
  nnspec_trials* trials = nullptr;
  CHECK(nnspec_store_trials(store, study.id + 100, &trials) == NNSPEC_STATUS_NOT_FOUND);
  REQUIRE(nnspec_store_trials(store, study.id, &trials) == NNSPEC_STATUS_OK);
  int64_t count = 0;
  REQUIRE(nnspec_trials_count(trials, &count) == NNSPEC_STATUS_OK);
  REQUIRE(count == 1);
  nnspec_trial trial{};
  REQUIRE(nnspec_trials_get(trials, 0, &trial) == NNSPEC_STATUS_OK);
  CHECK(std::string(trial.sweep) == "baseline");
  CHECK(std::string(trial.status) == "finished");
  CHECK(trial.fold == 0);
  CHECK(trial.replicate == 0);
  CHECK(trial.seconds > 0);
  CHECK(trial.param_count == 0);  // grid() sweeps nothing; see the text-spec test for params
  const char* name = nullptr;
  const char* value = nullptr;
  CHECK(nnspec_trials_param(trials, 0, 0, &name, &value) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(trial.metric_count > 0);
  double stored_accuracy = 0;
  REQUIRE(nnspec_trials_find_metric(trials, 0, "test.accuracy", &stored_accuracy) == NNSPEC_STATUS_OK);
  CHECK(nnspec_trials_find_metric(trials, 0, "nothing", &stored_accuracy) == NNSPEC_STATUS_NOT_FOUND);

  // The model: by trial and as the best; predictions give the recorded test accuracy.
  int64_t models = 0;
  REQUIRE(nnspec_run_model_count(run, &models) == NNSPEC_STATUS_OK);
  REQUIRE(models == 1);
  nnspec_model* by_trial = nullptr;
  REQUIRE(nnspec_run_model(run, "baseline", trial.point, 0, 0, &by_trial) == NNSPEC_STATUS_OK);
  nnspec_model* missing = nullptr;
  CHECK(nnspec_run_model(run, "baseline", trial.point, 1, 0, &missing) == NNSPEC_STATUS_NOT_FOUND);
  CHECK(nnspec_run_best_model(run, "shape", &missing) == NNSPEC_STATUS_NOT_FOUND);
  CHECK(missing == nullptr);
  nnspec_model* model = nullptr;
  REQUIRE(nnspec_run_best_model(run, nullptr, &model) == NNSPEC_STATUS_OK);
  nnspec_model_info info{};
  REQUIRE(nnspec_model_get_info(model, &info) == NNSPEC_STATUS_OK);
  CHECK(info.input_width == 784);
  CHECK(info.output_width == 10);
  CHECK(info.classifier == 1);
  double model_accuracy = 0;
  REQUIRE(nnspec_model_find_metric(model, "test.accuracy", &model_accuracy) == NNSPEC_STATUS_OK);
  CHECK(model_accuracy == stored_accuracy);

  nnspec_data* test = nullptr;
  REQUIRE(nnspec_spec_load_data(spec, "baseline", "test", &test) == NNSPEC_STATUS_OK);
  int64_t rows = 0;
  const float* inputs = nullptr;
  const float* labels = nullptr;
  REQUIRE(nnspec_data_shape(test, &rows, nullptr, nullptr) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_data_inputs(test, &inputs) == NNSPEC_STATUS_OK);
  REQUIRE(nnspec_data_targets(test, &labels) == NNSPEC_STATUS_OK);
  std::vector<float> probabilities(static_cast<size_t>(rows * info.output_width));
  CHECK(nnspec_model_predict(model, inputs, -1, probabilities.data()) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_model_predict(model, nullptr, rows, probabilities.data()) == NNSPEC_STATUS_BAD_ARGUMENT);
  REQUIRE(nnspec_model_predict(model, inputs, rows, probabilities.data()) == NNSPEC_STATUS_OK);
  int64_t correct = 0;
  for (int64_t row = 0; row < rows; ++row) {
    const float* p = probabilities.data() + row * info.output_width;
    float sum = 0;
    for (int64_t k = 0; k < info.output_width; ++k) sum += p[k];
    if (row < 10) CHECK_THAT(sum, WithinAbs(1.0, 1e-5));
    correct += argmax(p, info.output_width) == static_cast<int>(labels[row]) ? 1 : 0;
  }
  CHECK_THAT(static_cast<double>(correct) / static_cast<double>(rows), WithinAbs(stored_accuracy, 1e-6));

  // A second handle (its own buffers) on the same model, freed after the run: same rows.
  nnspec_run_free(run);
  std::vector<float> again(static_cast<size_t>(3 * info.output_width));
  REQUIRE(nnspec_model_predict(by_trial, inputs, 3, again.data()) == NNSPEC_STATUS_OK);
  for (size_t index = 0; index < again.size(); ++index) CHECK(again[index] == probabilities[index]);

  nnspec_data_free(test);
  nnspec_model_free(model);
  nnspec_model_free(by_trial);
  nnspec_trials_free(trials);
  nnspec_store_free(store);
  nnspec_spec_free(spec);
}

TEST_CASE("a callback that returns nonzero cancels the run", "[api]") {
  TempDir dir;
  nnspec_spec* spec = q3Baseline("2");
  nnspec_run* run = nullptr;
  REQUIRE(nnspec_run_create(spec, dir.file("s.sqlite").c_str(), &run) == NNSPEC_STATUS_OK);
  Progress progress;
  progress.cancel_at_start = true;
  REQUIRE(nnspec_run_set_progress(run, record, &progress) == NNSPEC_STATUS_OK);
  CHECK(nnspec_run_execute(run, nullptr) == NNSPEC_STATUS_CANCELLED);
  CHECK(std::string(nnspec_last_error()).find("cancelled") != std::string::npos);
  CHECK(progress.epochs.load() == 0);
  int64_t models = -1;
  REQUIRE(nnspec_run_model_count(run, &models) == NNSPEC_STATUS_OK);
  CHECK(models == 0);
  nnspec_run_free(run);
  nnspec_spec_free(spec);
}

TEST_CASE("nnspec_run_cancel from another thread stops a run", "[api]") {
  TempDir dir;
  nnspec_spec* spec = q3Baseline("50");
  nnspec_run* run = nullptr;
  REQUIRE(nnspec_run_create(spec, dir.file("s.sqlite").c_str(), &run) == NNSPEC_STATUS_OK);
  Progress progress;
  REQUIRE(nnspec_run_set_progress(run, record, &progress) == NNSPEC_STATUS_OK);
  std::atomic<bool> returned{false};  // the canceller gives up when the run ends first
  std::thread canceller([&] {
    while (progress.epochs.load() < 1 && !returned.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    nnspec_run_cancel(run);
  });
  const nnspec_status status = nnspec_run_execute(run, nullptr);
  returned = true;
  canceller.join();
  INFO(nnspec_last_error());
  CHECK(status == NNSPEC_STATUS_CANCELLED);
  CHECK(progress.epochs.load() < 50);

  // The cancelled trial was handed back to the study's queue; a later run continues it.
  nnspec::Store store(dir.file("s.sqlite"));
  const auto trials = store.trials(store.findStudy("q3_fashion_mlp"));
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].status == "queued");
  nnspec_run_free(run);
  nnspec_spec_free(spec);
}

TEST_CASE("a spec given as text runs into an explicit store, and the C++ wrapper keeps the best model", "[api]") {
  TempDir dir;
  const std::string text =
      "experiment tiny\n"
      "seed 1\n"
      "data fmnist = fashion_mnist() | scale(1/255)\n"
      "split train = fmnist.train.take(800), val = train.holdout(200)\n"
      "param hidden in [8, 16]\n"
      "model m { input [28, 28] flatten dense(hidden, relu) dense(10) }\n"
      "train t { model m loss cross_entropy optimizer adam(lr: 1e-3) batch 50 epochs 1 }\n"
      "sweep widths = grid(hidden) using t select max val.accuracy\n";
  nnspec::Spec spec = nnspec::Spec::fromString(text, "tiny.nnspec");
  if (!spec.check()) FAIL(spec.diagnosticsText());
  nnspec::Run run(spec, dir.file("tiny.sqlite"));
  int ended = 0;
  run.keep(NNSPEC_KEEP_BEST).onProgress([&](const nnspec::Event& event) {
    ended += event.kind == NNSPEC_EVENT_TRIAL_ENDED ? 1 : 0;
    return true;
  });
  REQUIRE(run.execute() == NNSPEC_STATUS_OK);
  CHECK(ended == 2);
  REQUIRE(run.modelCount() == 1);
  nnspec::Model best = run.best("widths");
  nnspec::Store store(dir.file("tiny.sqlite"));
  double top = 0;
  const auto trials = store.trials(store.findStudy("tiny"));
  REQUIRE(trials.size() == 2);
  for (const auto& trial : trials) {
    REQUIRE(trial.params.size() == 1);
    CHECK(trial.params[0].first == "hidden");
    top = std::max(top, trial.metrics.at("val.accuracy"));
  }
  CHECK(trials[0].params[0].second == "8");
  CHECK(best.metrics().at("val.accuracy") == top);
  const std::vector<float> zeros(784 * 2, 0.0f);
  CHECK(best.predict(zeros).size() == 20);
}
