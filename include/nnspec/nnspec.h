/* nnspec — the public C API (C11).
 *
 * Open a spec, check it and read its diagnostics and plan, run its sweeps into a result
 * store with progress and cancellation, list what a store holds, and predict with a
 * model trained in this process. docs/embedding.md has a complete example.
 *
 * Errors. Every function returns an nnspec_status (a few getters return a value and say
 * so). Nothing ever throws or aborts across this API: an unexpected failure inside the
 * library becomes NNSPEC_STATUS_INTERNAL_ERROR. When a call fails, nnspec_last_error()
 * returns its message on the calling thread until that thread's next nnspec_ call.
 * Problems in the spec itself (a syntax error, an unknown name) are not call failures of
 * nnspec_spec_open_*: nnspec_spec_check() returns NNSPEC_STATUS_BAD_INPUT and the
 * problems are records (nnspec_spec_diagnostic).
 *
 * Threads. A handle is used by one thread at a time; different handles may be used on
 * different threads at once (two model handles of one trained model too). The exceptions:
 * nnspec_run_cancel() may be called from any thread while nnspec_run_execute() runs, and
 * nnspec_last_error() is per thread. Progress callbacks arrive on the run's own threads
 * (not the caller's), one at a time (serialized), and should return quickly.
 *
 * Memory. Strings and arrays returned through `const char*` / `const T*` out parameters
 * belong to the handle they came from and stay valid until that handle is freed or the
 * same handle is changed (set_override, check). Every *_free accepts NULL.
 */
#ifndef NNSPEC_NNSPEC_H
#define NNSPEC_NNSPEC_H

#include <stdint.h>

#if defined(_WIN32)
#define NNSPEC_API
#else
#define NNSPEC_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define NNSPEC_VERSION_MAJOR 0
#define NNSPEC_VERSION_MINOR 1
#define NNSPEC_VERSION_PATCH 0

typedef enum nnspec_status {
  NNSPEC_STATUS_OK = 0,
  NNSPEC_STATUS_BAD_ARGUMENT = 1,   /* a NULL handle or pointer, an index out of range, n < 0 */
  NNSPEC_STATUS_BAD_INPUT = 2,      /* the spec, a data file, a store or an override is wrong */
  NNSPEC_STATUS_NOT_FOUND = 3,      /* no such sweep, trial, model, study or metric */
  NNSPEC_STATUS_TRIALS_FAILED = 4,  /* the run finished, but some trials failed (diverged ...) */
  NNSPEC_STATUS_CANCELLED = 5,      /* nnspec_run_cancel() or the callback stopped the run */
  NNSPEC_STATUS_INTERNAL_ERROR = 6  /* a bug in nnspec; the message says where */
} nnspec_status;

/* "ok", "bad argument", ...; never NULL. */
NNSPEC_API const char* nnspec_status_name(nnspec_status status);
/* The message of the calling thread's last failed call ("" when none). */
NNSPEC_API const char* nnspec_last_error(void);
/* "0.1.0" */
NNSPEC_API const char* nnspec_version(void);

/* ---- Specs: open, override, check, diagnostics, plan ------------------------------- */

typedef struct nnspec_spec nnspec_spec;

/* Reads the file at `path`. Relative data paths in the spec resolve against its folder.
 * A missing or unreadable file is NNSPEC_STATUS_BAD_INPUT. */
NNSPEC_API nnspec_status nnspec_spec_open_file(const char* path, nnspec_spec** out);
/* Takes the spec's text; `name` is the file name diagnostics show (e.g. "mine.nnspec").
 * Checks and runs resolve relative data paths against the folder of `name` (the current
 * one when it has none). Running it needs an explicit store path (nnspec_run_create). */
NNSPEC_API nnspec_status nnspec_spec_open_string(const char* text, const char* name, nnspec_spec** out);
NNSPEC_API void nnspec_spec_free(nnspec_spec* spec);

/* Like `nnspec run --set NAME=VALUE`: VALUE in spec syntax ("2", "1e-3", "[50, 25]").
 * Setting a name again replaces its value. Takes effect at the next check. */
NNSPEC_API nnspec_status nnspec_spec_set_override(nnspec_spec* spec, const char* name, const char* value);
NNSPEC_API nnspec_status nnspec_spec_clear_overrides(nnspec_spec* spec);
/* Like `--sweep NAME` (repeatable): check, plan and run only the chosen sweeps. */
NNSPEC_API nnspec_status nnspec_spec_select_sweep(nnspec_spec* spec, const char* name);
NNSPEC_API nnspec_status nnspec_spec_clear_sweeps(nnspec_spec* spec);

/* Parses and checks the spec with the overrides and sweeps. NNSPEC_STATUS_OK: no errors
 * (warnings may be there); NNSPEC_STATUS_BAD_INPUT: read the diagnostics. */
NNSPEC_API nnspec_status nnspec_spec_check(nnspec_spec* spec);

typedef enum nnspec_severity { NNSPEC_SEVERITY_ERROR = 0, NNSPEC_SEVERITY_WARNING = 1 } nnspec_severity;

/* One diagnostic of the last check. line and column are 1-based (columns count code
 * points); all 0 for a problem with no place in the file (an unknown override or sweep).
 * hint is "" when there is none. */
typedef struct nnspec_diagnostic {
  const char* file;
  int64_t line;
  int64_t column;
  int64_t end_line;
  int64_t end_column; /* exclusive */
  nnspec_severity severity;
  const char* message;
  const char* hint;
  int64_t note_count;
} nnspec_diagnostic;

typedef struct nnspec_diagnostic_note {
  int64_t line;
  int64_t column;
  int64_t end_column;
  const char* message;
} nnspec_diagnostic_note;

NNSPEC_API nnspec_status nnspec_spec_diagnostic_count(const nnspec_spec* spec, int64_t* out);
NNSPEC_API nnspec_status nnspec_spec_diagnostic(const nnspec_spec* spec, int64_t index, nnspec_diagnostic* out);
NNSPEC_API nnspec_status nnspec_spec_diagnostic_note(const nnspec_spec* spec, int64_t index, int64_t note_index,
                                                     nnspec_diagnostic_note* out);
/* The diagnostics rendered as `nnspec check` prints them (source line, caret, hint). */
NNSPEC_API nnspec_status nnspec_spec_diagnostics_text(const nnspec_spec* spec, const char** out);

/* After a successful check: the text `nnspec check` prints, and each sweep's numbers. */
NNSPEC_API nnspec_status nnspec_spec_plan_text(const nnspec_spec* spec, const char** out);

typedef struct nnspec_sweep_info {
  const char* name;
  const char* method;    /* grid, random, tpe, single */
  const char* objective; /* e.g. "val.accuracy"; "" when the sweep selects nothing */
  int maximize;          /* 1 when a larger objective is better */
  int64_t points;
  int64_t folds;
  int64_t replicates;
  int64_t trials;        /* points x folds x replicates */
  int64_t epochs;        /* of the sweep's first point */
} nnspec_sweep_info;

NNSPEC_API nnspec_status nnspec_spec_sweep_count(const nnspec_spec* spec, int64_t* out);
NNSPEC_API nnspec_status nnspec_spec_sweep(const nnspec_spec* spec, int64_t index, nnspec_sweep_info* out);

/* ---- Data: the rows a sweep trains and tests on ------------------------------------ */

typedef struct nnspec_data nnspec_data;

/* Loads the split `role` ("train", "val" or "test") of the sweep `sweep` (NULL: the first
 * checked sweep), with the spec's transforms applied: what a model takes. A data set's
 * `standardize` is the exception: each trained model applies it itself, with its own
 * training rows' statistics, so these rows are as they stand before it. Needs a
 * successful check. A role the split does not have is NNSPEC_STATUS_NOT_FOUND. */
NNSPEC_API nnspec_status nnspec_spec_load_data(nnspec_spec* spec, const char* sweep, const char* role,
                                               nnspec_data** out);
NNSPEC_API void nnspec_data_free(nnspec_data* data);
/* rows; features per row (the model's input width); target floats per row (1 for a
 * class number). */
NNSPEC_API nnspec_status nnspec_data_shape(const nnspec_data* data, int64_t* rows, int64_t* features,
                                           int64_t* target_width);
/* rows x features floats, row-major. */
NNSPEC_API nnspec_status nnspec_data_inputs(const nnspec_data* data, const float** out);
/* rows x target_width floats: class numbers (0, 1, ...) for classifiers, targets otherwise. */
NNSPEC_API nnspec_status nnspec_data_targets(const nnspec_data* data, const float** out);

/* ---- Runs: train sweeps into a store ----------------------------------------------- */

typedef struct nnspec_run nnspec_run;

typedef enum nnspec_event_kind {
  NNSPEC_EVENT_TRIAL_STARTED = 0,
  NNSPEC_EVENT_EPOCH = 1,
  NNSPEC_EVENT_TRIAL_ENDED = 2
} nnspec_event_kind;

typedef struct nnspec_metric {
  const char* name; /* e.g. "val.accuracy", "test.loss" */
  double value;
} nnspec_metric;

/* What a progress callback receives; valid during the call only. */
typedef struct nnspec_event {
  nnspec_event_kind kind;
  const char* sweep;
  const char* point;       /* e.g. "hidden=[64, 64], lr=0.001"; "" for a sweep of one point */
  int64_t fold;            /* -1: a refit on all training data */
  int64_t replicate;
  int64_t trial_index;     /* 1-based, within the sweep */
  int64_t trials_total;
  int64_t epoch;           /* EPOCH: the epoch just finished (1-based) */
  int64_t epochs;
  const char* status;      /* TRIAL_ENDED: "finished", "failed", "pruned", "skipped", "stopped" */
  const nnspec_metric* metrics; /* EPOCH: that epoch's; TRIAL_ENDED: the final ones */
  int64_t metric_count;
} nnspec_event;

/* Return 0 to go on; anything else cancels the run (as nnspec_run_cancel). */
typedef int (*nnspec_progress_fn)(const nnspec_event* event, void* user_data);

typedef enum nnspec_keep_models {
  NNSPEC_KEEP_ALL = 0,  /* every finished trial's model (the default) */
  NNSPEC_KEEP_BEST = 1, /* per sweep, the best by its objective (the first without one) */
  NNSPEC_KEEP_NONE = 2
} nnspec_keep_models;

/* A run of `spec` (its overrides and chosen sweeps, copied now; the spec may be freed
 * after) into the SQLite store at `store_path` (NULL or "": beside the spec file,
 * x.nnspec -> x.store.sqlite; a spec opened from a string needs one). Checks the spec
 * first: errors are NNSPEC_STATUS_BAD_INPUT (read them with nnspec_spec_diagnostic). */
NNSPEC_API nnspec_status nnspec_run_create(nnspec_spec* spec, const char* store_path, nnspec_run** out);
NNSPEC_API void nnspec_run_free(nnspec_run* run);
/* Trials trained at once (default 1); the results do not depend on it. */
NNSPEC_API nnspec_status nnspec_run_set_jobs(nnspec_run* run, int64_t jobs);
NNSPEC_API nnspec_status nnspec_run_set_progress(nnspec_run* run, nnspec_progress_fn callback, void* user_data);
NNSPEC_API nnspec_status nnspec_run_set_keep_models(nnspec_run* run, nnspec_keep_models keep);
/* Writes the spec's HTML report beside the store after the run (default: no). */
NNSPEC_API nnspec_status nnspec_run_set_write_report(nnspec_run* run, int write_report);

/* Trains (blocking) every chosen sweep, or only `sweep` when not NULL. Finished trials of
 * an earlier run of the same spec in the same store are not rerun (and have no model
 * here). Returns OK, TRIALS_FAILED, CANCELLED, BAD_INPUT or INTERNAL_ERROR. A handle runs
 * once at a time; running it again adds the new models to those it keeps. */
NNSPEC_API nnspec_status nnspec_run_execute(nnspec_run* run, const char* sweep);
/* Any thread: the run stops before the next batch; running trials are checkpointed and
 * handed back to the study's queue in the store (a later run, or another worker,
 * continues them) and execute returns NNSPEC_STATUS_CANCELLED. */
NNSPEC_API nnspec_status nnspec_run_cancel(nnspec_run* run);

/* ---- Models trained in this process ------------------------------------------------ */

typedef struct nnspec_model nnspec_model;

NNSPEC_API nnspec_status nnspec_run_model_count(const nnspec_run* run, int64_t* out);
/* A new handle on a kept model (free it with nnspec_model_free; it outlives the run). */
NNSPEC_API nnspec_status nnspec_run_model_at(const nnspec_run* run, int64_t index, nnspec_model** out);
/* The best kept model of `sweep` (NULL: the only sweep run) by the sweep's objective;
 * without an objective, the first kept. */
NNSPEC_API nnspec_status nnspec_run_best_model(const nnspec_run* run, const char* sweep, nnspec_model** out);
/* By its trial: sweep, point key (as in events and nnspec_trial), fold and replicate. */
NNSPEC_API nnspec_status nnspec_run_model(const nnspec_run* run, const char* sweep, const char* point, int64_t fold,
                                          int64_t replicate, nnspec_model** out);
NNSPEC_API void nnspec_model_free(nnspec_model* model);

typedef struct nnspec_model_info {
  const char* sweep;
  const char* point;
  int64_t fold;
  int64_t replicate;
  int64_t input_width;  /* floats per input row (e.g. 784 for 28x28 images) */
  int64_t output_width; /* classes, or regression outputs */
  int classifier;       /* 1: predict returns class probabilities */
  int64_t metric_count; /* the trial's final metrics */
} nnspec_model_info;

NNSPEC_API nnspec_status nnspec_model_get_info(const nnspec_model* model, nnspec_model_info* out);
NNSPEC_API nnspec_status nnspec_model_metric(const nnspec_model* model, int64_t index, nnspec_metric* out);
/* NOT_FOUND when the trial has no metric of that name. */
NNSPEC_API nnspec_status nnspec_model_find_metric(const nnspec_model* model, const char* name, double* out);
/* `in`: n rows x input_width floats (as nnspec_data_inputs gives them; a model trained on
 * standardized data standardizes them with its statistics); `out`: room for
 * n x output_width floats: softmax probabilities for classifiers, outputs otherwise. */
NNSPEC_API nnspec_status nnspec_model_predict(nnspec_model* model, const float* in, int64_t n, float* out);

/* ---- Stored models: the weights a run kept in its store ----------------------------- */

/* Loads the model of trial `trial_id` of a store (the ids of nnspec_trial): the study's
 * spec is checked again (its data files must still be where the run read them), the
 * trial's model compiled and its stored weights copied in. The handle predicts like one
 * from nnspec_run_best_model and outlives nothing else. NOT_FOUND: no such trial, or the
 * trial kept no weights (the spec's `keep`; the message lists the trials that did);
 * BAD_INPUT: not a store, or a spec that no longer checks. A store with several
 * experiments loads from the newest study holding the trial id. */
NNSPEC_API nnspec_status nnspec_model_load(const char* store_path, int64_t trial_id, nnspec_model** out);
/* The best model of `sweep` (NULL or "": the one sweep with finished trials) of the
 * newest study of `study` (NULL or "": the store's only experiment): the best point's
 * refit if it has one, else, when the sweep has an ensemble, all its fold/replicate
 * models combined as the run combines them (nnspec_model_predict returns the softmax of
 * the mean logits, or for a vote each class's share of the votes), else its best trial.
 * nnspec_model_get_info then describes the best member. */
NNSPEC_API nnspec_status nnspec_model_load_best(const char* store_path, const char* study, const char* sweep,
                                                nnspec_model** out);

/* ---- Stores: what runs recorded ---------------------------------------------------- */

typedef struct nnspec_store nnspec_store;
typedef struct nnspec_trials nnspec_trials;

/* Opens an existing store (a missing file is NNSPEC_STATUS_BAD_INPUT, not created). */
NNSPEC_API nnspec_status nnspec_store_open(const char* path, nnspec_store** out);
NNSPEC_API void nnspec_store_free(nnspec_store* store);

typedef struct nnspec_study {
  int64_t id;
  const char* name; /* the spec's experiment name */
  const char* spec_hash;
  const char* created_at; /* UTC, ISO 8601 */
} nnspec_study;

/* The studies as of nnspec_store_open, oldest first. */
NNSPEC_API nnspec_status nnspec_store_study_count(const nnspec_store* store, int64_t* out);
NNSPEC_API nnspec_status nnspec_store_study(const nnspec_store* store, int64_t index, nnspec_study* out);
/* The id of the newest study named `name`. */
NNSPEC_API nnspec_status nnspec_store_find_study(const nnspec_store* store, const char* name, int64_t* id);

/* The trials of a study, in the order they were first begun (a snapshot). */
NNSPEC_API nnspec_status nnspec_store_trials(nnspec_store* store, int64_t study_id, nnspec_trials** out);
NNSPEC_API void nnspec_trials_free(nnspec_trials* trials);

typedef struct nnspec_trial {
  int64_t id;
  const char* sweep;
  const char* point;
  int64_t fold;
  int64_t replicate;
  const char* status; /* "queued", "running", "finished", "failed", "pruned" */
  const char* reason; /* why it failed; "" otherwise */
  double seconds;     /* -1 while running */
  int64_t param_count;
  int64_t metric_count; /* final metrics; 0 unless finished */
} nnspec_trial;

NNSPEC_API nnspec_status nnspec_trials_count(const nnspec_trials* trials, int64_t* out);
NNSPEC_API nnspec_status nnspec_trials_get(const nnspec_trials* trials, int64_t index, nnspec_trial* out);
NNSPEC_API nnspec_status nnspec_trials_param(const nnspec_trials* trials, int64_t index, int64_t param_index,
                                             const char** name, const char** value);
NNSPEC_API nnspec_status nnspec_trials_metric(const nnspec_trials* trials, int64_t index, int64_t metric_index,
                                              nnspec_metric* out);
NNSPEC_API nnspec_status nnspec_trials_find_metric(const nnspec_trials* trials, int64_t index, const char* name,
                                                   double* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NNSPEC_NNSPEC_H */
