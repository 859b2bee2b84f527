/* Embeds nnspec through its C API:
 *   1. checks a spec with an error and prints the diagnostic records;
 *   2. runs the q3 baseline (sweep `baseline`, epochs=2) into a store, printing progress;
 *   3. reads the trial's test accuracy back from the store;
 *   4. predicts test images with the model the run trained.
 *
 * usage: embed_c [SPEC [STORE]]   (default specs/q3_fashion_mlp.nnspec, embed_c.store.sqlite)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnspec/nnspec.h>

/* Prints the failed call's status and message and exits. */
static void check(nnspec_status status, const char* what) {
  if (status == NNSPEC_STATUS_OK) return;
  fprintf(stderr, "%s: %s: %s\n", what, nnspec_status_name(status), nnspec_last_error());
  exit(1);
}

static void showDiagnostics(void) {
  const char* text = "experiment broken\n"
                     "data d = fashion_mnist() | scale(1/255)\n"
                     "split train = d.train.take(100), test = d.test\n"
                     "model m {\n"
                     "  input [28, 28]\n"
                     "  flatten\n"
                     "  dens(16, relu)\n"
                     "  dense(10)\n"
                     "}\n"
                     "train t { model m loss cross_entropy optimizer sgd(lr: 0.1) batch 10 epochs 1 }\n";
  nnspec_spec* spec = NULL;
  check(nnspec_spec_open_string(text, "broken.nnspec", &spec), "open");
  const nnspec_status status = nnspec_spec_check(spec);
  printf("check broken.nnspec: %s\n", nnspec_status_name(status));
  int64_t count = 0;
  check(nnspec_spec_diagnostic_count(spec, &count), "diagnostics");
  for (int64_t index = 0; index < count; ++index) {
    nnspec_diagnostic d;
    check(nnspec_spec_diagnostic(spec, index, &d), "diagnostic");
    printf("  %s:%lld:%lld-%lld: %s: %s\n", d.file, (long long)d.line, (long long)d.column,
           (long long)d.end_column, d.severity == NNSPEC_SEVERITY_ERROR ? "error" : "warning", d.message);
    if (d.hint[0] != '\0') printf("    hint: %s\n", d.hint);
  }
  nnspec_spec_free(spec);
}

static const char* findMetric(const nnspec_event* event, const char* name, double* value) {
  for (int64_t index = 0; index < event->metric_count; ++index) {
    if (strcmp(event->metrics[index].name, name) != 0) continue;
    *value = event->metrics[index].value;
    return name;
  }
  return NULL;
}

/* Called on the run's threads, one call at a time. */
static int onProgress(const nnspec_event* event, void* user_data) {
  (void)user_data;
  double value = 0;
  switch (event->kind) {
    case NNSPEC_EVENT_TRIAL_STARTED:
      printf("trial %lld/%lld of sweep %s started\n", (long long)event->trial_index, (long long)event->trials_total,
             event->sweep);
      break;
    case NNSPEC_EVENT_EPOCH:
      printf("  epoch %lld/%lld", (long long)event->epoch, (long long)event->epochs);
      if (findMetric(event, "train.loss", &value)) printf("  train.loss %.4f", value);
      if (findMetric(event, "val.accuracy", &value)) printf("  val.accuracy %.4f", value);
      printf("\n");
      break;
    case NNSPEC_EVENT_TRIAL_ENDED:
      printf("trial %lld %s\n", (long long)event->trial_index, event->status);
      break;
  }
  fflush(stdout);
  return 0; /* nonzero would cancel the run */
}

/* The test accuracy the run recorded for the baseline trial. */
static double storedTestAccuracy(const char* store_path) {
  nnspec_store* store = NULL;
  check(nnspec_store_open(store_path, &store), "store");
  int64_t study = 0;
  check(nnspec_store_find_study(store, "q3_fashion_mlp", &study), "study");
  nnspec_trials* trials = NULL;
  check(nnspec_store_trials(store, study, &trials), "trials");
  int64_t count = 0;
  check(nnspec_trials_count(trials, &count), "trials");
  double accuracy = -1;
  for (int64_t index = 0; index < count; ++index) {
    nnspec_trial trial;
    check(nnspec_trials_get(trials, index, &trial), "trial");
    if (strcmp(trial.sweep, "baseline") != 0) continue;
    check(nnspec_trials_find_metric(trials, index, "test.accuracy", &accuracy), "metric");
    printf("store: trial %lld (%s) %s in %.1f s\n", (long long)trial.id, trial.point, trial.status, trial.seconds);
  }
  nnspec_trials_free(trials);
  nnspec_store_free(store);
  return accuracy;
}

static int64_t argmax(const float* row, int64_t width) {
  int64_t best = 0;
  for (int64_t k = 1; k < width; ++k) {
    if (row[k] > row[best]) best = k;
  }
  return best;
}

/* Predicts the spec's test split with the trained model. */
static void predictTest(nnspec_spec* spec, nnspec_model* model) {
  nnspec_model_info info;
  check(nnspec_model_get_info(model, &info), "model");
  nnspec_data* test = NULL;
  check(nnspec_spec_load_data(spec, "baseline", "test", &test), "test data");
  int64_t rows = 0;
  int64_t features = 0;
  const float* inputs = NULL;
  const float* labels = NULL;
  check(nnspec_data_shape(test, &rows, &features, NULL), "test data");
  check(nnspec_data_inputs(test, &inputs), "test data");
  check(nnspec_data_targets(test, &labels), "test data");
  float* probabilities = malloc((size_t)(rows * info.output_width) * sizeof(float));
  if (probabilities == NULL) exit(1);
  check(nnspec_model_predict(model, inputs, rows, probabilities), "predict");
  for (int64_t row = 0; row < 5 && row < rows; ++row) {
    const float* p = probabilities + row * info.output_width;
    const int64_t guess = argmax(p, info.output_width);
    printf("  test image %lld: predicted class %lld (p=%.3f), label %d\n", (long long)row, (long long)guess,
           p[guess], (int)labels[row]);
  }
  int64_t correct = 0;
  for (int64_t row = 0; row < rows; ++row) {
    correct += argmax(probabilities + row * info.output_width, info.output_width) == (int64_t)labels[row];
  }
  printf("predicted test.accuracy %.6f (%lld of %lld)\n", (double)correct / (double)rows, (long long)correct,
         (long long)rows);
  free(probabilities);
  nnspec_data_free(test);
}

int main(int argc, char** argv) {
  const char* spec_path = argc > 1 ? argv[1] : "specs/q3_fashion_mlp.nnspec";
  const char* store_path = argc > 2 ? argv[2] : "embed_c.store.sqlite";
  printf("nnspec %s\n", nnspec_version());
  showDiagnostics();

  nnspec_spec* spec = NULL;
  check(nnspec_spec_open_file(spec_path, &spec), "open");
  check(nnspec_spec_set_override(spec, "epochs", "2"), "override");
  check(nnspec_spec_select_sweep(spec, "baseline"), "sweep");
  if (nnspec_spec_check(spec) != NNSPEC_STATUS_OK) {
    const char* text = NULL;
    nnspec_spec_diagnostics_text(spec, &text);
    fprintf(stderr, "%s", text);
    return 2;
  }
  nnspec_sweep_info sweep;
  check(nnspec_spec_sweep(spec, 0, &sweep), "sweep");
  printf("sweep %s: %s, %lld trial(s), %lld epochs\n", sweep.name, sweep.method, (long long)sweep.trials,
         (long long)sweep.epochs);

  nnspec_run* run = NULL;
  check(nnspec_run_create(spec, store_path, &run), "run");
  check(nnspec_run_set_progress(run, onProgress, NULL), "progress");
  check(nnspec_run_execute(run, NULL), "run");

  printf("test.accuracy %.6f\n", storedTestAccuracy(store_path));

  nnspec_model* model = NULL;
  if (nnspec_run_best_model(run, "baseline", &model) == NNSPEC_STATUS_NOT_FOUND) {
    /* The store already held the finished trial, so nothing was trained in this process. */
    printf("no model trained in this process (%s); use a new store to train one\n", nnspec_last_error());
    nnspec_run_free(run);
    nnspec_spec_free(spec);
    return 0;
  }
  predictTest(spec, model);

  nnspec_model_free(model);
  nnspec_run_free(run);
  nnspec_spec_free(spec);
  return 0;
}
