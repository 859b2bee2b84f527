#pragma once
// Trained models in a store: which trials a run keeps the tensors of (`keep all | best |
// none`), and loading a kept model back: the study's spec text and overrides are checked
// again, the trial's sweep point is found (grid points by their key, random/TPE draws
// rebuilt from their stored params), compiled by the pipeline, and the stored tensors
// are copied in.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/driver/load.h"
#include "compiler/driver/predictor.h"
#include "compiler/sema/checked_spec.h"
#include "runtime/store/store.h"
#include "runtime/sweep/ranking.h"

namespace nnspec::driver {

// The best point of a sweep and its trials, as the run ranked them (rt::rankSweep).
struct BestTrials {
  std::string point;            // its key
  std::vector<size_t> members;  // finished folds and replicates, best objective first (rows)
  std::optional<size_t> refit;  // its finished refit (rows)
};

// The point a sweep refits and ensembles (the best whose trials all finished, else the
// best); nullopt when no point has a finished trial.
std::optional<BestTrials> bestTrialsOf(const sema::SweepPlan& plan, const std::vector<rt::TrialRow>& rows);

// After a run of `spec`'s sweeps: drops the trained tensors of the finished trials that
// spec.keep does not keep. Returns the summary line (what was kept and its size) or,
// on a store failure, sets `error`.
std::string applyKeepPolicy(rt::Store& store, const sema::CheckedSpec& spec, const std::vector<rt::TrialRow>& rows,
                            std::string* error);

// Which model of a store: a trial by id, or the best of a sweep (its refit if any, else
// all its members when the sweep has an ensemble, else its best trial).
struct ModelSelector {
  std::optional<int64_t> trial;
  std::string sweep;  // with best: "" = the study's only sweep
  std::string study;  // "" = the store's only experiment (its newest study)
};

// A loaded model with the checked spec it came from.
struct StoredModel {
  std::unique_ptr<SpecSession> session;  // owns the checked spec
  const sema::CheckedSpec* spec = nullptr;
  const sema::SweepPlan* plan = nullptr;
  sema::Point point;                    // the trial's sweep point
  const sema::DataSet* data = nullptr;  // the data its training split reads
  std::vector<rt::TrialRow> trials;     // the members, best first
  std::unique_ptr<Predictor> predictor;
  std::string description;  // "trial 7 (sweep cnn, point ...)" or "mean of the 5 models of ..."
};

struct LoadFailure {
  int exit_code = 2;
  std::string message;     // "error: ...\nhint: ...\n"
  bool not_found = false;  // no such study, sweep or trial, or no weights kept for it
};

std::variant<StoredModel, LoadFailure> loadStoredModel(const std::string& store_path, const ModelSelector& selector,
                                                       const rt::DataPaths& data_paths);

}  // namespace nnspec::driver
