// nnspec — a thin header-only C++17 wrapper over the C API (nnspec.h): RAII handles,
// std::string and std::vector instead of pointers and counts, and nnspec::Error (with the
// status and nnspec_last_error()) instead of status codes. The threading rules of
// nnspec.h apply unchanged. Spec::check() does not throw for a spec with errors: it
// returns false and diagnostics() lists them.
#ifndef NNSPEC_NNSPEC_HPP
#define NNSPEC_NNSPEC_HPP

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nnspec/nnspec.h"

namespace nnspec {

class Error : public std::runtime_error {
 public:
  Error(nnspec_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  nnspec_status status() const { return status_; }

 private:
  nnspec_status status_;
};

namespace detail {

inline void check(nnspec_status status) {
  if (status != NNSPEC_STATUS_OK) throw Error(status, std::string(nnspec_status_name(status)) + ": " + nnspec_last_error());
}

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* handle) const { Free(handle); }
};

template <class T, void (*Free)(T*)>
using Handle = std::unique_ptr<T, Deleter<T, Free>>;

}  // namespace detail

struct Diagnostic {
  std::string file;
  int64_t line = 0, column = 0, end_line = 0, end_column = 0;
  nnspec_severity severity = NNSPEC_SEVERITY_ERROR;
  std::string message;
  std::string hint;
  std::vector<std::string> notes;
};

struct SweepInfo {
  std::string name, method, objective;
  bool maximize = true;
  int64_t points = 0, folds = 1, replicates = 1, trials = 0, epochs = 0;
};

struct Data {
  int64_t rows = 0, features = 0, target_width = 1;
  std::vector<float> inputs;   // rows x features
  std::vector<float> targets;  // rows x target_width
};

class Spec {
 public:
  static Spec fromFile(const std::string& path) {
    nnspec_spec* spec = nullptr;
    detail::check(nnspec_spec_open_file(path.c_str(), &spec));
    return Spec(spec);
  }
  static Spec fromString(const std::string& text, const std::string& name) {
    nnspec_spec* spec = nullptr;
    detail::check(nnspec_spec_open_string(text.c_str(), name.c_str(), &spec));
    return Spec(spec);
  }

  Spec& set(const std::string& name, const std::string& value) {
    detail::check(nnspec_spec_set_override(get(), name.c_str(), value.c_str()));
    return *this;
  }
  Spec& selectSweep(const std::string& name) {
    detail::check(nnspec_spec_select_sweep(get(), name.c_str()));
    return *this;
  }
  // true: no errors. false: see diagnostics().
  bool check() {
    const nnspec_status status = nnspec_spec_check(get());
    if (status == NNSPEC_STATUS_BAD_INPUT) return false;
    detail::check(status);
    return true;
  }
  std::vector<Diagnostic> diagnostics() const {
    int64_t count = 0;
    detail::check(nnspec_spec_diagnostic_count(get(), &count));
    std::vector<Diagnostic> all;
    for (int64_t index = 0; index < count; ++index) {
      nnspec_diagnostic d{};
      detail::check(nnspec_spec_diagnostic(get(), index, &d));
      Diagnostic kept{d.file, d.line, d.column, d.end_line, d.end_column, d.severity, d.message, d.hint, {}};
      for (int64_t note = 0; note < d.note_count; ++note) {
        nnspec_diagnostic_note n{};
        detail::check(nnspec_spec_diagnostic_note(get(), index, note, &n));
        kept.notes.emplace_back(n.message);
      }
      all.push_back(std::move(kept));
    }
    return all;
  }
  std::string diagnosticsText() const {
    const char* text = nullptr;
    detail::check(nnspec_spec_diagnostics_text(get(), &text));
    return text;
  }
  std::string planText() const {
    const char* text = nullptr;
    detail::check(nnspec_spec_plan_text(get(), &text));
    return text;
  }
  std::vector<SweepInfo> sweeps() const {
    int64_t count = 0;
    detail::check(nnspec_spec_sweep_count(get(), &count));
    std::vector<SweepInfo> all;
    for (int64_t index = 0; index < count; ++index) {
      nnspec_sweep_info s{};
      detail::check(nnspec_spec_sweep(get(), index, &s));
      all.push_back({s.name, s.method, s.objective, s.maximize != 0, s.points, s.folds, s.replicates, s.trials,
                     s.epochs});
    }
    return all;
  }
  // role: "train", "val" or "test"; sweep "" = the first.
  Data loadData(const std::string& role, const std::string& sweep = "") {
    nnspec_data* raw = nullptr;
    detail::check(nnspec_spec_load_data(get(), sweep.empty() ? nullptr : sweep.c_str(), role.c_str(), &raw));
    detail::Handle<nnspec_data, nnspec_data_free> data(raw);
    Data out;
    const float* inputs = nullptr;
    const float* targets = nullptr;
    detail::check(nnspec_data_shape(raw, &out.rows, &out.features, &out.target_width));
    detail::check(nnspec_data_inputs(raw, &inputs));
    detail::check(nnspec_data_targets(raw, &targets));
    out.inputs.assign(inputs, inputs + out.rows * out.features);
    out.targets.assign(targets, targets + out.rows * out.target_width);
    return out;
  }

  nnspec_spec* get() const { return handle_.get(); }

 private:
  explicit Spec(nnspec_spec* spec) : handle_(spec) {}
  detail::Handle<nnspec_spec, nnspec_spec_free> handle_;
};

class Model {
 public:
  explicit Model(nnspec_model* model) : handle_(model) { detail::check(nnspec_model_get_info(model, &info_)); }

  const nnspec_model_info& info() const { return info_; }
  std::string sweep() const { return info_.sweep; }
  std::string point() const { return info_.point; }
  std::map<std::string, double> metrics() const {
    std::map<std::string, double> all;
    for (int64_t index = 0; index < info_.metric_count; ++index) {
      nnspec_metric metric{};
      detail::check(nnspec_model_metric(get(), index, &metric));
      all[metric.name] = metric.value;
    }
    return all;
  }
  // rows x input_width floats in; rows x output_width floats out.
  std::vector<float> predict(const float* in, int64_t rows) {
    std::vector<float> out(static_cast<size_t>(rows * info_.output_width));
    detail::check(nnspec_model_predict(get(), in, rows, out.data()));
    return out;
  }
  std::vector<float> predict(const std::vector<float>& in) {
    return predict(in.data(), static_cast<int64_t>(in.size()) / info_.input_width);
  }

  nnspec_model* get() const { return handle_.get(); }

 private:
  detail::Handle<nnspec_model, nnspec_model_free> handle_;
  nnspec_model_info info_{};
};

struct Event {
  nnspec_event_kind kind = NNSPEC_EVENT_TRIAL_STARTED;
  std::string sweep, point, status;
  int64_t fold = 0, replicate = 0, trial_index = 0, trials_total = 0, epoch = 0, epochs = 0;
  std::map<std::string, double> metrics;
};

class Run {
 public:
  // store_path "" = beside the spec file.
  Run(Spec& spec, const std::string& store_path = "") {
    nnspec_run* run = nullptr;
    detail::check(nnspec_run_create(spec.get(), store_path.empty() ? nullptr : store_path.c_str(), &run));
    handle_.reset(run);
  }

  Run& jobs(int64_t jobs) {
    detail::check(nnspec_run_set_jobs(get(), jobs));
    return *this;
  }
  Run& keep(nnspec_keep_models keep) {
    detail::check(nnspec_run_set_keep_models(get(), keep));
    return *this;
  }
  // Return false from the callback to cancel the run. It runs on the run's threads.
  Run& onProgress(std::function<bool(const Event&)> callback) {
    callback_ = std::make_unique<std::function<bool(const Event&)>>(std::move(callback));
    detail::check(nnspec_run_set_progress(get(), &Run::trampoline, callback_.get()));
    return *this;
  }
  // Returns the status (OK, TRIALS_FAILED or CANCELLED); throws for the others.
  nnspec_status execute(const std::string& sweep = "") {
    const nnspec_status status = nnspec_run_execute(get(), sweep.empty() ? nullptr : sweep.c_str());
    if (status == NNSPEC_STATUS_TRIALS_FAILED || status == NNSPEC_STATUS_CANCELLED) return status;
    detail::check(status);
    return status;
  }
  // Any thread.
  void cancel() { nnspec_run_cancel(get()); }

  int64_t modelCount() const {
    int64_t count = 0;
    detail::check(nnspec_run_model_count(get(), &count));
    return count;
  }
  Model model(int64_t index) const {
    nnspec_model* model = nullptr;
    detail::check(nnspec_run_model_at(get(), index, &model));
    return Model(model);
  }
  Model best(const std::string& sweep = "") const {
    nnspec_model* model = nullptr;
    detail::check(nnspec_run_best_model(get(), sweep.empty() ? nullptr : sweep.c_str(), &model));
    return Model(model);
  }
  Model model(const std::string& sweep, const std::string& point, int64_t fold = 0, int64_t replicate = 0) const {
    nnspec_model* model = nullptr;
    detail::check(nnspec_run_model(get(), sweep.c_str(), point.c_str(), fold, replicate, &model));
    return Model(model);
  }

  nnspec_run* get() const { return handle_.get(); }

 private:
  static int trampoline(const nnspec_event* event, void* user_data) {
    Event copy{event->kind, event->sweep, event->point, event->status, event->fold, event->replicate,
               event->trial_index, event->trials_total, event->epoch, event->epochs, {}};
    for (int64_t index = 0; index < event->metric_count; ++index) {
      copy.metrics[event->metrics[index].name] = event->metrics[index].value;
    }
    try {
      return (*static_cast<std::function<bool(const Event&)>*>(user_data))(copy) ? 0 : 1;
    } catch (...) {
      return 1;  // an exception may not cross the C API: cancel instead
    }
  }

  detail::Handle<nnspec_run, nnspec_run_free> handle_;
  std::unique_ptr<std::function<bool(const Event&)>> callback_;
};

struct Trial {
  int64_t id = 0;
  std::string sweep, point, status, reason;
  int64_t fold = 0, replicate = 0;
  double seconds = -1;
  std::vector<std::pair<std::string, std::string>> params;
  std::map<std::string, double> metrics;
};

class Store {
 public:
  explicit Store(const std::string& path) {
    nnspec_store* store = nullptr;
    detail::check(nnspec_store_open(path.c_str(), &store));
    handle_.reset(store);
  }

  std::vector<nnspec_study> studies() const {
    int64_t count = 0;
    detail::check(nnspec_store_study_count(get(), &count));
    std::vector<nnspec_study> all(static_cast<size_t>(count));
    for (int64_t index = 0; index < count; ++index) detail::check(nnspec_store_study(get(), index, &all[index]));
    return all;
  }
  int64_t findStudy(const std::string& name) const {
    int64_t id = 0;
    detail::check(nnspec_store_find_study(get(), name.c_str(), &id));
    return id;
  }
  std::vector<Trial> trials(int64_t study_id) {
    nnspec_trials* raw = nullptr;
    detail::check(nnspec_store_trials(get(), study_id, &raw));
    detail::Handle<nnspec_trials, nnspec_trials_free> trials(raw);
    int64_t count = 0;
    detail::check(nnspec_trials_count(raw, &count));
    std::vector<Trial> all;
    for (int64_t index = 0; index < count; ++index) {
      nnspec_trial t{};
      detail::check(nnspec_trials_get(raw, index, &t));
      Trial kept{t.id, t.sweep, t.point, t.status, t.reason, t.fold, t.replicate, t.seconds, {}, {}};
      for (int64_t param = 0; param < t.param_count; ++param) {
        const char* name = nullptr;
        const char* value = nullptr;
        detail::check(nnspec_trials_param(raw, index, param, &name, &value));
        kept.params.emplace_back(name, value);
      }
      for (int64_t metric = 0; metric < t.metric_count; ++metric) {
        nnspec_metric m{};
        detail::check(nnspec_trials_metric(raw, index, metric, &m));
        kept.metrics[m.name] = m.value;
      }
      all.push_back(std::move(kept));
    }
    return all;
  }

  nnspec_store* get() const { return handle_.get(); }

 private:
  detail::Handle<nnspec_store, nnspec_store_free> handle_;
};

}  // namespace nnspec

#endif  // NNSPEC_NNSPEC_HPP
