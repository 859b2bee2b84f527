#include "compiler/pipeline/pipeline.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include <fmt/format.h>

#include "compiler/codegen/emit_llvm.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"
#include "compiler/lowering/fuse_points.h"
#include "compiler/transforms/autodiff.h"
#include "compiler/transforms/fusion.h"

namespace nnspec::pipeline {
namespace {

PipelineError internalError(Pass pass, std::string message) {
  return PipelineError{true, pass, {}, fmt::format("{} pass: {}", passInfo(pass).name, std::move(message))};
}

// The verifier after a graph pass: every problem, or nothing.
std::optional<PipelineError> verify(Pass pass, const ir::Graph& graph, Artifacts& artifacts) {
  const std::vector<std::string> problems = ir::verifyGraph(graph);
  if (problems.empty()) {
    artifacts.trace.push_back(fmt::format("{}: ok, {} values", passInfo(pass).name, graph.size()));
    return std::nullopt;
  }
  std::string message = "the graph does not verify:";
  for (const std::string& problem : problems) message += "\n  " + problem;
  return internalError(pass, message);
}

std::string printLayoutSlots(const char* what, const std::vector<rt::LeafSlot>& slots) {
  std::string out;
  for (const rt::LeafSlot& slot : slots) {
    std::string dims;
    for (int64_t extent : slot.type.shape) dims += (dims.empty() ? "" : ",") + std::to_string(extent);
    out += fmt::format("{} {} {}[{}]\n", what, slot.name, slot.type.dtype == rt::ElementType::kI32 ? "i32" : "f32", dims);
  }
  return out;
}

std::string printLayout(const rt::StepLayout& layout) {
  std::string out = printLayoutSlots("param", layout.parameters) + printLayoutSlots("input", layout.inputs) +
                    printLayoutSlots("state", layout.states) + printLayoutSlots("export", layout.exports);
  for (const std::string& name : layout.hyperparams) out += fmt::format("hyper {}\n", name);
  out += fmt::format("optimizer slots {} per parameter\n", layout.state_slots);
  out += fmt::format("prediction [{}, {}]\n", layout.prediction_rows, layout.prediction_width);
  out += fmt::format("workspace {} floats\n", layout.workspace_floats);
  return out;
}

// One pass; returns an error, or nothing when the pipeline goes on.
std::optional<PipelineError> runPass(Pass pass, const sema::TrainConfig& config, int64_t batch, const Options& options,
                                     Artifacts& artifacts) {
  lowering::LoweredStep& step = artifacts.step;
  switch (pass) {
    case Pass::kLower: {
      auto lowered = lowering::lowerModel(config, batch, options.lower);
      if (auto* problem = std::get_if<lowering::Unsupported>(&lowered)) {
        return PipelineError{false, pass, problem->range, problem->message};
      }
      step = std::move(std::get<lowering::LoweredStep>(lowered));
      artifacts.trace.push_back(fmt::format("ir: {} values", step.forward.size()));
      return std::nullopt;
    }
    case Pass::kVerifyLowered: return verify(pass, step.forward, artifacts);
    case Pass::kDifferentiate:
      if (options.fuse_points > 1) {
        const std::string obstacle = lowering::fusionObstacle(step);
        if (!obstacle.empty()) return PipelineError{false, pass, {}, "these points cannot train fused: " + obstacle};
        std::vector<int> classes = options.fuse_input_classes;
        if (classes.empty()) classes = lowering::inputClasses(options.fuse_points, true);
        if (static_cast<int>(classes.size()) != options.fuse_points || !lowering::validInputClasses(classes))
          return PipelineError{true, pass, {}, "fused points need one input class each, numbered in order of first use"};
        step.graph = lowering::fusePoints(step, classes);
        artifacts.trace.push_back(fmt::format("grad: {} values, {} points fused", step.graph.graph.size(),
                                              options.fuse_points));
        return std::nullopt;
      }
      step.graph = transforms::differentiate(step.forward, step.loss, step.penalties, step.prediction);
      step.graph.exports = step.exports;
      step.graph.taps = step.taps;
      artifacts.trace.push_back(fmt::format("grad: {} values", step.graph.graph.size()));
      return std::nullopt;
    case Pass::kVerifyGradient: return verify(pass, step.graph.graph, artifacts);
    case Pass::kFuse: {
      artifacts.plan = codegen::fuseStep(step.graph, step.config);
      size_t kernels = 0;
      for (const auto& function : artifacts.plan.functions) kernels += function.fusion.kernels.size();
      artifacts.trace.push_back(fmt::format("fusion: {} kernels in 3 entry points", kernels));
      return std::nullopt;
    }
    case Pass::kPlanStep:
      codegen::allocateStep(step.graph, artifacts.plan);
      artifacts.trace.push_back(fmt::format("step: workspace {} floats", artifacts.plan.layout.workspace_floats));
      return std::nullopt;
    case Pass::kEmitLlvm: {
      if (options.stop_after != Pass::kEmitLlvm) {  // the JIT emits in its own context
        artifacts.trace.push_back("llvm: emitted by the jit pass");
        return std::nullopt;
      }
      const codegen::LlvmText text = codegen::emitLlvmText(step.graph, artifacts.plan);
      if (!text.error.empty()) return internalError(pass, text.error);
      artifacts.llvm_text = text.text;
      artifacts.trace.push_back("llvm: emitted");
      return std::nullopt;
    }
    case Pass::kOptimize: {
      if (options.stop_after != Pass::kOptimize) {  // the JIT optimizes what it compiles
        artifacts.trace.push_back("llvm-opt: run by the jit pass");
        return std::nullopt;
      }
      if (options.jit == nullptr) return internalError(pass, "no JIT to optimize for");
      auto text = options.jit->optimizedLlvmText(step.graph, artifacts.plan);
      if (!text.ok()) return internalError(pass, text.error().message);
      artifacts.llvm_text = text.value();
      artifacts.trace.push_back("llvm-opt: optimized");
      return std::nullopt;
    }
    case Pass::kJit: {
      if (options.jit == nullptr) return internalError(pass, "no JIT to compile with");
      auto compiled = options.jit->compilePlan(step.graph, artifacts.plan, options.entries);
      if (!compiled.ok()) return internalError(pass, compiled.error().message);
      artifacts.compiled = compiled.value();
      artifacts.trace.push_back("jit: compiled");
      return std::nullopt;
    }
  }
  return internalError(pass, "unknown pass");
}

}  // namespace

const PassInfo& passInfo(Pass pass) {
  return *std::find_if(kPasses.begin(), kPasses.end(), [&](const PassInfo& info) { return info.pass == pass; });
}

std::optional<Pass> passNamed(std::string_view name) {
  for (const PassInfo& info : kPasses) {
    if (info.name == name) return info.pass;
  }
  return std::nullopt;
}

std::variant<Artifacts, PipelineError> runPasses(const sema::TrainConfig& config, int64_t batch,
                                                 const Options& options) {
  Artifacts artifacts;
  for (const PassInfo& info : kPasses) {
    try {
      if (auto error = runPass(info.pass, config, batch, options, artifacts)) return *error;
    } catch (const std::exception& error) {
      return internalError(info.pass, error.what());
    }
    if (info.pass == options.stop_after) break;
  }
  return artifacts;
}

std::string printArtifacts(const Artifacts& artifacts, Pass pass) {
  switch (pass) {
    case Pass::kLower: return ir::printGraph(artifacts.step.forward);
    case Pass::kVerifyLowered:
    case Pass::kVerifyGradient: return artifacts.trace.empty() ? "" : artifacts.trace.back() + "\n";
    case Pass::kDifferentiate: return transforms::printGradientGraph(artifacts.step.graph);
    case Pass::kFuse: {
      std::string text;
      for (const codegen::FunctionPlan& function : artifacts.plan.functions) {
        text += codegen::entrySymbol(function.entry) + ":\n" + transforms::printFusionPlan(function.fusion);
        for (ir::ValueId update : function.in_place_updates) text += fmt::format("sgd in place: %{}\n", update);
      }
      return text;
    }
    case Pass::kPlanStep: return printLayout(artifacts.plan.layout) + codegen::printStepPlan(artifacts.plan);
    case Pass::kEmitLlvm:
    case Pass::kOptimize: return artifacts.llvm_text;
    case Pass::kJit: {
      std::string text = printLayout(artifacts.compiled->layout);
      for (const auto& [entry, function] : {std::pair{"nnspec_forward", artifacts.compiled->forward},
                                             std::pair{"nnspec_gradients", artifacts.compiled->gradients},
                                             std::pair{"nnspec_train_step", artifacts.compiled->train_step}}) {
        text += fmt::format("{}: {}\n", entry, function != nullptr ? "compiled" : "missing");
      }
      return text;
    }
  }
  return "";
}

rt::CompiledModel trainableModel(const lowering::LoweredStep& step) {
  rt::CompiledModel model;
  model.batch = step.batch;
  model.features = step.features;
  model.output_width = step.output_width;
  model.classification = step.classification;
  model.inits = step.inits;
  model.hyper_values = step.hyper_values;
  model.optimizer = step.optimizer.abi();
  model.schedule = step.schedule;
  model.moving_stats = step.moving_stats;
  return model;
}

std::variant<rt::CompiledModel, PipelineError> compileTrainable(const sema::TrainConfig& config, int64_t fit_count,
                                                                jit::JitCompiler& jit, codegen::EntrySet entries) {
  const int64_t batch = std::max<int64_t>(1, std::min(config.batch, fit_count));
  Options options;
  options.jit = &jit;
  options.entries = entries;
  auto full = runPasses(config, batch, options);
  if (auto* error = std::get_if<PipelineError>(&full)) return *error;
  const Artifacts& artifacts = std::get<Artifacts>(full);
  rt::CompiledModel model = trainableModel(artifacts.step);
  model.full = artifacts.compiled;
  const int64_t remainder = fit_count % batch;
  if (remainder == 0) return model;
  options.entries = {codegen::EntryPoint::TrainStep};
  auto tail = runPasses(config, remainder, options);
  if (auto* error = std::get_if<PipelineError>(&tail)) return *error;
  model.remainder = std::get<Artifacts>(tail).compiled;
  model.remainder_batch = remainder;
  return model;
}

std::variant<std::shared_ptr<const rt::CompiledStep>, PipelineError> compileFusedStep(const sema::TrainConfig& config,
                                                                                     int64_t batch,
                                                                                     const std::vector<int>& input_classes,
                                                                                     jit::JitCompiler& jit,
                                                                                     codegen::EntrySet entries) {
  Options options;
  options.jit = &jit;
  options.entries = entries;
  options.fuse_points = static_cast<int>(input_classes.size());
  options.fuse_input_classes = input_classes;
  auto compiled = runPasses(config, batch, options);
  if (auto* error = std::get_if<PipelineError>(&compiled)) return *error;
  return std::get<Artifacts>(compiled).compiled;
}

}  // namespace nnspec::pipeline
