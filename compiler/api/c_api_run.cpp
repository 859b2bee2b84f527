// The C API: runs (create, configure, execute, cancel) and the models they keep.

#include <iterator>
#include <memory>
#include <string>

#include "compiler/api/api_status.h"
#include "compiler/api/data_paths.h"
#include "compiler/api/handles.h"
#include "compiler/api/large_stack.h"
#include "compiler/driver/stored_model.h"
#include "nnspec/nnspec.h"

using nnspec::api::badArgument;
using nnspec::api::checkIndex;
using nnspec::api::fail;
using nnspec::api::guard;
using nnspec::api::release;

namespace {

nnspec_status newModelHandle(std::shared_ptr<const nnspec::driver::TrainedModel> model, nnspec_model** out) {
  return nnspec::api::release(std::make_unique<nnspec_model>(std::move(model)), out);
}

// A model of a store as a handle (the spec is parsed on a large stack, like checks).
nnspec_status loadStoredHandle(const std::string& store_path, const nnspec::driver::ModelSelector& selector,
                               nnspec_model** out) {
  std::variant<nnspec::driver::StoredModel, nnspec::driver::LoadFailure> loaded = nnspec::driver::LoadFailure{};
  nnspec::api::runOnLargeStack(
      [&] { loaded = nnspec::driver::loadStoredModel(store_path, selector, nnspec::api::apiDataPaths()); });
  if (const auto* problem = std::get_if<nnspec::driver::LoadFailure>(&loaded)) {
    const nnspec_status status = problem->exit_code >= 3 ? NNSPEC_STATUS_INTERNAL_ERROR
                                 : problem->not_found    ? NNSPEC_STATUS_NOT_FOUND
                                                         : NNSPEC_STATUS_BAD_INPUT;
    return fail(status, problem->message);
  }
  const nnspec::driver::Predictor& predictor = *std::get<nnspec::driver::StoredModel>(loaded).predictor;
  return release(std::make_unique<nnspec_model>(predictor.members(), predictor.ensemble()), out);
}

}  // namespace

extern "C" {

nnspec_status nnspec_model_load(const char* store_path, int64_t trial_id, nnspec_model** out) {
  return guard([&] {
    if (store_path == nullptr) return badArgument("store_path");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    nnspec::driver::ModelSelector selector;
    selector.trial = trial_id;
    return loadStoredHandle(store_path, selector, out);
  });
}

nnspec_status nnspec_model_load_best(const char* store_path, const char* study, const char* sweep,
                                     nnspec_model** out) {
  return guard([&] {
    if (store_path == nullptr) return badArgument("store_path");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    nnspec::driver::ModelSelector selector;
    selector.study = study == nullptr ? "" : study;
    selector.sweep = sweep == nullptr ? "" : sweep;
    return loadStoredHandle(store_path, selector, out);
  });
}

nnspec_status nnspec_run_create(nnspec_spec* spec, const char* store_path, nnspec_run** out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    const std::string store = store_path == nullptr ? "" : store_path;
    if (store.empty() && !spec->check.fromFile()) {
      return fail(NNSPEC_STATUS_BAD_ARGUMENT, "a spec opened from a string needs a store path");
    }
    if (!spec->check.result()) spec->check.check();
    const auto& checked = *spec->check.result();
    if (!checked.ok) return fail(NNSPEC_STATUS_BAD_INPUT, checked.diagnostics_text);
    nnspec::api::RunSpec run{spec->check.path(), spec->check.text(), spec->check.fromFile(),
                             spec->check.overrides(), spec->check.sweeps(), checked.sweeps, store};
    return release(std::make_unique<nnspec_run>(std::move(run)), out);
  });
}

void nnspec_run_free(nnspec_run* run) { std::unique_ptr<nnspec_run> owned(run); }

nnspec_status nnspec_run_set_jobs(nnspec_run* run, int64_t jobs) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    if (jobs < 1 || jobs > 256) return fail(NNSPEC_STATUS_BAD_ARGUMENT, "jobs must be from 1 to 256");
    run->session.setJobs(jobs);
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_run_set_progress(nnspec_run* run, nnspec_progress_fn callback, void* user_data) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    run->session.setProgress(callback, user_data);
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_run_set_keep_models(nnspec_run* run, nnspec_keep_models keep) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    if (keep != NNSPEC_KEEP_ALL && keep != NNSPEC_KEEP_BEST && keep != NNSPEC_KEEP_NONE) {
      return fail(NNSPEC_STATUS_BAD_ARGUMENT, "keep must be NNSPEC_KEEP_ALL, _BEST or _NONE");
    }
    run->session.setKeep(keep);
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_run_set_write_report(nnspec_run* run, int write_report) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    run->session.setWriteReport(write_report != 0);
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_run_execute(nnspec_run* run, const char* sweep) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    std::string error;
    const nnspec_status status = run->session.execute(sweep == nullptr ? "" : sweep, &error);
    if (status == NNSPEC_STATUS_OK) return status;
    return fail(status, error);
  });
}

nnspec_status nnspec_run_cancel(nnspec_run* run) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    run->session.cancel();
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_run_model_count(const nnspec_run* run, int64_t* out) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    if (out == nullptr) return badArgument("out");
    *out = static_cast<int64_t>(run->session.models().size());
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_run_model_at(const nnspec_run* run, int64_t index, nnspec_model** out) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    const auto& models = run->session.models();
    if (!checkIndex(index, models.size(), "model")) return NNSPEC_STATUS_BAD_ARGUMENT;
    return newModelHandle(models[static_cast<size_t>(index)], out);
  });
}

nnspec_status nnspec_run_best_model(const nnspec_run* run, const char* sweep, nnspec_model** out) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    std::string error;
    auto model = run->session.best(sweep == nullptr ? "" : sweep, &error);
    if (!model) return fail(NNSPEC_STATUS_NOT_FOUND, error);
    return newModelHandle(std::move(model), out);
  });
}

nnspec_status nnspec_run_model(const nnspec_run* run, const char* sweep, const char* point, int64_t fold,
                               int64_t replicate, nnspec_model** out) {
  return guard([&] {
    if (run == nullptr) return badArgument("run");
    if (sweep == nullptr) return badArgument("sweep");
    if (point == nullptr) return badArgument("point");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    for (const auto& model : run->session.models()) {
      if (model->sweep() == sweep && model->point() == point && model->fold() == fold &&
          model->replicate() == replicate) {
        return newModelHandle(model, out);
      }
    }
    return fail(NNSPEC_STATUS_NOT_FOUND, std::string("no kept model of sweep '") + sweep + "', point '" + point +
                                             "', fold " + std::to_string(fold) + ", replicate " +
                                             std::to_string(replicate));
  });
}

void nnspec_model_free(nnspec_model* model) { std::unique_ptr<nnspec_model> owned(model); }

nnspec_status nnspec_model_get_info(const nnspec_model* model, nnspec_model_info* out) {
  return guard([&] {
    if (model == nullptr) return badArgument("model");
    if (out == nullptr) return badArgument("out");
    const auto& trained = model->predictor.model();
    *out = nnspec_model_info{trained.sweep().c_str(), trained.point().c_str(),   trained.fold(),
                             trained.replicate(),     trained.inputWidth(),      trained.outputWidth(),
                             trained.classifier() ? 1 : 0, static_cast<int64_t>(trained.metrics().size())};
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_model_metric(const nnspec_model* model, int64_t index, nnspec_metric* out) {
  return guard([&] {
    if (model == nullptr) return badArgument("model");
    if (out == nullptr) return badArgument("out");
    const auto& metrics = model->predictor.model().metrics();
    if (!checkIndex(index, metrics.size(), "metric")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto it = std::next(metrics.begin(), index);
    *out = nnspec_metric{it->first.c_str(), it->second};
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_model_find_metric(const nnspec_model* model, const char* name, double* out) {
  return guard([&] {
    if (model == nullptr) return badArgument("model");
    if (name == nullptr) return badArgument("name");
    if (out == nullptr) return badArgument("out");
    const auto& metrics = model->predictor.model().metrics();
    const auto it = metrics.find(name);
    if (it == metrics.end()) return fail(NNSPEC_STATUS_NOT_FOUND, std::string("the trial has no metric '") + name + "'");
    *out = it->second;
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_model_predict(nnspec_model* model, const float* in, int64_t n, float* out) {
  return guard([&] {
    if (model == nullptr) return badArgument("model");
    if (n < 0) return fail(NNSPEC_STATUS_BAD_ARGUMENT, "n must not be negative");
    if (n == 0) return NNSPEC_STATUS_OK;
    if (in == nullptr) return badArgument("in");
    if (out == nullptr) return badArgument("out");
    const std::string error = model->predictor.predict(in, n, out);
    if (error.empty()) return NNSPEC_STATUS_OK;
    return fail(NNSPEC_STATUS_INTERNAL_ERROR, error);
  });
}

}  // extern "C"
