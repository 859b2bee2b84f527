// A model leaves nnspec three ways and predicts the same everywhere: `nnspec predict`
// (the JIT'd forward), the ONNX export run by an independent engine (OpenCV's DNN
// module), and the ahead-of-time object linked into a C program by the system compiler.
// A small CNN (zero padding, same/valid convolutions, strides, max and average pooling,
// ELU) is trained one epoch by the built `nnspec`, then compared on 1,000 test images.

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/data/idx.h"
#include "tests/store/temp_dir.h"

namespace {

namespace fs = std::filesystem;

constexpr int64_t kRows = 1000;
constexpr int64_t kClasses = 10;
const std::string kFashionTest = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a shell command; its output goes to `log`, which the failure message shows.
int shell(const std::string& command, const std::string& log) {
  const int status = std::system((command + " > '" + log + "' 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string nnspecCommand(const std::string& args) { return std::string(NNSPEC_BINARY_DIR) + "/nnspec " + args; }

std::string python() {
  if (const char* chosen = std::getenv("NNSPEC_TEST_PYTHON")) return chosen;
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

std::vector<float> readFloats(const std::string& path, size_t count) {
  std::vector<float> values(count);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(count * sizeof(float)));
  REQUIRE(in.gcount() == static_cast<std::streamsize>(count * sizeof(float)));
  return values;
}

// `nnspec predict`'s CSV (label,predicted,p0..p9): the probabilities of the first kRows rows.
std::vector<float> predictedProbabilities(const std::string& csv) {
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);  // header
  std::vector<float> probabilities;
  for (int64_t row = 0; row < kRows && std::getline(lines, line); ++row) {
    std::istringstream fields(line);
    std::string field;
    std::getline(fields, field, ',');  // label
    std::getline(fields, field, ',');  // predicted class
    while (std::getline(fields, field, ',')) probabilities.push_back(std::stof(field));
  }
  REQUIRE(probabilities.size() == static_cast<size_t>(kRows * kClasses));
  return probabilities;
}

int64_t argmax(const std::vector<float>& values, int64_t row) {
  int64_t best = 0;
  for (int64_t k = 1; k < kClasses; ++k) {
    if (values[static_cast<size_t>(row * kClasses + k)] > values[static_cast<size_t>(row * kClasses + best)]) best = k;
  }
  return best;
}

// Same class for every row; the largest probability difference.
double compareWith(const std::vector<float>& expected, const std::vector<float>& actual) {
  double largest = 0;
  int64_t other_class = 0;
  for (int64_t row = 0; row < kRows; ++row) other_class += argmax(expected, row) != argmax(actual, row) ? 1 : 0;
  for (size_t index = 0; index < expected.size(); ++index) {
    largest = std::max(largest, std::fabs(static_cast<double>(expected[index]) - actual[index]));
  }
  CHECK(other_class == 0);
  return largest;
}

constexpr const char* kCProgram = R"c(
#include <stdio.h>
#include <stdlib.h>
#include "cnn.h"

int main(int argc, char** argv) {
  long rows = atol(argv[3]);
  float* in = malloc(sizeof(float) * rows * CNN_INPUT_SIZE);
  float* out = malloc(sizeof(float) * rows * CNN_OUTPUT_SIZE);
  FILE* file = fopen(argv[1], "rb");
  if (!file || fread(in, sizeof(float) * CNN_INPUT_SIZE, rows, file) != (size_t)rows) return 10;
  fclose(file);
  if (cnn_predict(in, out, rows) != 0) return 11;
  file = fopen(argv[2], "wb");
  if (!file || fwrite(out, sizeof(float) * CNN_OUTPUT_SIZE, rows, file) != (size_t)rows) return 12;
  fclose(file);
  return 0;
}
)c";

}  // namespace

TEST_CASE("a stored CNN predicts the same through nnspec predict, ONNX in OpenCV and the object from C", "[e2e]") {
  nnspec::test::TempDir dir;
  const std::string store = dir.path("s.sqlite");
  const std::string log = dir.path("log.txt");
  const std::string spec = std::string(NNSPEC_SOURCE_DIR) + "/tests/e2e/specs/cnn_small.nnspec";
  REQUIRE(shell(nnspecCommand("run '" + spec + "' --set epochs=1 --store '" + store + "' --quiet --no-report"), log) == 0);
  INFO(readText(log));
  REQUIRE(shell(nnspecCommand("predict '" + store + "' --best --data " + kFashionTest + " -o '" + dir.path("pred.csv") + "'"),
                log) == 0);
  const std::vector<float> predicted = predictedProbabilities(readText(dir.path("pred.csv")));

  // The first kRows test images as the model reads them: scaled to [0, 1], flat.
  auto images = nnspec::rt::loadIdxImages(kFashionTest);
  REQUIRE(images.ok());
  const int64_t features = static_cast<int64_t>(images.value().x.size()) / images.value().count;
  REQUIRE(features == 784);
  std::vector<float> inputs(images.value().x.begin(), images.value().x.begin() + kRows * features);
  for (float& value : inputs) value /= 255.0f;
  std::ofstream(dir.path("inputs.f32"), std::ios::binary)
      .write(reinterpret_cast<const char*>(inputs.data()), static_cast<std::streamsize>(inputs.size() * sizeof(float)));

  SECTION("ONNX in OpenCV's DNN module, after onnx's full check") {
    REQUIRE(shell(nnspecCommand("export '" + store + "' --model --best --format onnx -o '" + dir.path("cnn.onnx") + "'"), log) == 0);
    const std::string script = std::string(NNSPEC_SOURCE_DIR) + "/tests/export/onnx_opencv.py";
    REQUIRE(shell(python() + " '" + script + "' '" + dir.path("cnn.onnx") + "' '" + dir.path("inputs.f32") + "' " +
                      std::to_string(kRows) + " " + std::to_string(features) + " '" + dir.path("opencv.f32") + "'",
                  log) == 0);
    const double largest = compareWith(predicted, readFloats(dir.path("opencv.f32"), kRows * kClasses));
    INFO("largest probability difference " << largest);
    CHECK(largest <= 1e-4);
  }
  SECTION("the ahead-of-time object, linked into a C program with cc") {
    REQUIRE(shell(nnspecCommand("export '" + store + "' --model --best --format object --prefix cnn -o '" + dir.path(".") +
                         "'"),
                  log) == 0);
    std::ofstream(dir.path("main.c")) << kCProgram;
    REQUIRE(shell("cc -O2 -o '" + dir.path("main") + "' '" + dir.path("main.c") + "' '" + dir.path("cnn.o") + "' -I'" +
                      dir.path(".") + "' -lm",
                  log) == 0);
    REQUIRE(shell("'" + dir.path("main") + "' '" + dir.path("inputs.f32") + "' '" + dir.path("object.f32") + "' " +
                      std::to_string(kRows),
                  log) == 0);
    const double largest = compareWith(predicted, readFloats(dir.path("object.f32"), kRows * kClasses));
    INFO("largest probability difference " << largest);
    CHECK(largest <= 1e-5);
  }
}
