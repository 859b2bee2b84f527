// Ahead-of-time export (compiler/aot, compiler/driver/export_object): a model trained for
// one epoch in-process is exported as an object and a C header, a C program built with
// the system compiler (cc, -lm only) predicts test images with it, and its probabilities
// match nnspec's own JIT forward pass.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "compiler/aot/aot_compiler.h"
#include "compiler/driver/export_object.h"
#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/exec/step_runner.h"
#include "runtime/train/trial.h"

namespace nnspec {
namespace {

namespace fs = std::filesystem;

constexpr double kProbabilityTolerance = 1e-5;

// A fresh directory for one test's files, removed at the end.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(fs::temp_directory_path() / ("nnspec_aot_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<jit::JitCompiler> newJit() {
  auto created = jit::JitCompiler::create();
  REQUIRE(created.ok());
  return std::move(created.value());
}

// One sweep point trained for one epoch, with its data and the JIT-compiled model.
struct TrainedPoint {
  std::unique_ptr<driver::SpecSession> session;
  std::unique_ptr<driver::Materializer> materializer;
  std::unique_ptr<jit::JitCompiler> jit;
  const sema::TrainConfig* config = nullptr;
  std::vector<std::string> input_notes;
  rt::CompiledModel model;
  rt::DataView test;
  rt::TrialResult trial;
};

// `spec` names a file of specs/, or `source` is the spec's text; `sweep` "" for the only one.
TrainedPoint trainOneEpoch(const std::string& spec, const std::string& sweep, std::optional<std::string> source = {}) {
  TrainedPoint point;
  driver::CheckRequest request;
  request.path = std::string(NNSPEC_SOURCE_DIR) + "/specs/" + spec;
  request.data_paths = driver::defaultDataPaths();
  request.source = std::move(source);
  std::vector<std::string> sweeps;
  if (!sweep.empty()) sweeps.push_back(sweep);
  point.session = std::make_unique<driver::SpecSession>(request, std::vector<driver::Override>{{"epochs", "1"}}, sweeps);
  INFO(point.session->diagnostics().renderText());
  REQUIRE(point.session->ok());
  driver::LoadedSpec& loaded = point.session->spec();
  point.config = &loaded.checked.sweeps.at(0).checked.at(0).config;
  point.input_notes = aot::inputTransforms(loaded.checked, *point.config);
  point.materializer = std::make_unique<driver::Materializer>(loaded.checked, loaded.data_paths);
  auto views = point.materializer->split(point.config->split);
  REQUIRE(views.ok());
  const rt::DataView fit{views.value()->train_data, views.value()->train};
  point.test = rt::DataView{views.value()->test_data, views.value()->test};
  point.jit = newJit();
  auto compiled = pipeline::compileTrainable(*point.config, static_cast<int64_t>(fit.indices.size()), *point.jit);
  REQUIRE(std::holds_alternative<rt::CompiledModel>(compiled));
  point.model = std::get<rt::CompiledModel>(std::move(compiled));
  rt::TrialSettings settings;
  settings.epochs = 1;
  settings.seed = 7;
  settings.evaluate = false;
  settings.keep_parameters = true;
  point.trial = rt::runTrial(point.model, fit, rt::DataView{}, rt::DataView{}, settings);
  REQUIRE(point.trial.end == rt::TrialEnd::kFinished);
  return point;
}

std::vector<rt::StoredTensor> storedTensors(const rt::TrialResult& trial) {
  std::vector<rt::StoredTensor> tensors;
  for (const auto& kept : trial.parameters) tensors.push_back({kept.name, false, kept.shape, kept.values});
  for (const auto& kept : trial.states) tensors.push_back({kept.name, true, kept.shape, kept.values});
  return tensors;
}

// The first `count` test samples.
rt::DataView firstSamples(const rt::DataView& view, size_t count) {
  REQUIRE(view.indices.size() >= count);
  return rt::DataView{view.data, std::vector<int64_t>(view.indices.begin(), view.indices.begin() + count)};
}

// The JIT's forward pass (the trained weights in a StepRunner, rt::evaluateModel's
// predictions); for a classifier, softmax applied in double precision.
std::vector<double> jitOutputs(const TrainedPoint& point, const rt::DataView& samples) {
  rt::StepRunner runner(point.model.full);
  for (const auto& kept : point.trial.parameters) runner.parameter(kept.name) = kept.values;
  for (const auto& kept : point.trial.states) runner.state(kept.name) = kept.values;
  std::vector<float> logits;
  rt::evaluateModel(point.model, runner, samples, "test", &logits);
  const size_t width = static_cast<size_t>(point.model.output_width);
  REQUIRE(logits.size() == samples.indices.size() * width);
  std::vector<double> outputs(logits.begin(), logits.end());
  if (!point.model.classification) return outputs;
  for (size_t row = 0; row < samples.indices.size(); ++row) {
    const float* values = logits.data() + row * width;
    const double top = *std::max_element(values, values + width);
    double sum = 0;
    for (size_t k = 0; k < width; ++k) sum += std::exp(static_cast<double>(values[k]) - top);
    for (size_t k = 0; k < width; ++k) outputs[row * width + k] = std::exp(values[k] - top) / sum;
  }
  return outputs;
}

void writeSamples(const fs::path& path, const rt::DataView& samples) {
  const int64_t features = rt::inputValueCount(*samples.data) / samples.data->count;
  std::ofstream file(path, std::ios::binary);
  std::vector<float> row(static_cast<size_t>(features));
  for (int64_t index : samples.indices) {
    rt::copyInputValues(*samples.data, index * features, features, row.data());
    file.write(reinterpret_cast<const char*>(row.data()), static_cast<std::streamsize>(row.size() * sizeof(float)));
  }
  REQUIRE(file.good());
}

std::vector<float> readFloats(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(values.size() * sizeof(float)),
            reinterpret_cast<char*>(values.data()));
  return values;
}

// A C program over the header: reads n samples from argv[1], predicts them with
// <prefix>_predict, checks the workspace variant gives the same bytes and the argument
// checks, and writes the probabilities to argv[2].
std::string cProgram(const std::string& prefix) {
  std::string text = R"(#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "PREFIX.h"

int main(int argc, char** argv) {
  if (argc != 4) return 10;
  int64_t n = atoll(argv[3]);
  float* in = malloc(sizeof(float) * PREFIXU_INPUT_SIZE * (n + 1));
  float* out = malloc(sizeof(float) * PREFIXU_OUTPUT_SIZE * (n + 1));
  float* again = malloc(sizeof(float) * PREFIXU_OUTPUT_SIZE * (n + 1));
  void* workspace = malloc(PREFIX_workspace_size());
  FILE* input = fopen(argv[1], "rb");
  if (!input || fread(in, sizeof(float) * PREFIXU_INPUT_SIZE, (size_t)n, input) != (size_t)n) return 11;
  fclose(input);
  if (PREFIX_workspace_size() != PREFIXU_WORKSPACE_SIZE) return 12;
  if (PREFIX_predict(in, out, n) != PREFIXU_OK) return 13;
  if (PREFIX_predict_with_workspace(in, again, n, workspace) != PREFIXU_OK) return 14;
  if (memcmp(out, again, sizeof(float) * PREFIXU_OUTPUT_SIZE * n) != 0) return 15;
  if (PREFIX_predict(in, out, 0) != PREFIXU_OK) return 16;
  if (PREFIX_predict(in, out, -1) != PREFIXU_BAD_ARGUMENT) return 17;
  if (PREFIX_predict_with_workspace(in, out, 1, NULL) != PREFIXU_BAD_ARGUMENT) return 18;
  FILE* output = fopen(argv[2], "wb");
  if (!output || fwrite(out, sizeof(float) * PREFIXU_OUTPUT_SIZE, (size_t)n, output) != (size_t)n) return 19;
  fclose(output);
  free(in); free(out); free(again); free(workspace);
  return 0;
}
)";
  auto replace = [&](const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  };
  replace("PREFIXU", aot::macroPrefix(prefix));
  replace("PREFIX", prefix);
  return text;
}

int runCommand(const std::string& command) {
  INFO(command);
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string commandOutput(const std::string& command) {
  std::string output;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  REQUIRE(pipe != nullptr);
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) output += buffer;
  return output;
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> result;
  for (std::string word; stream >> word;) result.push_back(word);
  return result;
}

// What the object may leave undefined: libc and libm.
const std::set<std::string> kLibcSymbols = {"memcpy", "memset", "memmove", "malloc", "free",  "expf",
                                            "logf",   "tanhf",  "exp",     "log",    "tanh", "sqrtf"};

void checkSymbols(const fs::path& object, const std::string& prefix) {
  const std::vector<std::string> undefined = words(commandOutput("nm -u --format=just-symbols '" + object.string() + "'"));
  std::string listed;
  for (const std::string& symbol : undefined) listed += symbol + " ";
  std::printf("aot object %s: undefined symbols: %s\n", object.filename().c_str(), listed.c_str());
  for (const std::string& symbol : undefined) {
    INFO("undefined symbol " << symbol);
    CHECK(kLibcSymbols.count(symbol) == 1);
  }
  const std::vector<std::string> exported =
      words(commandOutput("nm -g --defined-only --format=just-symbols '" + object.string() + "'"));
  CHECK(std::set<std::string>(exported.begin(), exported.end()) ==
        std::set<std::string>{prefix + "_predict", prefix + "_predict_with_workspace", prefix + "_workspace_size"});
  // No mutable data: the weights and tables are read-only.
  CHECK(commandOutput("nm '" + object.string() + "' | awk '$2 ~ /^[bBdD]$/'").empty());
}

struct Comparison {
  double max_difference = 0;
  int64_t class_mismatches = 0;
  int64_t correct = 0;  // rows whose largest output is the sample's label
};

Comparison compare(const std::vector<float>& actual, const std::vector<double>& expected, const rt::DataView& samples,
                   bool classification) {
  REQUIRE(actual.size() == expected.size());
  Comparison result;
  for (size_t element = 0; element < actual.size(); ++element)
    result.max_difference = std::max(result.max_difference, std::fabs(actual[element] - expected[element]));
  if (!classification) return result;
  const size_t width = actual.size() / samples.indices.size();
  for (size_t row = 0; row < samples.indices.size(); ++row) {
    auto actual_row = actual.begin() + static_cast<std::ptrdiff_t>(row * width);
    auto expected_row = expected.begin() + static_cast<std::ptrdiff_t>(row * width);
    const auto predicted = std::max_element(actual_row, actual_row + static_cast<std::ptrdiff_t>(width)) - actual_row;
    if (predicted != std::max_element(expected_row, expected_row + static_cast<std::ptrdiff_t>(width)) - expected_row)
      ++result.class_mismatches;
    const float label = samples.data->y[static_cast<size_t>(samples.indices[row])];
    if (predicted == static_cast<std::ptrdiff_t>(label)) ++result.correct;
  }
  return result;
}

// Exports `point`, builds the C program against it, predicts `count` test samples and
// compares them with the JIT's probabilities (or regression outputs). A classifier must
// get at least `min_accuracy` of them right (the epoch trained it).
void checkExport(const TrainedPoint& point, const std::string& prefix, size_t count, const std::string& cpu,
                 double min_accuracy = 0.0) {
  ScratchDir dir(prefix + (cpu.empty() ? "" : "_" + cpu));
  driver::ExportObjectOptions options;
  options.cpu = cpu;
  options.input_notes = point.input_notes;
  auto exported = driver::exportObject(*point.config, storedTensors(point.trial), prefix, dir.path().string(), options);
  if (auto* error = std::get_if<driver::ExportObjectError>(&exported)) FAIL(error->message);
  const auto& paths = std::get<driver::ExportedObject>(exported).paths;
  REQUIRE(fs::exists(paths.object));
  REQUIRE(fs::exists(paths.header));
  checkSymbols(paths.object, prefix);

  std::ofstream(dir.path() / "main.c") << cProgram(prefix);
  const fs::path app = dir.path() / "app";
  REQUIRE(runCommand("cc -std=c11 -O2 -Wall -Werror -I'" + dir.path().string() + "' '" + (dir.path() / "main.c").string() +
                     "' '" + paths.object + "' -o '" + app.string() + "' -lm") == 0);
  const rt::DataView samples = firstSamples(point.test, count);
  writeSamples(dir.path() / "in.bin", samples);
  REQUIRE(runCommand("'" + app.string() + "' '" + (dir.path() / "in.bin").string() + "' '" +
                     (dir.path() / "out.bin").string() + "' " + std::to_string(count)) == 0);

  const Comparison result =
      compare(readFloats(dir.path() / "out.bin"), jitOutputs(point, samples), samples, point.model.classification);
  std::printf("aot %s (cpu '%s'): %zu samples, max |out_object - out_jit| = %.3g, class mismatches %lld, correct %lld\n",
              prefix.c_str(), cpu.empty() ? "baseline" : cpu.c_str(), count, result.max_difference,
              static_cast<long long>(result.class_mismatches), static_cast<long long>(result.correct));
  CHECK(result.max_difference <= kProbabilityTolerance);
  CHECK(result.class_mismatches == 0);
  CHECK(static_cast<double>(result.correct) >= min_accuracy * static_cast<double>(count));
}

}  // namespace

TEST_CASE("q3's MLP exported as an object predicts as the JIT does, from C", "[aot]") {
  TrainedPoint point = trainOneEpoch("q3_fashion_mlp.nnspec", "baseline");
  // 32 per compiled batch: three full batches and a remainder of five.
  checkExport(point, "fmnist_mlp", 101, "", 0.7);
  checkExport(point, "fmnist_mlp", 37, "host");
}

TEST_CASE("dat565's LeNet-5 exported as an object predicts as the JIT does, from C", "[aot]") {
  TrainedPoint point = trainOneEpoch("dat565_mnist.nnspec", "lenet");
  // 128 per compiled batch: two full batches and a remainder of 44.
  checkExport(point, "mnist_lenet", 300, "", 0.7);
}

// Batch normalization (moving statistics as state leaves), max pooling over partial
// windows, strided "same" convolution, sigmoid and dropout.
constexpr const char* kBatchNormCnn = R"(experiment aot_batchnorm
seed 5
data digits = mnist() | scale(1/255) | reshape([28, 28, 1])
split train = digits.all.shuffle().take(2000), test = digits.all.shuffle().skip(9000)
model cnn {
  input [28, 28, 1]
  conv2d(8, 3, stride: 2, padding: same, activation: relu)
  batchnorm()
  maxpool(3, stride: 2, padding: same)
  flatten
  dense(32, sigmoid)
  batchnorm()
  dropout(0.25)
  dense(10)
}
train { model cnn loss cross_entropy optimizer sgd(lr: 0.05, momentum: 0.9) batch 50 epochs 1 }
)";

// A regression model: its outputs, not probabilities.
constexpr const char* kRegression = R"(experiment aot_regression
seed 6
data d = synthetic(y: sin(x), n: 400)
split train = d.all.shuffle().take(300), test = d.all.shuffle().skip(300)
model m { input [1] dense(16, tanh) dense(8, elu) dense(1) }
train { model m loss mse optimizer adam(lr: 0.01) batch 16 epochs 1 }
)";

TEST_CASE("batch norm's moving statistics and a regression model export too", "[aot]") {
  TrainedPoint cnn = trainOneEpoch("aot_batchnorm.nnspec", "", std::string(kBatchNormCnn));
  REQUIRE_FALSE(cnn.trial.states.empty());
  checkExport(cnn, "digits_bn", 77, "");
  TrainedPoint regression = trainOneEpoch("aot_regression.nnspec", "", std::string(kRegression));
  checkExport(regression, "sine", 41, "");
}

// Softmax between hidden layers (its own row loops in the generated code) and softmax
// under mse as the output of a regression model.
constexpr const char* kHiddenSoftmax = R"(experiment aot_hidden_softmax
seed 8
data digits = mnist() | scale(1/255)
split train = digits.all.shuffle().take(2000), test = digits.all.shuffle().skip(9000)
model mlp { input [28, 28] flatten dense(64, relu) dense(16, softmax) dense(10) }
train { model mlp loss cross_entropy optimizer adam(lr: 0.003) batch 50 epochs 1 }
)";

constexpr const char* kSoftmaxOutput = R"(experiment aot_softmax_output
seed 9
data d = synthetic(y: 0.5 + 0.4 * sin(x), n: 400)
split train = d.all.shuffle().take(300), test = d.all.shuffle().skip(300)
model m { input [1] dense(16, tanh) dense(4, softmax) dense(1, sigmoid) }
train { model m loss mse optimizer adam(lr: 0.01) batch 16 epochs 1 }
)";

TEST_CASE("models with a hidden softmax export as objects too", "[aot]") {
  TrainedPoint classifier = trainOneEpoch("aot_hidden_softmax.nnspec", "", std::string(kHiddenSoftmax));
  checkExport(classifier, "digits_softmax", 77, "");
  TrainedPoint regression = trainOneEpoch("aot_softmax_output.nnspec", "", std::string(kSoftmaxOutput));
  checkExport(regression, "sine_softmax", 41, "");
}

TEST_CASE("the object's header documents the input, the sizes and the functions", "[aot]") {
  aot::ModelInterface model;
  model.prefix = "digits";
  model.model_name = "lenet5";
  model.object_name = "digits.o";
  model.input_shape = {28, 28, 1};
  model.input_size = 784;
  model.output_size = 10;
  model.classes = 10;
  model.batch = 128;
  model.workspace_bytes = 4096;
  model.triple = "x86_64-pc-linux-gnu";
  model.cpu = "x86-64";
  model.input_notes = {"scale(factor: 0.00392157)"};
  const std::string header = aot::renderHeader(model);
  for (const char* expected :
       {"#define DIGITS_INPUT_SIZE 784", "#define DIGITS_OUTPUT_SIZE 10", "#define DIGITS_NUM_CLASSES 10",
        "#define DIGITS_INPUT_HEIGHT 28", "#define DIGITS_INPUT_CHANNELS 1", "#define DIGITS_WORKSPACE_SIZE 4096",
        "int digits_predict(const float* in, float* out, int64_t n);", "size_t digits_workspace_size(void);",
        "channels-last", "scale(factor: 0.00392157)", "probabilities", "extern \"C\""}) {
    INFO(expected);
    CHECK(header.find(expected) != std::string::npos);
  }
}

TEST_CASE("export errors are values: bad prefix, missing tensors, unknown CPU", "[aot]") {
  driver::CheckRequest request;
  request.path = std::string(NNSPEC_SOURCE_DIR) + "/specs/q3_fashion_mlp.nnspec";
  request.data_paths = driver::defaultDataPaths();
  driver::SpecSession session(request, {}, {"baseline"});
  REQUIRE(session.ok());
  const sema::TrainConfig& config = session.spec().checked.sweeps.at(0).checked.at(0).config;
  auto errorOf = [&](const std::vector<rt::StoredTensor>& tensors, const std::string& prefix, const std::string& cpu) {
    driver::ExportObjectOptions options;
    options.cpu = cpu;
    auto exported = driver::exportObject(config, tensors, prefix, fs::temp_directory_path().string(), options);
    REQUIRE(std::holds_alternative<driver::ExportObjectError>(exported));
    const auto& error = std::get<driver::ExportObjectError>(exported);
    CHECK(error.exit_code == 2);
    return error.message;
  };
  CHECK_THAT(errorOf({}, "2bad", ""), Catch::Contains("not a C identifier"));
  CHECK_THAT(errorOf({}, "model", ""), Catch::Contains("have no parameter"));
  // Every parameter present but the first of the wrong size.
  std::vector<rt::StoredTensor> tensors;
  {
    pipeline::Options options;
    options.stop_after = pipeline::Pass::kPlanStep;
    auto passes = pipeline::runPasses(config, 1, options);
    REQUIRE(std::holds_alternative<pipeline::Artifacts>(passes));
    for (const auto& slot : std::get<pipeline::Artifacts>(passes).plan.layout.parameters)
      tensors.push_back({slot.name, false, slot.type.shape, std::vector<float>(static_cast<size_t>(slot.type.numElements()))});
  }
  tensors[0].values.pop_back();
  CHECK_THAT(errorOf(tensors, "model", ""), Catch::Contains("the model needs"));
  tensors[0].values.push_back(0.0f);
  CHECK_THAT(errorOf(tensors, "model", "no-such-cpu"), Catch::Contains("is not a CPU"));
  // The same tensors with a named CPU compile (AVX2 code, not run here).
  aot::AotOptions options;
  options.cpu = "x86-64-v3";
  options.batch = 4;
  std::vector<aot::TensorView> views;
  for (const auto& tensor : tensors) views.push_back({tensor.name, false, tensor.shape, tensor.values});
  auto compiled = aot::compileObject(config, views, "model", options);
  if (auto* error = std::get_if<aot::AotError>(&compiled)) FAIL(error->message);
  CHECK(std::get<aot::AotObject>(compiled).interface.cpu == "x86-64-v3");
  CHECK(std::get<aot::AotObject>(compiled).interface.batch == 4);
}

}  // namespace nnspec
