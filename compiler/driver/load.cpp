#include "compiler/driver/load.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "compiler/frontend/parse.h"
#include "compiler/sema/check.h"

namespace nnspec::driver {

std::string readSpecFile(const std::string& path, std::string* error) {
  std::error_code code;
  if (std::filesystem::is_directory(path, code)) {
    *error = fmt::format("error: '{}' is a directory\nhint: pass a .nnspec file\n", path);
    return "";
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    *error = fmt::format("error: '{}': cannot open: {}\n", path, std::strerror(errno));
    return "";
  }
  std::stringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

std::optional<LoadedSpec> loadSpec(const CheckRequest& request, const SourceFile& file,
                                   const std::vector<Override>& overrides, const std::vector<std::string>& sweeps,
                                   DiagnosticEngine& diagnostics, std::string* error) {
  auto spec = frontend::parseSpec(file, diagnostics);
  if (!spec) return std::nullopt;
  if (std::string problem = applyOverrides(*spec, overrides); !problem.empty()) {
    *error = "error: " + problem + "\n";
    return std::nullopt;
  }
  LoadedSpec loaded{std::move(*spec), {}, request.data_paths};
  const std::filesystem::path path(request.path);
  loaded.data_paths.spec_dir = path.has_parent_path() ? path.parent_path().string() : ".";
  if (!checkTrainNames(loaded.ast, request.trains, error)) return std::nullopt;
  sema::CheckOptions options;
  options.data_paths = loaded.data_paths;
  options.run_alone = request.trains;
  auto checked = sema::checkSpec(loaded.ast, options, diagnostics);
  if (!checked) return std::nullopt;
  applyFuse(*checked, request.fuse);
  loaded.checked = std::move(*checked);
  if (!selectPlans(loaded.checked, sweeps, request.trains, error)) return std::nullopt;
  return loaded;
}

void applyFuse(sema::CheckedSpec& spec, int64_t fuse) {
  if (fuse < 0) return;
  for (auto& plan : spec.sweeps) plan.fuse = fuse;
}

bool checkTrainNames(const ast::Spec& spec, const std::vector<std::string>& trains, std::string* error) {
  std::vector<std::string> names;
  for (const auto& train : spec.trains) names.push_back(train.name ? train.name->name : "");
  for (const auto& wanted : trains) {
    if (std::find(names.begin(), names.end(), wanted) != names.end()) continue;
    const std::string hint = didYouMean(wanted, names);
    *error = fmt::format("error: --train {}: no train block of that name\nhint: {}\n", wanted,
                         hint.empty() ? "train blocks are " + quotedList(names) : hint);
    return false;
  }
  return true;
}

bool selectPlans(sema::CheckedSpec& checked, const std::vector<std::string>& sweeps,
                 const std::vector<std::string>& trains, std::string* error) {
  if (trains.empty()) return selectSweeps(checked, sweeps, error);
  std::vector<sema::SweepPlan> alone;
  for (const auto& plan : checked.sweeps) {
    if (plan.method == "single" && std::find(trains.begin(), trains.end(), plan.name) != trains.end()) {
      alone.push_back(plan);
    }
  }
  if (sweeps.empty()) {
    checked.sweeps = std::move(alone);
    return true;
  }
  std::vector<sema::SweepPlan> named = checked.sweeps;
  std::erase_if(named, [&](const sema::SweepPlan& plan) {
    return plan.method == "single" && std::find(trains.begin(), trains.end(), plan.name) != trains.end();
  });
  checked.sweeps = std::move(named);
  if (!selectSweeps(checked, sweeps, error)) return false;
  for (auto& plan : alone) checked.sweeps.push_back(std::move(plan));
  return true;
}

bool selectSweeps(sema::CheckedSpec& checked, const std::vector<std::string>& sweeps, std::string* error) {
  if (sweeps.empty()) return true;
  std::vector<sema::SweepPlan> chosen;
  std::vector<std::string> names;
  for (const auto& plan : checked.sweeps) names.push_back(plan.name);
  for (const auto& wanted : sweeps) {
    const auto it = std::find_if(checked.sweeps.begin(), checked.sweeps.end(),
                                 [&](const sema::SweepPlan& plan) { return plan.name == wanted; });
    if (it == checked.sweeps.end()) {
      const std::string hint = didYouMean(wanted, names);
      *error = fmt::format("error: --sweep {}: no sweep of that name\nhint: {}\n", wanted,
                           hint.empty() ? "sweeps are " + quotedList(names) : hint);
      return false;
    }
    chosen.push_back(*it);
  }
  checked.sweeps = std::move(chosen);
  return true;
}

SpecSession::SpecSession(const CheckRequest& request, const std::vector<Override>& overrides,
                         const std::vector<std::string>& sweeps)
    : error_(),
      text_(request.source ? *request.source : readSpecFile(request.path, &error_)),
      file_(std::make_unique<SourceFile>(request.path, text_)),
      diagnostics_(std::make_unique<DiagnosticEngine>(*file_)) {
  if (!error_.empty()) return;
  loaded_ = loadSpec(request, *file_, overrides, sweeps, *diagnostics_, &error_);
  if (diagnostics_->hasErrors()) error_ += overridesNote(overrides);
}

Outcome SpecSession::finish(int code, std::string out, const std::string& error) {
  return Outcome{code, std::move(out), diagnostics_->renderText() + error_ + error};
}

}  // namespace nnspec::driver
