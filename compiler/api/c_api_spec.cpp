// The C API: versions, errors, specs (open, override, check, diagnostics, plan) and data.

#include <memory>
#include <string>

#include "compiler/api/api_status.h"
#include "compiler/api/handles.h"
#include "compiler/driver/load.h"
#include "nnspec/nnspec.h"

using nnspec::api::badArgument;
using nnspec::api::checkIndex;
using nnspec::api::fail;
using nnspec::api::guard;
using nnspec::api::release;

namespace {

// The last check's result, or NNSPEC_STATUS_BAD_INPUT when there is none.
const nnspec::api::CheckResult* lastCheck(const nnspec_spec* spec) {
  const auto& result = spec->check.result();
  if (!result) {
    fail(NNSPEC_STATUS_BAD_INPUT, "the spec has not been checked since it was opened or changed");
    return nullptr;
  }
  return &*result;
}

}  // namespace

extern "C" {

const char* nnspec_status_name(nnspec_status status) {
  switch (status) {
    case NNSPEC_STATUS_OK: return "ok";
    case NNSPEC_STATUS_BAD_ARGUMENT: return "bad argument";
    case NNSPEC_STATUS_BAD_INPUT: return "bad input";
    case NNSPEC_STATUS_NOT_FOUND: return "not found";
    case NNSPEC_STATUS_TRIALS_FAILED: return "trials failed";
    case NNSPEC_STATUS_CANCELLED: return "cancelled";
    case NNSPEC_STATUS_INTERNAL_ERROR: return "internal error";
  }
  return "unknown status";
}

const char* nnspec_last_error(void) { return nnspec::api::lastError().c_str(); }

const char* nnspec_version(void) { return "0.1.0"; }

nnspec_status nnspec_spec_open_file(const char* path, nnspec_spec** out) {
  return guard([&] {
    if (path == nullptr) return badArgument("path");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    std::string error;
    std::string text = nnspec::driver::readSpecFile(path, &error);
    if (!error.empty()) return fail(NNSPEC_STATUS_BAD_INPUT, error);
    return release(std::make_unique<nnspec_spec>(path, std::move(text), true), out);
  });
}

nnspec_status nnspec_spec_open_string(const char* text, const char* name, nnspec_spec** out) {
  return guard([&] {
    if (text == nullptr) return badArgument("text");
    if (name == nullptr) return badArgument("name");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    return release(std::make_unique<nnspec_spec>(name, text, false), out);
  });
}

void nnspec_spec_free(nnspec_spec* spec) { std::unique_ptr<nnspec_spec> owned(spec); }

nnspec_status nnspec_spec_set_override(nnspec_spec* spec, const char* name, const char* value) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (name == nullptr) return badArgument("name");
    if (value == nullptr) return badArgument("value");
    if (*name == '\0') return fail(NNSPEC_STATUS_BAD_ARGUMENT, "an override needs a name");
    spec->check.setOverride(name, value);
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_clear_overrides(nnspec_spec* spec) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    spec->check.clearOverrides();
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_select_sweep(nnspec_spec* spec, const char* name) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (name == nullptr) return badArgument("name");
    spec->check.selectSweep(name);
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_clear_sweeps(nnspec_spec* spec) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    spec->check.clearSweeps();
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_check(nnspec_spec* spec) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    const auto& result = spec->check.check();
    if (result.ok) return NNSPEC_STATUS_OK;
    return fail(NNSPEC_STATUS_BAD_INPUT, result.diagnostics_text);
  });
}

nnspec_status nnspec_spec_diagnostic_count(const nnspec_spec* spec, int64_t* out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (out == nullptr) return badArgument("out");
    const auto* result = lastCheck(spec);
    if (result == nullptr) return NNSPEC_STATUS_BAD_INPUT;
    *out = static_cast<int64_t>(result->diagnostics.size());
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_diagnostic(const nnspec_spec* spec, int64_t index, nnspec_diagnostic* out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (out == nullptr) return badArgument("out");
    const auto* result = lastCheck(spec);
    if (result == nullptr) return NNSPEC_STATUS_BAD_INPUT;
    if (!checkIndex(index, result->diagnostics.size(), "diagnostic")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& record = result->diagnostics[static_cast<size_t>(index)];
    *out = nnspec_diagnostic{record.file.c_str(),   record.line,        record.column,
                             record.end_line,       record.end_column,  record.severity,
                             record.message.c_str(), record.hint.c_str(), static_cast<int64_t>(record.notes.size())};
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_diagnostic_note(const nnspec_spec* spec, int64_t index, int64_t note_index,
                                          nnspec_diagnostic_note* out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (out == nullptr) return badArgument("out");
    const auto* result = lastCheck(spec);
    if (result == nullptr) return NNSPEC_STATUS_BAD_INPUT;
    if (!checkIndex(index, result->diagnostics.size(), "diagnostic")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& notes = result->diagnostics[static_cast<size_t>(index)].notes;
    if (!checkIndex(note_index, notes.size(), "note")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& note = notes[static_cast<size_t>(note_index)];
    *out = nnspec_diagnostic_note{note.line, note.column, note.end_column, note.message.c_str()};
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_diagnostics_text(const nnspec_spec* spec, const char** out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (out == nullptr) return badArgument("out");
    const auto* result = lastCheck(spec);
    if (result == nullptr) return NNSPEC_STATUS_BAD_INPUT;
    *out = result->diagnostics_text.c_str();
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_plan_text(const nnspec_spec* spec, const char** out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (out == nullptr) return badArgument("out");
    const auto* result = lastCheck(spec);
    if (result == nullptr) return NNSPEC_STATUS_BAD_INPUT;
    if (!result->ok) return fail(NNSPEC_STATUS_BAD_INPUT, "the spec has errors; there is no plan");
    *out = result->plan_text.c_str();
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_sweep_count(const nnspec_spec* spec, int64_t* out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (out == nullptr) return badArgument("out");
    const auto* result = lastCheck(spec);
    if (result == nullptr) return NNSPEC_STATUS_BAD_INPUT;
    *out = static_cast<int64_t>(result->sweeps.size());
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_sweep(const nnspec_spec* spec, int64_t index, nnspec_sweep_info* out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (out == nullptr) return badArgument("out");
    const auto* result = lastCheck(spec);
    if (result == nullptr) return NNSPEC_STATUS_BAD_INPUT;
    if (!checkIndex(index, result->sweeps.size(), "sweep")) return NNSPEC_STATUS_BAD_ARGUMENT;
    const auto& sweep = result->sweeps[static_cast<size_t>(index)];
    *out = nnspec_sweep_info{sweep.name.c_str(), sweep.method.c_str(), sweep.objective.c_str(),
                             sweep.maximize ? 1 : 0, sweep.points, sweep.folds, sweep.replicates,
                             sweep.trials, sweep.epochs};
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_spec_load_data(nnspec_spec* spec, const char* sweep, const char* role, nnspec_data** out) {
  return guard([&] {
    if (spec == nullptr) return badArgument("spec");
    if (role == nullptr) return badArgument("role");
    if (out == nullptr) return badArgument("out");
    *out = nullptr;
    nnspec_status status = NNSPEC_STATUS_OK;
    std::string error;
    auto rows = spec->check.loadData(sweep == nullptr ? "" : sweep, role, &status, &error);
    if (!rows) return fail(status, error);
    return release(std::make_unique<nnspec_data>(std::move(*rows)), out);
  });
}

void nnspec_data_free(nnspec_data* data) { std::unique_ptr<nnspec_data> owned(data); }

nnspec_status nnspec_data_shape(const nnspec_data* data, int64_t* rows, int64_t* features, int64_t* target_width) {
  return guard([&] {
    if (data == nullptr) return badArgument("data");
    if (rows != nullptr) *rows = data->rows.rows;
    if (features != nullptr) *features = data->rows.features;
    if (target_width != nullptr) *target_width = data->rows.target_width;
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_data_inputs(const nnspec_data* data, const float** out) {
  return guard([&] {
    if (data == nullptr) return badArgument("data");
    if (out == nullptr) return badArgument("out");
    *out = data->rows.inputs.data();
    return NNSPEC_STATUS_OK;
  });
}

nnspec_status nnspec_data_targets(const nnspec_data* data, const float** out) {
  return guard([&] {
    if (data == nullptr) return badArgument("data");
    if (out == nullptr) return badArgument("out");
    *out = data->rows.targets.data();
    return NNSPEC_STATUS_OK;
  });
}

}  // extern "C"
