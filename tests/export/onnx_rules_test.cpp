// The ONNX exporter on hand-built graphs: evaluation semantics (train_select's second
// operand, dropout the identity), and every way an export can fail as an error value.

#include <catch2/catch.hpp>

#include <cmath>

#include "compiler/driver/export_model.h"
#include "compiler/export/onnx_export.h"
#include "tests/export/export_fixture.h"

namespace nnspec::export_test {
namespace {

constexpr int64_t kRows = 4;

struct SmallModel {
  ir::Graph graph;
  ir::ValueId prediction = 0;
};

// x f32[4,3] -> matmul w f32[3,2] -> + b -> train_select(relu, sigmoid) -> dropout.
SmallModel selectModel() {
  SmallModel model;
  ir::Graph& graph = model.graph;
  const ir::ValueId x = graph.input("x", ir::f32({kRows, 3}));
  const ir::ValueId w = graph.parameter("dense1.kernel", {3, 2});
  const ir::ValueId b = graph.parameter("dense1.bias", {2});
  const ir::ValueId z = graph.add(graph.matmul(x, w), b);
  const ir::ValueId selected = graph.trainSelect(graph.unary(ir::OpKind::Relu, z), graph.unary(ir::OpKind::Sigmoid, z));
  model.prediction = graph.dropout(selected, 0.5f, 1);
  return model;
}

std::vector<exporting::NamedTensor> selectTensors() {
  return {{"dense1.kernel", {3, 2}, {0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f}}, {"dense1.bias", {2}, {0.1f, -0.2f}}};
}

std::string errorOf(const std::variant<std::string, exporting::ExportError>& result) {
  const auto* error = std::get_if<exporting::ExportError>(&result);
  return error == nullptr ? "" : error->message;
}

}  // namespace

TEST_CASE("onnx: the evaluation branch of train_select is exported, dropout is the identity", "[export]") {
  const SmallModel model = selectModel();
  const auto tensors = selectTensors();
  auto bytes = exporting::exportOnnx({&model.graph, model.prediction, false, "select"}, tensors);
  INFO(errorOf(bytes));
  REQUIRE(std::holds_alternative<std::string>(bytes));
  ScratchDir scratch("select");
  {
    std::ofstream out(scratch.file("model.onnx"), std::ios::binary);
    out << std::get<std::string>(bytes);
  }
  const std::vector<float> inputs = {1, 2, 3, -1, 0, 1, 0.5f, 0.5f, 0.5f, -2, 1, -1};
  writeFloats(scratch.file("inputs.bin"), inputs);
  const int status = runScript(
      "onnx_opencv.py",
      {scratch.file("model.onnx"), scratch.file("inputs.bin"), "4", "3", scratch.file("outputs.bin")},
      scratch.file("log.txt"));
  INFO(readFile(scratch.file("log.txt")));
  REQUIRE(status == 0);
  const std::vector<float> outputs = readFloats(scratch.file("outputs.bin"));
  REQUIRE(outputs.size() == kRows * 2);
  const auto& w = tensors[0].values;
  const auto& b = tensors[1].values;
  for (int64_t row = 0; row < kRows; ++row) {
    for (int64_t unit = 0; unit < 2; ++unit) {
      double z = b[unit];
      for (int64_t k = 0; k < 3; ++k) z += inputs[row * 3 + k] * w[k * 2 + unit];
      const double expected = 1.0 / (1.0 + std::exp(-z));
      CHECK(std::fabs(outputs[row * 2 + unit] - expected) < 1e-6);
    }
  }
}

TEST_CASE("onnx: an op without an export rule is an error naming it", "[export]") {
  ir::Graph graph;
  const ir::ValueId x = graph.input("x", ir::f32({kRows, 3}));
  const ir::ValueId scaled = graph.mul(x, graph.hyperparam("dense1.l2"));
  auto hyper = exporting::exportOnnx({&graph, scaled, false, "m"}, {});
  CHECK(errorOf(hyper) == "op 'hyperparam' (%1) has no ONNX export rule");
  const ir::ValueId grad = graph.binary(ir::OpKind::ReluGrad, x, x);
  auto relu_grad = exporting::exportOnnx({&graph, grad, false, "m"}, {});
  CHECK(errorOf(relu_grad) == "op 'relu_grad' (%3) has no ONNX export rule");
}

TEST_CASE("onnx: missing or misshapen tensors and foreign inputs are errors", "[export]") {
  const SmallModel model = selectModel();
  auto missing = exporting::exportOnnx({&model.graph, model.prediction, false, "m"}, {selectTensors()[0]});
  CHECK(errorOf(missing) == "the model has no trained tensor for parameter 'dense1.bias'");
  auto tensors = selectTensors();
  tensors[0].shape = {2, 3};
  auto misshapen = exporting::exportOnnx({&model.graph, model.prediction, false, "m"}, tensors);
  CHECK(errorOf(misshapen) == "trained tensor 'dense1.kernel' is f32[2,3] with 6 values, the model's parameter is f32[3,2]");
  ir::Graph graph;
  const ir::ValueId x = graph.input("x", ir::f32({kRows, 3}));
  const ir::ValueId other = graph.add(x, graph.input("targets", ir::f32({kRows, 3})));
  auto foreign = exporting::exportOnnx({&graph, other, false, "m"}, {});
  CHECK(errorOf(foreign) ==
        "the model's output reads input 'targets'; only the samples 'x' can be an input of an exported model");
}

TEST_CASE("export: formats by name, and unwritable outputs or models without tensors are bad input", "[export]") {
  CHECK(driver::modelFormatNamed("onnx") == driver::ModelFormat::kOnnx);
  CHECK(driver::modelFormatNamed("npz") == driver::ModelFormat::kNpz);
  CHECK_FALSE(driver::modelFormatNamed("pt").has_value());
  driver::CheckRequest request;
  request.path = std::string(NNSPEC_SOURCE_DIR) + "/tests/e2e/specs/batchnorm.nnspec";
  request.data_paths = driver::defaultDataPaths();
  driver::SpecSession session(request, {}, {});
  REQUIRE(session.ok());
  const sema::TrainConfig& config = session.spec().checked.sweeps.at(0).checked.at(0).config;
  const driver::Outcome empty = driver::exportModel(config, {}, driver::ModelFormat::kOnnx, "/tmp/x.onnx");
  CHECK(empty.exit_code == 2);
  CHECK(empty.err.find("has no stored tensors") != std::string::npos);
  const std::vector<rt::StoredTensor> tensors = {{"dense1.kernel", false, {1, 64}, std::vector<float>(64)}};
  const driver::Outcome short_list = driver::exportModel(config, tensors, driver::ModelFormat::kOnnx, "/tmp/x.onnx");
  CHECK(short_list.exit_code == 2);
  CHECK(short_list.err.find("no trained tensor for parameter 'dense1.bias'") != std::string::npos);
  const driver::Outcome nowhere =
      driver::exportModel(config, tensors, driver::ModelFormat::kNpz, "/nonexistent-folder/model.npz");
  CHECK(nowhere.exit_code == 2);
  CHECK(nowhere.err.find("does not exist") != std::string::npos);
}

}  // namespace nnspec::export_test
