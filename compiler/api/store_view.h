#pragma once
// Read-only snapshots of a result store for the C API: its studies, and a study's trials
// with their params and final metrics in indexable form.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nnspec/nnspec.h"
#include "runtime/store/store.h"

namespace nnspec::api {

struct TrialView {
  rt::TrialRow row;
  std::string status;                              // statusName(row.status)
  std::vector<std::pair<std::string, double>> metrics;  // row.final_metrics, by name
};

class StoreView {
 public:
  // Opens an existing store; a missing file is an error, not a new store.
  static std::optional<StoreView> open(const std::string& path, nnspec_status* status, std::string* error);

  const std::vector<rt::StudyRow>& studies() const { return studies_; }
  // The trials of `study_id`, or nullopt with `error` set.
  std::optional<std::vector<TrialView>> trials(int64_t study_id, nnspec_status* status, std::string* error);

 private:
  explicit StoreView(rt::Store store) : store_(std::move(store)) {}
  rt::Store store_;
  std::vector<rt::StudyRow> studies_;
};

}  // namespace nnspec::api
