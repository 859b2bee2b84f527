#pragma once
// Shared by the export tests: a scratch folder, the Python that has numpy, onnx and
// OpenCV (Debian's python3; NNSPEC_TEST_PYTHON overrides it), raw float files, and a
// model trained briefly in-process (compiled and trained as `nnspec run` does).

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "compiler/driver/driver.h"
#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/store/store.h"
#include "runtime/train/trial.h"

namespace nnspec::export_test {

namespace fs = std::filesystem;

// A fresh folder under the system's temporary one, removed with the object.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(fs::temp_directory_path() / ("nnspec_export_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void writeFloats(const std::string& path, const std::vector<float>& values) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
}

inline std::vector<float> readFloats(const std::string& path) {
  const std::string bytes = readFile(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

inline std::string python() {
  if (const char* chosen = std::getenv("NNSPEC_TEST_PYTHON")) return chosen;
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

// Runs tests/export/<script> with `args`; the exit status, its output in `log`.
inline int runScript(const std::string& script, const std::vector<std::string>& args, const std::string& log) {
  std::string command = python() + " " + std::string(NNSPEC_SOURCE_DIR) + "/tests/export/" + script;
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " >'" + log + "' 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A model trained for one epoch on at most `fit_limit` samples, its tensors as the store
// keeps them, and nnspec's own outputs on the first `test_rows` test samples.
struct TrainedModel {
  std::unique_ptr<driver::SpecSession> session;  // owns what config points into
  sema::TrainConfig config;
  std::vector<rt::StoredTensor> tensors;
  int64_t rows = 0;
  int64_t features = 0;
  int64_t width = 0;
  bool classification = true;
  std::vector<float> inputs;   // rows x features, as the trainer reads them
  std::vector<float> outputs;  // rows x width: logits for classes, else the regression values
};

inline std::vector<int64_t> firstOf(const std::vector<int64_t>& indices, size_t limit) {
  return {indices.begin(), indices.begin() + static_cast<std::ptrdiff_t>(std::min(limit, indices.size()))};
}

inline std::vector<rt::StoredTensor> storedTensors(const rt::TrialResult& result) {
  std::vector<rt::StoredTensor> tensors;
  for (const auto& kept : result.parameters) tensors.push_back({kept.name, false, kept.shape, kept.values});
  for (const auto& kept : result.states) tensors.push_back({kept.name, true, kept.shape, kept.values});
  return tensors;
}

// Trains the first point of `sweep` ("" = every sweep, the first taken) of a spec under
// the source tree.
inline TrainedModel trainBriefly(const std::string& spec, const std::string& sweep, size_t fit_limit,
                                 size_t test_rows) {
  TrainedModel model;
  driver::CheckRequest request;
  request.path = std::string(NNSPEC_SOURCE_DIR) + "/" + spec;
  request.data_paths = driver::defaultDataPaths();
  std::vector<std::string> sweeps;
  if (!sweep.empty()) sweeps.push_back(sweep);
  model.session = std::make_unique<driver::SpecSession>(request, std::vector<driver::Override>{{"epochs", "1"}}, sweeps);
  INFO(model.session->diagnostics().renderText());
  REQUIRE(model.session->ok());
  model.config = model.session->spec().checked.sweeps.at(0).checked.at(0).config;
  driver::Materializer materializer(model.session->spec().checked, model.session->spec().data_paths);
  auto views = materializer.split(model.config.split);
  REQUIRE(views.ok());
  const rt::DataView fit{views.value()->train_data, firstOf(views.value()->train, fit_limit)};
  const rt::DataView test{views.value()->test_data, firstOf(views.value()->test, test_rows)};
  auto jit = jit::JitCompiler::create();
  REQUIRE(jit.ok());
  auto compiled = pipeline::compileTrainable(model.config, static_cast<int64_t>(fit.indices.size()), *jit.value());
  REQUIRE(std::holds_alternative<rt::CompiledModel>(compiled));
  const rt::CompiledModel& trainable = std::get<rt::CompiledModel>(compiled);
  rt::TrialSettings settings;
  settings.epochs = 1;
  settings.seed = 11;
  settings.keep_parameters = true;
  settings.keep_test_predictions = true;
  const rt::TrialResult result = rt::runTrial(trainable, fit, rt::DataView{}, test, settings);
  REQUIRE(result.end == rt::TrialEnd::kFinished);
  model.tensors = storedTensors(result);
  model.rows = static_cast<int64_t>(test.indices.size());
  model.features = trainable.features;
  model.width = trainable.output_width;
  model.classification = trainable.classification;
  for (const int64_t index : test.indices) {
    model.inputs.resize(model.inputs.size() + static_cast<size_t>(model.features));
    rt::copyInputValues(*test.data, index * model.features, model.features,
                        model.inputs.data() + model.inputs.size() - static_cast<size_t>(model.features));
  }
  model.outputs = result.test_predictions;
  REQUIRE(static_cast<int64_t>(model.outputs.size()) == model.rows * model.width);
  return model;
}

}  // namespace nnspec::export_test
