// The C API: stores, their studies and trials.

#include <memory>
#include <string>

#include "compiler/api/api_status.h"
#include "compiler/api/handles.h"
#include "nnspec/nnspec.h"

using nnspec::api::badArgument;
using nnspec::api::checkIndex;
using nnspec::api::fail;
using nnspec::api::guard;
using nnspec::api::release;

extern "C" {

nnspec_status nnspec_store_open(const char* path, nnspec_store** out) {
  return guard([&] {
    if (path == nullptr) return badArgument("path");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    nnspec_status status = NNSPEC_STATUS_OK;
    std::string error;
    auto view = nnspec::api::StoreView::open(path, &status, &error);
    if (!view) return fail(status, error);
    return release(std::make_unique<nnspec_store>(std::move(*view)), out);
  });
}

void nnspec_store_free(nnspec_store* store) { std::unique_ptr<nnspec_store> owned(store); }

nnspec_status nnspec_store_study_count(const nnspec_store* store, int64_t* out) {
  return guard([&] {
    if (store == nullptr) return badArgument("store");
    if (out == nullptr) return badArgument("out");
    *out = static_cast<int64_t>(store->view.studies().size());
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_store_study(const nnspec_store* store, int64_t index, nnspec_study* out) {
  return guard([&] {
    if (store == nullptr) return badArgument("store");
    if (out == nullptr) return badArgument("out");
    const auto& studies = store->view.studies();
    if (!checkIndex(index, studies.size(), "study")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& study = studies[static_cast<size_t>(index)];
    *out = nnspec_study{study.id, study.name.c_str(), study.spec_hash.c_str(), study.created_at.c_str()};
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_store_find_study(const nnspec_store* store, const char* name, int64_t* id) {
  return guard([&] {
    if (store == nullptr) return badArgument("store");
    if (name == nullptr) return badArgument("name");
    if (id == nullptr) return badArgument("id");
    const auto& studies = store->view.studies();
    for (auto study = studies.rbegin(); study != studies.rend(); ++study) {
      if (study->name != name) continue;
      *id = study->id;
      return NNSPEC_STATUS_OK;
    }
    return fail(NNSPEC_STATUS_NOT_FOUND, std::string("no study named '") + name + "'");
  });
}

nnspec_status nnspec_store_trials(nnspec_store* store, int64_t study_id, nnspec_trials** out) {
  return guard([&] {
    if (store == nullptr) return badArgument("store");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    nnspec_status status = NNSPEC_STATUS_OK;
    std::string error;
    auto trials = store->view.trials(study_id, &status, &error);
    if (!trials) return fail(status, error);
    return release(std::make_unique<nnspec_trials>(std::move(*trials)), out);
  });
}

void nnspec_trials_free(nnspec_trials* trials) { std::unique_ptr<nnspec_trials> owned(trials); }

nnspec_status nnspec_trials_count(const nnspec_trials* trials, int64_t* out) {
  return guard([&] {
    if (trials == nullptr) return badArgument("trials");
    if (out == nullptr) return badArgument("out");
    *out = static_cast<int64_t>(trials->trials.size());
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_trials_get(const nnspec_trials* trials, int64_t index, nnspec_trial* out) {
  return guard([&] {
    if (trials == nullptr) return badArgument("trials");
    if (out == nullptr) return badArgument("out");
    if (!checkIndex(index, trials->trials.size(), "trial")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& trial = trials->trials[static_cast<size_t>(index)];
    const auto& row = trial.row;
    *out = nnspec_trial{row.id,
                        row.key.sweep.c_str(),
                        row.key.point_key.c_str(),
                        row.key.fold,
                        row.key.replicate,
                        trial.status.c_str(),
                        row.reason.c_str(),
                        row.seconds.value_or(-1.0),
                        static_cast<int64_t>(row.params.size()),
                        static_cast<int64_t>(trial.metrics.size())};
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_trials_param(const nnspec_trials* trials, int64_t index, int64_t param_index, const char** name,
                                  const char** value) {
  return guard([&] {
    if (trials == nullptr) return badArgument("trials");
    if (name == nullptr) return badArgument("name");
    if (value == nullptr) return badArgument("value");
    if (!checkIndex(index, trials->trials.size(), "trial")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& params = trials->trials[static_cast<size_t>(index)].row.params;
    if (!checkIndex(param_index, params.size(), "param")) return NNSPEC_STATUS_BAD_ARGUMENT;
    *name = params[static_cast<size_t>(param_index)].name.c_str();
    *value = params[static_cast<size_t>(param_index)].value.c_str();
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_trials_metric(const nnspec_trials* trials, int64_t index, int64_t metric_index,
                                   nnspec_metric* out) {
  return guard([&] {
    if (trials == nullptr) return badArgument("trials");
    if (out == nullptr) return badArgument("out");
    if (!checkIndex(index, trials->trials.size(), "trial")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& metrics = trials->trials[static_cast<size_t>(index)].metrics;
    if (!checkIndex(metric_index, metrics.size(), "metric")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& metric = metrics[static_cast<size_t>(metric_index)];
    *out = nnspec_metric{metric.first.c_str(), metric.second};
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_trials_find_metric(const nnspec_trials* trials, int64_t index, const char* name, double* out) {
  return guard([&] {
    if (trials == nullptr) return badArgument("trials");
    if (name == nullptr) return badArgument("name");
    if (out == nullptr) return badArgument("out");
    if (!checkIndex(index, trials->trials.size(), "trial")) return NNSPEC_STATUS_BAD_ARGUMENT;
    for (const auto& [metric, value] : trials->trials[static_cast<size_t>(index)].metrics) {
      if (metric != name) continue;
      *out = value;
      return NNSPEC_STATUS_OK;
    }
    return fail(NNSPEC_STATUS_NOT_FOUND, std::string("the trial has no metric '") + name + "'");
  });
}

}  // extern "C"
