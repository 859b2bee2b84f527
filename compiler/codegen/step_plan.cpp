#include "compiler/codegen/step_plan.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "compiler/ir/shape_rules.h"
#include "runtime/kernels/window.h"
#include "runtime/kernels/sgemm.h"

namespace nnspec::codegen {

rt::TensorShape runtimeShape(const ir::TensorType& type) {
  return {type.dtype == ir::DType::I32 ? rt::ElementType::kI32 : rt::ElementType::kF32, type.shape};
}

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

// Floats of scratch `kernel` needs (0: none).
int64_t scratchFloats(const ir::Graph& graph, const transforms::Kernel& kernel) {
  if (kernel.kind == transforms::KernelKind::Gemm) return kNnspecSgemmScratchFloats;
  if (kernel.kind != transforms::KernelKind::Call || !isConvolution(graph, kernel.members[0])) return 0;
  NnspecWindowGeometry geometry = windowGeometry(graph, kernel.members[0]);
  return nnspec_rt_conv2d_scratch_floats(&geometry);
}

// The forward image and output shapes of window op `id` (of the forward op, for gradients).
struct WindowShapes {
  ir::Shape input;
  ir::Shape output;
};

WindowShapes windowShapesOf(const ir::Graph& graph, ir::ValueId id) {
  const ir::Node& node = graph.node(id);
  auto shapeOf = [&](size_t slot) { return graph.type(node.operands[slot]).shape; };
  const ir::Shape& result = graph.type(id).shape;
  switch (node.op) {
    case ir::OpKind::Conv2d:
    case ir::OpKind::MaxPool:
    case ir::OpKind::AvgPool:
    case ir::OpKind::Pad2d:
    case ir::OpKind::Crop2d:
      return {shapeOf(0), result};
    case ir::OpKind::Conv2dInputGrad:
    case ir::OpKind::AvgPoolGrad:
      return {result, shapeOf(0)};
    case ir::OpKind::Conv2dKernelGrad:
    case ir::OpKind::MaxPoolGrad:
      return {shapeOf(0), shapeOf(1)};
    default:
      throw std::invalid_argument("%" + std::to_string(id) + " = " + std::string(ir::opName(node.op)) +
                                  " is not a window op");
  }
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

// The nodes a kernel computes: its members, sinks and its epilogue's.
std::vector<ir::ValueId> kernelNodes(const transforms::Kernel& kernel) {
  std::vector<ir::ValueId> nodes = kernel.members;
  nodes.insert(nodes.end(), kernel.sinks.begin(), kernel.sinks.end());
  for (const auto& epilogue : kernel.epilogue) {
    nodes.insert(nodes.end(), epilogue.members.begin(), epilogue.members.end());
    nodes.insert(nodes.end(), epilogue.sinks.begin(), epilogue.sinks.end());
  }
  return nodes;
}

}  // namespace

std::vector<int32_t> pointsOfValues(const ir::Graph& graph) {
  std::vector<int32_t> point(static_cast<size_t>(graph.size()), kNoPoint);
  for (ir::ValueId id = 0; id < graph.size(); ++id) {
    const ir::Node& node = graph.node(id);
    int32_t& own = point[static_cast<size_t>(id)];
    if (node.operands.empty()) {
      if (node.op == ir::OpKind::Input) continue;  // a batch several points may read (their input class)
      const std::string& name = node.attrs.name;
      const auto hash = name.rfind('#');
      if (hash != std::string::npos) own = std::stoi(name.substr(hash + 1));
      continue;
    }
    for (ir::ValueId operand : node.operands) {
      const int32_t other = point[static_cast<size_t>(operand)];
      if (other == kNoPoint || other == own) continue;
      own = own == kNoPoint ? other : kMixedPoints;
    }
  }
  return point;
}

namespace {

// A fused step's kernels point by point (compiler/lowering/fuse_points.h): each point's
// forward, backward and in-place updates together, so that one point's tensors are
// worked through while they are in cache, as when it trains alone. Kernels of no point
// (the shared input's) run first, those of several (the sum of the losses) last. The
// order is kept only when every kernel still follows what it reads.
void orderByPoint(const transforms::GradientGraph& gradient_graph, FunctionPlan& plan) {
  const ir::Graph& graph = gradient_graph.graph;
  constexpr int32_t kNone = kNoPoint, kMixed = kMixedPoints;
  const std::vector<int32_t> point = pointsOfValues(graph);
  std::vector<transforms::Kernel>& kernels = plan.fusion.kernels;
  const auto& updates = plan.in_place_updates;
  std::vector<std::pair<int64_t, size_t>> keys;  // (order key, original index)
  for (size_t index = 0; index < kernels.size(); ++index) {
    int32_t own = kNone;
    for (ir::ValueId id : kernelNodes(kernels[index])) {
      const int32_t other = point[static_cast<size_t>(id)];
      if (other == kNone || other == own) continue;
      own = own == kNone ? other : kMixed;
    }
    const bool update = kernels[index].kind == transforms::KernelKind::Gemm &&
                        std::find(updates.begin(), updates.end(), kernels[index].members[0]) != updates.end();
    const int64_t key = own == kNone ? -1 : own == kMixed ? INT64_MAX : 2 * static_cast<int64_t>(own) + (update ? 1 : 0);
    keys.emplace_back(key, index);
  }
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<transforms::Kernel> ordered;
  for (const auto& [key, index] : keys) ordered.push_back(kernels[index]);
  // Every operand made by a kernel must be made before its reader.
  std::vector<int64_t> made_at(static_cast<size_t>(graph.size()), -1);
  for (size_t index = 0; index < ordered.size(); ++index) {
    for (ir::ValueId id : kernelNodes(ordered[index])) made_at[static_cast<size_t>(id)] = static_cast<int64_t>(index);
  }
  for (size_t index = 0; index < ordered.size(); ++index) {
    for (ir::ValueId id : kernelNodes(ordered[index])) {
      for (ir::ValueId operand : graph.node(id).operands) {
        if (made_at[static_cast<size_t>(operand)] > static_cast<int64_t>(index)) return;  // keep the plan's order
      }
    }
  }
  kernels = std::move(ordered);
}

// A fused step's GEMMs that read one op(a) with the same shapes and transpositions (the
// first layer of points that read one batch: x W#k forward, x^T dY#k for the weight
// gradients) become one gemm kernel of several members, which packs op(a) once
// (nnspec_rt_sgemm_shared_a) and gives each member the bits it has alone. The kernel
// stands where its first member stood when every member's operands are made before it;
// else where its last member stood, the kernels in between that read a member (a weight
// gradient's L2 term, say), and those reading them, moved to run right after it. In-place
// updates (SGD) share only with each other, where their last one stood: an update moved
// later changes nothing when nothing in between reads its parameter (moved earlier it
// would run before its point's forward pass). Groups that cannot be placed so stay apart.
void shareGemmOperands(const transforms::GradientGraph& gradient_graph, FunctionPlan& plan) {
  const ir::Graph& graph = gradient_graph.graph;
  std::vector<transforms::Kernel>& kernels = plan.fusion.kernels;
  const auto& updates = plan.in_place_updates;
  auto isUpdate = [&](const transforms::Kernel& kernel) {
    return std::find(updates.begin(), updates.end(), kernel.members[0]) != updates.end();
  };
  auto candidate = [&](const transforms::Kernel& kernel) {
    return kernel.kind == transforms::KernelKind::Gemm && kernel.members.size() == 1;
  };
  auto parameterOf = [&](ir::ValueId grad) {  // the parameter an in-place update writes
    const auto& gradients = gradient_graph.gradients;
    return gradient_graph.parameters[static_cast<size_t>(std::find(gradients.begin(), gradients.end(), grad) -
                                                         gradients.begin())];
  };
  auto sameGemm = [&](ir::ValueId first, ir::ValueId other) {
    const ir::Node& a = graph.node(first);
    const ir::Node& b = graph.node(other);
    return a.operands[0] == b.operands[0] && a.attrs.transpose_a == b.attrs.transpose_a &&
           a.attrs.transpose_b == b.attrs.transpose_b && graph.type(first).shape == graph.type(other).shape &&
           graph.type(a.operands[1]).shape == graph.type(b.operands[1]).shape;
  };
  auto reads = [&](const transforms::Kernel& kernel, const std::vector<ir::ValueId>& values) {
    for (ir::ValueId id : kernelNodes(kernel))
      for (ir::ValueId operand : graph.node(id).operands)
        if (std::find(values.begin(), values.end(), operand) != values.end()) return true;
    return false;
  };
  constexpr size_t kMaxMembers = 64;  // nnspec_rt_sgemm_shared_a's count
  std::vector<bool> taken(kernels.size(), false);
  std::vector<std::vector<ir::ValueId>> groups;  // members, in order
  for (size_t first = 0; first < kernels.size(); ++first) {
    if (taken[first] || !candidate(kernels[first])) continue;
    std::vector<size_t> group = {first};
    for (size_t other = first + 1; other < kernels.size() && group.size() < kMaxMembers; ++other) {
      if (!taken[other] && candidate(kernels[other]) && isUpdate(kernels[other]) == isUpdate(kernels[first]) &&
          sameGemm(kernels[first].members[0], kernels[other].members[0]))
        group.push_back(other);
    }
    if (group.size() < 2) continue;
    std::vector<ir::ValueId> members;
    for (size_t index : group) {
      taken[index] = true;
      members.push_back(kernels[index].members[0]);
    }
    groups.push_back(std::move(members));
  }
  // One group at a time, each on the kernels as the groups before it left them.
  for (const std::vector<ir::ValueId>& members : groups) {
    std::vector<size_t> at;  // each member's kernel
    for (ir::ValueId member : members) {
      for (size_t index = 0; index < kernels.size(); ++index)
        if (kernels[index].members.size() == 1 && kernels[index].members[0] == member) at.push_back(index);
    }
    if (at.size() != members.size() || !std::is_sorted(at.begin(), at.end())) continue;
    const size_t front = at.front(), back = at.back();
    bool apart = false;
    for (size_t index : at) apart = apart || reads(kernels[index], members);  // no member reads another
    if (apart) continue;
    const bool updates_group = isUpdate(kernels[front]);
    std::vector<int64_t> made_at(static_cast<size_t>(graph.size()), -1);  // -1: a leaf
    for (size_t index = 0; index < kernels.size(); ++index)
      for (ir::ValueId id : kernelNodes(kernels[index])) made_at[static_cast<size_t>(id)] = static_cast<int64_t>(index);
    bool operands_ready = !updates_group;  // at the first member's place
    for (ir::ValueId member : members)
      for (ir::ValueId operand : graph.node(member).operands)
        operands_ready = operands_ready && made_at[static_cast<size_t>(operand)] < static_cast<int64_t>(front);
    // At the last member's place: the kernels in between reading a member, and their
    // readers, go after it (the moved); none may be read by a kernel that stays or by a
    // member, and nothing after a member's place may read the parameter it updates.
    std::vector<bool> moved(kernels.size(), false);
    std::vector<ir::ValueId> moved_values = members;
    if (!operands_ready) {
      for (size_t index = front + 1; index < back; ++index) {
        if (std::find(at.begin(), at.end(), index) != at.end() || !reads(kernels[index], moved_values)) continue;
        moved[index] = true;
        for (ir::ValueId id : kernelNodes(kernels[index])) moved_values.push_back(id);
      }
      std::vector<ir::ValueId> made_by_moved(moved_values.begin() + static_cast<std::ptrdiff_t>(members.size()),
                                             moved_values.end());
      for (size_t index = 0; index < at.size() && !apart; ++index)
        apart = reads(kernels[at[index]], made_by_moved);
      for (size_t index = front + 1; index < back && !apart; ++index)
        apart = moved[index] && updates_group;  // an update's group moves nothing
      for (size_t member = 0; member < at.size() && updates_group && !apart; ++member)
        for (size_t index = at[member] + 1; index < back && !apart; ++index)
          apart = reads(kernels[index], {parameterOf(members[member])});
      if (apart) continue;
    }
    transforms::Kernel host;
    host.kind = transforms::KernelKind::Gemm;
    for (size_t index : at) {
      host.members.push_back(kernels[index].members[0]);
      host.stores.insert(host.stores.end(), kernels[index].stores.begin(), kernels[index].stores.end());
    }
    std::vector<transforms::Kernel> merged, after;
    for (size_t index = 0; index < kernels.size(); ++index) {
      const bool member = std::find(at.begin(), at.end(), index) != at.end();
      if (operands_ready && index == front) merged.push_back(host);
      if (member) {
        if (!operands_ready && index == back) {
          merged.push_back(host);
          for (transforms::Kernel& kernel : after) merged.push_back(std::move(kernel));
        }
        continue;
      }
      if (moved[index]) {
        after.push_back(std::move(kernels[index]));
        continue;
      }
      merged.push_back(std::move(kernels[index]));
    }
    kernels = std::move(merged);
  }
}

FunctionPlan fuseFunction(const transforms::GradientGraph& gradient_graph, EntryPoint entry,
                          const StepConfig& config) {
  const ir::Graph& graph = gradient_graph.graph;
  FunctionPlan plan;
  plan.entry = entry;
  plan.roots = {gradient_graph.data_loss, gradient_graph.total_loss};
  // A root is stored even when fused into a loop nest, so the output can be copied out.
  if (gradient_graph.prediction) plan.roots.push_back(*gradient_graph.prediction);
  for (const transforms::PointValues& point : gradient_graph.points) {
    plan.roots.push_back(point.data_loss);
    plan.roots.push_back(point.total_loss);
    if (point.prediction) plan.roots.push_back(*point.prediction);
  }
  if (entry != EntryPoint::Forward) {
    plan.roots.insert(plan.roots.end(), gradient_graph.gradients.begin(),
                      gradient_graph.gradients.end());
    for (const auto& exported : gradient_graph.exports) plan.roots.push_back(exported.second);
  }
  for (const auto& tap : gradient_graph.taps) plan.roots.push_back(tap.second);
  transforms::FusionOptions options;
  options.conv_epilogues = config.conv_epilogues;
  plan.fusion = transforms::planFusion(graph, plan.roots, entry != EntryPoint::Forward, options);
  if (entry == EntryPoint::TrainStep && config.optimizer == OptimizerKind::Sgd) {
    plan.in_place_updates = inPlaceUpdates(gradient_graph);
    runUpdatesLast(plan.fusion, plan.in_place_updates);
  }
  if (!gradient_graph.points.empty()) {
    orderByPoint(gradient_graph, plan);
    shareGemmOperands(gradient_graph, plan);
  }
  return plan;
}

// Places every value a kernel of `plan` stores, and the kernels' scratch, in the workspace.
void allocateFunction(const ir::Graph& graph, FunctionPlan& plan) {
  plan.workspace_offset.assign(static_cast<size_t>(graph.size()), -1);
  int64_t scratch = 0;
  for (const transforms::Kernel& kernel : plan.fusion.kernels)
    scratch = std::max(scratch, scratchFloats(graph, kernel));
  int64_t next = 0;
  if (scratch > 0) {
    plan.gemm_scratch_offset = next;
    next += alignedFloats(scratch);
  }
  auto place = [&](const transforms::Kernel& kernel) {
    for (ir::ValueId stored : kernel.stores) {
      plan.workspace_offset[static_cast<size_t>(stored)] = next;
      next += alignedFloats(graph.type(stored).numElements());
    }
  };
  for (const transforms::Kernel& kernel : plan.fusion.kernels) {
    place(kernel);
    for (const transforms::Kernel& epilogue : kernel.epilogue) place(epilogue);
  }
  plan.workspace_floats = next;
}

rt::StepLayout layoutStep(const transforms::GradientGraph& gradient_graph, const StepConfig& config) {
  const ir::Graph& graph = gradient_graph.graph;
  rt::StepLayout layout;
  auto slot = [&](const std::string& name, ir::ValueId id) { return rt::LeafSlot{name, runtimeShape(graph.type(id))}; };
  for (ir::ValueId id : graph.leaves(ir::OpKind::Parameter)) layout.parameters.push_back(slot(graph.node(id).attrs.name, id));
  for (ir::ValueId id : graph.leaves(ir::OpKind::Input)) layout.inputs.push_back(slot(graph.node(id).attrs.name, id));
  for (ir::ValueId id : graph.leaves(ir::OpKind::Hyperparam))
    layout.hyperparams.push_back(graph.node(id).attrs.name);
  for (ir::ValueId id : graph.leaves(ir::OpKind::State)) layout.states.push_back(slot(graph.node(id).attrs.name, id));
  for (const auto& [name, id] : gradient_graph.exports) layout.exports.push_back(slot(name, id));
  for (const auto& [name, id] : gradient_graph.taps) layout.exports.push_back(slot(name, id));
  layout.state_slots = optimizerStateSlots(config.optimizer);
  std::optional<ir::ValueId> prediction = gradient_graph.prediction;
  if (!gradient_graph.points.empty()) {
    layout.points = static_cast<int>(gradient_graph.points.size());
    layout.parameter_points = gradient_graph.parameter_points;
    prediction = gradient_graph.points[0].prediction;
  }
  if (prediction) {
    const ir::TensorType& type = graph.type(*prediction);
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

std::string EntrySet::text() const {
  std::string text;
  for (EntryPoint entry : kEntryPoints) {
    if (!contains(entry)) continue;
    if (!text.empty()) text += ' ';
    text += entrySymbol(entry);
  }
  return text;
}

NnspecWindowGeometry windowGeometry(const ir::Graph& graph, ir::ValueId id) {
  const ir::Node& node = graph.node(id);
  WindowShapes shapes = windowShapesOf(graph, id);
  const ir::Window& window = node.attrs.window;
  NnspecWindowGeometry geometry{};
  geometry.batch = shapes.input[0];
  geometry.in_h = shapes.input[1];
  geometry.in_w = shapes.input[2];
  geometry.in_c = shapes.input[3];
  geometry.out_h = shapes.output[1];
  geometry.out_w = shapes.output[2];
  geometry.out_c = shapes.output[3];
  geometry.kernel_h = window.height;
  geometry.kernel_w = window.width;
  geometry.stride_h = window.stride_h;
  geometry.stride_w = window.stride_w;
  if (node.op == ir::OpKind::Pad2d || node.op == ir::OpKind::Crop2d) {
    geometry.pad_top = node.attrs.pads.top;
    geometry.pad_left = node.attrs.pads.left;
    return geometry;
  }
  geometry.pad_top = ir::placeWindow(geometry.in_h, window.height, window.stride_h, window.padding).pad_low;
  geometry.pad_left = ir::placeWindow(geometry.in_w, window.width, window.stride_w, window.padding).pad_low;
  return geometry;
}

bool isConvolution(const ir::Graph& graph, ir::ValueId id) {
  ir::OpKind op = graph.node(id).op;
  return op == ir::OpKind::Conv2d || op == ir::OpKind::Conv2dInputGrad || op == ir::OpKind::Conv2dKernelGrad;
}

StepPlan fuseStep(const transforms::GradientGraph& gradient_graph, const StepConfig& config) {
  StepPlan plan;
  plan.config = config;
  for (size_t entry_idx = 0; entry_idx < kEntryPoints.size(); ++entry_idx)
    plan.functions[entry_idx] = fuseFunction(gradient_graph, kEntryPoints[entry_idx], config);
  return plan;
}

void allocateStep(const transforms::GradientGraph& gradient_graph, StepPlan& plan) {
  plan.layout = layoutStep(gradient_graph, plan.config);
  for (FunctionPlan& function : plan.functions) {
    allocateFunction(gradient_graph.graph, function);
    plan.layout.workspace_floats = std::max(plan.layout.workspace_floats, function.workspace_floats);
  }
}

StepPlan planStep(const transforms::GradientGraph& gradient_graph, const StepConfig& config) {
  StepPlan plan = fuseStep(gradient_graph, config);
  allocateStep(gradient_graph, plan);
  return plan;
}

std::string stepSignature(const transforms::GradientGraph& gradient_graph,
                          const StepConfig& config) {
  return transforms::printGradientGraph(gradient_graph) + "optimizer " + optimizerName(config.optimizer) + "\n" +
         (config.conv_epilogues ? "" : "no conv epilogues\n");
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
