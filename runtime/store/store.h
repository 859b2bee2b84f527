#pragma once
// The result store: the studies run from specs, their trials (params, seed, status,
// reason, timings), per-epoch metrics and final metrics. Two backends hold it behind
// one schema (schema.cpp): an SQLite file (the default, one machine) or a PostgreSQL
// database (`postgresql://user@host:port/db`, a study shared by workers on many
// machines). Credentials come from libpq's environment (PGPASSWORD, PGPASSFILE, service
// files), never from the URL.
//
// Workers: every process running a study joins it as a worker (joinStudy), with a
// heartbeat written with the database's clock. Trials may be queued up front
// (enqueueTrials) and are claimed one at a time (claimTrial, or beginTrial of a key): the
// claim is a lease that lasts while the worker's heartbeat is fresh. Epochs and results
// are written only while the lease holds. A trial whose worker fell silent for longer
// than the lease timeout, or whose process is gone from this host, is reclaimed by the
// next claim and continued from its checkpoint, at most `max_attempts` times; every
// attempt is kept (listAttempts). releaseTrial hands a trial back at once (a worker
// told to stop).
//
// Resuming: a trial is identified by (study, sweep, point key, fold, replicate).
// beginTrial() on a trial that ended earlier (finished, failed or pruned) says so and
// changes nothing, and the caller skips it; on a trial still marked running, which only
// a killed or crashed process leaves behind, the caller runs it again: from its last
// checkpoint when it has one (its epochs up to the checkpoint's are kept, later ones and
// everything else that run recorded are cleared, and TrialStart::checkpoint hands the
// checkpoint back), else from scratch (everything that run recorded is cleared).
//
// Durability: every write call is one transaction in WAL mode with synchronous=NORMAL,
// so a killed process loses at most the call in flight — never a finished trial. (Power
// loss may lose the last few commits; that needs synchronous=FULL.)
//
// Threads: a Store is one connection guarded by a mutex inside; every call may be made
// from any thread and calls are serialised. Trials running in parallel threads can share
// one Store (each write is short). Several processes may open the same file; the busy
// timeout makes one wait while another writes.
//
// Errors are values: every call returns StoreResult<T> (runtime/store/store_error.h).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/store/store_error.h"

namespace nnspec::rt {

// kTimedOut: the trial reached its per-trial time limit (`trial_timeout`); it keeps the
// epochs it finished and their metrics, and is not rerun.
enum class TrialStatus { kRunning, kFinished, kFailed, kPruned, kQueued, kTimedOut };

// "running", "finished", "failed", "pruned", "queued", "timed_out" (as stored).
std::string_view statusName(TrialStatus status);

// Metric name → value, e.g. {"loss", 0.31}, {"val_accuracy", 0.92}. NaN round-trips.
using Metrics = std::map<std::string, double>;

struct Param {
  std::string name;   // e.g. "lr"
  std::string value;  // canonical text, e.g. "0.001" or "relu"
  bool operator==(const Param&) const = default;
};

struct TrialKey {
  std::string sweep;      // the sweep's name in the spec ("" when the spec has one run)
  std::string point_key;  // canonical text of the point's params, made by the caller
  int fold = 0;           // k-fold index (0 without cross-validation)
  int replicate = 0;      // replicate index (0 without replicates)
  bool operator==(const TrialKey&) const = default;
};

struct Study {
  int64_t id = 0;
  bool resumed = false;        // this name and spec hash were opened before
  int64_t other_versions = 0;  // studies of this name with another spec hash (edited spec)
};

struct TrialHandle {
  int64_t id = 0;
};

// A running trial's last checkpoint: the trainer's serialized state (runtime/train/
// checkpoint.h) once `epoch` epochs were completed (at that epoch's end, or inside the next).
struct Checkpoint {
  int epoch = 0;
  std::vector<uint8_t> bytes;
};

struct TrialStart {
  TrialHandle handle;
  TrialStatus status = TrialStatus::kRunning;  // kRunning: run it; otherwise it ended before
  bool interrupted = false;                    // a killed run had left it running
  // An interrupted trial's checkpoint to continue from: its epochs 1 .. checkpoint->epoch
  // were kept. Without one, everything the killed run recorded was cleared.
  std::optional<Checkpoint> checkpoint;
  // A checkpoint there was but could not serve (damaged, or the epochs it follows are
  // missing): why. The trial was cleared to start from scratch.
  std::string checkpoint_problem;
  // Running in another worker whose lease holds: not this caller's to run.
  bool held_elsewhere = false;
  bool shouldRun() const { return status == TrialStatus::kRunning && !held_elsewhere; }
};

// How this process takes part in a study (joinStudy).
struct WorkerSettings {
  std::string name;                    // shown by `nnspec status`; "" = host:pid
  double lease_timeout_seconds = 60;   // silent longer: its trials are reclaimed
  double heartbeat_seconds = 0;        // 0 = a sixth of the lease timeout
  int max_attempts = 3;                // claims of a trial before a lost one is failed
};

// A trial this worker claimed: run it (begin it with beginTrial of its key).
struct Claim {
  TrialHandle handle;
  TrialKey key;
  int attempt = 1;
};

struct WorkerRow {
  int64_t id = 0;
  std::string name;
  std::string host;
  int64_t pid = 0;
  std::string state;  // active, done, released, lost
  std::string started_at;
  double heartbeat_age = 0;  // seconds since its last heartbeat, by the database's clock
  int64_t running = 0;       // trials it holds now
};

struct AttemptRow {
  int64_t trial_id = 0;
  int attempt = 0;
  std::string worker;  // its name ("" when unknown)
  int from_epoch = 0;
  std::string outcome;  // running, finished, failed, pruned, released, lost
  std::string started_at;
  std::string ended_at;
};

// A draw of a random or TPE sweep and the history the sampler saw.
struct DrawRow {
  std::string sweep;
  int64_t number = 0;
  std::string point_key;
  std::string params;   // "name=value" per line
  std::string history;  // see runtime/sweep/draw_history.h
};


struct StudyRow {
  int64_t id = 0;
  std::string name;
  std::string spec_hash;
  std::string created_at;  // UTC, ISO 8601
};

struct TrialRow {
  int64_t id = 0;
  int64_t study_id = 0;
  TrialKey key;
  std::vector<Param> params;  // in the order given to beginTrial
  uint64_t seed = 0;
  TrialStatus status = TrialStatus::kRunning;
  std::optional<int> end_epoch;   // the epoch at which it failed or was pruned; timed out: epochs it kept
  std::string reason;             // why it failed, e.g. "loss became nan at epoch 3"
  int attempts = 1;               // starts, counting runs that were interrupted
  Metrics final_metrics;          // empty unless finished
  std::optional<double> seconds;  // whole trial, once it ended
  std::string started_at;         // UTC, ISO 8601
  std::string ended_at;           // "" while running
};

// A model output kept with a trial, e.g. its predictions on the test split.
struct TrialOutput {
  std::string name;  // e.g. "test.predictions"
  int64_t rows = 0;
  int64_t width = 0;
  std::vector<float> values;  // rows * width, row-major
};

// A trained tensor of a kept model: a parameter ("dense1.kernel") or a state leaf
// ("batchnorm1.moving_mean"), row-major.
struct StoredTensor {
  std::string name;
  bool state = false;  // a state leaf, not a trainable parameter
  std::vector<int64_t> shape;
  std::vector<float> values;
};


// An output's size without its values (for listing what a trial kept).
struct OutputInfo {
  std::string name;
  int64_t rows = 0;
  int64_t width = 0;
};

// What a report needs to know about a study besides its trials (schema version 2;
// stores written before have none).
struct ReportItemRow {
  std::string name;         // e.g. "curves"
  std::vector<Param> args;  // e.g. {"y", "[val.accuracy]"}, values in spec syntax
};

struct SweepRow {
  std::string name;
  std::string method;              // grid, random, tpe
  std::vector<std::string> axes;   // swept params
  std::string objective;           // e.g. "val.accuracy"; "" when none
  bool maximize = true;
  int64_t folds = 1;
  int64_t replicates = 1;
  int64_t trials = 0;              // planned
  std::string model;               // the model's name
  std::vector<std::string> class_names;  // empty for regressions
};

struct StudyInfo {
  std::string spec_path;
  std::string spec_text;
  std::vector<std::string> overrides;  // "NAME=VALUE" of --set
  std::vector<ReportItemRow> report;
  std::vector<SweepRow> sweeps;
};

struct EpochRow {
  int epoch = 0;
  double seconds = 0;
  Metrics metrics;
};

struct TrialCounts {
  int64_t running = 0;
  int64_t finished = 0;
  int64_t failed = 0;
  int64_t pruned = 0;
  int64_t queued = 0;
  int64_t timed_out = 0;
  int64_t total() const { return running + finished + failed + pruned + queued + timed_out; }
};

// What a draw is made from, inside the study lock: the draws so far, the sweep's
// trials, and the last epoch of each pruned one.
struct DrawContext {
  std::vector<DrawRow> draws;
  std::vector<TrialRow> trials;
  std::map<int64_t, EpochRow> pruned_last_epochs;  // by trial id
};

// The drawer's answer: a new draw and the keys of its trials (the first is claimed), or
// nothing more to draw.
struct NewDraw {
  DrawRow draw;
  std::vector<TrialKey> trials;
};

// Where a spec's results go unless --store says otherwise: beside the spec, named after
// it ("specs/mnist.nnspec" → "specs/mnist.store.sqlite").
std::string defaultStorePath(const std::string& spec_path);

class Store {
 public:
  // Opens or creates the store at `location`, a file path or a postgresql:// URL:
  // creates or migrates its schema, turns on WAL (SQLite). Refuses, leaving the store as
  // it was, a file that is not a database, another program's database, a store from a
  // newer nnspec, or a URL holding a password.
  static StoreResult<Store> open(const std::string& location);
  // For reading an existing store (status, export, report, predict): open(), unless this
  // process may not write the file or its folder; then read-only (SQLite), so that a
  // store on a read-only disk or of another user can still be read. Writing to a store
  // opened read-only fails with the database's error.
  static StoreResult<Store> openForReading(const std::string& location);

  // Movable, not copyable; a moved-from Store may only be destroyed or assigned to.
  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  // The file, or the URL (which never holds a password).
  const std::string& path() const;

  // The study for this spec: the same name and hash reopens it (resume); a new hash
  // starts a new study beside the old ones, which are kept.
  StoreResult<Study> openStudy(std::string_view name, std::string_view spec_hash);
  StoreResult<std::vector<StudyRow>> listStudies();

  // Starts a trial, or tells that it ended in an earlier run (see the top of this file).
  // Parameter names must be distinct. A rerun of an interrupted trial takes the params
  // and seed given now.
  StoreResult<TrialStart> beginTrial(int64_t study_id, const TrialKey& key, const std::vector<Param>& params,
                                     uint64_t seed);

  // Each of these is one transaction, and needs the trial to be running.
  StoreResult<void> recordEpoch(TrialHandle trial, int epoch, const Metrics& metrics, double seconds);
  // The epoch and the checkpoint taken after it (checkpoint.epoch == epoch), replacing the
  // one before, in one transaction: after a kill the kept epochs and the checkpoint agree.
  StoreResult<void> recordEpoch(TrialHandle trial, int epoch, const Metrics& metrics, double seconds,
                                const Checkpoint& checkpoint);
  // Several epochs (in order) and, when given, the checkpoint taken after the last of them
  // (or inside the epoch after it), in one transaction: a worker writes a trial's epochs
  // with its checkpoints, not one round trip each.
  StoreResult<void> recordEpochs(TrialHandle trial, const std::vector<EpochRow>& epochs,
                                 const Checkpoint* checkpoint);
  // Clears what a running trial recorded (epochs, checkpoint, outputs, tensors): its
  // checkpoint was refused by the trainer and it starts from scratch.
  StoreResult<void> restartTrial(TrialHandle trial);
  // Saves (or replaces) an output of a running trial; write it before finishTrial.
  StoreResult<void> saveOutput(TrialHandle trial, const TrialOutput& output);
  StoreResult<std::optional<TrialOutput>> readOutput(TrialHandle trial, std::string_view name);
  StoreResult<std::vector<OutputInfo>> listOutputs(TrialHandle trial);
  // A trained model's tensors (replacing any kept before), compressed; readTensors gives
  // them back in the order saved, empty when the trial kept none. dropTensors forgets them
  // (a `keep best` store after the run).
  StoreResult<void> saveTensors(TrialHandle trial, const std::vector<StoredTensor>& tensors);
  StoreResult<std::vector<StoredTensor>> readTensors(TrialHandle trial);
  StoreResult<void> dropTensors(TrialHandle trial);
  // The running trial's checkpoint (replacing the one before), e.g. one taken inside an
  // epoch; beginTrial hands it back on a rerun of an interrupted trial; dropped when the
  // trial ends.
  StoreResult<void> saveCheckpoint(TrialHandle trial, const Checkpoint& checkpoint);
  StoreResult<std::optional<Checkpoint>> readCheckpoint(TrialHandle trial);
  StoreResult<void> dropCheckpoint(TrialHandle trial);
  StoreResult<void> finishTrial(TrialHandle trial, const Metrics& final_metrics, double seconds);
  StoreResult<void> failTrial(TrialHandle trial, int epoch, std::string_view reason, double seconds);
  StoreResult<void> pruneTrial(TrialHandle trial, int epoch, double seconds);
  // Ends a trial that reached its time limit after `epochs` finished epochs; `final_metrics`
  // are those of the last of them (empty when none finished).
  StoreResult<void> timeOutTrial(TrialHandle trial, int epochs, const Metrics& final_metrics, double seconds);

  // ---- workers (see the top of this file) ----
  // Registers this process as a worker of the study and starts its heartbeat (a thread
  // that writes it every heartbeat_seconds until leaveStudy or destruction).
  StoreResult<int64_t> joinStudy(int64_t study_id, const WorkerSettings& settings);
  // Stops the heartbeat and marks the worker done, or released (stopped by a signal).
  StoreResult<void> leaveStudy(bool released);
  // Queues trials not in the store yet, in this order after those queued before.
  StoreResult<void> enqueueTrials(int64_t study_id, const std::vector<TrialKey>& keys);
  // The first queued trial of `sweep`, or a running one whose lease lapsed; nullopt when
  // there is none now. A lapsed trial lost max_attempts times is failed, not claimed.
  StoreResult<std::optional<Claim>> claimTrial(int64_t study_id, std::string_view sweep);
  // Under the study lock: claims as claimTrial does, else asks `draw` for a new draw,
  // records it with its history, queues its trials and claims the first. `draw` runs
  // with the store locked and must not call it; nullopt from it: nothing left to draw.
  // `first_trial_gates` (a pruned sweep): a point's queued trials other than its first
  // fold and replicate are claimable only once that first trial finished or failed, so
  // a worker draws a new point rather than train folds of one that may yet be pruned.
  StoreResult<std::optional<Claim>> claimOrDraw(int64_t study_id, std::string_view sweep,
                                                const std::function<std::optional<NewDraw>(const DrawContext&)>& draw,
                                                bool first_trial_gates = false);
  // The best final value of `metric` among the finished trials of `sweep` (largest when
  // `maximize`); nullopt when none has one.
  StoreResult<std::optional<double>> bestFinal(int64_t study_id, std::string_view sweep, std::string_view metric,
                                               bool maximize);
  // Trials of `sweep` (all sweeps for "") queued, or running in a worker whose lease
  // holds: while there are, a worker with nothing to claim waits.
  StoreResult<int64_t> countUnfinished(int64_t study_id, std::string_view sweep);
  // Removes the queued trials of a point (one of its trials was pruned); how many.
  StoreResult<int64_t> dropQueued(int64_t study_id, std::string_view sweep, std::string_view point_key);
  // Hands a claimed trial back to the queue at once, keeping its epochs and checkpoint.
  StoreResult<void> releaseTrial(TrialHandle trial);
  // Whether this process still holds the trial's lease (false once another worker
  // reclaimed it: the trial is then not this process's to write).
  bool holdsLease(TrialHandle trial) const;
  StoreResult<std::vector<WorkerRow>> listWorkers(int64_t study_id);
  StoreResult<std::vector<AttemptRow>> listAttempts(int64_t study_id);
  StoreResult<std::vector<DrawRow>> listDraws(int64_t study_id);

  // Calls made through this Store and the time spent in them (waiting for the lock
  // included), heartbeats counted: what the store costs a run.
  struct Usage {
    int64_t calls = 0;
    double seconds = 0;
  };
  Usage usage() const;

  // Trials of a study in the order they were first begun.
  StoreResult<std::vector<TrialRow>> listTrials(int64_t study_id);
  StoreResult<TrialRow> readTrial(TrialHandle trial);
  // Epochs of a trial, by epoch number.
  StoreResult<std::vector<EpochRow>> listEpochs(TrialHandle trial);
  StoreResult<TrialCounts> countTrials(int64_t study_id);

  // The spec and report items of a study are replaced; its sweeps are added or replaced
  // by name (a run of some sweeps keeps what earlier runs said of the others).
  StoreResult<void> saveStudyInfo(int64_t study_id, const StudyInfo& info);
  // nullopt when no run recorded it (e.g. a store written by an older nnspec).
  StoreResult<std::optional<StudyInfo>> readStudyInfo(int64_t study_id);

 private:
  struct State;
  explicit Store(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace nnspec::rt
