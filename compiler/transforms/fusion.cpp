#include "compiler/transforms/fusion.h"

#include <algorithm>

namespace nnspec::transforms {
namespace {

using ir::Emitter;
using ir::Graph;
using ir::ValueId;

constexpr int kNoKernel = -1;

class FusionPlanner {
 public:
  FusionPlanner(const Graph& graph, std::span<const ValueId> roots, bool training)
      : graph_(graph),
        training_(training),
        live_(static_cast<size_t>(graph.size()), false),
        is_root_(static_cast<size_t>(graph.size()), false),
        kernel_of_(static_cast<size_t>(graph.size()), kNoKernel),
        is_sink_(static_cast<size_t>(graph.size()), false) {
    for (ValueId root : roots) {
      is_root_[static_cast<size_t>(root)] = true;
      markLive(root);
    }
  }

  FusionPlan plan() {
    for (ValueId id = 0; id < graph_.size(); ++id)
      if (live(id) && emitter(id) != Emitter::Leaf) place(id);
    chooseStores();
    return FusionPlan{orderKernels()};
  }

 private:
  bool live(ValueId id) const { return live_[static_cast<size_t>(id)]; }
  int kernelOf(ValueId id) const { return kernel_of_[static_cast<size_t>(id)]; }
  bool isSink(ValueId id) const { return is_sink_[static_cast<size_t>(id)]; }
  Emitter emitter(ValueId id) const { return ir::opInfo(graph_.node(id).op).emitter; }

  void markLive(ValueId root) {
    std::vector<ValueId> stack{root};
    while (!stack.empty()) {
      ValueId id = stack.back();
      stack.pop_back();
      if (live(id)) continue;
      live_[static_cast<size_t>(id)] = true;
      const ir::Node& node = graph_.node(id);
      if (node.op == ir::OpKind::TrainSelect) {
        stack.push_back(node.operands[training_ ? 0 : 1]);
        continue;
      }
      for (ValueId operand : node.operands) stack.push_back(operand);
    }
  }

  // A member of a loop kernel computed per element (so usable inline by another member).
  bool isLoopMember(ValueId id, int kernel) const {
    return kernel != kNoKernel && kernelOf(id) == kernel && !isSink(id) &&
           emitter(id) == Emitter::Map;
  }

  // Does `id` (transitively) use a node of `kernel`?
  bool dependsOn(ValueId id, int kernel) const {
    std::vector<bool> seen(static_cast<size_t>(id) + 1, false);
    std::vector<ValueId> stack{id};
    while (!stack.empty()) {
      ValueId current = stack.back();
      stack.pop_back();
      if (seen[static_cast<size_t>(current)]) continue;
      seen[static_cast<size_t>(current)] = true;
      if (kernelOf(current) == kernel) return true;
      for (ValueId operand : graph_.node(current).operands) stack.push_back(operand);
    }
    return false;
  }

  // Can `id` join loop kernel `kernel` without a cycle between kernels? Operands that are
  // members are read inline; every other operand must be computed before the loop.
  bool canJoin(ValueId id, int kernel) const {
    for (ValueId operand : graph_.node(id).operands) {
      if (isLoopMember(operand, kernel) && graph_.type(operand).shape == graph_.type(id).shape)
        continue;
      if (dependsOn(operand, kernel)) return false;
    }
    return true;
  }

  int newKernel(KernelKind kind, ir::Shape iteration) {
    kernels_.push_back(Kernel{kind, std::move(iteration), {}, {}, {}, {}});
    return static_cast<int>(kernels_.size()) - 1;
  }

  void place(ValueId id) {
    switch (emitter(id)) {
      case Emitter::Map:
        placeMap(id);
        return;
      case Emitter::Reduce:
        placeReduce(id);
        return;
      case Emitter::Gemm:
        placeAlone(id, KernelKind::Gemm);
        return;
      case Emitter::Softmax:
        placeAlone(id, KernelKind::Softmax);
        return;
      case Emitter::SoftmaxGrad:
        placeAlone(id, KernelKind::SoftmaxGrad);
        return;
      case Emitter::SoftmaxCe:
        placeAlone(id, KernelKind::SoftmaxCe);
        return;
      case Emitter::SoftmaxCeGrad:
        placeAlone(id, KernelKind::SoftmaxCeGrad);
        return;
      case Emitter::Mse:
        placeAlone(id, KernelKind::Mse);
        return;
      case Emitter::Call:
        placeAlone(id, KernelKind::Call);
        return;
      case Emitter::Leaf:
        return;
    }
  }

  void placeAlone(ValueId id, KernelKind kind) {
    int kernel = newKernel(kind, graph_.type(id).shape);
    kernels_[static_cast<size_t>(kernel)].members.push_back(id);
    kernel_of_[static_cast<size_t>(id)] = kernel;
  }

  void placeMap(ValueId id) {
    const ir::Shape& shape = graph_.type(id).shape;
    int kernel = kNoKernel;
    for (ValueId operand : graph_.node(id).operands) {
      int candidate = kernelOf(operand);
      if (!isLoopMember(operand, candidate) || graph_.type(operand).shape != shape) continue;
      if (canJoin(id, candidate)) {
        kernel = candidate;
        break;
      }
    }
    if (kernel == kNoKernel) kernel = newKernel(KernelKind::Loop, shape);
    kernels_[static_cast<size_t>(kernel)].members.push_back(id);
    kernel_of_[static_cast<size_t>(id)] = kernel;
  }

  void placeReduce(ValueId id) {
    ValueId operand = graph_.node(id).operands[0];
    int kernel = kernelOf(operand);
    if (!isLoopMember(operand, kernel))
      kernel = newKernel(KernelKind::Loop, graph_.type(operand).shape);
    kernels_[static_cast<size_t>(kernel)].sinks.push_back(id);
    kernel_of_[static_cast<size_t>(id)] = kernel;
    is_sink_[static_cast<size_t>(id)] = true;
  }

  // A member is stored when it is a root or has a user outside its kernel; sinks and
  // single-node kernels always are.
  void chooseStores() {
    std::vector<std::vector<ValueId>> users = graph_.users();
    for (Kernel& kernel : kernels_) {
      for (ValueId member : kernel.members) {
        bool stored = kernel.kind != KernelKind::Loop || is_root_[static_cast<size_t>(member)];
        for (ValueId user : users[static_cast<size_t>(member)])
          stored = stored || (live(user) && kernelOf(user) != kernelOf(member));
        if (stored) kernel.stores.push_back(member);
      }
      for (ValueId sink : kernel.sinks) kernel.stores.push_back(sink);
      std::sort(kernel.stores.begin(), kernel.stores.end());
    }
  }

  // Depth-first over kernel dependencies, visiting kernels in creation order.
  std::vector<Kernel> orderKernels() {
    std::vector<int> state(kernels_.size(), 0);  // 0 new, 1 visiting, 2 done
    std::vector<Kernel> ordered;
    for (size_t kernel = 0; kernel < kernels_.size(); ++kernel)
      visit(static_cast<int>(kernel), state, ordered);
    return ordered;
  }

  void visit(int kernel, std::vector<int>& state, std::vector<Kernel>& ordered) {
    if (state[static_cast<size_t>(kernel)] == 2) return;
    if (state[static_cast<size_t>(kernel)] == 1)
      throw ir::IrError("fusion: kernels depend on each other in a cycle");
    state[static_cast<size_t>(kernel)] = 1;
    const Kernel& current = kernels_[static_cast<size_t>(kernel)];
    for (const std::vector<ValueId>* nodes : {&current.members, &current.sinks})
      for (ValueId id : *nodes)
        for (ValueId operand : graph_.node(id).operands) {
          int producer = kernelOf(operand);
          if (producer != kNoKernel && producer != kernel) visit(producer, state, ordered);
        }
    state[static_cast<size_t>(kernel)] = 2;
    ordered.push_back(current);
  }

  const Graph& graph_;
  bool training_ = true;
  std::vector<bool> live_;
  std::vector<bool> is_root_;
  std::vector<int> kernel_of_;
  std::vector<bool> is_sink_;
  std::vector<Kernel> kernels_;
};

// The part of loop kernel `loop` that can run as the epilogue of convolution `conv`
// (kernel `conv_idx`): the members (in id order) whose operands are the convolution's
// output, values of kernels before the convolution (or leaves), or other such members.
// Empty unless one of them reads the convolution, and unless every one of them the rest
// of the loop reads is stored already (splitting the loop adds no store).
std::vector<ValueId> epilogueMembers(const Graph& graph, const std::vector<int>& kernel_of, const Kernel& loop,
                                     int loop_idx, ValueId conv, int conv_idx) {
  std::vector<ValueId> taken;
  bool reads_conv = false;
  auto isTaken = [&](ValueId id) { return std::find(taken.begin(), taken.end(), id) != taken.end(); };
  for (ValueId member : loop.members) {
    bool ready = true;
    for (ValueId operand : graph.node(member).operands) {
      const int producer = kernel_of[static_cast<size_t>(operand)];
      if (operand == conv || producer == kNoKernel || (producer < conv_idx && producer != loop_idx) ||
          isTaken(operand))
        continue;
      ready = false;
    }
    if (!ready) continue;
    taken.push_back(member);
    for (ValueId operand : graph.node(member).operands) reads_conv = reads_conv || operand == conv;
  }
  if (!reads_conv) return {};
  auto isStored = [&](ValueId id) { return std::find(loop.stores.begin(), loop.stores.end(), id) != loop.stores.end(); };
  auto readByRest = [&](ValueId id) {
    for (const std::vector<ValueId>* nodes : {&loop.members, &loop.sinks})
      for (ValueId user : *nodes)
        if (!isTaken(user))
          for (ValueId operand : graph.node(user).operands)
            if (operand == id) return true;
    return false;
  };
  for (ValueId member : taken)
    if (readByRest(member) && !isStored(member)) return {};
  return taken;
}

// Moves what can run as a convolution's epilogue into it: the members of a loop over the
// shape of a conv2d's output that read the convolution (and what they need), when they
// read nothing computed after the convolution but themselves (epilogueMembers). They read
// the convolution's output at their own position only (same shape: the flat index), so
// each chunk of rows can be finished on its own. Running them earlier is safe: the kernels
// between the two did not read their values (they ran before the loop). The rest of the
// loop stays where it was and reads them from memory.
void fuseConvEpilogues(const Graph& graph, std::vector<Kernel>& kernels) {
  std::vector<int> kernel_of(static_cast<size_t>(graph.size()), kNoKernel);
  auto index = [&] {
    std::fill(kernel_of.begin(), kernel_of.end(), kNoKernel);
    for (size_t kernel_idx = 0; kernel_idx < kernels.size(); ++kernel_idx)
      for (const std::vector<ValueId>* nodes : {&kernels[kernel_idx].members, &kernels[kernel_idx].sinks})
        for (ValueId id : *nodes) kernel_of[static_cast<size_t>(id)] = static_cast<int>(kernel_idx);
  };
  index();
  for (size_t conv_idx = 0; conv_idx < kernels.size(); ++conv_idx) {
    const Kernel& conv_kernel = kernels[conv_idx];
    if (conv_kernel.kind != KernelKind::Call || graph.node(conv_kernel.members[0]).op != ir::OpKind::Conv2d) continue;
    const ValueId conv = conv_kernel.members[0];
    const ir::Shape& shape = graph.type(conv).shape;
    for (size_t loop_idx = conv_idx + 1; loop_idx < kernels.size(); ++loop_idx) {
      Kernel& loop = kernels[loop_idx];
      if (loop.kind != KernelKind::Loop || loop.iteration != shape) continue;
      const std::vector<ValueId> taken = epilogueMembers(graph, kernel_of, loop, static_cast<int>(loop_idx), conv,
                                                         static_cast<int>(conv_idx));
      if (taken.empty()) continue;
      Kernel epilogue{KernelKind::Loop, shape, taken, {}, {}, {}};
      for (ValueId stored : loop.stores)
        if (std::find(taken.begin(), taken.end(), stored) != taken.end()) epilogue.stores.push_back(stored);
      std::erase_if(loop.members, [&](ValueId id) { return std::find(taken.begin(), taken.end(), id) != taken.end(); });
      std::erase_if(loop.stores, [&](ValueId id) { return std::find(taken.begin(), taken.end(), id) != taken.end(); });
      if (loop.members.empty() && loop.sinks.empty())
        kernels.erase(kernels.begin() + static_cast<std::ptrdiff_t>(loop_idx));
      kernels[conv_idx].epilogue.push_back(std::move(epilogue));
      index();
      break;
    }
  }
}

std::string idList(const std::vector<ValueId>& ids) {
  std::string text;
  for (ValueId id : ids) text += " %" + std::to_string(id);
  return text;
}

}  // namespace

FusionPlan planFusion(const ir::Graph& graph, std::span<const ir::ValueId> roots, bool training,
                      FusionOptions options) {
  FusionPlan plan = FusionPlanner(graph, roots, training).plan();
  if (options.conv_epilogues) fuseConvEpilogues(graph, plan.kernels);
  return plan;
}

namespace {

std::string printKernel(const Kernel& kernel) {
  static constexpr const char* kKindNames[] = {"loop", "gemm", "softmax", "softmax_grad", "softmax_cross_entropy",
                                               "softmax_cross_entropy_grad", "mse", "call"};
  std::string text = kKindNames[static_cast<int>(kernel.kind)];
  if (kernel.kind == KernelKind::Loop) {
    text += " " + ir::typeString(ir::f32(kernel.iteration)) + " {" + idList(kernel.members) + " }";
    if (!kernel.sinks.empty()) text += " reduce {" + idList(kernel.sinks) + " }";
  } else {
    text += idList(kernel.members);
  }
  text += " ->" + idList(kernel.stores);
  for (const Kernel& epilogue : kernel.epilogue) text += " epilogue " + printKernel(epilogue);
  return text;
}

}  // namespace

std::string printFusionPlan(const FusionPlan& plan) {
  std::string text;
  for (const Kernel& kernel : plan.kernels) text += printKernel(kernel) + "\n";
  return text;
}

}  // namespace nnspec::transforms
