#include "compiler/api/store_view.h"

#include <algorithm>
#include <filesystem>

namespace nnspec::api {

std::optional<StoreView> StoreView::open(const std::string& path, nnspec_status* status, std::string* error) {
  std::error_code missing;
  if (!std::filesystem::is_regular_file(path, missing)) {
    *status = NNSPEC_STATUS_BAD_INPUT;
    *error = "store '" + path + "': no such file";
    return std::nullopt;
  }
  auto store = rt::Store::openForReading(path);
  if (!store.ok()) {
    *status = NNSPEC_STATUS_BAD_INPUT;
    *error = "store '" + path + "': " + store.error().message;
    return std::nullopt;
  }
  StoreView view(std::move(store.value()));
  auto studies = view.store_.listStudies();
  if (!studies.ok()) {
    *status = NNSPEC_STATUS_BAD_INPUT;
    *error = "store '" + path + "': " + studies.error().message;
    return std::nullopt;
  }
  view.studies_ = std::move(studies.value());
  return view;
}

std::optional<std::vector<TrialView>> StoreView::trials(int64_t study_id, nnspec_status* status, std::string* error) {
  const bool known = std::any_of(studies_.begin(), studies_.end(),
                                 [&](const rt::StudyRow& study) { return study.id == study_id; });
  if (!known) {
    *status = NNSPEC_STATUS_NOT_FOUND;
    *error = "no study with id " + std::to_string(study_id);
    return std::nullopt;
  }
  auto rows = store_.listTrials(study_id);
  if (!rows.ok()) {
    *status = NNSPEC_STATUS_BAD_INPUT;
    *error = "store: " + rows.error().message;
    return std::nullopt;
  }
  std::vector<TrialView> views;
  for (auto& row : rows.value()) {
    TrialView view{std::move(row), "", {}};
    view.status = std::string(rt::statusName(view.row.status));
    view.metrics.assign(view.row.final_metrics.begin(), view.row.final_metrics.end());
    views.push_back(std::move(view));
  }
  return views;
}

}  // namespace nnspec::api
