#include "compiler/codegen/step_plan.h"

#include <algorithm>

namespace nnspec::codegen {
namespace {

// Workspace buffers start on 64-byte boundaries (whole cache lines, aligned vectors).
constexpr int64_t kAlignFloats = 16;

FunctionPlan planFunction(const transforms::GradientGraph& gradient_graph, EntryPoint entry) {
  const ir::Graph& graph = gradient_graph.graph;
  FunctionPlan plan;
  plan.entry = entry;
  plan.roots = {gradient_graph.data_loss, gradient_graph.total_loss};
  // A root is stored even when fused into a loop nest, so the output can be copied out.
  if (gradient_graph.prediction) plan.roots.push_back(*gradient_graph.prediction);
  if (entry != EntryPoint::Forward)
    plan.roots.insert(plan.roots.end(), gradient_graph.gradients.begin(),
                      gradient_graph.gradients.end());
  plan.fusion = transforms::planFusion(graph, plan.roots);
  plan.workspace_offset.assign(static_cast<size_t>(graph.size()), -1);
  int64_t next = 0;
  for (const transforms::Kernel& kernel : plan.fusion.kernels)
    for (ir::ValueId stored : kernel.stores) {
      plan.workspace_offset[static_cast<size_t>(stored)] = next;
      int64_t count = graph.type(stored).numElements();
      next += (count + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
    }
  plan.workspace_floats = next;
  return plan;
}

StepLayout layoutStep(const transforms::GradientGraph& gradient_graph, const StepConfig& config) {
  const ir::Graph& graph = gradient_graph.graph;
  StepLayout layout;
  for (ir::ValueId id : graph.leaves(ir::OpKind::Parameter))
    layout.parameters.push_back({graph.node(id).attrs.name, graph.type(id)});
  for (ir::ValueId id : graph.leaves(ir::OpKind::Input))
    layout.inputs.push_back({graph.node(id).attrs.name, graph.type(id)});
  for (ir::ValueId id : graph.leaves(ir::OpKind::Hyperparam))
    layout.hyperparams.push_back(graph.node(id).attrs.name);
  layout.state_slots = config.optimizer == OptimizerKind::Sgd ? 1 : 2;
  if (gradient_graph.prediction) {
    const ir::TensorType& type = graph.type(*gradient_graph.prediction);
    layout.prediction_rows = type.shape[0];
    layout.prediction_width = type.numElements() / type.shape[0];
  }
  return layout;
}

std::string optimizerName(OptimizerKind kind) { return kind == OptimizerKind::Sgd ? "sgd" : "adam"; }

}  // namespace

std::string entrySymbol(EntryPoint entry) {
  switch (entry) {
    case EntryPoint::Forward:
      return "nnspec_forward";
    case EntryPoint::Gradients:
      return "nnspec_gradients";
    case EntryPoint::TrainStep:
      return "nnspec_train_step";
  }
  return "";
}

StepPlan planStep(const transforms::GradientGraph& gradient_graph, const StepConfig& config) {
  StepPlan plan;
  plan.config = config;
  plan.layout = layoutStep(gradient_graph, config);
  for (size_t entry_idx = 0; entry_idx < kEntryPoints.size(); ++entry_idx) {
    plan.functions[entry_idx] = planFunction(gradient_graph, kEntryPoints[entry_idx]);
    plan.layout.workspace_floats =
        std::max(plan.layout.workspace_floats, plan.functions[entry_idx].workspace_floats);
  }
  return plan;
}

std::string stepSignature(const transforms::GradientGraph& gradient_graph,
                          const StepConfig& config) {
  return transforms::printGradientGraph(gradient_graph) +
         "optimizer " + optimizerName(config.optimizer) + "\n";
}

std::string printStepPlan(const StepPlan& plan) {
  std::string text;
  for (const FunctionPlan& function : plan.functions) {
    text += entrySymbol(function.entry) + ": workspace " +
            std::to_string(function.workspace_floats) + " floats\n";
    text += transforms::printFusionPlan(function.fusion);
  }
  return text;
}

}  // namespace nnspec::codegen
