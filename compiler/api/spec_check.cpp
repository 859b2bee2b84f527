#include "compiler/api/spec_check.h"

#include <algorithm>
#include <functional>

#include "compiler/api/data_paths.h"
#include "compiler/api/large_stack.h"
#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/sema/check.h"
#include "compiler/support/diagnostics.h"
#include "compiler/support/source_file.h"

namespace nnspec::api {

struct SpecCheck::Checked {
  explicit Checked(const std::string& path, const std::string& text) : file(path, text), diagnostics(file) {}
  SourceFile file;
  DiagnosticEngine diagnostics;
  std::optional<driver::LoadedSpec> loaded;
  std::string error;  // loadSpec's message that has no place in the file
};

namespace {

DiagnosticRecord toRecord(const SourceFile& file, const Diagnostic& diagnostic) {
  DiagnosticRecord record;
  record.file = file.path();
  record.severity = diagnostic.severity == Severity::kError ? NNSPEC_SEVERITY_ERROR : NNSPEC_SEVERITY_WARNING;
  record.message = diagnostic.message;
  record.hint = diagnostic.hint;
  if (diagnostic.range.valid()) {
    const LineCol begin = file.lineCol(diagnostic.range.begin);
    const LineCol end = file.lineCol(diagnostic.range.end);
    record.line = begin.line;
    record.column = begin.column;
    record.end_line = end.line;
    record.end_column = end.column;
  }
  for (const auto& note : diagnostic.notes) {
    NoteRecord kept{0, 0, 0, note.message};
    if (note.range.valid()) {
      kept.line = file.lineCol(note.range.begin).line;
      kept.column = file.lineCol(note.range.begin).column;
      kept.end_column = file.lineCol(note.range.end).column;
    }
    record.notes.push_back(std::move(kept));
  }
  return record;
}

// loadSpec's own errors are text ("error: ...\nhint: ...\n"); one record with no place.
DiagnosticRecord recordOfText(const std::string& path, const std::string& text) {
  DiagnosticRecord record;
  record.file = path;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.rfind("error: ", 0) == 0 && record.message.empty()) {
      record.message = line.substr(7);
    } else if (line.rfind("hint: ", 0) == 0) {
      record.hint = line.substr(6);
    }
  }
  if (record.message.empty()) record.message = text;
  return record;
}

SweepRecord toRecord(const sema::SweepPlan& plan) {
  SweepRecord record;
  record.name = plan.name;
  record.method = plan.method;
  record.objective = plan.select_metric;
  record.maximize = plan.maximize;
  record.points = plan.points;
  record.folds = plan.folds;
  record.replicates = plan.replicates;
  record.trials = plan.trials();
  if (!plan.checked.empty()) {
    record.epochs = plan.checked.front().config.epochs;
    record.split = plan.checked.front().config.split;
  }
  return record;
}

CheckResult summarize(const SpecCheck::Checked& checked);

}  // namespace

SpecCheck::SpecCheck(std::string path, std::string text, bool from_file)
    : path_(std::move(path)), text_(std::move(text)), from_file_(from_file) {}

SpecCheck::~SpecCheck() = default;

void SpecCheck::invalidate() {
  checked_.reset();
  result_.reset();
}

void SpecCheck::setOverride(std::string name, std::string value) {
  invalidate();
  for (auto& existing : overrides_) {
    if (existing.name != name) continue;
    existing.value = std::move(value);
    return;
  }
  overrides_.push_back({std::move(name), std::move(value)});
}

void SpecCheck::clearOverrides() {
  invalidate();
  overrides_.clear();
}

void SpecCheck::selectSweep(std::string name) {
  invalidate();
  if (std::find(sweeps_.begin(), sweeps_.end(), name) == sweeps_.end()) sweeps_.push_back(std::move(name));
}

void SpecCheck::clearSweeps() {
  invalidate();
  sweeps_.clear();
}

const CheckResult& SpecCheck::check() {
  invalidate();
  auto checked = std::make_unique<Checked>(path_, text_);
  driver::CheckRequest request;
  request.path = path_;
  request.data_paths = apiDataPaths();
  runOnLargeStack([&] {
    checked->loaded = driver::loadSpec(request, checked->file, overrides_, sweeps_, checked->diagnostics,
                                       &checked->error);
  });
  result_ = summarize(*checked);
  checked_ = std::move(checked);
  return *result_;
}

std::optional<DataRows> SpecCheck::loadData(const std::string& sweep, const std::string& role,
                                            nnspec_status* status, std::string* error) {
  if (role != "train" && role != "val" && role != "test") {
    *status = NNSPEC_STATUS_BAD_ARGUMENT;
    *error = "role '" + role + "': expected \"train\", \"val\" or \"test\"";
    return std::nullopt;
  }
  if (!checked_ || !checked_->loaded) {
    *status = NNSPEC_STATUS_BAD_INPUT;
    *error = "the spec has not been checked without errors (call nnspec_spec_check first)";
    return std::nullopt;
  }
  const auto& plans = checked_->loaded->checked.sweeps;
  const auto plan = std::find_if(plans.begin(), plans.end(),
                                 [&](const sema::SweepPlan& candidate) { return sweep.empty() || candidate.name == sweep; });
  if (plan == plans.end() || plan->checked.empty()) {
    *status = NNSPEC_STATUS_NOT_FOUND;
    *error = "no checked sweep named '" + sweep + "'";
    return std::nullopt;
  }
  driver::Materializer materializer(checked_->loaded->checked, checked_->loaded->data_paths);
  auto views = materializer.split(plan->checked.front().config.split);
  if (!views.ok()) {
    *status = NNSPEC_STATUS_BAD_INPUT;
    *error = views.error().path.empty() ? views.error().message : views.error().path + ": " + views.error().message;
    return std::nullopt;
  }
  const driver::SplitViews& split = *views.value();
  const rt::Dataset* data = role == "train" ? split.train_data : role == "val" ? split.val_data
                          : role == "test" ? split.test_data : nullptr;
  const std::vector<int64_t>* indices = role == "train" ? &split.train : role == "val" ? &split.val : &split.test;
  if (data == nullptr || indices->empty()) {
    *status = NNSPEC_STATUS_NOT_FOUND;
    *error = "the split of sweep '" + plan->name + "' has no " + role + " rows";
    return std::nullopt;
  }
  DataRows rows;
  rows.rows = static_cast<int64_t>(indices->size());
  rows.features = data->count == 0 ? 0 : rt::inputValueCount(*data) / data->count;
  rows.target_width = data->target_width;
  rows.inputs.resize(static_cast<size_t>(rows.rows * rows.features));
  rows.targets.reserve(static_cast<size_t>(rows.rows * rows.target_width));
  for (size_t row = 0; row < indices->size(); ++row) {
    const int64_t index = (*indices)[row];
    rt::copyInputValues(*data, index * rows.features, rows.features,
                        rows.inputs.data() + static_cast<int64_t>(row) * rows.features);
    const auto y = data->y.begin() + index * rows.target_width;
    rows.targets.insert(rows.targets.end(), y, y + rows.target_width);
  }
  return rows;
}

namespace {

CheckResult summarize(const SpecCheck::Checked& checked) {
  CheckResult result;
  result.ok = checked.loaded.has_value();
  for (const auto& diagnostic : checked.diagnostics.diagnostics()) {
    result.diagnostics.push_back(toRecord(checked.file, diagnostic));
  }
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const DiagnosticRecord& a, const DiagnosticRecord& b) {
                     return a.line != b.line ? a.line < b.line : a.column < b.column;
                   });
  if (!checked.error.empty()) result.diagnostics.push_back(recordOfText(checked.file.path(), checked.error));
  result.diagnostics_text = checked.diagnostics.renderText() + checked.error;
  if (!result.ok) return result;
  result.plan_text = sema::printPlan(checked.loaded->checked);
  for (const auto& plan : checked.loaded->checked.sweeps) result.sweeps.push_back(toRecord(plan));
  return result;
}

}  // namespace

}  // namespace nnspec::api
