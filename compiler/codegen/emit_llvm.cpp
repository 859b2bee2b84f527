#include "compiler/codegen/emit_llvm.h"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include "compiler/codegen/vector_math.h"
#include "compiler/ir/shape_rules.h"
#include "runtime/abi/step_abi.h"
#include "runtime/kernels/window.h"

namespace nnspec::codegen {
namespace {

using ir::OpKind;
using ir::ValueId;
using llvm::Value;

// A graph codegen cannot lower; reported as llvm::Error by emitLlvm.
class CodegenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How a reduction accumulates inside its loop nest [outer, inner].
enum class ReduceShape { All, PerRow, PerColumn };

struct LoopBounds {
  int64_t outer = 1;
  int64_t inner = 1;
};

LoopBounds boundsOf(const ir::Shape& shape) {
  if (shape.empty()) return {};
  LoopBounds bounds{1, shape.back()};
  for (size_t dim_idx = 0; dim_idx + 1 < shape.size(); ++dim_idx) bounds.outer *= shape[dim_idx];
  return bounds;
}

// The position inside one loop nest iteration.
struct Position {
  Value* row;
  Value* col;
  Value* flat;
};

class FunctionEmitter {
 public:
  FunctionEmitter(llvm::Module& module, const transforms::GradientGraph& gradient_graph,
                  const StepPlan& step_plan, const FunctionPlan& plan)
      : context_(module.getContext()),
        module_(module),
        builder_(module.getContext()),
        gradient_graph_(gradient_graph),
        graph_(gradient_graph.graph),
        step_plan_(step_plan),
        plan_(plan),
        buffer_(static_cast<size_t>(graph_.size()), nullptr),
        scalar_(static_cast<size_t>(graph_.size()), nullptr),
        inline_(static_cast<size_t>(graph_.size()), nullptr) {
    llvm::FastMathFlags flags;
    flags.setAllowReassoc();  // lets LLVM vectorize float reductions
    flags.setAllowContract();
    builder_.setFastMathFlags(flags);
  }

  void emit() {
    auto* type = llvm::FunctionType::get(builder_.getInt32Ty(), {builder_.getPtrTy()}, false);
    function_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage,
                                       entrySymbol(plan_.entry), module_);
    function_->addParamAttr(0, llvm::Attribute::NoAlias);
    function_->addFnAttr(llvm::Attribute::NoUnwind);
    entry_block_ = llvm::BasicBlock::Create(context_, "entry", function_);
    builder_.SetInsertPoint(entry_block_);
    loadArguments();
    createAliasScopes();
    // The in-place updates run last (step_plan.cpp); the outputs are taken before them.
    const std::vector<transforms::Kernel>& kernels = plan_.fusion.kernels;
    if (plan_.entry == EntryPoint::TrainStep && !gradient_graph_.points.empty()) {
      emitPointByPoint(kernels);
      builder_.CreateRet(builder_.getInt32(kNnspecOk));
      return;
    }
    size_t first_update = 0;
    while (first_update < kernels.size() && !isInPlaceUpdate(kernels[first_update]))
      ++first_update;
    for (size_t kernel_idx = 0; kernel_idx < first_update; ++kernel_idx) emitKernel(kernels[kernel_idx]);
    storeOutputs();
    if (gradient_graph_.prediction) copyPrediction(*gradient_graph_.prediction, 0);
    for (size_t point = 0; point < gradient_graph_.points.size(); ++point) {
      if (gradient_graph_.points[point].prediction)
        copyPrediction(*gradient_graph_.points[point].prediction, static_cast<int64_t>(point));
    }
    copyExports();
    if (plan_.entry == EntryPoint::Gradients) copyGradients();
    for (size_t kernel_idx = first_update; kernel_idx < kernels.size(); ++kernel_idx)
      emitInPlaceUpdate(kernels[kernel_idx].members);
    if (plan_.entry == EntryPoint::TrainStep) emitOptimizer();
    builder_.CreateRet(builder_.getInt32(kNnspecOk));
  }

  // The epilogue of a fused convolution (NnspecConvEpilogueFn, runtime/abi/window_abi.h):
  // an internal function void(const NnspecStepArgs* args, i64 first_row, i64 rows) that
  // runs loop kernel `loop` over rows [first_row, first_row + rows) of its iteration
  // space (the convolution's output positions), reading its buffers from args as the entry
  // function does.
  llvm::Function* emitEpilogue(const transforms::Kernel& loop, const std::string& name) {
    auto* type = llvm::FunctionType::get(builder_.getVoidTy(),
                                         {builder_.getPtrTy(), builder_.getInt64Ty(), builder_.getInt64Ty()}, false);
    function_ = llvm::Function::Create(type, llvm::Function::InternalLinkage, name, module_);
    function_->addFnAttr(llvm::Attribute::NoUnwind);
    entry_block_ = llvm::BasicBlock::Create(context_, "entry", function_);
    builder_.SetInsertPoint(entry_block_);
    loadArguments();
    createAliasScopes();
    emitLoopKernel(loop, RowRange{function_->getArg(1), function_->getArg(2)});
    builder_.CreateRetVoid();
    return function_;
  }

 private:
  // ---- arguments and buffers --------------------------------------------------------

  Value* argField(size_t offset, const char* name) {
    Value* address = builder_.CreateConstInBoundsGEP1_64(builder_.getInt8Ty(), function_->getArg(0),
                                                         offset);
    return builder_.CreateLoad(builder_.getPtrTy(), address, name);
  }

  Value* loadPointer(Value* array, size_t index) {
    Value* address = builder_.CreateConstInBoundsGEP1_64(builder_.getPtrTy(), array, index);
    return builder_.CreateLoad(builder_.getPtrTy(), address);
  }

  void loadArguments() {
    Value* params = argField(offsetof(NnspecStepArgs, params), "params");
    Value* inputs = argField(offsetof(NnspecStepArgs, inputs), "inputs");
    Value* hyper = argField(offsetof(NnspecStepArgs, hyper), "hyper");
    Value* workspace = argField(offsetof(NnspecStepArgs, workspace), "workspace");
    outputs_ = argField(offsetof(NnspecStepArgs, outputs), "outputs");
    if (gradient_graph_.prediction || !gradient_graph_.points.empty())
      predictions_ = argField(offsetof(NnspecStepArgs, predictions), "predictions");
    std::vector<ValueId> parameter_ids = graph_.leaves(OpKind::Parameter);
    for (size_t param_idx = 0; param_idx < parameter_ids.size(); ++param_idx)
      buffer_[static_cast<size_t>(parameter_ids[param_idx])] = loadPointer(params, param_idx);
    std::vector<ValueId> input_ids = graph_.leaves(OpKind::Input);
    for (size_t input_idx = 0; input_idx < input_ids.size(); ++input_idx)
      buffer_[static_cast<size_t>(input_ids[input_idx])] = loadPointer(inputs, input_idx);
    std::vector<ValueId> state_ids = graph_.leaves(OpKind::State);
    if (!state_ids.empty()) {
      Value* states = argField(offsetof(NnspecStepArgs, states), "states");
      for (size_t state_idx = 0; state_idx < state_ids.size(); ++state_idx)
        buffer_[static_cast<size_t>(state_ids[state_idx])] = loadPointer(states, state_idx);
    }
    // The exports array: training entries copy the exports, every entry the taps after them.
    const size_t export_count = gradient_graph_.exports.size();
    for (size_t export_idx = 0; export_idx < export_count + gradient_graph_.taps.size(); ++export_idx) {
      const bool tap = export_idx >= export_count;
      if (!tap && plan_.entry == EntryPoint::Forward) continue;
      export_values_.push_back(tap ? gradient_graph_.taps[export_idx - export_count].second
                                   : gradient_graph_.exports[export_idx].second);
      export_slots_.push_back(export_idx);
    }
    if (!export_values_.empty()) {
      exports_ = argField(offsetof(NnspecStepArgs, exports), "exports");
      for (size_t slot : export_slots_) export_out_.push_back(loadPointer(exports_, slot));
    }
    std::vector<ValueId> hyper_ids = graph_.leaves(OpKind::Hyperparam);
    for (size_t hyper_idx = 0; hyper_idx < hyper_ids.size(); ++hyper_idx) {
      Value* address = builder_.CreateConstInBoundsGEP1_64(builder_.getFloatTy(), hyper, hyper_idx);
      scalar_[static_cast<size_t>(hyper_ids[hyper_idx])] =
          builder_.CreateLoad(builder_.getFloatTy(), address, graph_.node(hyper_ids[hyper_idx]).attrs.name);
    }
    for (ValueId id = 0; id < graph_.size(); ++id) {
      int64_t offset = plan_.workspace_offset[static_cast<size_t>(id)];
      if (offset >= 0)
        buffer_[static_cast<size_t>(id)] = builder_.CreateConstInBoundsGEP1_64(
            builder_.getFloatTy(), workspace, static_cast<uint64_t>(offset));
    }
    if (plan_.gemm_scratch_offset >= 0)
      gemm_scratch_ = builder_.CreateConstInBoundsGEP1_64(
          builder_.getFloatTy(), workspace, static_cast<uint64_t>(plan_.gemm_scratch_offset),
          "gemm_scratch");
    if (plan_.entry == EntryPoint::Gradients) {
      Value* grads = argField(offsetof(NnspecStepArgs, grads), "grads");
      for (size_t param_idx = 0; param_idx < parameter_ids.size(); ++param_idx)
        grad_out_.push_back(loadPointer(grads, param_idx));
    }
    if (plan_.entry == EntryPoint::TrainStep) {
      Value* state = argField(offsetof(NnspecStepArgs, opt_state), "opt_state");
      size_t count = parameter_ids.size() * static_cast<size_t>(step_plan_.layout.state_slots);
      for (size_t state_idx = 0; state_idx < count; ++state_idx)
        state_.push_back(loadPointer(state, state_idx));
      opt_base_ = argField(offsetof(NnspecStepArgs, opt), "opt");
      selectPoint(0);
    }
  }

  // The optimizer numbers of sweep point `point` (a fused step reads one
  // NnspecOptimizerParams per point): opt_, lr_, decay_ and momentum_ load here, so
  // every use must follow in a block this one dominates (call it outside branches).
  void selectPoint(int point) {
    if (opt_ != nullptr && point == point_) return;
    point_ = point;
    opt_ = builder_.CreateConstInBoundsGEP1_64(builder_.getInt8Ty(), opt_base_,
                                               static_cast<uint64_t>(point) * sizeof(NnspecOptimizerParams));
    lr_ = optField(offsetof(NnspecOptimizerParams, lr), false, "lr");
    decay_ = optField(offsetof(NnspecOptimizerParams, weight_decay), false, "weight_decay");
    momentum_ = optField(offsetof(NnspecOptimizerParams, momentum), false, "momentum");
  }

  int pointOf(size_t param_idx) const {
    const std::vector<int32_t>& points = gradient_graph_.parameter_points;
    return points.empty() ? 0 : points[param_idx];
  }

  // Every buffer is its own alias scope: distinct workspace ranges and distinct caller
  // buffers never overlap, which lets LLVM vectorize without runtime alias checks.
  void createAliasScopes() {
    llvm::MDBuilder md(context_);
    llvm::MDNode* domain = md.createAnonymousAliasScopeDomain("nnspec");
    auto addScope = [&](Value* pointer) {
      if (pointer == nullptr || scope_of_.count(pointer) > 0) return;
      scope_of_[pointer] = md.createAnonymousAliasScope(domain);
      scopes_.push_back(scope_of_[pointer]);
    };
    for (Value* pointer : buffer_) addScope(pointer);
    for (Value* pointer : grad_out_) addScope(pointer);
    for (Value* pointer : export_out_) addScope(pointer);
    for (Value* pointer : state_) addScope(pointer);
    addScope(outputs_);
    addScope(predictions_);
  }

  void annotate(llvm::Instruction* access, Value* base) {
    auto found = scope_of_.find(base);
    if (found == scope_of_.end()) return;
    llvm::MDNode* scope = found->second;
    access->setMetadata(llvm::LLVMContext::MD_alias_scope, llvm::MDNode::get(context_, {scope}));
    std::vector<llvm::Metadata*> others;
    for (llvm::Metadata* other : scopes_)
      if (other != scope) others.push_back(other);
    access->setMetadata(llvm::LLVMContext::MD_noalias, llvm::MDNode::get(context_, others));
  }

  Value* loadElement(Value* base, Value* index, llvm::Type* type = nullptr) {
    if (type == nullptr) type = builder_.getFloatTy();
    Value* address = builder_.CreateInBoundsGEP(type, base, index);
    llvm::LoadInst* load = builder_.CreateLoad(type, address);
    annotate(load, base);
    return load;
  }

  void storeElement(Value* value, Value* base, Value* index) {
    Value* address = builder_.CreateInBoundsGEP(builder_.getFloatTy(), base, index);
    annotate(builder_.CreateStore(value, address), base);
  }

  Value* bufferOf(ValueId id) {
    Value* buffer = buffer_[static_cast<size_t>(id)];
    if (buffer == nullptr)
      throw CodegenError("%" + std::to_string(id) + " is needed in memory but has no buffer");
    return buffer;
  }

  // Element `index` of a value: a literal, a hyperparameter or a load.
  Value* readAt(ValueId id, Value* index) {
    const ir::Node& node = graph_.node(id);
    if (node.op == OpKind::Constant) return llvm::ConstantFP::get(builder_.getFloatTy(), node.attrs.value);
    if (node.op == OpKind::Hyperparam) return scalar_[static_cast<size_t>(id)];
    return loadElement(bufferOf(id), index);
  }

  Value* f32(double value) { return llvm::ConstantFP::get(builder_.getFloatTy(), value); }
  Value* i64(int64_t value) { return builder_.getInt64(static_cast<uint64_t>(value)); }

  // ---- loops ------------------------------------------------------------------------

  // for (index = 0; index < count; ++index) body(index); count >= 1. Leaves the builder
  // after the loop.
  void emitLoop(int64_t count, const std::function<void(Value*)>& body) {
    if (count == 1) {
      body(i64(0));
      return;
    }
    llvm::BasicBlock* preheader = builder_.GetInsertBlock();
    llvm::BasicBlock* header = llvm::BasicBlock::Create(context_, "loop", function_);
    llvm::BasicBlock* exit = llvm::BasicBlock::Create(context_, "loop.end", function_);
    builder_.CreateBr(header);
    builder_.SetInsertPoint(header);
    llvm::PHINode* index = builder_.CreatePHI(builder_.getInt64Ty(), 2, "idx");
    index->addIncoming(i64(0), preheader);
    const bool enclosing_math = math_in_loop_;
    math_in_loop_ = false;
    body(index);
    Value* next = builder_.CreateAdd(index, i64(1), "idx.next", true, true);
    llvm::BranchInst* latch = builder_.CreateCondBr(builder_.CreateICmpULT(next, i64(count)), header, exit);
    if (math_in_loop_) latch->setMetadata(llvm::LLVMContext::MD_loop, tailFoldedLoop());
    math_in_loop_ = enclosing_math;
    index->addIncoming(next, builder_.GetInsertBlock());
    builder_.SetInsertPoint(exit);
  }

  // for (index = first; index < first + count; ++index) body(index); count >= 1 at run
  // time. Leaves the builder after the loop.
  void emitRangeLoop(Value* first, Value* count, const std::function<void(Value*)>& body) {
    Value* end = builder_.CreateAdd(first, count, "end", true, true);
    llvm::BasicBlock* preheader = builder_.GetInsertBlock();
    llvm::BasicBlock* header = llvm::BasicBlock::Create(context_, "range", function_);
    llvm::BasicBlock* exit = llvm::BasicBlock::Create(context_, "range.end", function_);
    builder_.CreateBr(header);
    builder_.SetInsertPoint(header);
    llvm::PHINode* index = builder_.CreatePHI(builder_.getInt64Ty(), 2, "idx");
    index->addIncoming(first, preheader);
    const bool enclosing_math = math_in_loop_;
    math_in_loop_ = false;
    body(index);
    Value* next = builder_.CreateAdd(index, i64(1), "idx.next", true, true);
    llvm::BranchInst* latch = builder_.CreateCondBr(builder_.CreateICmpULT(next, end), header, exit);
    if (math_in_loop_) latch->setMetadata(llvm::LLVMContext::MD_loop, tailFoldedLoop());
    math_in_loop_ = enclosing_math;
    index->addIncoming(next, builder_.GetInsertBlock());
    builder_.SetInsertPoint(exit);
  }

  // Loop metadata asking the vectorizer to fold the remainder iterations into the vector
  // loop by masking where the target can (AVX-512, AVX2): a loop that computes exp, log
  // or tanh then holds one copy of the inlined math instead of up to three (the vector
  // body, a vectorized epilogue and the scalar remainder), most of its compile time. Where
  // masking is not available (SSE2) the vectorizer keeps its scalar remainder.
  llvm::MDNode* tailFoldedLoop() {
    llvm::Metadata* predicate[] = {llvm::MDString::get(context_, "llvm.loop.vectorize.predicate.enable"),
                                   llvm::ConstantAsMetadata::get(builder_.getTrue())};
    llvm::TempMDTuple self = llvm::MDNode::getTemporary(context_, {});
    llvm::MDNode* loop = llvm::MDNode::getDistinct(context_, {self.get(), llvm::MDNode::get(context_, predicate)});
    loop->replaceOperandWith(0, loop);
    return loop;
  }

  // A float accumulator in the entry block (promoted to a register by mem2reg).
  llvm::AllocaInst* newAccumulator(const char* name) {
    llvm::IRBuilder<> entry_builder(entry_block_, entry_block_->begin());
    return entry_builder.CreateAlloca(builder_.getFloatTy(), nullptr, name);
  }

  Value* load(llvm::AllocaInst* slot) { return builder_.CreateLoad(builder_.getFloatTy(), slot); }

  llvm::BasicBlock* failureBlock(llvm::BasicBlock*& block, int32_t status, const char* name) {
    if (block != nullptr) return block;
    llvm::IRBuilder<>::InsertPointGuard guard(builder_);
    block = llvm::BasicBlock::Create(context_, name, function_);
    builder_.SetInsertPoint(block);
    builder_.CreateRet(builder_.getInt32(status));
    return block;
  }

  // ---- kernels ----------------------------------------------------------------------

  void emitKernel(const transforms::Kernel& kernel) {
    switch (kernel.kind) {
      case transforms::KernelKind::Loop:
        emitLoopKernel(kernel);
        return;
      case transforms::KernelKind::Gemm:
        if (kernel.members.size() > 1) {
          std::vector<Value*> outs;
          for (ValueId member : kernel.members) outs.push_back(bufferOf(member));
          emitSharedGemm(kernel.members, std::vector<Value*>(kernel.members.size(), f32(1.0)),
                         std::vector<Value*>(kernel.members.size(), f32(0.0)), outs);
          return;
        }
        emitGemm(kernel.members[0], f32(1.0), f32(0.0), bufferOf(kernel.members[0]));
        return;
      case transforms::KernelKind::Softmax:
        emitSoftmax(kernel.members[0]);
        return;
      case transforms::KernelKind::SoftmaxGrad:
        emitSoftmaxGrad(kernel.members[0]);
        return;
      case transforms::KernelKind::SoftmaxCe:
        emitSoftmaxCrossEntropy(kernel.members[0]);
        return;
      case transforms::KernelKind::SoftmaxCeGrad:
        emitSoftmaxCrossEntropyGrad(kernel.members[0]);
        return;
      case transforms::KernelKind::Mse:
        emitMse(kernel.members[0]);
        return;
      case transforms::KernelKind::Call:
        emitWindowCall(kernel.members[0], kernel.epilogue.empty() ? nullptr : &kernel.epilogue[0]);
        return;
    }
  }

  ReduceShape reduceShapeOf(ValueId sink, const ir::Shape& iteration) {
    int axis = graph_.node(sink).attrs.axis;
    int rank = static_cast<int>(iteration.size());
    if (axis == ir::kAllAxes || rank == 0) return ReduceShape::All;
    if (axis == rank - 1) return ReduceShape::PerRow;
    if (axis == 0 && rank == 2) return ReduceShape::PerColumn;
    throw CodegenError("%" + std::to_string(sink) + ": reduction over axis " +
                       std::to_string(axis) + " of " + ir::typeString(ir::f32(iteration)) +
                       " is not supported");
  }

  // Which element of `operand` the loop reads at `position` for `user`.
  Value* operandIndex(ValueId user, ValueId operand, const ir::Shape& iteration,
                      const Position& position) {
    const ir::Shape& shape = graph_.type(operand).shape;
    const ir::Node& node = graph_.node(user);
    if (shape == iteration || node.op == OpKind::Reshape) return position.flat;
    if (shape.empty()) return i64(0);
    int rank = static_cast<int>(iteration.size());
    if (node.op == OpKind::Broadcast && node.attrs.axis == rank - 1) return position.row;
    if (node.op == OpKind::Broadcast && node.attrs.axis == 0 && rank == 2) return position.col;
    if (node.op != OpKind::Broadcast && shape.size() == 1 && shape[0] == iteration.back())
      return position.col;
    throw CodegenError("%" + std::to_string(user) + ": cannot index " +
                       ir::typeString(graph_.type(operand)) + " inside a loop over " +
                       ir::typeString(ir::f32(iteration)));
  }

  Value* operandValue(ValueId user, size_t slot, const ir::Shape& iteration,
                      const Position& position) {
    ValueId operand = graph_.node(user).operands[slot];
    if (Value* computed = inline_[static_cast<size_t>(operand)]) return computed;
    const ir::Node& node = graph_.node(operand);
    if (node.op == OpKind::Constant || node.op == OpKind::Hyperparam) return readAt(operand, nullptr);
    return loadElement(bufferOf(operand), operandIndex(user, operand, iteration, position));
  }

  // The module's own exp/expm1/log/tanh (vector_math.h), not libm: loops calling them
  // vectorize.
  Value* math(MathFunction function, Value* x) {
    math_in_loop_ = true;
    return builder_.CreateCall(mathFunction(module_, function), {x});
  }
  Value* exp(Value* x) { return math(MathFunction::Exp, x); }
  Value* positive(Value* x) { return builder_.CreateFCmpOGT(x, f32(0.0)); }

  // The scalar formula of each element-wise op (ops.def rows with emitter Map).
  Value* computeMember(ValueId id, const ir::Shape& iteration, const Position& position) {
    const ir::Node& node = graph_.node(id);
    // Only the selected operand is computed (the fusion plan left the other out).
    if (node.op == OpKind::TrainSelect)
      return operandValue(id, plan_.entry == EntryPoint::Forward ? 1 : 0, iteration, position);
    Value* a = operandValue(id, 0, iteration, position);
    Value* b = node.operands.size() > 1 ? operandValue(id, 1, iteration, position) : nullptr;
    Value* alpha = f32(node.attrs.alpha);
    switch (node.op) {
      case OpKind::Add:
        return builder_.CreateFAdd(a, b);
      case OpKind::Sub:
        return builder_.CreateFSub(a, b);
      case OpKind::Mul:
        return builder_.CreateFMul(a, b);
      case OpKind::Div:
        return builder_.CreateFDiv(a, b);
      case OpKind::Neg:
        return builder_.CreateFNeg(a);
      case OpKind::Exp:
        return exp(a);
      case OpKind::Log:
        return math(MathFunction::Log, a);
      case OpKind::Abs:
        return builder_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, a);
      case OpKind::Sign:
        return builder_.CreateSelect(positive(a), f32(1.0),
                                     builder_.CreateSelect(builder_.CreateFCmpOLT(a, f32(0.0)),
                                                           f32(-1.0), f32(0.0)));
      case OpKind::Relu:
        return builder_.CreateSelect(positive(a), a, f32(0.0));
      case OpKind::LeakyRelu:
        return builder_.CreateSelect(positive(a), a, builder_.CreateFMul(alpha, a));
      case OpKind::Elu:
        return builder_.CreateSelect(positive(a), a,
                                     builder_.CreateFMul(alpha, math(MathFunction::Expm1, a)));
      case OpKind::Sigmoid:
        return builder_.CreateFDiv(f32(1.0), builder_.CreateFAdd(f32(1.0), exp(builder_.CreateFNeg(a))));
      case OpKind::Tanh:
        return math(MathFunction::Tanh, a);
      case OpKind::ReluGrad:
        return builder_.CreateSelect(positive(a), b, f32(0.0));
      case OpKind::LeakyReluGrad:
        return builder_.CreateSelect(positive(a), b, builder_.CreateFMul(alpha, b));
      case OpKind::EluGrad:
        return builder_.CreateSelect(positive(a), b,
                                     builder_.CreateFMul(b, builder_.CreateFMul(alpha, exp(a))));
      case OpKind::SigmoidGrad:
        return builder_.CreateFMul(b, builder_.CreateFMul(a, builder_.CreateFSub(f32(1.0), a)));
      case OpKind::TanhGrad:
        return builder_.CreateFMul(b, builder_.CreateFSub(f32(1.0), builder_.CreateFMul(a, a)));
      case OpKind::Dropout:
        return dropout(node, a, position.flat);
      case OpKind::Sqrt:
        return builder_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, a);
      case OpKind::Broadcast:
      case OpKind::Reshape:
        return a;
      default:
        throw CodegenError("%" + std::to_string(id) + " = " + std::string(ir::opName(node.op)) +
                           " is not element-wise");
    }
  }

  // a * mask / (1 - rate) in the training entries, a in nnspec_forward; the mask bit
  // follows nnspec_dropout_bits (runtime/abi/step_abi.h) exactly.
  Value* dropout(const ir::Node& node, Value* a, Value* flat) {
    if (plan_.entry == EntryPoint::Forward || node.attrs.rate == 0.0f) return a;
    auto u64 = [&](uint64_t value) { return builder_.getInt64(value); };
    Value* seed = node.attrs.point >= 0 ? pointSeed(node.attrs.point) : rngSeed();
    Value* z = builder_.CreateAdd(
        builder_.CreateAdd(seed, u64(static_cast<uint64_t>(static_cast<uint32_t>(node.attrs.stream)) *
                                          0x9E3779B97F4A7C15ull)),
        builder_.CreateMul(flat, u64(0xD6E8FEB86659FD93ull)));
    z = builder_.CreateXor(z, builder_.CreateLShr(z, 33));
    z = builder_.CreateMul(z, u64(0xFF51AFD7ED558CCDull));
    z = builder_.CreateXor(z, builder_.CreateLShr(z, 33));
    z = builder_.CreateMul(z, u64(0xC4CEB9FE1A85EC53ull));
    z = builder_.CreateXor(z, builder_.CreateLShr(z, 33));
    Value* bits = builder_.CreateLShr(z, 40);
    Value* keep = builder_.CreateICmpUGE(bits, u64(nnspec_dropout_threshold(node.attrs.rate)));
    Value* scaled = builder_.CreateFMul(a, f32(1.0 / (1.0 - static_cast<double>(node.attrs.rate))));
    return builder_.CreateSelect(keep, scaled, f32(0.0));
  }

  // NnspecStepArgs::rng_seed, loaded once in the entry block.
  Value* rngSeed() {
    if (rng_seed_ == nullptr) {
      llvm::IRBuilder<> entry_builder(entry_block_, entry_block_->getFirstInsertionPt());
      Value* address = entry_builder.CreateConstInBoundsGEP1_64(entry_builder.getInt8Ty(), function_->getArg(0),
                                                                offsetof(NnspecStepArgs, rng_seed));
      rng_seed_ = entry_builder.CreateLoad(entry_builder.getInt64Ty(), address, "rng_seed");
    }
    return rng_seed_;
  }

  // NnspecStepArgs::point_seeds[point] (a fused step's dropout), loaded once in the entry block.
  Value* pointSeed(int32_t point) {
    Value*& seed = point_seeds_[point];
    if (seed == nullptr) {
      llvm::IRBuilder<> entry_builder(entry_block_, entry_block_->getFirstInsertionPt());
      Value* field = entry_builder.CreateConstInBoundsGEP1_64(entry_builder.getInt8Ty(), function_->getArg(0),
                                                              offsetof(NnspecStepArgs, point_seeds));
      Value* seeds = entry_builder.CreateLoad(entry_builder.getPtrTy(), field, "point_seeds");
      Value* address = entry_builder.CreateConstInBoundsGEP1_64(entry_builder.getInt64Ty(), seeds,
                                                                static_cast<uint64_t>(point));
      seed = entry_builder.CreateLoad(entry_builder.getInt64Ty(), address, "point_seed");
    }
    return seed;
  }

  // Whether point `point` of a fused train step trains this call (NnspecStepArgs::
  // point_active; null: every point), an i1 loaded once in the entry block.
  Value* pointActive(int32_t point) {
    if (point_active_.empty()) {  // every point's flag at once: each insertion goes first
      llvm::IRBuilder<> entry_builder(entry_block_, entry_block_->getFirstInsertionPt());
      const auto points = static_cast<uint64_t>(gradient_graph_.points.size());
      auto* type = llvm::ArrayType::get(entry_builder.getInt8Ty(), points);
      std::vector<uint8_t> all(points, 1);
      auto* ones = new llvm::GlobalVariable(module_, type, true, llvm::GlobalValue::PrivateLinkage,
                                            llvm::ConstantDataArray::get(context_, all), "all_points_active");
      Value* field = entry_builder.CreateConstInBoundsGEP1_64(entry_builder.getInt8Ty(), function_->getArg(0),
                                                              offsetof(NnspecStepArgs, point_active));
      Value* flags = entry_builder.CreateLoad(entry_builder.getPtrTy(), field, "point_active");
      Value* base = entry_builder.CreateSelect(entry_builder.CreateIsNull(flags), ones, flags, "point_flags");
      for (uint64_t index = 0; index < points; ++index) {
        Value* address = entry_builder.CreateConstInBoundsGEP1_64(entry_builder.getInt8Ty(), base, index);
        point_active_.push_back(entry_builder.CreateICmpNE(entry_builder.CreateLoad(entry_builder.getInt8Ty(), address),
                                                           entry_builder.getInt8(0), "point_trains"));
      }
    }
    return point_active_.at(static_cast<size_t>(point));
  }

  // Rows [first, first + count) of a loop kernel's iteration space (its outer loop).
  struct RowRange {
    Value* first;
    Value* count;
  };

  // The loop nest of `kernel` over all its rows, or over `rows` only (a convolution's
  // epilogue, which has no sinks).
  void emitLoopKernel(const transforms::Kernel& kernel, std::optional<RowRange> rows = std::nullopt) {
    const ir::Shape& iteration = kernel.iteration;
    LoopBounds bounds = boundsOf(iteration);
    if (rows && !kernel.sinks.empty()) throw CodegenError("a loop over a range of rows cannot reduce");
    auto rowLoop = [&](const std::function<void(Value*)>& body) {
      if (rows) emitRangeLoop(rows->first, rows->count, body);
      else emitLoop(bounds.outer, body);
    };
    std::vector<llvm::AllocaInst*> accumulators;
    std::vector<ReduceShape> reduce_shapes;
    for (ValueId sink : kernel.sinks) {
      reduce_shapes.push_back(reduceShapeOf(sink, iteration));
      accumulators.push_back(newAccumulator("acc"));
      if (reduce_shapes.back() == ReduceShape::All) builder_.CreateStore(f32(0.0), accumulators.back());
      if (reduce_shapes.back() == ReduceShape::PerColumn) {
        Value* out = bufferOf(sink);
        emitLoop(bounds.inner, [&](Value* col) { storeElement(f32(0.0), out, col); });
      }
    }
    std::vector<bool> stored(static_cast<size_t>(graph_.size()), false);
    for (ValueId id : kernel.stores) stored[static_cast<size_t>(id)] = true;

    rowLoop([&](Value* row) {
      for (size_t sink_idx = 0; sink_idx < kernel.sinks.size(); ++sink_idx)
        if (reduce_shapes[sink_idx] == ReduceShape::PerRow)
          builder_.CreateStore(f32(0.0), accumulators[sink_idx]);
      emitLoop(bounds.inner, [&](Value* col) {
        Value* flat = builder_.CreateAdd(builder_.CreateMul(row, i64(bounds.inner), "", true, true),
                                         col, "flat", true, true);
        Position position{row, col, flat};
        for (ValueId member : kernel.members) {
          Value* value = computeMember(member, iteration, position);
          inline_[static_cast<size_t>(member)] = value;
          if (stored[static_cast<size_t>(member)]) storeElement(value, bufferOf(member), flat);
        }
        for (size_t sink_idx = 0; sink_idx < kernel.sinks.size(); ++sink_idx) {
          ValueId sink = kernel.sinks[sink_idx];
          Value* value = operandValue(sink, 0, iteration, position);
          if (reduce_shapes[sink_idx] == ReduceShape::PerColumn) {
            Value* out = bufferOf(sink);
            storeElement(builder_.CreateFAdd(loadElement(out, col), value), out, col);
            continue;
          }
          builder_.CreateStore(builder_.CreateFAdd(load(accumulators[sink_idx]), value),
                               accumulators[sink_idx]);
        }
        for (ValueId member : kernel.members) inline_[static_cast<size_t>(member)] = nullptr;
      });
      for (size_t sink_idx = 0; sink_idx < kernel.sinks.size(); ++sink_idx)
        if (reduce_shapes[sink_idx] == ReduceShape::PerRow) {
          ValueId sink = kernel.sinks[sink_idx];
          storeElement(builder_.CreateFMul(load(accumulators[sink_idx]), meanScale(sink)),
                       bufferOf(sink), row);
        }
    });

    for (size_t sink_idx = 0; sink_idx < kernel.sinks.size(); ++sink_idx) {
      ValueId sink = kernel.sinks[sink_idx];
      Value* out = bufferOf(sink);
      if (reduce_shapes[sink_idx] == ReduceShape::All)
        storeElement(builder_.CreateFMul(load(accumulators[sink_idx]), meanScale(sink)), out, i64(0));
      if (reduce_shapes[sink_idx] == ReduceShape::PerColumn &&
          graph_.node(sink).op == OpKind::ReduceMean)
        emitLoop(bounds.inner, [&](Value* col) {
          storeElement(builder_.CreateFMul(loadElement(out, col), meanScale(sink)), out, col);
        });
    }
  }

  // 1 for reduce_sum; 1/n for reduce_mean, n the elements reduced into one.
  Value* meanScale(ValueId sink) {
    if (graph_.node(sink).op != OpKind::ReduceMean) return f32(1.0);
    int64_t reduced = graph_.type(graph_.node(sink).operands[0]).numElements() /
                      graph_.type(sink).numElements();
    return f32(1.0 / static_cast<double>(reduced));
  }

  // out = alpha * op(a) op(b) + beta * out for matmul `id` (beta 0: out only written).
  void emitGemm(ValueId id, Value* alpha, Value* beta, Value* out) {
    const ir::Node& node = graph_.node(id);
    const ir::Shape& a_shape = graph_.type(node.operands[0]).shape;
    int64_t rows = graph_.type(id).shape[0];
    int64_t cols = graph_.type(id).shape[1];
    int64_t inner = node.attrs.transpose_a ? a_shape[0] : a_shape[1];
    llvm::Type* i64_type = builder_.getInt64Ty();
    llvm::Type* i32_type = builder_.getInt32Ty();
    llvm::Type* float_type = builder_.getFloatTy();
    llvm::Type* ptr_type = builder_.getPtrTy();
    auto* type = llvm::FunctionType::get(i32_type,
                                         {i64_type, i64_type, i64_type, float_type, ptr_type,
                                          i32_type, ptr_type, i32_type, float_type, ptr_type, ptr_type},
                                         false);
    llvm::FunctionCallee sgemm = module_.getOrInsertFunction(kSgemmSymbol, type);
    Value* status = builder_.CreateCall(
        sgemm, {i64(rows), i64(cols), i64(inner), alpha, bufferOf(node.operands[0]),
                builder_.getInt32(node.attrs.transpose_a ? 1 : 0), bufferOf(node.operands[1]),
                builder_.getInt32(node.attrs.transpose_b ? 1 : 0), beta, out, gemm_scratch_});
    llvm::BasicBlock* next = llvm::BasicBlock::Create(context_, "gemm.ok", function_);
    builder_.CreateCondBr(builder_.CreateICmpEQ(status, builder_.getInt32(kNnspecOk)), next,
                          failureBlock(kernel_error_block_, kNnspecKernelError, "kernel_error"));
    builder_.SetInsertPoint(next);
  }

  // Matmuls of one op(a) and one shape (step_plan.cpp's shareGemmOperands) as one call of
  // nnspec_rt_sgemm_shared_a: out[i] = alpha[i] * op(a) op(b[i]) + beta[i] * out[i], the
  // b and c pointers and the scales in arrays on the stack.
  void emitSharedGemm(const std::vector<ValueId>& members, const std::vector<Value*>& alphas,
                      const std::vector<Value*>& betas, const std::vector<Value*>& outs) {
    const ir::Node& node = graph_.node(members[0]);
    const ir::Shape& a_shape = graph_.type(node.operands[0]).shape;
    int64_t rows = graph_.type(members[0]).shape[0];
    int64_t cols = graph_.type(members[0]).shape[1];
    int64_t inner = node.attrs.transpose_a ? a_shape[0] : a_shape[1];
    llvm::Type* i64_type = builder_.getInt64Ty();
    llvm::Type* i32_type = builder_.getInt32Ty();
    llvm::Type* float_type = builder_.getFloatTy();
    llvm::Type* ptr_type = builder_.getPtrTy();
    const auto count = static_cast<int64_t>(members.size());
    llvm::Value* b_array;
    llvm::Value* c_array;
    llvm::Value* alpha_array;
    llvm::Value* beta_array;
    {
      llvm::IRBuilder<>::InsertPointGuard guard(builder_);
      builder_.SetInsertPoint(entry_block_, entry_block_->getFirstInsertionPt());
      b_array = builder_.CreateAlloca(ptr_type, i64(count), "gemm.b");
      c_array = builder_.CreateAlloca(ptr_type, i64(count), "gemm.c");
      alpha_array = builder_.CreateAlloca(float_type, i64(count), "gemm.alpha");
      beta_array = builder_.CreateAlloca(float_type, i64(count), "gemm.beta");
    }
    // Gated (a fused train step): the members of points that train, packed to the front
    // (a member that does not train is written where the next one will be).
    Value* used = i64(0);
    for (int64_t index = 0; index < count; ++index) {
      const auto at = static_cast<size_t>(index);
      const ir::Node& member = graph_.node(members[at]);
      Value* slot = gate_points_ ? used : i64(index);
      builder_.CreateStore(bufferOf(member.operands[1]), builder_.CreateInBoundsGEP(ptr_type, b_array, slot));
      builder_.CreateStore(outs[at], builder_.CreateInBoundsGEP(ptr_type, c_array, slot));
      builder_.CreateStore(alphas[at], builder_.CreateInBoundsGEP(float_type, alpha_array, slot));
      builder_.CreateStore(betas[at], builder_.CreateInBoundsGEP(float_type, beta_array, slot));
      if (gate_points_)
        used = builder_.CreateAdd(used, builder_.CreateZExt(memberTrains(members[at]), i64_type), "gemm.used");
    }
    auto call = [&] {
      auto* type = llvm::FunctionType::get(i32_type,
                                           {i64_type, i64_type, i64_type, i64_type, ptr_type, ptr_type, i32_type,
                                            ptr_type, i32_type, ptr_type, ptr_type, ptr_type},
                                           false);
      llvm::FunctionCallee sgemm = module_.getOrInsertFunction(kSgemmSharedASymbol, type);
      Value* status = builder_.CreateCall(
          sgemm, {gate_points_ ? used : i64(count), i64(rows), i64(cols), i64(inner), alpha_array,
                  bufferOf(node.operands[0]), builder_.getInt32(node.attrs.transpose_a ? 1 : 0), b_array,
                  builder_.getInt32(node.attrs.transpose_b ? 1 : 0), beta_array, c_array, gemm_scratch_});
      llvm::BasicBlock* next = llvm::BasicBlock::Create(context_, "gemm.ok", function_);
      builder_.CreateCondBr(builder_.CreateICmpEQ(status, builder_.getInt32(kNnspecOk)), next,
                            failureBlock(kernel_error_block_, kNnspecKernelError, "kernel_error"));
      builder_.SetInsertPoint(next);
    };
    if (gate_points_)
      emitIfElse(builder_.CreateICmpNE(used, i64(0)), call, [] {});
    else
      call();
  }

  // Whether the point of matmul `member` (a shared GEMM's) trains this call.
  Value* memberTrains(ValueId member) {
    const int32_t point = value_points_[static_cast<size_t>(member)];
    if (point < 0) throw CodegenError("%" + std::to_string(member) + " of a shared GEMM belongs to no one point");
    return pointActive(point);
  }

  // ---- window kernels (runtime/kernels/window.h) ------------------------------------

  // A private constant NnspecWindowGeometry for window op `id`.
  Value* windowGeometry(ValueId id) {
    NnspecWindowGeometry geometry = codegen::windowGeometry(graph_, id);
    std::vector<uint64_t> fields;
    for (int64_t field :
         {geometry.batch, geometry.in_h, geometry.in_w, geometry.in_c, geometry.out_h, geometry.out_w,
          geometry.out_c, geometry.kernel_h, geometry.kernel_w, geometry.stride_h, geometry.stride_w,
          geometry.pad_top, geometry.pad_left})
      fields.push_back(static_cast<uint64_t>(field));
    static_assert(kNnspecWindowGeometryFields == 13);
    llvm::Constant* data = llvm::ConstantDataArray::get(context_, fields);
    // The module owns its globals; the entry functions of one step share each geometry.
    auto* global = llvm::cast<llvm::GlobalVariable>(
        module_.getOrInsertGlobal("nnspec.geometry." + std::to_string(id), data->getType()));
    if (!global->hasInitializer()) {
      global->setInitializer(data);
      global->setConstant(true);
      global->setLinkage(llvm::GlobalValue::PrivateLinkage);
      global->setAlignment(llvm::Align(alignof(int64_t)));
    }
    return global;
  }

  const char* windowSymbol(OpKind op) {
    switch (op) {
      case OpKind::Conv2d:
        return kConv2dSymbol;
      case OpKind::Conv2dInputGrad:
        return kConv2dInputGradSymbol;
      case OpKind::Conv2dKernelGrad:
        return kConv2dKernelGradSymbol;
      case OpKind::MaxPool:
        return kMaxPoolSymbol;
      case OpKind::AvgPool:
        return kAvgPoolSymbol;
      case OpKind::MaxPoolGrad:
        return kMaxPoolGradSymbol;
      case OpKind::AvgPoolGrad:
        return kAvgPoolGradSymbol;
      case OpKind::Pad2d:
        return kPad2dSymbol;
      case OpKind::Crop2d:
        return kCrop2dSymbol;
      default:
        throw CodegenError(std::string(ir::opName(op)) + " has no window kernel");
    }
  }

  // status = kernel(&geometry, operands..., result[, scratch]); a failure returns
  // kNnspecKernelError.
  // A conv2d with an `epilogue` (fusion.h) calls the fused kernel with the epilogue's
  // function and this entry's NnspecStepArgs as its context.
  void emitWindowCall(ValueId id, const transforms::Kernel* epilogue = nullptr) {
    const ir::Node& node = graph_.node(id);
    std::vector<Value*> args{windowGeometry(id)};
    for (ValueId operand : node.operands) args.push_back(bufferOf(operand));
    args.push_back(bufferOf(id));
    if (isConvolution(graph_, id)) args.push_back(gemm_scratch_);  // im2col and GEMM panels
    const char* symbol = windowSymbol(node.op);
    if (epilogue != nullptr) {
      if (node.op != OpKind::Conv2d) throw CodegenError("only conv2d takes an epilogue");
      FunctionEmitter emitter(module_, gradient_graph_, step_plan_, plan_);
      args.push_back(emitter.emitEpilogue(*epilogue, entrySymbol(plan_.entry) + ".epilogue." + std::to_string(id)));
      args.push_back(function_->getArg(0));
      symbol = kConv2dFusedSymbol;
    }
    std::vector<llvm::Type*> arg_types(args.size(), builder_.getPtrTy());
    auto* type = llvm::FunctionType::get(builder_.getInt32Ty(), arg_types, false);
    llvm::FunctionCallee kernel = module_.getOrInsertFunction(symbol, type);
    if (auto* function = llvm::dyn_cast<llvm::Function>(kernel.getCallee())) function->setDoesNotThrow();
    Value* status = builder_.CreateCall(kernel, args);
    llvm::BasicBlock* next = llvm::BasicBlock::Create(context_, "call.ok", function_);
    builder_.CreateCondBr(builder_.CreateICmpEQ(status, builder_.getInt32(kNnspecOk)), next,
                          failureBlock(kernel_error_block_, kNnspecKernelError, "kernel_error"));
    builder_.SetInsertPoint(next);
  }

  // ---- softmax over the last axis (ops.def) --------------------------------------------

  // Y = exp(A - max) / sum(exp(A - max)) per row of the last axis: one pass for the row's
  // maximum, one that stores exp(A - max) and sums it, one that scales by 1 / sum.
  void emitSoftmax(ValueId id) {
    const LoopBounds bounds = boundsOf(graph_.type(id).shape);
    const ValueId in = graph_.node(id).operands[0];
    Value* out = bufferOf(id);
    emitLoop(bounds.outer, [&](Value* row) {
      Value* base = builder_.CreateMul(row, i64(bounds.inner), "row.base", true, true);
      auto at = [&](Value* col) { return builder_.CreateAdd(base, col, "", true, true); };
      llvm::AllocaInst* max_slot = newAccumulator("row.max");
      builder_.CreateStore(f32(-std::numeric_limits<float>::infinity()), max_slot);
      emitLoop(bounds.inner, [&](Value* col) {
        Value* x = readAt(in, at(col));
        Value* larger = builder_.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum, load(max_slot), x);
        builder_.CreateStore(larger, max_slot);
      });
      Value* max = load(max_slot);
      llvm::AllocaInst* sum_slot = newAccumulator("row.sum");
      builder_.CreateStore(f32(0.0), sum_slot);
      emitLoop(bounds.inner, [&](Value* col) {
        Value* e = exp(builder_.CreateFSub(readAt(in, at(col)), max));
        storeElement(e, out, at(col));
        builder_.CreateStore(builder_.CreateFAdd(load(sum_slot), e), sum_slot);
      });
      Value* inverse_sum = builder_.CreateFDiv(f32(1.0), load(sum_slot), "inverse_sum");
      emitLoop(bounds.inner, [&](Value* col) {
        storeElement(builder_.CreateFMul(loadElement(out, at(col)), inverse_sum), out, at(col));
      });
    });
  }

  // dA = Y (G - sum(G Y)) per row of the last axis; operands Y, G.
  void emitSoftmaxGrad(ValueId id) {
    const ir::Node& node = graph_.node(id);
    const LoopBounds bounds = boundsOf(graph_.type(id).shape);
    const ValueId y = node.operands[0];
    const ValueId g = node.operands[1];
    Value* out = bufferOf(id);
    emitLoop(bounds.outer, [&](Value* row) {
      Value* base = builder_.CreateMul(row, i64(bounds.inner), "row.base", true, true);
      auto at = [&](Value* col) { return builder_.CreateAdd(base, col, "", true, true); };
      llvm::AllocaInst* dot_slot = newAccumulator("row.dot");
      builder_.CreateStore(f32(0.0), dot_slot);
      emitLoop(bounds.inner, [&](Value* col) {
        Value* product = builder_.CreateFMul(readAt(g, at(col)), readAt(y, at(col)));
        builder_.CreateStore(builder_.CreateFAdd(load(dot_slot), product), dot_slot);
      });
      Value* dot = load(dot_slot);
      emitLoop(bounds.inner, [&](Value* col) {
        Value* centered = builder_.CreateFSub(readAt(g, at(col)), dot);
        storeElement(builder_.CreateFMul(readAt(y, at(col)), centered), out, at(col));
      });
    });
  }

  // Per row of logits [rows, classes]: the row maximum, the sum of exp(x - max), and the
  // label (checked to lie in [0, classes)).
  struct SoftmaxRow {
    Value* base;   // flat index of the row's first element
    Value* max;
    Value* sum;
    Value* label;  // i64
  };

  // With `exps`, exp(x - max) is also stored there (the gradient's loop reuses it).
  SoftmaxRow emitSoftmaxRow(Value* logits, Value* labels, int64_t classes, Value* row, Value* exps = nullptr) {
    SoftmaxRow result;
    result.base = builder_.CreateMul(row, i64(classes), "row.base", true, true);
    llvm::AllocaInst* max_slot = newAccumulator("row.max");
    builder_.CreateStore(f32(-std::numeric_limits<float>::infinity()), max_slot);
    emitLoop(classes, [&](Value* col) {
      Value* x = loadElement(logits, builder_.CreateAdd(result.base, col, "", true, true));
      builder_.CreateStore(builder_.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum, load(max_slot), x),
                           max_slot);
    });
    result.max = load(max_slot);
    llvm::AllocaInst* sum_slot = newAccumulator("row.sum");
    builder_.CreateStore(f32(0.0), sum_slot);
    emitLoop(classes, [&](Value* col) {
      Value* flat = builder_.CreateAdd(result.base, col, "", true, true);
      Value* e = exp(builder_.CreateFSub(loadElement(logits, flat), result.max));
      if (exps != nullptr) storeElement(e, exps, flat);
      builder_.CreateStore(builder_.CreateFAdd(load(sum_slot), e), sum_slot);
    });
    result.sum = load(sum_slot);
    Value* label = loadElement(labels, row, builder_.getInt32Ty());
    result.label = builder_.CreateSExt(label, builder_.getInt64Ty(), "label");
    llvm::BasicBlock* ok = llvm::BasicBlock::Create(context_, "label.ok", function_);
    builder_.CreateCondBr(builder_.CreateICmpULT(result.label, i64(classes)), ok,
                          failureBlock(bad_label_block_, kNnspecBadLabel, "bad_label"));
    builder_.SetInsertPoint(ok);
    return result;
  }

  void emitSoftmaxCrossEntropy(ValueId id) {
    const ir::Node& node = graph_.node(id);
    const ir::Shape& shape = graph_.type(node.operands[0]).shape;
    Value* logits = bufferOf(node.operands[0]);
    Value* labels = bufferOf(node.operands[1]);
    llvm::AllocaInst* total = newAccumulator("loss");
    builder_.CreateStore(f32(0.0), total);
    emitLoop(shape[0], [&](Value* row) {
      SoftmaxRow softmax = emitSoftmaxRow(logits, labels, shape[1], row);
      Value* picked = loadElement(logits, builder_.CreateAdd(softmax.base, softmax.label, "", true, true));
      Value* log_sum = math(MathFunction::Log, softmax.sum);
      Value* row_loss = builder_.CreateFSub(builder_.CreateFAdd(log_sum, softmax.max), picked);
      builder_.CreateStore(builder_.CreateFAdd(load(total), row_loss), total);
    });
    storeElement(builder_.CreateFMul(load(total), f32(1.0 / static_cast<double>(shape[0]))),
                 bufferOf(id), i64(0));
  }

  void emitSoftmaxCrossEntropyGrad(ValueId id) {
    const ir::Node& node = graph_.node(id);
    const ir::Shape& shape = graph_.type(id).shape;
    Value* logits = bufferOf(node.operands[0]);
    Value* labels = bufferOf(node.operands[1]);
    Value* out = bufferOf(id);
    Value* scale = builder_.CreateFMul(readAt(node.operands[2], i64(0)),
                                       f32(1.0 / static_cast<double>(shape[0])), "scale");
    emitLoop(shape[0], [&](Value* row) {
      SoftmaxRow softmax = emitSoftmaxRow(logits, labels, shape[1], row, out);
      Value* inverse_sum = builder_.CreateFDiv(f32(1.0), softmax.sum);
      emitLoop(shape[1], [&](Value* col) {
        Value* flat = builder_.CreateAdd(softmax.base, col, "", true, true);
        Value* probability = builder_.CreateFMul(loadElement(out, flat), inverse_sum);
        Value* one_hot = builder_.CreateSelect(builder_.CreateICmpEQ(col, softmax.label), f32(1.0), f32(0.0));
        storeElement(builder_.CreateFMul(builder_.CreateFSub(probability, one_hot), scale), out, flat);
      });
    });
  }

  void emitMse(ValueId id) {
    const ir::Node& node = graph_.node(id);
    int64_t count = graph_.type(node.operands[0]).numElements();
    llvm::AllocaInst* total = newAccumulator("sq");
    builder_.CreateStore(f32(0.0), total);
    emitLoop(count, [&](Value* flat) {
      Value* diff = builder_.CreateFSub(readAt(node.operands[0], flat), readAt(node.operands[1], flat));
      builder_.CreateStore(builder_.CreateFAdd(load(total), builder_.CreateFMul(diff, diff)), total);
    });
    storeElement(builder_.CreateFMul(load(total), f32(1.0 / static_cast<double>(count))),
                 bufferOf(id), i64(0));
  }

  // ---- results and the optimizer ----------------------------------------------------

  // outputs[2k], outputs[2k + 1]: point k's data and total loss (one point: the step's).
  void storeOutputs() {
    if (gradient_graph_.points.empty()) {
      storeElement(readAt(gradient_graph_.data_loss, i64(0)), outputs_, i64(0));
      storeElement(readAt(gradient_graph_.total_loss, i64(0)), outputs_, i64(1));
      return;
    }
    for (size_t point = 0; point < gradient_graph_.points.size(); ++point) {
      const int64_t slot = 2 * static_cast<int64_t>(point);
      storeElement(readAt(gradient_graph_.points[point].data_loss, i64(0)), outputs_, i64(slot));
      storeElement(readAt(gradient_graph_.points[point].total_loss, i64(0)), outputs_, i64(slot + 1));
    }
  }

  // if (predictions != null) predictions[block + flat] = prediction[flat] for every
  // element, block = point * the prediction's size (a fused step's points one after another).
  void copyPrediction(ValueId prediction, int64_t point) {
    llvm::BasicBlock* copy = llvm::BasicBlock::Create(context_, "prediction.copy", function_);
    llvm::BasicBlock* done = llvm::BasicBlock::Create(context_, "prediction.done", function_);
    builder_.CreateCondBr(builder_.CreateIsNotNull(predictions_), copy, done);
    builder_.SetInsertPoint(copy);
    const int64_t size = graph_.type(prediction).numElements();
    Value* block = builder_.CreateConstInBoundsGEP1_64(builder_.getFloatTy(), predictions_,
                                                       static_cast<uint64_t>(point * size));
    emitLoop(size, [&](Value* flat) { storeElement(readAt(prediction, flat), block, flat); });
    builder_.CreateBr(done);
    builder_.SetInsertPoint(done);
  }

  // Training entries: each export into its caller buffer (when the array is not null).
  void copyExports() {
    if (export_out_.empty()) return;
    llvm::BasicBlock* copy = llvm::BasicBlock::Create(context_, "exports.copy", function_);
    llvm::BasicBlock* done = llvm::BasicBlock::Create(context_, "exports.done", function_);
    builder_.CreateCondBr(builder_.CreateIsNotNull(exports_), copy, done);
    builder_.SetInsertPoint(copy);
    for (size_t export_idx = 0; export_idx < export_out_.size(); ++export_idx) {
      ValueId value = export_values_[export_idx];
      emitLoop(graph_.type(value).numElements(),
               [&](Value* flat) { storeElement(readAt(value, flat), export_out_[export_idx], flat); });
    }
    builder_.CreateBr(done);
    builder_.SetInsertPoint(done);
  }

  void copyGradients() {
    for (size_t param_idx = 0; param_idx < gradient_graph_.gradients.size(); ++param_idx) {
      ValueId grad = gradient_graph_.gradients[param_idx];
      Value* out = grad_out_[param_idx];
      emitLoop(graph_.type(grad).numElements(),
               [&](Value* flat) { storeElement(readAt(grad, flat), out, flat); });
    }
  }

  Value* optField(size_t offset, bool is_int, const char* name) {
    Value* address = builder_.CreateConstInBoundsGEP1_64(builder_.getInt8Ty(), opt_, offset);
    return builder_.CreateLoad(is_int ? builder_.getInt32Ty() : builder_.getFloatTy(), address, name);
  }

  // A fused train step (step_plan.cpp's orderByPoint): each point's kernels, its in-place
  // updates and then its optimizer update, point after point; the outputs at the end
  // (every value has a workspace place of its own, so they are still there).
  void emitPointByPoint(const std::vector<transforms::Kernel>& kernels) {
    const int points = static_cast<int>(gradient_graph_.points.size());
    // The last kernel reading or writing each point's parameters or their gradients.
    std::vector<int64_t> last(static_cast<size_t>(points), -1);
    std::vector<int32_t> point_of(static_cast<size_t>(graph_.size()), -1);
    for (size_t param_idx = 0; param_idx < gradient_graph_.parameters.size(); ++param_idx) {
      point_of[static_cast<size_t>(gradient_graph_.parameters[param_idx])] = pointOf(param_idx);
      point_of[static_cast<size_t>(gradient_graph_.gradients[param_idx])] = pointOf(param_idx);
    }
    auto touches = [&](ValueId id, int32_t* point) {
      const ir::Node& node = graph_.node(id);
      if (point_of[static_cast<size_t>(id)] >= 0) *point = point_of[static_cast<size_t>(id)];
      for (ValueId operand : node.operands)
        if (point_of[static_cast<size_t>(operand)] >= 0) *point = point_of[static_cast<size_t>(operand)];
    };
    for (size_t index = 0; index < kernels.size(); ++index) {
      const transforms::Kernel& kernel = kernels[index];
      std::vector<ValueId> nodes = kernel.members;
      nodes.insert(nodes.end(), kernel.sinks.begin(), kernel.sinks.end());
      for (const auto& epilogue : kernel.epilogue) nodes.insert(nodes.end(), epilogue.members.begin(), epilogue.members.end());
      for (ValueId id : nodes) {
        int32_t point = -1;
        touches(id, &point);
        if (point >= 0) last[static_cast<size_t>(point)] = static_cast<int64_t>(index);
      }
    }
    std::vector<bool> done(static_cast<size_t>(points), false);
    // A point that left its group (NnspecStepArgs::point_active) skips its kernels and its
    // update; selectPoint runs before each branch, so its loads dominate what uses them.
    auto finishPoint = [&](int point) {
      if (done[static_cast<size_t>(point)]) return;
      done[static_cast<size_t>(point)] = true;
      std::vector<size_t> pending;
      for (size_t param_idx = 0; param_idx < gradient_graph_.parameters.size(); ++param_idx)
        if (!updated_in_place_.count(param_idx) && pointOf(param_idx) == point) pending.push_back(param_idx);
      if (pending.empty()) return;
      selectPoint(point);
      emitIfElse(pointActive(point), [&] { emitOptimizerFor(pending); }, [] {});
    };
    gate_points_ = true;
    value_points_ = pointsOfValues(graph_);
    auto kernelPoint = [&](const transforms::Kernel& kernel) {
      std::vector<ValueId> nodes = kernel.members;
      nodes.insert(nodes.end(), kernel.sinks.begin(), kernel.sinks.end());
      for (const auto& epilogue : kernel.epilogue) {
        nodes.insert(nodes.end(), epilogue.members.begin(), epilogue.members.end());
        nodes.insert(nodes.end(), epilogue.sinks.begin(), epilogue.sinks.end());
      }
      int32_t own = kNoPoint;
      for (ValueId id : nodes) {
        const int32_t other = value_points_[static_cast<size_t>(id)];
        if (other == kNoPoint || other == own) continue;
        own = own == kNoPoint ? other : kMixedPoints;
      }
      return own;
    };
    for (size_t index = 0; index < kernels.size(); ++index) {
      const transforms::Kernel& kernel = kernels[index];
      auto emit = [&] {
        if (isInPlaceUpdate(kernel)) {
          emitInPlaceUpdate(kernel.members);
        } else {
          emitKernel(kernel);
        }
      };
      const int32_t point = kernelPoint(kernel);
      if (point >= 0 && kernel.members.size() == 1) {
        selectPoint(point);
        emitIfElse(pointActive(point), emit, [] {});
      } else {
        emit();  // a batch's kernel, a shared GEMM (gated member by member), the sum of the losses
      }
      for (int finished = 0; finished < points; ++finished) {
        if (last[static_cast<size_t>(finished)] == static_cast<int64_t>(index)) finishPoint(finished);
      }
    }
    for (int point = 0; point < points; ++point) finishPoint(point);
    gate_points_ = false;
    storeOutputs();
    for (size_t point = 0; point < gradient_graph_.points.size(); ++point) {
      if (gradient_graph_.points[point].prediction)
        copyPrediction(*gradient_graph_.points[point].prediction, static_cast<int64_t>(point));
    }
    copyExports();
  }

  // Each point's parameters with that point's optimizer numbers.
  void emitOptimizer() {
    const int points = std::max<int>(1, static_cast<int>(gradient_graph_.points.size()));
    for (int point = 0; point < points; ++point) {
      std::vector<size_t> pending;  // parameters not updated in place by their gemm
      for (size_t param_idx = 0; param_idx < gradient_graph_.parameters.size(); ++param_idx)
        if (!updated_in_place_.count(param_idx) && pointOf(param_idx) == point) pending.push_back(param_idx);
      if (pending.empty()) continue;
      selectPoint(point);
      emitOptimizerFor(pending);
    }
  }

  void emitOptimizerFor(const std::vector<size_t>& pending) {
    switch (step_plan_.config.optimizer) {
      case OptimizerKind::Sgd:
        emitSgd(pending);
        return;
      case OptimizerKind::Adam:
        emitAdam(pending);
        return;
      case OptimizerKind::RmsProp:
        emitRmsProp(pending);
        return;
      case OptimizerKind::Adagrad:
        emitAdagrad(pending);
        return;
    }
  }

  void emitSgd(const std::vector<size_t>& pending) {
    // SGD without momentum keeps no velocity (as PyTorch): opt_state is not touched.
    emitIfElse(
        momentumIsZero(),
        [&] {
          for (size_t param_idx : pending) emitPlainSgdUpdate(param_idx);
        },
        [&] {
          for (size_t param_idx : pending) emitSgdUpdate(param_idx);
        });
  }

  void emitAdam(const std::vector<size_t>& pending) {
    Value* beta1 = optField(offsetof(NnspecOptimizerParams, beta1), false, "beta1");
    Value* beta2 = optField(offsetof(NnspecOptimizerParams, beta2), false, "beta2");
    Value* eps = optField(offsetof(NnspecOptimizerParams, eps), false, "eps");
    Value* step = builder_.CreateSIToFP(optField(offsetof(NnspecOptimizerParams, step), true, "step"),
                                        builder_.getFloatTy());
    Value* correction1 = builder_.CreateFSub(
        f32(1.0), builder_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, beta1, step));
    Value* correction2 = builder_.CreateFSub(
        f32(1.0), builder_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, beta2, step));
    // AdamW (decoupled): the decay shrinks w instead of entering g.
    Value* decoupled = builder_.CreateICmpNE(optField(offsetof(NnspecOptimizerParams, decoupled), true, "decoupled"),
                                             builder_.getInt32(0));
    Value* coupled_decay = builder_.CreateSelect(decoupled, f32(0.0), decay_, "coupled_decay");
    Value* shrink = builder_.CreateSelect(decoupled, builder_.CreateFSub(f32(1.0), builder_.CreateFMul(lr_, decay_)),
                                          f32(1.0), "shrink");
    AdamScalars scalars{coupled_decay,
                        shrink,
                        beta1,
                        beta2,
                        eps,
                        builder_.CreateFDiv(lr_, correction1, "step_size"),
                        builder_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, correction2)};
    for (size_t param_idx : pending) emitAdamUpdate(param_idx, scalars);
  }

  void emitRmsProp(const std::vector<size_t>& pending) {
    Value* alpha = optField(offsetof(NnspecOptimizerParams, alpha), false, "alpha");
    Value* eps = optField(offsetof(NnspecOptimizerParams, eps), false, "eps");
    // Without momentum there is no buffer (as PyTorch): its state slot is not touched.
    emitIfElse(
        momentumIsZero(),
        [&] {
          for (size_t param_idx : pending) emitRmsPropUpdate(param_idx, alpha, eps, false);
        },
        [&] {
          for (size_t param_idx : pending) emitRmsPropUpdate(param_idx, alpha, eps, true);
        });
  }

  void emitAdagrad(const std::vector<size_t>& pending) {
    Value* eps = optField(offsetof(NnspecOptimizerParams, eps), false, "eps");
    for (size_t param_idx : pending) emitAdagradUpdate(param_idx, eps);
  }

  // if (condition) then_part(); else else_part(); continuing after both.
  void emitIfElse(Value* condition, const std::function<void()>& then_part,
                  const std::function<void()>& else_part) {
    llvm::BasicBlock* then_block = llvm::BasicBlock::Create(context_, "then", function_);
    llvm::BasicBlock* else_block = llvm::BasicBlock::Create(context_, "else", function_);
    llvm::BasicBlock* done = llvm::BasicBlock::Create(context_, "endif", function_);
    builder_.CreateCondBr(condition, then_block, else_block);
    builder_.SetInsertPoint(then_block);
    then_part();
    builder_.CreateBr(done);
    builder_.SetInsertPoint(else_block);
    else_part();
    builder_.CreateBr(done);
    builder_.SetInsertPoint(done);
  }

  Value* momentumIsZero() { return builder_.CreateFCmpOEQ(momentum_, f32(0.0), "plain_sgd"); }

  Value* isNesterov() {
    return builder_.CreateICmpNE(optField(offsetof(NnspecOptimizerParams, nesterov), true, "nesterov"),
                                 builder_.getInt32(0));
  }

  bool isInPlaceUpdate(const transforms::Kernel& kernel) const {
    const std::vector<ValueId>& updates = plan_.in_place_updates;
    return kernel.kind == transforms::KernelKind::Gemm &&
           std::find(updates.begin(), updates.end(), kernel.members[0]) != updates.end();
  }

  // The gemm of gradient `grad` (see FunctionPlan::in_place_updates), the gradient G
  // never written:
  //   momentum 0:  w = (1 - lr*wd) w - lr G, straight into the parameter;
  //   momentum:    v = momentum v + G into the velocity, then v += wd w; w -= lr v;
  //   Nesterov (needs g itself): the gradient, then the general update.
  // Several (a fused step's points reading one batch, step_plan.cpp's shareGemmOperands)
  // make one shared call, each point's scales and destination chosen by its own numbers.
  void emitInPlaceUpdate(const std::vector<ValueId>& grads) {
    if (grads.size() > 1) {
      emitSharedInPlaceUpdate(grads);
      return;
    }
    const ValueId grad = grads[0];
    const size_t param_idx = parameterIndexOf(grad);
    ValueId parameter = gradient_graph_.parameters[param_idx];
    Value* weights = bufferOf(parameter);
    Value* velocity = state_[param_idx];
    selectPoint(pointOf(param_idx));
    auto plain = [&] {
      Value* keep = builder_.CreateFSub(f32(1.0), builder_.CreateFMul(lr_, decay_), "keep");
      emitGemm(grad, builder_.CreateFNeg(lr_), keep, weights);
    };
    auto heavy_ball = [&] {
      emitGemm(grad, f32(1.0), momentum_, velocity);
      emitHeavyBallFinish(param_idx);
    };
    auto nesterov = [&] {
      emitGemm(grad, f32(1.0), f32(0.0), bufferOf(grad));
      emitSgdUpdate(param_idx);
    };
    emitIfElse(momentumIsZero(), plain, [&] { emitIfElse(isNesterov(), nesterov, heavy_ball); });
    updated_in_place_.insert(param_idx);
  }

  size_t parameterIndexOf(ValueId grad) const {
    const std::vector<ValueId>& gradients = gradient_graph_.gradients;
    return static_cast<size_t>(std::find(gradients.begin(), gradients.end(), grad) - gradients.begin());
  }

  // Heavy-ball momentum after the gemm added G to the velocity: v += wd w; w -= lr v.
  void emitHeavyBallFinish(size_t param_idx) {
    ValueId parameter = gradient_graph_.parameters[param_idx];
    Value* weights = bufferOf(parameter);
    Value* velocity = state_[param_idx];
    emitLoop(graph_.type(parameter).numElements(), [&](Value* flat) {
      Value* w = loadElement(weights, flat);
      Value* v = builder_.CreateFAdd(loadElement(velocity, flat), builder_.CreateFMul(decay_, w));
      storeElement(v, velocity, flat);
      storeElement(builder_.CreateFSub(w, builder_.CreateFMul(lr_, v)), weights, flat);
    });
  }

  // The in-place updates of several points as one shared gemm (see emitInPlaceUpdate):
  // each point's alpha, beta and destination selected from its momentum and Nesterov
  // flag as its own branches would take them, then each point's finishing loop.
  void emitSharedInPlaceUpdate(const std::vector<ValueId>& grads) {
    std::vector<Value*> alphas, betas, outs;
    for (ValueId grad : grads) {
      const size_t param_idx = parameterIndexOf(grad);
      selectPoint(pointOf(param_idx));
      Value* plain = momentumIsZero();
      Value* nesterov = isNesterov();
      Value* keep = builder_.CreateFSub(f32(1.0), builder_.CreateFMul(lr_, decay_), "keep");
      alphas.push_back(builder_.CreateSelect(plain, builder_.CreateFNeg(lr_), f32(1.0), "alpha"));
      betas.push_back(builder_.CreateSelect(plain, keep, builder_.CreateSelect(nesterov, f32(0.0), momentum_), "beta"));
      outs.push_back(builder_.CreateSelect(
          plain, bufferOf(gradient_graph_.parameters[param_idx]),
          builder_.CreateSelect(nesterov, bufferOf(grad), state_[param_idx]), "gemm.out"));
    }
    emitSharedGemm(grads, alphas, betas, outs);
    for (ValueId grad : grads) {
      const size_t param_idx = parameterIndexOf(grad);
      selectPoint(pointOf(param_idx));
      Value* finish = builder_.CreateNot(momentumIsZero());
      if (gate_points_) finish = builder_.CreateAnd(finish, memberTrains(grad));
      emitIfElse(finish, [&] {
        emitIfElse(isNesterov(), [&] { emitSgdUpdate(param_idx); }, [&] { emitHeavyBallFinish(param_idx); });
      }, [] {});
      updated_in_place_.insert(param_idx);
    }
  }

  // SGD with momentum 0: w -= lr*(g + wd*w)
  void emitPlainSgdUpdate(size_t param_idx) {
    ValueId parameter = gradient_graph_.parameters[param_idx];
    ValueId grad = gradient_graph_.gradients[param_idx];
    Value* weights = bufferOf(parameter);
    emitLoop(graph_.type(parameter).numElements(), [&](Value* flat) {
      Value* w = loadElement(weights, flat);
      Value* g = builder_.CreateFAdd(readAt(grad, flat), builder_.CreateFMul(decay_, w));
      storeElement(builder_.CreateFSub(w, builder_.CreateFMul(lr_, g)), weights, flat);
    });
  }

  // PyTorch SGD (dampening 0): g += wd*w; v = momentum*v + g; w -= lr*(nesterov ? g + momentum*v : v)
  void emitSgdUpdate(size_t param_idx) {
    ValueId parameter = gradient_graph_.parameters[param_idx];
    ValueId grad = gradient_graph_.gradients[param_idx];
    Value* weights = bufferOf(parameter);
    Value* velocity = state_[param_idx];
    Value* nesterov = isNesterov();
    emitLoop(graph_.type(parameter).numElements(), [&](Value* flat) {
      Value* w = loadElement(weights, flat);
      Value* g = builder_.CreateFAdd(readAt(grad, flat), builder_.CreateFMul(decay_, w));
      Value* v = builder_.CreateFAdd(builder_.CreateFMul(momentum_, loadElement(velocity, flat)), g);
      storeElement(v, velocity, flat);
      Value* direction = builder_.CreateSelect(
          nesterov, builder_.CreateFAdd(g, builder_.CreateFMul(momentum_, v)), v);
      storeElement(builder_.CreateFSub(w, builder_.CreateFMul(lr_, direction)), weights, flat);
    });
  }

  struct AdamScalars {
    Value* decay;             // added to g: weight_decay, or 0 for AdamW
    Value* shrink;            // w's factor before the update: 1, or 1 - lr*weight_decay for AdamW
    Value* beta1;
    Value* beta2;
    Value* eps;
    Value* step_size;         // lr / (1 - beta1^t)
    Value* correction2_sqrt;  // sqrt(1 - beta2^t)
  };

  // PyTorch Adam: g += wd*w; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
  // w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
  // PyTorch AdamW: the same without g += wd*w, after w *= 1 - lr*wd.
  void emitAdamUpdate(size_t param_idx, const AdamScalars& s) {
    ValueId parameter = gradient_graph_.parameters[param_idx];
    ValueId grad = gradient_graph_.gradients[param_idx];
    size_t param_count = gradient_graph_.parameters.size();
    Value* weights = bufferOf(parameter);
    Value* first = state_[param_idx];
    Value* second = state_[param_count + param_idx];
    Value* one_minus_beta1 = builder_.CreateFSub(f32(1.0), s.beta1);
    Value* one_minus_beta2 = builder_.CreateFSub(f32(1.0), s.beta2);
    emitLoop(graph_.type(parameter).numElements(), [&](Value* flat) {
      Value* w = loadElement(weights, flat);
      Value* g = builder_.CreateFAdd(readAt(grad, flat), builder_.CreateFMul(s.decay, w));
      Value* m = builder_.CreateFAdd(builder_.CreateFMul(s.beta1, loadElement(first, flat)),
                                     builder_.CreateFMul(one_minus_beta1, g));
      Value* v = builder_.CreateFAdd(builder_.CreateFMul(s.beta2, loadElement(second, flat)),
                                     builder_.CreateFMul(one_minus_beta2, builder_.CreateFMul(g, g)));
      storeElement(m, first, flat);
      storeElement(v, second, flat);
      Value* denominator = builder_.CreateFAdd(
          builder_.CreateFDiv(builder_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, v), s.correction2_sqrt),
          s.eps);
      Value* update = builder_.CreateFMul(s.step_size, builder_.CreateFDiv(m, denominator));
      storeElement(builder_.CreateFSub(builder_.CreateFMul(w, s.shrink), update), weights, flat);
    });
  }

  // PyTorch RMSprop (centered False): g += wd*w; v = alpha*v + (1-alpha)*g^2;
  // with momentum: buf = momentum*buf + g/(sqrt(v)+eps); w -= lr*buf;
  // without:       w -= lr*g/(sqrt(v)+eps), the buffer neither read nor written.
  void emitRmsPropUpdate(size_t param_idx, Value* alpha, Value* eps, bool with_momentum) {
    ValueId parameter = gradient_graph_.parameters[param_idx];
    ValueId grad = gradient_graph_.gradients[param_idx];
    size_t param_count = gradient_graph_.parameters.size();
    Value* weights = bufferOf(parameter);
    Value* square_avg = state_[param_idx];
    Value* momentum_buffer = state_[param_count + param_idx];
    Value* one_minus_alpha = builder_.CreateFSub(f32(1.0), alpha);
    emitLoop(graph_.type(parameter).numElements(), [&](Value* flat) {
      Value* w = loadElement(weights, flat);
      Value* g = builder_.CreateFAdd(readAt(grad, flat), builder_.CreateFMul(decay_, w));
      Value* v = builder_.CreateFAdd(builder_.CreateFMul(alpha, loadElement(square_avg, flat)),
                                     builder_.CreateFMul(one_minus_alpha, builder_.CreateFMul(g, g)));
      storeElement(v, square_avg, flat);
      Value* denominator =
          builder_.CreateFAdd(builder_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, v), eps);
      Value* direction = builder_.CreateFDiv(g, denominator);
      if (with_momentum) {
        direction = builder_.CreateFAdd(
            builder_.CreateFMul(momentum_, loadElement(momentum_buffer, flat)), direction);
        storeElement(direction, momentum_buffer, flat);
      }
      storeElement(builder_.CreateFSub(w, builder_.CreateFMul(lr_, direction)), weights, flat);
    });
  }

  // PyTorch Adagrad (lr_decay 0, initial accumulator 0): g += wd*w; sum += g^2;
  // w -= lr*g/(sqrt(sum)+eps)
  void emitAdagradUpdate(size_t param_idx, Value* eps) {
    ValueId parameter = gradient_graph_.parameters[param_idx];
    ValueId grad = gradient_graph_.gradients[param_idx];
    Value* weights = bufferOf(parameter);
    Value* sum = state_[param_idx];
    emitLoop(graph_.type(parameter).numElements(), [&](Value* flat) {
      Value* w = loadElement(weights, flat);
      Value* g = builder_.CreateFAdd(readAt(grad, flat), builder_.CreateFMul(decay_, w));
      Value* total = builder_.CreateFAdd(loadElement(sum, flat), builder_.CreateFMul(g, g));
      storeElement(total, sum, flat);
      Value* denominator =
          builder_.CreateFAdd(builder_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, total), eps);
      storeElement(builder_.CreateFSub(w, builder_.CreateFMul(lr_, builder_.CreateFDiv(g, denominator))),
                   weights, flat);
    });
  }

  llvm::LLVMContext& context_;
  llvm::Module& module_;
  llvm::IRBuilder<> builder_;
  const transforms::GradientGraph& gradient_graph_;
  const ir::Graph& graph_;
  const StepPlan& step_plan_;
  const FunctionPlan& plan_;
  llvm::Function* function_ = nullptr;
  llvm::BasicBlock* entry_block_ = nullptr;
  llvm::BasicBlock* bad_label_block_ = nullptr;
  llvm::BasicBlock* kernel_error_block_ = nullptr;
  std::vector<Value*> buffer_;  // per value id: its memory, if any
  std::vector<Value*> scalar_;  // per value id: hyperparameter values
  std::vector<Value*> inline_;  // per value id: the element computed in the current loop body
  std::vector<Value*> grad_out_;
  std::vector<Value*> state_;
  Value* outputs_ = nullptr;
  Value* predictions_ = nullptr;  // loaded only when the graph marks a prediction
  Value* opt_ = nullptr;
  Value* lr_ = nullptr;        // TrainStep: optimizer numbers loaded on entry
  Value* decay_ = nullptr;
  Value* momentum_ = nullptr;
  Value* gemm_scratch_ = nullptr;  // the workspace scratch of the gemm kernel
  Value* rng_seed_ = nullptr;
  std::map<int32_t, Value*> point_seeds_;  // fused steps: loaded on first use (dropout)
  std::vector<Value*> point_active_;  // fused train steps: each point's flag, loaded on first use
  // A fused train step point by point: each point's kernels run only when it trains
  // (pointActive), shared GEMMs on those of their members that do.
  bool gate_points_ = false;
  std::vector<int32_t> value_points_;  // codegen::pointsOfValues, while gate_points_
  Value* opt_base_ = nullptr;  // NnspecStepArgs::opt: one NnspecOptimizerParams per point
  int point_ = 0;              // the point opt_, lr_, decay_ and momentum_ were loaded for      // loaded on first use (dropout)
  Value* exports_ = nullptr;       // training entries with exports: the caller's array
  std::vector<Value*> export_out_;
  std::vector<ValueId> export_values_;  // what each export_out_ receives
  std::vector<size_t> export_slots_;    // its index in the caller's exports array
  std::set<size_t> updated_in_place_;  // parameters whose gemm applied the update
  bool math_in_loop_ = false;          // the innermost loop being emitted calls math()
  std::map<Value*, llvm::MDNode*> scope_of_;
  std::vector<llvm::Metadata*> scopes_;
};

}  // namespace

llvm::Expected<EmittedStep> emitLlvm(const transforms::GradientGraph& gradient_graph,
                                     const StepConfig& config, llvm::LLVMContext& context) {
  StepPlan plan;
  try {
    plan = planStep(gradient_graph, config);
  } catch (const std::exception& error) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "codegen: %s", error.what());
  }
  return emitLlvm(gradient_graph, plan, context);
}

llvm::Expected<EmittedStep> emitLlvm(const transforms::GradientGraph& gradient_graph, const StepPlan& plan,
                                     llvm::LLVMContext& context) {
  EmittedStep result;
  try {
    result.plan = plan;
    result.module = std::make_unique<llvm::Module>("nnspec_step", context);
    for (const FunctionPlan& function : result.plan.functions)
      FunctionEmitter(*result.module, gradient_graph, result.plan, function).emit();
  } catch (const std::exception& error) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "codegen: %s", error.what());
  }
  std::string problems;
  llvm::raw_string_ostream stream(problems);
  if (llvm::verifyModule(*result.module, &stream))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "codegen: generated LLVM IR does not verify: %s",
                                   stream.str().c_str());
  return result;
}

LlvmText emitLlvmText(const transforms::GradientGraph& gradient_graph, const StepPlan& plan) {
  llvm::LLVMContext context;
  llvm::Expected<EmittedStep> emitted = emitLlvm(gradient_graph, plan, context);
  if (!emitted) return {"", llvm::toString(emitted.takeError())};
  LlvmText result;
  llvm::raw_string_ostream stream(result.text);
  emitted->module->print(stream, nullptr);
  stream.flush();
  return result;
}

}  // namespace nnspec::codegen
