#pragma once
// A spec opened through the C API: its text, overrides and chosen sweeps, and the result
// of the last check as plain records (diagnostics, plan text, per-sweep numbers). The
// checked spec is kept so the data a sweep trains on can be loaded afterwards.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/driver/overrides.h"
#include "nnspec/nnspec.h"

namespace nnspec::api {

struct NoteRecord {
  int64_t line = 0;
  int64_t column = 0;
  int64_t end_column = 0;
  std::string message;
};

struct DiagnosticRecord {
  std::string file;
  int64_t line = 0;  // 0: no place in the file
  int64_t column = 0;
  int64_t end_line = 0;
  int64_t end_column = 0;
  nnspec_severity severity = NNSPEC_SEVERITY_ERROR;
  std::string message;
  std::string hint;
  std::vector<NoteRecord> notes;
};

struct SweepRecord {
  std::string name;
  std::string method;
  std::string objective;
  bool maximize = true;
  int64_t points = 0;
  int64_t folds = 1;
  int64_t replicates = 1;
  int64_t trials = 0;
  int64_t epochs = 0;
  std::string split;  // the split its trials train on
};

// Rows of one split role, transforms applied, copied out of the data set.
struct DataRows {
  int64_t rows = 0;
  int64_t features = 0;
  int64_t target_width = 1;
  std::vector<float> inputs;
  std::vector<float> targets;
};

struct CheckResult {
  bool ok = false;
  std::vector<DiagnosticRecord> diagnostics;
  std::string diagnostics_text;
  std::string plan_text;
  std::vector<SweepRecord> sweeps;
};

class SpecCheck {
 public:
  // `path` is where diagnostics say the text came from; `from_file` tells whether a run
  // can read the spec from there.
  SpecCheck(std::string path, std::string text, bool from_file);
  ~SpecCheck();
  SpecCheck(const SpecCheck&) = delete;
  SpecCheck& operator=(const SpecCheck&) = delete;

  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  bool fromFile() const { return from_file_; }

  void setOverride(std::string name, std::string value);
  void clearOverrides();
  const std::vector<driver::Override>& overrides() const { return overrides_; }
  void selectSweep(std::string name);
  void clearSweeps();
  const std::vector<std::string>& sweeps() const { return sweeps_; }

  // Parses and checks with the current overrides and sweeps; replaces the last result.
  const CheckResult& check();
  // The last check; nullopt before the first or after a change.
  const std::optional<CheckResult>& result() const { return result_; }

  // The rows of `role` ("train", "val", "test") of `sweep` ("" = the first). Needs a
  // successful check. nullopt with `status`/`error` set when it cannot.
  std::optional<DataRows> loadData(const std::string& sweep, const std::string& role, nnspec_status* status,
                                   std::string* error);

  // The source file, diagnostics engine and checked spec of the last check.
  struct Checked;

 private:
  void invalidate();

  std::string path_;
  std::string text_;
  bool from_file_ = false;
  std::vector<driver::Override> overrides_;
  std::vector<std::string> sweeps_;
  std::unique_ptr<Checked> checked_;
  std::optional<CheckResult> result_;
};

}  // namespace nnspec::api
