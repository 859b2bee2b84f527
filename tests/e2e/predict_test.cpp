// `nnspec predict` end to end: the built binary runs a spec into a store, then predicts
// with the kept weights; the accuracy or MSE it prints equals the run's. Also the spec's
// `keep` policies and the bad-input messages (exit 2).

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/pipeline/folds.h"
#include "tests/export/export_fixture.h"
#include "runtime/pipeline/labels.h"
#include "runtime/store/store.h"

namespace {

namespace fs = std::filesystem;

std::string sourcePath(const std::string& name) { return std::string(NNSPEC_SOURCE_DIR) + "/" + name; }
const std::string kFashionTest = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path =
        fs::temp_directory_path() / ("nnspec_predict_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

struct Command {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Runs the built nnspec with `args` (shell words, quoted by the caller where needed).
Command runNnspec(const TempDir& dir, const std::string& args) {
  const std::string out = dir.file("stdout.txt");
  const std::string err = dir.file("stderr.txt");
  const std::string command = std::string(NNSPEC_BINARY_DIR) + "/nnspec " + args + " > '" + out + "' 2> '" + err + "'";
  const int status = std::system(command.c_str());
  return Command{WIFEXITED(status) ? WEXITSTATUS(status) : -1, readText(out), readText(err)};
}

// The number after `label` in `text` (e.g. "accuracy 0.8712"), or NaN.
double numberAfter(const std::string& text, const std::string& label) {
  std::smatch match;
  const std::regex pattern(std::regex_replace(label, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                           R"(\s+(-?[0-9.]+(e-?[0-9]+)?))");
  if (!std::regex_search(text, match, pattern)) return std::nan("");
  return std::stod(match[1].str());
}

std::vector<nnspec::rt::TrialRow> trialsOf(const std::string& store_path) {
  auto store = nnspec::rt::Store::open(store_path);
  REQUIRE(store.ok());
  auto studies = store.value().listStudies();
  REQUIRE(studies.ok());
  REQUIRE(!studies.value().empty());
  auto rows = store.value().listTrials(studies.value().back().id);
  REQUIRE(rows.ok());
  return rows.value();
}

// Ids of the trials that kept their weights.
std::vector<int64_t> keptTrials(const std::string& store_path) {
  auto store = nnspec::rt::Store::open(store_path);
  REQUIRE(store.ok());
  std::vector<int64_t> kept;
  for (const auto& row : trialsOf(store_path)) {
    auto tensors = store.value().readTensors(nnspec::rt::TrialHandle{row.id});
    REQUIRE(tensors.ok());
    if (!tensors.value().empty()) kept.push_back(row.id);
  }
  return kept;
}

std::string fixed4(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

// A run of amath482's CNN for `epochs`, then predict --best on the Fashion-MNIST test
// files: the test accuracy the run printed.
void checkAmathCnn(int epochs) {
  TempDir dir;
  const std::string store = dir.file("s.sqlite");
  const Command run = runNnspec(dir, "run " + sourcePath("specs/amath482_fashion.nnspec") +
                                         " --sweep convolutional --set epochs=" + std::to_string(epochs) + " --store " +
                                         store + " --no-report --quiet --jobs 1");
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const auto rows = trialsOf(store);
  REQUIRE(rows.size() == 1);
  const double stored = rows[0].final_metrics.at("test.accuracy");
  CHECK_THAT(run.out, Catch::Contains(fixed4(stored)));  // the run's table
  const Command predict =
      runNnspec(dir, "predict " + store + " --best --data " + kFashionTest + " -o " + dir.file("p.csv"));
  INFO(predict.out << predict.err);
  REQUIRE(predict.exit_code == 0);
  const double predicted = numberAfter(predict.out, ": accuracy");
  WARN("amath482 CNN, " << epochs << " epoch(s): run test.accuracy " << fixed4(stored) << ", predict accuracy "
                        << fixed4(predicted));
  CHECK_THAT(predicted, Catch::WithinAbs(stored, 1e-12));
  CHECK_THAT(predict.out, Catch::Contains("10000 samples"));
  const std::string csv = readText(dir.file("p.csv"));
  CHECK(csv.rfind("label,predicted,p0,p1,", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 10001);
}

// hw1's regression on its CSVs, searched by TPE with 2-fold CV, a refit and a mean
// ensemble (4 draws, a few epochs: seconds).
std::string hw1Regression(const std::string& keep) {
  return "experiment hw1_regression\nseed 1\n" + keep + "\ndata curve = csv(train: \"" +
         sourcePath("specs/data/hw1_train.csv") + "\", test: \"" + sourcePath("specs/data/hw1_test.csv") +
         "\", features: [\"x\"], target: \"y\")\n"
         "split regression: train = curve.train, test = curve.test\n"
         "param n_layers in int(1, 2)\n"
         "param units[n_layers] in int(16, 32)\n"
         "param lr in float(1e-3, 1e-2, log: true)\n"
         "param optimizer in categorical(adam(lr: lr), sgd(lr: lr, momentum: 0.9))\n"
         "model regressor { input [1] for u in units { dense(u, relu) } dense(1) }\n"
         "train fit_curve { model regressor split regression loss mse optimizer optimizer batch 10 epochs 20 }\n"
         "sweep curve = tpe(n_layers, units, lr, optimizer) using fit_curve trials 4 cv 2\n"
         "  select min val.loss refit ensemble mean\n";
}

// Tiny IDX files: `count` images of rows x cols and, when labels are given, their labels.
void writeIdx(const std::string& images, const std::string& labels, int count, int rows, int cols,
              const std::vector<uint8_t>& label_values) {
  auto header = [](std::vector<uint8_t>& bytes, uint8_t dims, std::vector<uint32_t> sizes) {
    bytes.insert(bytes.end(), {0, 0, 0x08, dims});
    for (uint32_t size : sizes) {
      for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(size >> shift));
    }
  };
  std::vector<uint8_t> image_bytes;
  header(image_bytes, 3, {static_cast<uint32_t>(count), static_cast<uint32_t>(rows), static_cast<uint32_t>(cols)});
  image_bytes.resize(image_bytes.size() + static_cast<size_t>(count * rows * cols), 7);
  std::ofstream(images, std::ios::binary)
      .write(reinterpret_cast<const char*>(image_bytes.data()), static_cast<std::streamsize>(image_bytes.size()));
  if (labels.empty()) return;
  std::vector<uint8_t> label_bytes;
  header(label_bytes, 1, {static_cast<uint32_t>(label_values.size())});
  label_bytes.insert(label_bytes.end(), label_values.begin(), label_values.end());
  std::ofstream(labels, std::ios::binary)
      .write(reinterpret_cast<const char*>(label_bytes.data()), static_cast<std::streamsize>(label_bytes.size()));
}

}  // namespace

TEST_CASE("predict --best on the amath482 CNN (1 epoch) prints the run's test accuracy", "[e2e][predict]") {
  checkAmathCnn(1);
}

TEST_CASE("predict --best on the amath482 CNN (3 epochs, the issue's figure) prints the run's test accuracy",
          "[e2e][predict][.slow]") {
  checkAmathCnn(3);
}

TEST_CASE("predict on hw1's regression CSV: the refit's and a fold's MSE match the run's test.mse", "[e2e][predict]") {
  TempDir dir;
  const std::string spec = dir.file("hw1_regression.nnspec");
  writeText(spec, hw1Regression(""));
  const std::string store = dir.file("s.sqlite");
  const Command run = runNnspec(dir, "run " + spec + " --store " + store + " --no-report --jobs 2");
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const auto rows = trialsOf(store);
  const nnspec::rt::TrialRow* refit = nullptr;
  for (const auto& row : rows) refit = row.key.fold < 0 ? &row : refit;
  REQUIRE(refit != nullptr);
  const std::string data = sourcePath("specs/data/hw1_test.csv");
  const Command best = runNnspec(dir, "predict " + store + " --best curve --data " + data + " -o " + dir.file("p.csv"));
  INFO(best.out << best.err);
  REQUIRE(best.exit_code == 0);
  CHECK_THAT(best.out, Catch::Contains("refit on all training data"));
  const double refit_mse = refit->final_metrics.at("test.mse");
  WARN("hw1 regression refit: run test.mse " << fixed4(refit_mse) << ", predict mse "
                                             << fixed4(numberAfter(best.out, ": mse")));
  CHECK(fixed4(numberAfter(best.out, ": mse")) == fixed4(refit_mse));     // both print 4 decimals
  CHECK_THAT(run.out, Catch::Contains("test.mse " + fixed4(refit_mse)));  // the run's refit line
  // `keep best` kept the best point's two folds and its refit.
  const auto kept = keptTrials(store);
  CHECK(kept.size() == 3);
  CHECK_THAT(run.out, Catch::Contains("trained weights kept (keep best): 3 trials"));
  for (const int64_t id : kept) {
    if (id == refit->id) continue;
    const Command fold = runNnspec(dir, "predict " + store + " --trial " + std::to_string(id) + " --data " + data);
    INFO(fold.err);
    REQUIRE(fold.exit_code == 0);
    double stored = 0;
    for (const auto& row : rows) stored = row.id == id ? row.final_metrics.at("test.mse") : stored;
    CHECK(fixed4(numberAfter(fold.err, ": mse")) == fixed4(stored));
    CHECK(fold.out.rfind("target0,output0\n", 0) == 0);  // the CSV on stdout
  }
  // New samples without the target column: predictions only, the same outputs.
  std::ifstream labelled(data);
  std::ofstream features_only(dir.file("x_only.csv"));
  for (std::string line; std::getline(labelled, line);) features_only << line.substr(0, line.find(',')) << "\n";
  features_only.close();
  const Command unlabelled =
      runNnspec(dir, "predict " + store + " --best curve --data " + dir.file("x_only.csv") + " -o " + dir.file("u.csv"));
  INFO(unlabelled.out << unlabelled.err);
  REQUIRE(unlabelled.exit_code == 0);
  CHECK_THAT(unlabelled.out, Catch::Contains("(no labels or targets beside them)"));
  const std::string with_targets = readText(dir.file("p.csv"));
  const std::string without = readText(dir.file("u.csv"));
  REQUIRE(with_targets.rfind("target0,output0\n", 0) == 0);
  REQUIRE(without.rfind("target0,output0\n", 0) == 0);
  // Row by row: the same output after an empty target.
  std::istringstream a(with_targets), b(without);
  int rows_compared = 0;
  for (std::string left, right; std::getline(a, left) && std::getline(b, right);) {
    CHECK(left.substr(left.find(',')) == right.substr(right.find(',')));
    ++rows_compared;
  }
  CHECK(rows_compared == std::count(with_targets.begin(), with_targets.end(), '\n'));
}

TEST_CASE("keep all keeps every finished trial's weights, keep none drops them all", "[e2e][predict]") {
  TempDir dir;
  const std::string base = readText(sourcePath("tests/e2e/specs/synthetic_regression.nnspec"));
  for (const auto& [policy, expected] : {std::pair{"all", 8}, std::pair{"none", 0}, std::pair{"best", 2}}) {
    const std::string spec = dir.file(std::string("keep_") + policy + ".nnspec");
    writeText(spec, base + "\nkeep " + policy + "\n");
    const std::string store = dir.file(std::string("keep_") + policy + ".sqlite");
    const Command run = runNnspec(dir, "run " + spec + " --store " + store + " --no-report --set epochs=3 --jobs 2");
    INFO(policy << "\n" << run.out << run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(keptTrials(store).size() == static_cast<size_t>(expected));
    CHECK_THAT(run.out, Catch::Contains(std::string("trained weights kept (keep ") + policy + ")"));
  }
}

TEST_CASE("a bad keep policy is a diagnostic with a suggestion", "[e2e][predict]") {
  TempDir dir;
  const std::string spec = dir.file("bad_keep.nnspec");
  writeText(spec, readText(sourcePath("tests/e2e/specs/synthetic_regression.nnspec")) + "keep bset\n");
  const Command check = runNnspec(dir, "check " + spec);
  CHECK(check.exit_code == 2);
  CHECK_THAT(check.err, Catch::Contains("'keep' takes all, best or none, not 'bset'"));
  CHECK_THAT(check.err, Catch::Contains("did you mean 'best'?"));
}

TEST_CASE("predict: bad input exits 2 and says what is there instead", "[e2e][predict]") {
  TempDir dir;
  const std::string store = dir.file("s.sqlite");
  const Command run = runNnspec(dir, "run " + sourcePath("tests/e2e/specs/fashion_small.nnspec") + " --store " + store +
                                         " --no-report --quiet --set epochs=1 --jobs 2");
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const auto kept = keptTrials(store);
  REQUIRE(kept.size() == 1);  // keep best: the one trial of the best point
  int64_t dropped = 0;
  for (const auto& row : trialsOf(store)) dropped = row.id != kept[0] ? row.id : dropped;
  struct Case {
    std::string args;
    std::string message;
  };
  const std::string images = dir.file("small-images-idx3-ubyte");
  const std::string labels = dir.file("small-labels-idx1-ubyte");
  writeIdx(images, labels, 3, 28, 28, {0, 11, 2});
  const std::string narrow = dir.file("narrow-images-idx3-ubyte");
  writeIdx(narrow, "", 2, 10, 10, {});
  writeText(dir.file("not_a_store.sqlite"), "hello\n");
  const std::vector<Case> cases = {
      {"predict " + dir.file("missing.sqlite") + " --data " + kFashionTest, "does not exist"},
      {"predict " + dir.file("not_a_store.sqlite") + " --data " + kFashionTest, "not_a_store.sqlite"},
      {"predict " + store + " --trial 999 --data " + kFashionTest, "has no trial 999"},
      {"predict " + store + " --trial " + std::to_string(dropped) + " --data " + kFashionTest,
       "trials with kept weights: " + std::to_string(kept[0])},
      {"predict " + store + " --best nope --data " + kFashionTest, "has no sweep 'nope'"},
      {"predict " + store + " --data " + images, "its labels go up to 11; the model has 10 classes"},
      {"predict " + store + " --data " + narrow, "its samples have 100 values (shape [10, 10]); the model takes 784"},
      {"predict " + store + " --data " + sourcePath("specs/data/hw1_test.csv"), "hw1_test.csv"},
      {"predict " + store, "predict needs --data FILE"},
  };
  for (const auto& item : cases) {
    const Command predict = runNnspec(dir, item.args);
    INFO(item.args << "\n" << predict.out << predict.err);
    CHECK(predict.exit_code == 2);
    CHECK_THAT(predict.err, Catch::Contains(item.message));
  }
  // Images without a labels file beside them: predictions, no accuracy.
  const std::string lone = dir.file("lone-images-idx3-ubyte");
  writeIdx(lone, "", 2, 28, 28, {});
  const Command unlabelled = runNnspec(dir, "predict " + store + " --data " + lone);
  INFO(unlabelled.err);
  CHECK(unlabelled.exit_code == 0);
  CHECK(unlabelled.out.rfind("predicted,p0,", 0) == 0);
  CHECK_THAT(unlabelled.err, Catch::Contains("no labels or targets"));
}

namespace {

// A two-class CSV whose features live on scales 1e-3 to 1e3: the class is whether
// x0/1000 + x1 > 1.1. `rows` rows drawn with `seed`.
void writeScaledCsv(const std::string& path, int rows, unsigned seed, std::vector<std::vector<double>>* kept) {
  std::srand(seed);
  const auto uniform = [] { return static_cast<double>(std::rand()) / RAND_MAX; };
  std::ofstream out(path);
  out << std::setprecision(9) << "x0,x1,x2,label\n";
  for (int row = 0; row < rows; ++row) {
    const double x0 = 1000 * uniform();
    const double x1 = uniform();
    const double x2 = 0.002 * uniform() - 0.001;
    const int label = x0 / 1000 + x1 > 1.1 ? 1 : 0;
    out << x0 << "," << x1 << "," << x2 << "," << label << "\n";
    kept->push_back({x0, x1, x2, static_cast<double>(label)});
  }
}

std::vector<float> storedTensor(const std::string& store_path, int64_t trial, const std::string& name) {
  auto store = nnspec::rt::Store::open(store_path);
  REQUIRE(store.ok());
  auto tensors = store.value().readTensors(nnspec::rt::TrialHandle{trial});
  REQUIRE(tensors.ok());
  for (const auto& tensor : tensors.value()) {
    if (tensor.name == name) return tensor.values;
  }
  return {};
}

}  // namespace

TEST_CASE("standardize is fitted on each fold's training rows only, and predict applies the kept statistics",
          "[e2e][predict][standardize]") {
  TempDir dir;
  std::vector<std::vector<double>> train_rows, test_rows;
  writeScaledCsv(dir.file("train.csv"), 300, 7, &train_rows);
  writeScaledCsv(dir.file("test.csv"), 200, 8, &test_rows);
  const auto spec = [&](const std::string& transforms) {
    return "experiment scaled\nseed 3\nkeep all\n"
           "data d = csv(train: \"" + dir.file("train.csv") + "\", test: \"" + dir.file("test.csv") +
           "\", target: \"label\")" + transforms +
           "\nsplit train = d.train, test = d.test\n"
           "model m {\n  input [3]\n  dense(16, tanh)\n  dense(2)\n}\n"
           "train t { model m loss cross_entropy optimizer sgd(lr: 0.1) batch 30 epochs 40 }\n"
           "sweep g = grid() using t cv 3 refit select max val.accuracy\n";
  };
  writeText(dir.file("standardized.nnspec"), spec(" | standardize"));
  writeText(dir.file("raw.nnspec"), spec(""));
  const std::string store = dir.file("s.sqlite");
  const Command run = runNnspec(dir, "run " + dir.file("standardized.nnspec") + " --store " + store);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const Command raw = runNnspec(dir, "run " + dir.file("raw.nnspec") + " --store " + dir.file("raw.sqlite"));
  REQUIRE(raw.exit_code == 0);

  // Each fold's statistics are its training rows' (never the held-out fold's), the refit's
  // all training rows'; none sees the test rows.
  nnspec::rt::PartLabels labels;
  labels.count = static_cast<int64_t>(train_rows.size());
  labels.num_classes = 2;
  for (const auto& row : train_rows) labels.labels.push_back(static_cast<int32_t>(row[3]));
  std::vector<int64_t> all(train_rows.size());
  for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int64_t>(k);
  const auto meanOf = [&](const std::vector<int64_t>& rows, int feature) {
    double sum = 0;
    for (const int64_t row : rows) sum += train_rows[static_cast<size_t>(row)][static_cast<size_t>(feature)];
    return sum / static_cast<double>(rows.size());
  };
  const auto trials = trialsOf(store);
  REQUIRE(trials.size() == 4);
  for (const auto& trial : trials) {
    std::vector<int64_t> fit = all;
    if (trial.key.fold >= 0) {
      auto fold = nnspec::rt::selectFold(all, labels, 3, trial.key.fold, false);
      REQUIRE(fold.ok());
      fit = fold.value().fit;
      REQUIRE(fit.size() == 200);
    }
    const std::vector<float> mean = storedTensor(store, trial.id, "input.standardize.mean");
    const std::vector<float> stddev = storedTensor(store, trial.id, "input.standardize.stddev");
    REQUIRE(mean.size() == 3);
    REQUIRE(stddev.size() == 3);
    for (int feature = 0; feature < 3; ++feature) {
      INFO("trial " << trial.id << " fold " << trial.key.fold << " feature " << feature);
      const double expected = meanOf(fit, feature);
      CHECK(std::abs(mean[static_cast<size_t>(feature)] - expected) <= 1e-5 * (std::abs(expected) + 1e-3));
      if (trial.key.fold >= 0) CHECK(std::abs(mean[static_cast<size_t>(feature)] - meanOf(all, feature)) > 1e-7);
    }
    CHECK(stddev[0] > 200);  // x0 spans 0..1000
    CHECK(stddev[2] < 0.001);
  }
  // Standardized, the small-scale features count and the network learns the rule; raw, x0
  // dominates and plain SGD at this rate does much worse.
  const double standardized_test = numberAfter(run.out, "refit on all training data:  test.accuracy");
  const double raw_test = numberAfter(raw.out, "refit on all training data:  test.accuracy");
  INFO(run.out << "\n" << raw.out);
  CHECK(standardized_test >= 0.9);
  CHECK(standardized_test > raw_test + 0.05);

  // predict reads the raw CSV and standardizes it with the refit's statistics: the run's figure.
  const Command predict = runNnspec(dir, "predict " + store + " --best g --data " + dir.file("test.csv"));
  INFO(predict.err);
  REQUIRE(predict.exit_code == 0);
  CHECK(numberAfter(predict.err, "accuracy") == Approx(standardized_test).margin(1e-4));

  // The ONNX export standardizes its input too: OpenCV, given the raw test rows, gives
  // predict's probabilities.
  const std::string onnx = dir.file("m.onnx");
  const Command exported = runNnspec(dir, "export " + store + " --model --best g --format onnx -o " + onnx);
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  std::vector<float> raw_rows;
  for (const auto& row : test_rows) {
    for (size_t feature = 0; feature < 3; ++feature) raw_rows.push_back(static_cast<float>(row[feature]));
  }
  namespace ex = nnspec::export_test;
  ex::writeFloats(dir.file("rows.f32"), raw_rows);
  REQUIRE(ex::runScript("onnx_opencv.py", {onnx, dir.file("rows.f32"), "200", "3", dir.file("out.f32")},
                        dir.file("opencv.log")) == 0);
  const std::vector<float> opencv = ex::readFloats(dir.file("out.f32"));
  REQUIRE(opencv.size() == 400);
  std::istringstream lines(predict.out);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "label,predicted,p0,p1");
  for (size_t row = 0; row < 200 && std::getline(lines, line); ++row) {
    std::vector<std::string> cells;
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    REQUIRE(cells.size() == 4);
    INFO("row " << row << ": " << line);
    CHECK(opencv[2 * row] == Approx(std::stod(cells[2])).margin(1e-4));
    CHECK(opencv[2 * row + 1] == Approx(std::stod(cells[3])).margin(1e-4));
  }

  // So does the ahead-of-time object, linked into a C program by the system's compiler.
  fs::create_directories(dir.file("object"));
  const Command object =
      runNnspec(dir, "export " + store + " --model --best g --format object --prefix scaled -o " + dir.file("object"));
  INFO(object.out << object.err);
  REQUIRE(object.exit_code == 0);
  CHECK_THAT(readText(dir.file("object/scaled.h")), Catch::Contains("the object standardizes each sample"));
  writeText(dir.file("object/main.c"), R"(#include <stdio.h>
#include <stdlib.h>
#include "scaled.h"
int main(int argc, char** argv) {
  int64_t n = atoll(argv[3]);
  float* in = malloc(sizeof(float) * SCALED_INPUT_SIZE * n);
  float* out = malloc(sizeof(float) * SCALED_OUTPUT_SIZE * n);
  FILE* input = fopen(argv[1], "rb");
  if (!input || fread(in, sizeof(float) * SCALED_INPUT_SIZE, (size_t)n, input) != (size_t)n) return 11;
  if (scaled_predict(in, out, n) != SCALED_OK) return 12;
  FILE* output = fopen(argv[2], "wb");
  if (!output || fwrite(out, sizeof(float) * SCALED_OUTPUT_SIZE, (size_t)n, output) != (size_t)n) return 13;
  fclose(output);
  return 0;
}
)");
  const std::string app = dir.file("object/app");
  REQUIRE(std::system(("cc -std=c11 -O2 -I'" + dir.file("object") + "' '" + dir.file("object/main.c") + "' '" +
                       dir.file("object/scaled.o") + "' -o '" + app + "' -lm")
                          .c_str()) == 0);
  REQUIRE(std::system(("'" + app + "' '" + dir.file("rows.f32") + "' '" + dir.file("aot.f32") + "' 200").c_str()) == 0);
  const std::vector<float> aot = ex::readFloats(dir.file("aot.f32"));
  REQUIRE(aot.size() == 400);
  for (size_t value = 0; value < aot.size(); ++value) CHECK(aot[value] == Approx(opencv[value]).margin(1e-4));
}
