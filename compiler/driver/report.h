#pragma once
// `nnspec report` and `nnspec export`: what they read from a store and write, as
// library entry points (the CLI only parses flags). Bad input (no such store, a file
// that is not one, an unknown format, an output that cannot be written) is exit code 2
// with an error that names the place and the fix.

#include <string>

#include "compiler/driver/driver.h"
#include "runtime/store/store.h"

namespace nnspec::driver {

struct ReportRequest {
  std::string store_path;
  std::string output_path;  // "" = beside the store (x.store.sqlite -> x.report.html)
  std::string study;        // name or id; "" = the newest
  std::string data_dir;     // holds npm/vega, npm/vega-lite, npm/vega-embed
};

// Writes the HTML report; Outcome::out says where.
Outcome reportFile(const ReportRequest& request);

enum class ExportFormat { kCsv, kJson };

struct ExportRequest {
  std::string store_path;
  ExportFormat format = ExportFormat::kCsv;
  bool epochs = false;      // csv: the per-epoch table instead of the trials
  std::string output_path;  // "" = Outcome::out (stdout)
  std::string study;
};

Outcome exportFile(const ExportRequest& request);

struct StatusRequest {
  std::string store_path;
  std::string study;  // name or id; "" = the newest
};

// A study's trials by state, its workers and their last heartbeat, and the attempts that
// were lost or handed back (`nnspec status`).
Outcome statusFile(const StatusRequest& request);

// Writes the report of study `study_id` of an open store to `path`; "" on success, else
// the error text (with its hint).
std::string writeStudyReport(rt::Store& store, int64_t study_id, const std::string& path, const std::string& data_dir);

// An error text when `path` cannot be written (its folder is missing, or it is a
// folder); "" when it looks writable. Checked before a run trains.
std::string checkOutputPath(const std::string& path);

}  // namespace nnspec::driver
