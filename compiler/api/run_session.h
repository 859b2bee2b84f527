#pragma once
// A run started through the C API: what to run (the spec's path or text, overrides,
// sweeps) and how (store, jobs, progress callback, which models to keep), over
// driver::runFile. Keeps the models trained in this process for prediction.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compiler/api/spec_check.h"
#include "compiler/driver/predictor.h"
#include "compiler/driver/overrides.h"
#include "nnspec/nnspec.h"

namespace nnspec::driver {
struct RunEvent;
struct TrainedTrial;
}  // namespace nnspec::driver

namespace nnspec::api {

using driver::TrainedModel;

struct RunSpec {
  std::string path;  // the spec file; for a spec given as text, its diagnostics name
  std::string text;  // used when !from_file: written to a temporary file for the run
  bool from_file = true;
  std::vector<driver::Override> overrides;
  std::vector<std::string> sweeps;
  std::vector<SweepRecord> plans;  // the checked sweeps (objectives for "best")
  std::string store_path;
};

class RunSession {
 public:
  explicit RunSession(RunSpec spec);
  ~RunSession();
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  void setJobs(int64_t jobs) { jobs_ = jobs; }
  void setProgress(nnspec_progress_fn callback, void* user_data);
  void setKeep(nnspec_keep_models keep) { keep_ = keep; }
  void setWriteReport(bool write_report) { write_report_ = write_report; }

  // Runs the chosen sweeps, or only `sweep` when not empty. Returns the status and, when
  // not OK, sets `error` to what the run reported.
  nnspec_status execute(const std::string& sweep, std::string* error);
  void cancel() { cancel_.store(true); }

  // The kept models; valid to read when no execute is running.
  const std::vector<std::shared_ptr<const TrainedModel>>& models() const { return models_; }
  // The best kept model of `sweep` ("" = the only one run) by its objective; null when none.
  std::shared_ptr<const TrainedModel> best(const std::string& sweep, std::string* error) const;

 private:
  void onEvent(const driver::RunEvent& event);
  void onTrained(const driver::TrainedTrial& trial);
  const SweepRecord* plan(const std::string& sweep) const;
  bool better(const TrainedModel& candidate, const TrainedModel& incumbent) const;

  RunSpec spec_;
  int64_t jobs_ = 1;
  nnspec_progress_fn callback_ = nullptr;
  void* user_data_ = nullptr;
  nnspec_keep_models keep_ = NNSPEC_KEEP_ALL;
  bool write_report_ = false;
  std::atomic<bool> cancel_{false};
  std::string callback_error_;  // a C++ callback threw: the run is cancelled with this
  std::vector<std::shared_ptr<const TrainedModel>> models_;
  struct Shared;  // the JIT the run compiles with, kept for the models' code
  std::unique_ptr<Shared> shared_;
};

}  // namespace nnspec::api
