#include "compiler/driver/report.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

#include "runtime/report/export.h"
#include "runtime/report/html_report.h"
#include "runtime/report/study_data.h"
#include "runtime/store/store_url.h"

namespace nnspec::driver {
namespace {

namespace fs = std::filesystem;

std::string errorText(const rt::StoreError& error) {
  return fmt::format("error: '{}': {}\n{}", error.path, error.message, error.hint.empty() ? "" : "hint: " + error.hint + "\n");
}

Outcome failure(const std::string& text) { return Outcome{2, "", text}; }

// Opens an existing store for reading; a missing file is an error, not a new store.
rt::StoreResult<rt::Store> openExisting(const std::string& path) {
  if (rt::isPostgresUrl(path)) return rt::Store::openForReading(path);
  std::error_code error;
  if (path.empty()) return rt::StoreError{path, "no store given", "pass the store a run wrote, e.g. specs/x.store.sqlite"};
  if (!fs::exists(path, error)) {
    return rt::StoreError{path, "no such store",
                          "pass the store a run wrote (`nnspec run FILE` writes FILE.store.sqlite beside the spec, or "
                          "the path given with --store)"};
  }
  if (fs::is_directory(path, error)) {
    return rt::StoreError{path, "is a folder, not a store", "pass the .sqlite file a run wrote"};
  }
  if (fs::file_size(path, error) == 0) {
    return rt::StoreError{path, "is an empty file, not an nnspec store", "pass the .sqlite file a run wrote"};
  }
  return rt::Store::openForReading(path);
}

}  // namespace

std::string checkOutputPath(const std::string& path) {
  const fs::path target(path);
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    return fmt::format("error: '{}': cannot write: folder '{}' does not exist\nhint: create the folder, or pass a path "
                       "in an existing folder\n",
                       path, folder.string());
  }
  if (fs::is_directory(target, error)) {
    return fmt::format("error: '{}': cannot write: it is a folder\nhint: pass a file name, e.g. report.html\n", path);
  }
  if (::access(folder.c_str(), W_OK) != 0) {
    return fmt::format("error: '{}': cannot write in folder '{}' (permission denied)\nhint: pass a path in a folder you "
                       "can write to\n",
                       path, folder.string());
  }
  return "";
}

std::string writeStudyReport(rt::Store& store, int64_t study_id, const std::string& path, const std::string& data_dir) {
  auto library = rt::loadPlotLibrary(data_dir);
  if (!library.ok()) return errorText(library.error());
  auto chosen = rt::chooseStudy(store, std::to_string(study_id));
  if (!chosen.ok()) return errorText(chosen.error());
  auto study = rt::loadStudy(store, chosen.value());
  if (!study.ok()) return errorText(study.error());
  auto html = rt::renderHtmlReport(store, study.value(), library.value());
  if (!html.ok()) return errorText(html.error());
  auto written = rt::writeTextFile(path, html.value());
  if (!written.ok()) return errorText(written.error());
  return "";
}

Outcome reportFile(const ReportRequest& request) {
  // A database has no folder to sit beside: its report goes to the current one.
  const std::string path = !request.output_path.empty()              ? request.output_path
                           : rt::isPostgresUrl(request.store_path) ? "study.report.html"
                                                                     : rt::defaultReportPath(request.store_path);
  const std::string unwritable = checkOutputPath(path);
  if (!unwritable.empty()) return failure(unwritable);
  auto library = rt::loadPlotLibrary(request.data_dir);
  if (!library.ok()) return failure(errorText(library.error()));
  auto store = openExisting(request.store_path);
  if (!store.ok()) return failure(errorText(store.error()));
  auto chosen = rt::chooseStudy(store.value(), request.study);
  if (!chosen.ok()) return failure(errorText(chosen.error()));
  auto study = rt::loadStudy(store.value(), chosen.value());
  if (!study.ok()) return failure(errorText(study.error()));
  auto html = rt::renderHtmlReport(store.value(), study.value(), library.value());
  if (!html.ok()) return failure(errorText(html.error()));
  auto written = rt::writeTextFile(path, html.value());
  if (!written.ok()) return failure(errorText(written.error()));
  Outcome outcome;
  outcome.out = fmt::format("report of study {} ({} trials): {}\n", chosen.value().name, study.value().trials.size(), path);
  return outcome;
}

Outcome exportFile(const ExportRequest& request) {
  if (!request.output_path.empty()) {
    const std::string unwritable = checkOutputPath(request.output_path);
    if (!unwritable.empty()) return failure(unwritable);
  }
  auto store = openExisting(request.store_path);
  if (!store.ok()) return failure(errorText(store.error()));
  auto chosen = rt::chooseStudy(store.value(), request.study);
  if (!chosen.ok()) return failure(errorText(chosen.error()));
  auto study = rt::loadStudy(store.value(), chosen.value());
  if (!study.ok()) return failure(errorText(study.error()));
  std::string text;
  if (request.format == ExportFormat::kJson) {
    text = rt::exportJson(study.value());
  } else {
    text = request.epochs ? rt::exportEpochsCsv(study.value()) : rt::exportTrialsCsv(study.value());
  }
  Outcome outcome;
  if (request.output_path.empty()) {
    outcome.out = std::move(text);
    return outcome;
  }
  auto written = rt::writeTextFile(request.output_path, text);
  if (!written.ok()) return failure(errorText(written.error()));
  return outcome;
}

Outcome statusFile(const StatusRequest& request) {
  auto store = openExisting(request.store_path);
  if (!store.ok()) return failure(errorText(store.error()));
  auto chosen = rt::chooseStudy(store.value(), request.study);
  if (!chosen.ok()) return failure(errorText(chosen.error()));
  const int64_t study_id = chosen.value().id;
  auto counts = store.value().countTrials(study_id);
  auto workers = store.value().listWorkers(study_id);
  auto attempts = store.value().listAttempts(study_id);
  auto trials = store.value().listTrials(study_id);
  if (!counts.ok()) return failure(errorText(counts.error()));
  if (!workers.ok()) return failure(errorText(workers.error()));
  if (!attempts.ok()) return failure(errorText(attempts.error()));
  if (!trials.ok()) return failure(errorText(trials.error()));
  const rt::TrialCounts& c = counts.value();
  std::string out = fmt::format("store {}\nstudy {} (id {}, created {})\n", store.value().path(), chosen.value().name,
                                study_id, chosen.value().created_at);
  out += fmt::format("trials: {} in all: {} finished, {} running, {} queued, {} failed, {} pruned{}\n", c.total(),
                     c.finished, c.running, c.queued, c.failed, c.pruned,
                     c.timed_out > 0 ? fmt::format(", {} timed out", c.timed_out) : "");
  out += fmt::format("workers: {}\n", workers.value().size());
  if (!workers.value().empty()) {
    out += fmt::format("  {:>4}  {:<24} {:<26} {:>8}  {:<9} {:>15}  {:>7}\n", "id", "name", "host", "pid", "state",
                       "last heartbeat", "running");
    for (const auto& worker : workers.value()) {
      out += fmt::format("  {:>4}  {:<24} {:<26} {:>8}  {:<9} {:>15}  {:>7}\n", worker.id, worker.name, worker.host,
                         worker.pid, worker.state, fmt::format("{:.1f} s ago", worker.heartbeat_age), worker.running);
    }
  }
  std::map<int64_t, std::string> label_of;
  for (const auto& trial : trials.value()) {
    std::string label = trial.key.sweep.empty() ? "" : "sweep " + trial.key.sweep + ", ";
    label += trial.key.point_key.empty() ? "the one point" : trial.key.point_key;
    label += trial.key.fold < 0 ? ", refit" : fmt::format(", fold {}, replicate {}", trial.key.fold, trial.key.replicate);
    label_of[trial.id] = label;
  }
  std::string unusual;
  for (const auto& attempt : attempts.value()) {
    if (attempt.outcome != "lost" && attempt.outcome != "released") continue;
    unusual += fmt::format("  trial {} ({}) attempt {}: {} by {} at {}\n", attempt.trial_id, label_of[attempt.trial_id],
                           attempt.attempt, attempt.outcome == "lost" ? "lost" : "handed back", attempt.worker,
                           attempt.ended_at);
  }
  if (!unusual.empty()) out += "attempts lost or handed back:\n" + unusual;
  return Outcome{0, out, ""};
}

}  // namespace nnspec::driver
