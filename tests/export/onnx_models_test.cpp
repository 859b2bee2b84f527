// Trained models exported as ONNX: onnx's checker accepts them and OpenCV's DNN module,
// an engine that shares no code with nnspec, gives the same classes and probabilities
// (or regression values) as nnspec's own forward on 1,000 test samples.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>

#include <fmt/format.h>

#include "compiler/driver/export_model.h"
#include "tests/export/export_fixture.h"

namespace nnspec::export_test {
namespace {

constexpr double kTolerance = 1e-4;

std::vector<float> softmaxRows(const std::vector<float>& logits, int64_t width) {
  std::vector<float> out(logits.size());
  for (size_t start = 0; start < logits.size(); start += static_cast<size_t>(width)) {
    const float* row = logits.data() + start;
    const double top = *std::max_element(row, row + width);
    double sum = 0;
    for (int64_t k = 0; k < width; ++k) sum += std::exp(static_cast<double>(row[k]) - top);
    for (int64_t k = 0; k < width; ++k) out[start + k] = static_cast<float>(std::exp(row[k] - top) / sum);
  }
  return out;
}

int64_t argmax(const float* row, int64_t width) { return std::max_element(row, row + width) - row; }

struct Agreement {
  int64_t class_mismatches = 0;
  double max_difference = 0;
};

Agreement compare(const std::vector<float>& ours, const std::vector<float>& theirs, int64_t width, bool classes) {
  Agreement agreement;
  for (size_t index = 0; index < ours.size(); ++index) {
    agreement.max_difference = std::max(agreement.max_difference, std::fabs(double(ours[index]) - theirs[index]));
  }
  if (!classes) return agreement;
  for (size_t start = 0; start < ours.size(); start += static_cast<size_t>(width)) {
    if (argmax(ours.data() + start, width) != argmax(theirs.data() + start, width)) ++agreement.class_mismatches;
  }
  return agreement;
}

// Exports `model` with the driver's entry, runs it with OpenCV and compares.
void checkAgainstOpenCv(const TrainedModel& model, const std::string& label) {
  ScratchDir scratch(label);
  const std::string onnx_path = scratch.file("model.onnx");
  const driver::Outcome outcome = driver::exportModel(model.config, model.tensors, driver::ModelFormat::kOnnx, onnx_path);
  INFO(outcome.err);
  REQUIRE(outcome.exit_code == 0);
  writeFloats(scratch.file("inputs.bin"), model.inputs);
  const int status = runScript("onnx_opencv.py",
                               {onnx_path, scratch.file("inputs.bin"), std::to_string(model.rows),
                                std::to_string(model.features), scratch.file("outputs.bin")},
                               scratch.file("log.txt"));
  INFO(readFile(scratch.file("log.txt")));
  REQUIRE(status == 0);
  const std::vector<float> theirs = readFloats(scratch.file("outputs.bin"));
  REQUIRE(theirs.size() == model.outputs.size());
  const std::vector<float> ours = model.classification ? softmaxRows(model.outputs, model.width) : model.outputs;
  const Agreement agreement = compare(ours, theirs, model.width, model.classification);
  std::cout << fmt::format("export: {}: {} rows, classes differ in {}, max |nnspec - opencv| {:.3g}\n", label,
                           model.rows, agreement.class_mismatches, agreement.max_difference);
  CHECK(agreement.class_mismatches == 0);
  CHECK(agreement.max_difference <= kTolerance);
}

}  // namespace

TEST_CASE("onnx: dat565's LeNet-5 (zero padding, average pooling, dropout) runs alike in OpenCV", "[export]") {
  const TrainedModel model = trainBriefly("specs/dat565_mnist.nnspec", "lenet", 2000, 1000);
  checkAgainstOpenCv(model, "dat565_lenet5");
}

TEST_CASE("onnx: amath482's CNN (same padding, max pooling, elu) runs alike in OpenCV", "[export]") {
  const TrainedModel model = trainBriefly("specs/amath482_fashion.nnspec", "convolutional", 2000, 1000);
  checkAgainstOpenCv(model, "amath482_cnn");
}

TEST_CASE("onnx: every layer and activation, batch norm on images and rows, runs alike in OpenCV", "[export]") {
  const TrainedModel model = trainBriefly("tests/export/specs/layers.nnspec", "", 2000, 1000);
  checkAgainstOpenCv(model, "layers");
}

TEST_CASE("onnx: a batch-normalized regression model gives its values in OpenCV", "[export]") {
  const TrainedModel model = trainBriefly("tests/e2e/specs/batchnorm.nnspec", "", 500, 1000);
  REQUIRE_FALSE(model.classification);
  checkAgainstOpenCv(model, "batchnorm_regression");
}

}  // namespace nnspec::export_test
