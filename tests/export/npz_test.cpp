// The npz writer: numpy reads every tensor back (names, shapes, values) without extra
// packages; malformed tensor lists are errors, not files.

#include <catch2/catch.hpp>

#include <sstream>

#include "compiler/driver/export_model.h"
#include "compiler/export/npz_writer.h"
#include "tests/export/export_fixture.h"

namespace nnspec::export_test {
namespace {

std::vector<exporting::NamedTensor> sampleTensors() {
  std::vector<exporting::NamedTensor> tensors;
  tensors.push_back({"dense1.kernel", {3, 2}, {1.5f, -2.0f, 0.25f, 1e-7f, -0.0f, 3.0e5f}});
  tensors.push_back({"dense1.bias", {2}, {0.5f, -0.5f}});
  tensors.push_back({"conv1.kernel", {2, 1, 1, 3}, {1, 2, 3, 4, 5, 6}});
  tensors.push_back({"batchnorm1.moving_mean", {}, {42.0f}});
  return tensors;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string text;
  for (size_t index = 0; index < shape.size(); ++index) text += (index ? "," : "") + std::to_string(shape[index]);
  return text;
}

}  // namespace

TEST_CASE("npz: numpy reads every tensor's name, shape and values", "[export]") {
  const auto tensors = sampleTensors();
  auto bytes = exporting::npzBytes(tensors);
  REQUIRE(std::holds_alternative<std::string>(bytes));
  ScratchDir scratch("npz");
  {
    std::ofstream out(scratch.file("model.npz"), std::ios::binary);
    out << std::get<std::string>(bytes);
  }
  const int status =
      runScript("npz_numpy.py", {scratch.file("model.npz"), scratch.file("listing.txt"), scratch.file("values.bin")},
                scratch.file("log.txt"));
  INFO(readFile(scratch.file("log.txt")));
  REQUIRE(status == 0);
  std::istringstream listing(readFile(scratch.file("listing.txt")));
  std::vector<float> expected_values;
  for (const auto& tensor : tensors) {
    std::string line;
    REQUIRE(std::getline(listing, line));
    CHECK(line == tensor.name + " <f4 " + shapeText(tensor.shape));
    expected_values.insert(expected_values.end(), tensor.values.begin(), tensor.values.end());
  }
  const std::vector<float> values = readFloats(scratch.file("values.bin"));
  REQUIRE(values.size() == expected_values.size());
  // The bytes go through unchanged: equal bit patterns, not just close values.
  CHECK(std::memcmp(values.data(), expected_values.data(), values.size() * sizeof(float)) == 0);
}

TEST_CASE("npz: the .npy header is padded to 64 bytes and ends in a newline", "[export]") {
  const std::string npy = exporting::npyBytes({"w", {784, 50}, std::vector<float>(784 * 50)});
  REQUIRE(npy.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const size_t header = static_cast<uint8_t>(npy[8]) | static_cast<size_t>(static_cast<uint8_t>(npy[9])) << 8;
  CHECK((10 + header) % 64 == 0);
  CHECK(npy[10 + header - 1] == '\n');
  CHECK(npy.find("'shape': (784, 50)") != std::string::npos);
  CHECK(npy.size() == 10 + header + 784 * 50 * sizeof(float));
}

TEST_CASE("npz: duplicate names and values that do not fill their shape are errors", "[export]") {
  auto duplicate = exporting::npzBytes({{"a", {1}, {1}}, {"a", {1}, {2}}});
  REQUIRE(std::holds_alternative<exporting::ExportError>(duplicate));
  CHECK(std::get<exporting::ExportError>(duplicate).message == "two tensors are named 'a'");
  auto short_values = exporting::npzBytes({{"b", {2, 3}, {1, 2}}});
  REQUIRE(std::holds_alternative<exporting::ExportError>(short_values));
  CHECK(std::get<exporting::ExportError>(short_values).message == "tensor 'b' has 2 values for shape (2, 3)");
}

TEST_CASE("export: a trained model's npz holds its parameters and moving statistics", "[export]") {
  const TrainedModel model = trainBriefly("tests/e2e/specs/batchnorm.nnspec", "", 200, 10);
  ScratchDir scratch("npz_model");
  const driver::Outcome outcome =
      driver::exportModel(model.config, model.tensors, driver::ModelFormat::kNpz, scratch.file("model.npz"));
  INFO(outcome.err);
  REQUIRE(outcome.exit_code == 0);
  const int status =
      runScript("npz_numpy.py", {scratch.file("model.npz"), scratch.file("listing.txt"), scratch.file("values.bin")},
                scratch.file("log.txt"));
  INFO(readFile(scratch.file("log.txt")));
  REQUIRE(status == 0);
  std::string expected_listing;
  std::vector<float> expected_values;
  for (const auto& tensor : model.tensors) {
    expected_listing += tensor.name + " <f4 " + shapeText(tensor.shape) + "\n";
    expected_values.insert(expected_values.end(), tensor.values.begin(), tensor.values.end());
  }
  CHECK(readFile(scratch.file("listing.txt")) == expected_listing);
  CHECK(expected_listing.find("batchnorm2.moving_variance <f4 64\n") != std::string::npos);
  const std::vector<float> values = readFloats(scratch.file("values.bin"));
  REQUIRE(values.size() == expected_values.size());
  CHECK(std::memcmp(values.data(), expected_values.data(), values.size() * sizeof(float)) == 0);
}

}  // namespace nnspec::export_test
