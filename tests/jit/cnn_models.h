#pragma once
// The reference CNNs of specs/ for whole-model gradient checks, built the way `nnspec run`
// builds them: the spec file through the front end, the checker and the lowering (at a
// small batch), plus seeded parameters, inputs and labels bound both for the double
// reference (cnn_reference.h) and for a JIT'd StepRunner.

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "compiler/driver/load.h"
#include "compiler/ir/verifier.h"
#include "compiler/pipeline/pipeline.h"
#include "tests/jit/cnn_reference.h"

namespace nnspec::testing {

// A text edit applied to a spec before checking it: `from` must occur in the file.
struct SpecEdit {
  std::string from;
  std::string to;
};

// Lowers the first point of sweep (or implicit train-block run) `sweep` of
// specs/`spec_file` at batch `batch`, the path `nnspec run` takes, after `edits`.
inline lowering::LoweredStep lowerSpecSweep(const std::string& spec_file, const std::string& sweep, int64_t batch,
                                            const std::vector<SpecEdit>& edits = {}) {
  const std::string path = std::string(NNSPEC_SOURCE_DIR) + "/specs/" + spec_file;
  std::ifstream stream(path, std::ios::binary);
  REQUIRE(stream.good());
  std::stringstream buffer;
  buffer << stream.rdbuf();
  std::string text = buffer.str();
  for (const SpecEdit& edit : edits) {
    const size_t at = text.find(edit.from);
    INFO("spec edit: '" << edit.from << "' is not in " << path);
    REQUIRE(at != std::string::npos);
    text.replace(at, edit.from.size(), edit.to);
  }
  driver::CheckRequest request;
  request.path = path;
  request.data_paths = driver::defaultDataPaths();
  SourceFile file(path, text);
  DiagnosticEngine diagnostics(file);
  std::string error;
  auto loaded = driver::loadSpec(request, file, {}, {sweep}, diagnostics, &error);
  INFO(diagnostics.renderText() << error);
  REQUIRE(loaded.has_value());
  REQUIRE(loaded->checked.sweeps.size() == 1);
  REQUIRE_FALSE(loaded->checked.sweeps[0].checked.empty());
  pipeline::Options options;
  options.stop_after = pipeline::Pass::kVerifyGradient;
  auto passes = pipeline::runPasses(loaded->checked.sweeps[0].checked[0].config, batch, options);
  if (const auto* problem = std::get_if<pipeline::PipelineError>(&passes)) FAIL("pipeline: " << problem->message);
  return std::move(std::get<pipeline::Artifacts>(passes).step);
}

// Seeded values for every leaf of a lowered step: parameters Glorot-uniform from the
// lowering's fans (biases small and nonzero, so they matter), images uniform in [0, 1)
// (continuous, so max-pool windows have no ties), labels uniform over the classes.
struct CnnCase {
  lowering::LoweredStep step;
  std::vector<std::vector<float>> params;  // in graph.parameters order
  std::vector<float> x;
  std::vector<int32_t> labels;
  uint64_t rng_seed = 0;
  std::vector<std::pair<std::string, std::vector<float>>> states;  // state leaves, graph order

  const ir::Graph& graph() const { return step.graph.graph; }
  const std::string& paramName(size_t param_idx) const {
    return graph().node(step.graph.parameters[param_idx]).attrs.name;
  }

  // The bindings of the double reference: the same float values, widened.
  ReferenceBindings bindings(bool training = true) const {
    ReferenceBindings bound;
    for (size_t param_idx = 0; param_idx < params.size(); ++param_idx)
      bound.parameters[paramName(param_idx)] = std::vector<double>(params[param_idx].begin(), params[param_idx].end());
    bound.inputs["x"] = std::vector<double>(x.begin(), x.end());
    bound.labels["labels"] = labels;
    for (const auto& [name, value] : step.hyper_values) bound.hyperparams[name] = value;
    bound.rng_seed = rng_seed;
    bound.training = training;
    for (const auto& [name, values] : states) bound.states[name] = std::vector<double>(values.begin(), values.end());
    return bound;
  }
};

inline CnnCase makeCnnCase(lowering::LoweredStep step, uint32_t seed) {
  CnnCase made{std::move(step), {}, {}, {}, 0, {}};
  std::mt19937 rng(seed);
  for (ir::ValueId parameter : made.step.graph.parameters) {
    const ir::Node& node = made.graph().node(parameter);
    double limit = 0.1;  // biases
    for (const rt::ParamInit& init : made.step.inits)
      if (init.name == node.attrs.name && init.kind != rt::InitKind::kZeros)
        limit = std::sqrt(6.0 / static_cast<double>(init.fan_in + init.fan_out));
    std::uniform_real_distribution<double> uniform(-limit, limit);
    std::vector<float> values(static_cast<size_t>(node.type.numElements()));
    for (float& value : values) value = static_cast<float>(uniform(rng));
    made.params.push_back(std::move(values));
  }
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  made.x.resize(static_cast<size_t>(made.step.batch * made.step.features));
  for (float& value : made.x) value = pixel(rng);
  std::uniform_int_distribution<int32_t> label(0, static_cast<int32_t>(made.step.output_width) - 1);
  for (int64_t row = 0; row < made.step.batch; ++row) made.labels.push_back(label(rng));
  made.rng_seed = (static_cast<uint64_t>(rng()) << 32) | rng();
  // Moving statistics away from their start (mean 0, variance 1), so evaluation tells them
  // from the batch's: means in [-0.2, 0.2], variances in [0.5, 1.5].
  for (ir::ValueId state : made.graph().leaves(ir::OpKind::State)) {
    const ir::Node& node = made.graph().node(state);
    const bool variance = node.attrs.name.find("variance") != std::string::npos;
    std::uniform_real_distribution<float> spread(variance ? 0.5f : -0.2f, variance ? 1.5f : 0.2f);
    std::vector<float> values(static_cast<size_t>(node.type.numElements()));
    for (float& value : values) value = spread(rng);
    made.states.emplace_back(node.attrs.name, std::move(values));
  }
  return made;
}

// Whether the graph has a node of kind `op` (e.g. that dropout was lowered).
inline bool hasOp(const ir::Graph& graph, ir::OpKind op) {
  for (const ir::Node& node : graph.nodes())
    if (node.op == op) return true;
  return false;
}

}  // namespace nnspec::testing
