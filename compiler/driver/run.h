#pragma once
// `nnspec run`: checks a spec, compiles every sweep point's model, trains every trial,
// keeps each result in the store as it finishes, and prints a ranked table.

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/driver/overrides.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/lowering/lower_model.h"
#include "compiler/sema/checked_spec.h"
#include "runtime/store/store.h"
#include "runtime/train/trial.h"

namespace nnspec::driver {

// What a run reports to an embedding tool as it goes (RunRequest::on_event).
struct RunEvent {
  enum class Kind { kTrialStarted, kEpoch, kTrialEnded };
  Kind kind = Kind::kTrialStarted;
  std::string sweep;  // "" for the unnamed sweep
  std::string point;  // the point's key, e.g. "hidden=[50], lr=0.1"
  int64_t fold = 0;   // -1: a refit on all training data
  int64_t replicate = 0;
  int64_t trial_index = 0;   // 1-based, within the sweep's trials
  int64_t trials_total = 0;
  int64_t epoch = 0;  // kEpoch: the epoch just finished (1-based)
  int64_t epochs = 0;
  std::map<std::string, double> metrics;  // kEpoch: that epoch's; kTrialEnded: the final ones
  std::string status;  // kTrialEnded: "finished", "failed", "pruned", "skipped" or "stopped"
};

// A trial trained in this process, handed to RunRequest::on_trained when it finishes: its
// model's configuration and compiled steps, and the trained parameters and state leaves.
// Networks only: an svm trial (libsvm's model, no compiled steps) is not handed over.
struct TrainedTrial {
  std::string sweep;
  std::string point;
  int64_t fold = 0;
  int64_t replicate = 0;
  const sema::TrainConfig* config = nullptr;  // valid during the call
  const rt::CompiledModel* model = nullptr;   // valid during the call; copy what is kept
  const rt::TrialResult* result = nullptr;    // parameters and states are filled
};

struct RunRequest {
  CheckRequest check;
  std::string store_path;  // "" = next to the spec
  std::vector<Override> overrides;
  std::vector<std::string> sweeps;  // run only these sweeps (names; empty = all)
  int64_t jobs = 1;        // trials run at once; results do not depend on it
  // CPUs the run's kernels may use in all (0: those this process may run on): a trial
  // running alone, or with fewer others than CPUs, splits its GEMMs across the rest.
  // Results do not depend on it.
  int64_t threads = 0;
  bool quiet = false;      // no progress lines
  bool live = false;       // redraw the progress display in place (a terminal)
  bool write_report = true;  // write the HTML report of the spec's `report` block after the run
  std::string report_path;   // "" = beside the store (x.store.sqlite -> x.report.html)
  // Embedding hooks. Called from the trial threads, one call at a time (a run serializes
  // them), so they need no locking of their own but must not block for long.
  std::function<void(const RunEvent&)> on_event;
  std::function<void(const TrainedTrial&)> on_trained;
  // When set and true, the run stops before the next batch: running trials are handed
  // back to the study's queue (another worker, or a rerun, continues them from their
  // checkpoints), nothing else starts, and runFile returns `cancel_code` (130 unless the
  // caller says otherwise, e.g. 128 + the signal that stopped it).
  const std::atomic<bool>* cancel = nullptr;
  const std::atomic<int>* cancel_code = nullptr;
  // This process as a worker of the study (name, lease timeout, attempts).
  rt::WorkerSettings worker;
  // Run a spec whose text differs from the one the store's study of that name was
  // created by (as a new version of the study) instead of refusing.
  bool force = false;
  // A trial is checkpointed at an epoch's end once this many seconds passed since its last
  // checkpoint (0: after every epoch); long epochs also every 60 s inside. A killed or
  // stopped trial continues from its last checkpoint.
  double epoch_checkpoint_seconds = 5;
  // The JIT the run compiles with; null: one of its own. Compiled code lives as long as
  // its JIT, so a tool that keeps the models handed to on_trained passes one it keeps.
  std::shared_ptr<jit::JitCompiler> jit;
};

// A point key as the terminal shows it: decimals that carry float noise from arithmetic
// (linspace's 0.0005005000000000001) shortened to 6 significant digits. Keys in the store
// keep their full text (they identify trials on resume).
std::string displayPoint(const std::string& key);

// Writes progress and the final table to `out` as it goes; diagnostics and errors come
// back in Outcome::err. Exit code 0 when every trial finished, 1 when some failed, 2 for
// bad input (spec, data, flags), 3 for internal errors.
Outcome runFile(const RunRequest& request, std::FILE* out);

// Draws every recorded draw of the spec's random and TPE sweeps again from the history it
// saw (the store keeps both) and compares: exit 0 when all are equal, 1 otherwise.
Outcome replayFile(const RunRequest& request);

}  // namespace nnspec::driver
