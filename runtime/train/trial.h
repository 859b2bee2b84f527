#pragma once
// Trains one trial: a compiled model, its data and its settings. Runs the JIT'd train
// step over seeded minibatches, evaluates every epoch, stops early when told to, and
// records a loss that turns NaN or infinite as a failed trial with the epoch and reason.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/abi/step_abi.h"
#include "runtime/data/dataset.h"
#include "runtime/exec/compiled_step.h"
#include "runtime/exec/step_runner.h"
#include "runtime/train/epoch_record.h"
#include "runtime/train/moving_stats.h"
#include "runtime/train/param_init.h"
#include "runtime/train/schedule.h"

namespace nnspec::rt {

// A model compiled for one batch size, and for the last partial batch when the
// training set does not divide evenly.
struct CompiledModel {
  std::shared_ptr<const CompiledStep> full;
  std::shared_ptr<const CompiledStep> remainder;  // null when not needed
  int64_t batch = 0;
  int64_t remainder_batch = 0;
  int64_t features = 0;
  int64_t output_width = 0;
  bool classification = true;
  std::vector<ParamInit> inits;
  std::vector<std::pair<std::string, float>> hyper_values;
  NnspecOptimizerParams optimizer{};  // lr: the base learning rate the schedule starts from
  LrSchedule schedule;                 // applied at the start of every epoch
  std::vector<MovingStats> moving_stats;  // batch normalization: updated after every step
};

// Samples of one role: positions into a data set.
struct DataView {
  const Dataset* data = nullptr;
  std::vector<int64_t> indices;
  bool empty() const { return data == nullptr || indices.empty(); }
};

struct StopRule {
  std::string metric;  // e.g. val.loss
  double tol = 0;
  int64_t patience = 1;
};

struct TrialSettings {
  int64_t epochs = 1;
  bool shuffle = true;
  uint64_t seed = 0;
  // The seed of the batch order (shuffling); 0: derived from `seed`. Trials given one
  // data seed and one training set draw the same batches (sweep fusion shares them).
  uint64_t data_seed = 0;
  std::optional<StopRule> stop;
  bool evaluate = true;  // evaluate on val/test at all (benchmarks turn it off)
  // train.loss, train.accuracy and train.error are those of the training pass itself
  // (running means over the epoch's batches, in training mode, as Keras reports them): no
  // extra pass over the training set. The held-out splits cost a pass each, so they are
  // evaluated each epoch only when asked: val (val_each_epoch) or, for a trial without a
  // val split, test (test_each_epoch). Otherwise val is evaluated after the last epoch
  // (so the final metrics hold it) and test once at the end. A stop rule on a val or test
  // metric evaluates that split every epoch regardless.
  bool val_each_epoch = true;
  bool test_each_epoch = true;
  // How many threads the trial's kernels may use for the next batch, asked before each
  // batch (runtime/kernels/thread_team.h): a run gives a trial the cores no other trial
  // uses. Empty: one. The numbers do not depend on it.
  std::function<int()> kernel_threads;
  bool keep_test_predictions = false;  // for ensembles: the final model's outputs on test
  bool keep_val_predictions = false;   // for reports: the final model's outputs on val
  bool keep_parameters = false;        // for reports: the final weights (TrialResult::parameters)
  // Metrics beyond loss and accuracy on the held-out splits (runtime/train/metrics.h).
  std::vector<std::string> extra_metrics;
  // A checkpoint (TrialCallbacks::on_checkpoint) of this trial to continue from; empty:
  // start from scratch. One that does not parse or was made for other settings or another
  // model is rejected (TrialCallbacks::on_resume_rejected) and the trial starts from scratch.
  std::vector<uint8_t> resume;
  // Also checkpoint between batches once this many seconds passed since the last
  // checkpoint (for long epochs); 0: only at the end of each epoch.
  double checkpoint_seconds = 0;
  // Checkpoint at an epoch's end only once this many seconds passed since the last
  // checkpoint (the start counts as one), so that short epochs do not pay for a
  // checkpoint each; 0: at the end of every epoch. A trial stopped by should_stop is
  // checkpointed where it stopped.
  double epoch_checkpoint_seconds = 0;
  // A limit on the trial's training time (seconds, counting a run a resume continued),
  // checked before each batch: a trial that reaches it ends as TrialEnd::kTimedOut with
  // the epochs it finished. 0: none. In a fused group the clock is the group's.
  double time_limit_seconds = 0;
};

// kStopped: TrialCallbacks::should_stop asked to stop (a cancelled run); nothing is final.
// kTimedOut: TrialSettings::time_limit_seconds was reached; failed_epoch holds the epochs
// finished, final_metrics the last one's (empty when none finished).
enum class TrialEnd { kFinished, kFailed, kPruned, kStopped, kTimedOut };

struct TrialResult {
  TrialEnd end = TrialEnd::kFinished;
  std::string reason;         // why it failed
  int64_t failed_epoch = 0;   // or the epoch at which it was pruned
  std::vector<EpochRecord> epochs;
  std::map<std::string, double> final_metrics;  // the last epoch's, plus test.*
  int64_t stopped_epoch = 0;  // when early stopping ended it, else 0
  std::vector<float> test_predictions;  // rows x output width, when asked for
  std::vector<float> val_predictions;   // likewise, of the final model on val
  std::vector<KeptParameter> parameters;  // the final weights, when asked for
  std::vector<KeptParameter> states;      // and the state leaves (batchnorm moving statistics)
  double seconds = 0;                     // training time, including the run a resume continued
  int64_t resumed_epoch = 0;  // settings.resume was used: the epochs it had completed
  std::string resume_problem;  // settings.resume was rejected: why (the trial started from scratch)
};

struct TrialCallbacks {
  // After each batch: batch number (1-based), batches per epoch, running mean loss.
  std::function<void(int64_t epoch, int64_t batch, int64_t batches, double loss)> on_batch;
  // After each step: its data loss (the batch's mean), as the step returned it.
  std::function<void(int64_t epoch, int64_t batch, float loss)> on_step;
  std::function<void(const EpochRecord& record, int64_t epochs)> on_epoch;
  // After each epoch's record: true stops the trial as pruned (a pruner's verdict).
  std::function<bool(const EpochRecord& record)> should_prune;
  // Before each batch: true ends the trial at once as TrialEnd::kStopped.
  std::function<bool()> should_stop;
  // The trial's whole state (runtime/train/checkpoint.h) to continue from, with the number
  // of epochs it has completed: after each epoch, right after on_epoch for it (a caller
  // stores that epoch's record and these bytes together), and between batches when
  // TrialSettings::checkpoint_seconds says so. Before should_prune: a resumed trial asks
  // should_prune again about the epochs it restores, in order, so a pruner's verdict (and
  // its view of the curve) is the one an uninterrupted run gets.
  std::function<void(int64_t epoch, const std::vector<uint8_t>& bytes)> on_checkpoint;
  // TrialSettings::resume could not be used; the trial starts from scratch. Called before
  // anything trains.
  std::function<void(const std::string& problem)> on_resume_rejected;
};

// Fills every parameter of `runner` as `inits` says (by name; zeros for one not named),
// each from its own stream derived from `seed`: Glorot uniform U(±sqrt(6/(fan_in+fan_out))),
// He uniform U(±sqrt(6/fan_in)), He normal N(0, 2/fan_in) (Keras' he_normal draws from a
// truncated normal; this one does not truncate, as PyTorch's kaiming_normal_).
void initializeParameters(StepRunner& runner, const std::vector<ParamInit>& inits, uint64_t seed);

// Metrics of a model on `view`: loss and, for classes, accuracy and error.
// `predictions`, when given, receives the outputs of every sample of `view`, in order.
// `extra` names further metrics to compute there (runtime/train/metrics.h: f1_macro, ...).
std::map<std::string, double> evaluateModel(const CompiledModel& model, StepRunner& runner, const DataView& view,
                                            const std::string& prefix, std::vector<float>* predictions = nullptr,
                                            const std::vector<std::string>& extra = {});

// The seed of a trial's batch order: settings.data_seed, or one derived from its seed.
uint64_t batchSeed(const TrialSettings& settings);

TrialResult runTrial(const CompiledModel& model, const DataView& fit, const DataView& val, const DataView& test,
                      const TrialSettings& settings, const TrialCallbacks& callbacks = {});

// One trial of a fused group: what runTrial takes.
struct GroupMember {
  const CompiledModel* model = nullptr;
  DataView fit;
  DataView val;
  DataView test;
  TrialSettings settings;
  TrialCallbacks callbacks;
};

struct GroupRun {
  std::vector<TrialResult> results;  // per member, in order
  int64_t fused_steps = 0;           // calls of the fused step
  int64_t own_steps = 0;             // members' own steps after the group dissolved
};

// Sweep fusion: trains the members together, one call of `fused` (a step of
// members.size() points, compiler/lowering/fuse_points.h) per full batch, each member
// with its own batches, optimizer numbers, schedule, early stopping, pruning,
// checkpoints and callbacks; each member's results are those runTrial gives it alone.
// `input_classes` (one per member, numbered 0, 1, ... in order of first use, as the step
// was compiled): the members of one class draw the same batches (one data order: equal
// batch seeds and training rows), and the step reads the batch of the class's first
// member still training. The partial last batch of an epoch and the evaluations run on
// each member's own compiled model. A member that fails, stops early or is pruned leaves
// the group; the others go on, fused while more than half of the members train, then
// each with its own step. Members must share the batch size, the training set's
// size and their inputs' shapes; a resumed member that stands at another position than
// the others trains alone afterwards.
GroupRun runTrialGroup(std::shared_ptr<const CompiledStep> fused, const std::vector<int>& input_classes,
                       const std::vector<GroupMember>& members);

}  // namespace nnspec::rt
