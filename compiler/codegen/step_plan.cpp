#include "compiler/codegen/step_plan.h"

#include <algorithm>

#include "runtime/kernels/sgemm.h"

namespace nnspec::codegen {
namespace {

// Workspace buffers start on 64-byte boundaries (whole cache lines, aligned vectors).
constexpr int64_t kAlignFloats = 16;

int64_t alignedFloats(int64_t count) { return (count + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

// The gradients an SGD train step may add to their parameters in place (see
// FunctionPlan::in_place_updates): one matmul, not read by any node, not a loss or the
// prediction, not the gradient of two parameters, and reading no parameter (so no
// in-place update can change what another one reads).
std::vector<ir::ValueId> inPlaceUpdates(const transforms::GradientGraph& gradient_graph) {
  const ir::Graph& graph = gradient_graph.graph;
  const std::vector<ir::ValueId>& gradients = gradient_graph.gradients;
  std::vector<std::vector<ir::ValueId>> users = graph.users();
  std::vector<ir::ValueId> updates;
  for (ir::ValueId grad : gradients) {
    const ir::Node& node = graph.node(grad);
    bool qualifies = node.op == ir::OpKind::Matmul && users[static_cast<size_t>(grad)].empty() &&
                     std::count(gradients.begin(), gradients.end(), grad) == 1 &&
                     grad != gradient_graph.data_loss && grad != gradient_graph.total_loss &&
                     grad != gradient_graph.prediction;
    for (ir::ValueId operand : node.operands)
      qualifies = qualifies && graph.node(operand).op != ir::OpKind::Parameter;
    if (qualifies) updates.push_back(grad);
  }
  return updates;
}

// Moves the gemm kernels of `updates` behind every other kernel (nothing reads them).
void runUpdatesLast(transforms::FusionPlan& fusion, const std::vector<ir::ValueId>& updates) {
  auto isUpdate = [&](const transforms::Kernel& kernel) {
    return kernel.kind == transforms::KernelKind::Gemm &&
           std::find(updates.begin(), updates.end(), kernel.members[0]) != updates.end();
  };
  std::stable_partition(fusion.kernels.begin(), fusion.kernels.end(),
                        [&](const transforms::Kernel& kernel) { return !isUpdate(kernel); });
}

FunctionPlan planFunction(const transforms::GradientGraph& gradient_graph, EntryPoint entry,
                          const StepConfig& config) {
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
  if (entry == EntryPoint::TrainStep && config.optimizer == OptimizerKind::Sgd) {
    plan.in_place_updates = inPlaceUpdates(gradient_graph);
    runUpdatesLast(plan.fusion, plan.in_place_updates);
  }
  plan.workspace_offset.assign(static_cast<size_t>(graph.size()), -1);
  int64_t next = 0;
  for (const transforms::Kernel& kernel : plan.fusion.kernels) {
    if (kernel.kind == transforms::KernelKind::Gemm && plan.gemm_scratch_offset < 0) {
      plan.gemm_scratch_offset = next;
      next += alignedFloats(kNnspecSgemmScratchFloats);
    }
    for (ir::ValueId stored : kernel.stores) {
      plan.workspace_offset[static_cast<size_t>(stored)] = next;
      next += alignedFloats(graph.type(stored).numElements());
    }
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
  layout.state_slots = optimizerStateSlots(config.optimizer);
  if (gradient_graph.prediction) {
    const ir::TensorType& type = graph.type(*gradient_graph.prediction);
    layout.prediction_rows = type.shape[0];
    layout.prediction_width = type.numElements() / type.shape[0];
  }
  return layout;
}

}  // namespace

int optimizerStateSlots(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::Sgd:
    case OptimizerKind::Adagrad:
      return 1;
    case OptimizerKind::Adam:
    case OptimizerKind::RmsProp:
      return 2;
  }
  return 0;
}

std::string optimizerName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::Sgd:
      return "sgd";
    case OptimizerKind::Adam:
      return "adam";
    case OptimizerKind::RmsProp:
      return "rmsprop";
    case OptimizerKind::Adagrad:
      return "adagrad";
  }
  return "";
}

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
    plan.functions[entry_idx] = planFunction(gradient_graph, kEntryPoints[entry_idx], config);
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
    for (ir::ValueId update : function.in_place_updates)
      text += "sgd in place: %" + std::to_string(update) + "\n";
  }
  return text;
}

}  // namespace nnspec::codegen
