#include "compiler/aot/predict_entry.h"

#include <algorithm>
#include <cstddef>
#include <limits>

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>

#include "compiler/aot/loop_builder.h"
#include "compiler/codegen/vector_math.h"
#include "runtime/abi/step_abi.h"

namespace nnspec::aot {
namespace {

using llvm::Value;

constexpr int64_t kWorkspaceAlign = 64;

// A private constant global (names are unique per module), 64-byte aligned.
llvm::GlobalVariable* constantGlobal(llvm::Module& module, llvm::Constant* data, const std::string& name) {
  auto* global = llvm::cast<llvm::GlobalVariable>(module.getOrInsertGlobal(name, data->getType()));
  global->setInitializer(data);
  global->setConstant(true);
  global->setLinkage(llvm::GlobalValue::PrivateLinkage);
  global->setAlignment(llvm::Align(kWorkspaceAlign));
  global->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  return global;
}

// The weights: one constant float array per tensor (read-only data without relocations;
// the pointer arrays NnspecStepArgs::params and ::states are filled on the stack).
std::vector<llvm::Constant*> tensorGlobals(llvm::Module& module, const std::vector<std::span<const float>>& tensors,
                                           const std::string& name) {
  std::vector<llvm::Constant*> globals;
  for (size_t tensor_idx = 0; tensor_idx < tensors.size(); ++tensor_idx) {
    llvm::ArrayRef<float> values(tensors[tensor_idx].data(), tensors[tensor_idx].size());
    globals.push_back(constantGlobal(module, llvm::ConstantDataArray::get(module.getContext(), values),
                                     name + "." + std::to_string(tensor_idx)));
  }
  return globals;
}

// Zeros for the inputs after the first (labels or targets, which only the loss reads) and
// for the hyperparameters (L1/L2 factors, which only the loss reads).
llvm::Constant* zeros(llvm::Module& module, int64_t bytes, const std::string& name) {
  auto* type = llvm::ArrayType::get(llvm::Type::getInt8Ty(module.getContext()),
                                    static_cast<uint64_t>(std::max<int64_t>(bytes, 4)));
  return constantGlobal(module, llvm::ConstantAggregateZero::get(type), name);
}

int64_t secondaryInputBytes(const ForwardEntry& entry) {
  int64_t bytes = 0;
  for (size_t input_idx = 1; input_idx < entry.layout.inputs.size(); ++input_idx)
    bytes = std::max<int64_t>(bytes, entry.layout.inputs[input_idx].type.numElements() * 4);
  return bytes;
}

struct Shared {
  std::vector<llvm::Constant*> params;
  std::vector<llvm::Constant*> states;
  llvm::Constant* hyper;
  llvm::Constant* secondary_inputs;
  llvm::Function* softmax;  // null for regression
  llvm::Constant* mean;     // the standardize statistics, null without
  llvm::Constant* stddev;
};

// Bytes of the forward entries' workspace, before the standardized batch.
int64_t entryWorkspaceBytes(const PredictModel& model) {
  int64_t floats = model.full.workspace_floats;
  if (model.tail) floats = std::max(floats, model.tail->workspace_floats);
  const int64_t bytes = floats * static_cast<int64_t>(sizeof(float));
  return std::max<int64_t>(kWorkspaceAlign, (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign);
}

// softmax(rows_ptr, rows): each row of `width` logits in place into probabilities:
// exp(x - max) / sum, exp the step's own (compiler/codegen/vector_math.h), not libm's.
llvm::Function* emitSoftmax(llvm::Module& module, const std::string& prefix, int64_t width) {
  llvm::LLVMContext& context = module.getContext();
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                       {llvm::PointerType::get(context, 0), llvm::Type::getInt64Ty(context)}, false);
  auto* function = llvm::Function::Create(type, llvm::GlobalValue::InternalLinkage, prefix + ".softmax", module);
  function->addFnAttr(llvm::Attribute::NoUnwind);
  LoopBuilder k(*function);
  llvm::IRBuilder<>& ir = k.ir();
  k.forCount(k.arg(1), [&](Value* row) {
    Value* values = k.at(k.arg(0), k.mul(row, k.i64(width)));
    llvm::AllocaInst* max = k.accumulator("max");
    ir.CreateStore(k.f32(-std::numeric_limits<double>::infinity()), max);
    k.forCount(k.i64(width), [&](Value* col) {
      ir.CreateStore(ir.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum, k.read(max), k.load(values, col)), max);
    });
    Value* top = k.read(max);
    llvm::AllocaInst* sum = k.accumulator("sum");
    ir.CreateStore(k.f32(0.0), sum);
    k.forCount(k.i64(width), [&](Value* col) {
      Value* e = ir.CreateCall(codegen::mathFunction(module, codegen::MathFunction::Exp),
                               {ir.CreateFSub(k.load(values, col), top)});
      k.store(e, values, col);
      ir.CreateStore(ir.CreateFAdd(k.read(sum), e), sum);
    });
    Value* inverse = ir.CreateFDiv(k.f32(1.0), k.read(sum));
    k.forCount(k.i64(width), [&](Value* col) { k.store(ir.CreateFMul(k.load(values, col), inverse), values, col); });
  });
  ir.CreateRetVoid();
  return function;
}

// An array of `pointers` on the stack (null when there are none).
Value* pointerArray(llvm::IRBuilder<>& ir, const std::vector<llvm::Constant*>& pointers, const char* name) {
  if (pointers.empty()) return llvm::ConstantPointerNull::get(ir.getPtrTy());
  Value* array = ir.CreateAlloca(ir.getPtrTy(), ir.getInt64(pointers.size()), name);
  for (size_t index = 0; index < pointers.size(); ++index)
    ir.CreateStore(pointers[index], ir.CreateConstInBoundsGEP1_64(ir.getPtrTy(), array, index));
  return array;
}

void storeField(llvm::IRBuilder<>& ir, Value* args, size_t offset, Value* value) {
  ir.CreateStore(value, ir.CreateConstInBoundsGEP1_64(ir.getInt8Ty(), args, offset));
}

// Runs `entry` on `rows` samples from in[first] into out[first]: inputs[0] and
// predictions point into the caller's buffers; a failure returns kPredictKernelError.
// A standardized model reads the samples standardized into `staging` instead.
void runBatch(LoopBuilder& k, const PredictModel& model, const Shared& shared, const ForwardEntry& entry, Value* args,
              Value* inputs, Value* first, Value* staging) {
  llvm::IRBuilder<>& ir = k.ir();
  Value* in = k.ir().GetInsertBlock()->getParent()->getArg(0);
  Value* out = k.ir().GetInsertBlock()->getParent()->getArg(1);
  Value* samples = k.at(in, k.mul(first, k.i64(model.features)));
  if (staging != nullptr) {
    k.forCount(k.i64(entry.batch), [&](Value* row) {
      Value* from = k.at(samples, k.mul(row, k.i64(model.features)));
      Value* to = k.at(staging, k.mul(row, k.i64(model.features)));
      k.forCount(k.i64(model.features), [&](Value* feature) {
        Value* centered = ir.CreateFSub(k.load(from, feature), k.load(shared.mean, feature));
        k.store(ir.CreateFDiv(centered, k.load(shared.stddev, feature)), to, feature);
      });
    });
    samples = staging;
  }
  ir.CreateStore(samples, inputs);
  Value* predictions = k.at(out, k.mul(first, k.i64(model.width)));
  storeField(ir, args, offsetof(NnspecStepArgs, predictions), predictions);
  Value* status = ir.CreateCall(entry.function, {args});
  k.returnIf(ir.CreateICmpNE(status, ir.getInt32(kNnspecOk)), kPredictKernelError);
  if (shared.softmax != nullptr) ir.CreateCall(shared.softmax, {predictions, k.i64(entry.batch)});
}

// <prefix>_predict_with_workspace(in, out, n, workspace)
llvm::Function* emitPredictWithWorkspace(llvm::Module& module, const PredictModel& model, const Shared& shared) {
  llvm::LLVMContext& context = module.getContext();
  llvm::Type* ptr = llvm::PointerType::get(context, 0);
  llvm::Type* i64 = llvm::Type::getInt64Ty(context);
  auto* type = llvm::FunctionType::get(llvm::Type::getInt32Ty(context), {ptr, ptr, i64, ptr}, false);
  auto* function = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage,
                                          model.prefix + "_predict_with_workspace", module);
  function->addFnAttr(llvm::Attribute::NoUnwind);
  LoopBuilder k(*function);
  llvm::IRBuilder<>& ir = k.ir();
  Value* n = k.arg(2);
  Value* workspace = k.arg(3);
  // NnspecStepArgs and its input pointer array on the stack (allocas of the entry block).
  auto* args = ir.CreateAlloca(ir.getInt8Ty(), k.i64(sizeof(NnspecStepArgs)), "args");
  args->setAlignment(llvm::Align(alignof(NnspecStepArgs)));
  const size_t input_count = model.full.layout.inputs.size();
  Value* inputs = ir.CreateAlloca(ptr, k.i64(static_cast<int64_t>(input_count)), "inputs");
  Value* outputs = ir.CreateAlloca(ir.getFloatTy(), k.i64(2), "losses");
  Value* params = pointerArray(ir, shared.params, "params");
  Value* states = pointerArray(ir, shared.states, "states");
  k.returnIf(ir.CreateICmpSLT(n, k.i64(0)), kPredictBadArgument);
  k.returnIf(ir.CreateICmpEQ(n, k.i64(0)), kPredictOk);
  k.returnIf(ir.CreateOr(ir.CreateOr(ir.CreateIsNull(k.arg(0)), ir.CreateIsNull(k.arg(1))), ir.CreateIsNull(workspace)),
             kPredictBadArgument);
  // Every field not set below stays null (opt, grads, opt_state, exports) or 0 (rng_seed).
  ir.CreateMemSet(args, ir.getInt8(0), sizeof(NnspecStepArgs), llvm::MaybeAlign(alignof(NnspecStepArgs)));
  for (size_t input_idx = 1; input_idx < input_count; ++input_idx)
    ir.CreateStore(shared.secondary_inputs, ir.CreateConstInBoundsGEP1_64(ptr, inputs, input_idx));
  storeField(ir, args, offsetof(NnspecStepArgs, params), params);
  storeField(ir, args, offsetof(NnspecStepArgs, inputs), inputs);
  storeField(ir, args, offsetof(NnspecStepArgs, hyper), shared.hyper);
  storeField(ir, args, offsetof(NnspecStepArgs, outputs), outputs);
  storeField(ir, args, offsetof(NnspecStepArgs, workspace), workspace);
  storeField(ir, args, offsetof(NnspecStepArgs, states), states);
  Value* staging = shared.mean == nullptr
                       ? nullptr
                       : ir.CreateConstInBoundsGEP1_64(ir.getInt8Ty(), workspace,
                                                       static_cast<uint64_t>(entryWorkspaceBytes(model)), "staging");
  Value* full_batches = ir.CreateSDiv(n, k.i64(model.full.batch), "full_batches");
  k.forCount(full_batches, [&](Value* batch_idx) {
    runBatch(k, model, shared, model.full, args, inputs, k.mul(batch_idx, k.i64(model.full.batch)), staging);
  });
  if (model.tail) {
    k.forRange(k.mul(full_batches, k.i64(model.full.batch)), n,
               [&](Value* sample) { runBatch(k, model, shared, *model.tail, args, inputs, sample, staging); });
  }
  k.returnOk();
  return function;
}

// <prefix>_workspace_size()
void emitWorkspaceSize(llvm::Module& module, const PredictModel& model) {
  llvm::Type* size_type = module.getDataLayout().getIntPtrType(module.getContext());
  auto* function = llvm::Function::Create(llvm::FunctionType::get(size_type, false), llvm::GlobalValue::ExternalLinkage,
                                          model.prefix + "_workspace_size", module);
  function->addFnAttr(llvm::Attribute::NoUnwind);
  LoopBuilder k(*function);
  k.ir().CreateRet(llvm::ConstantInt::get(size_type, static_cast<uint64_t>(workspaceBytes(model))));
}

// <prefix>_predict(in, out, n): malloc, predict_with_workspace, free.
void emitPredict(llvm::Module& module, const PredictModel& model, llvm::Function* with_workspace) {
  llvm::LLVMContext& context = module.getContext();
  llvm::Type* ptr = llvm::PointerType::get(context, 0);
  llvm::Type* i64 = llvm::Type::getInt64Ty(context);
  llvm::Type* size_type = module.getDataLayout().getIntPtrType(context);
  llvm::FunctionCallee malloc_fn = module.getOrInsertFunction("malloc", llvm::FunctionType::get(ptr, {size_type}, false));
  llvm::FunctionCallee free_fn =
      module.getOrInsertFunction("free", llvm::FunctionType::get(llvm::Type::getVoidTy(context), {ptr}, false));
  auto* type = llvm::FunctionType::get(llvm::Type::getInt32Ty(context), {ptr, ptr, i64}, false);
  auto* function = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, model.prefix + "_predict", module);
  function->addFnAttr(llvm::Attribute::NoUnwind);
  LoopBuilder k(*function);
  llvm::IRBuilder<>& ir = k.ir();
  Value* n = k.arg(2);
  k.returnIf(ir.CreateICmpSLT(n, k.i64(0)), kPredictBadArgument);
  k.returnIf(ir.CreateICmpEQ(n, k.i64(0)), kPredictOk);
  Value* workspace =
      ir.CreateCall(malloc_fn, {llvm::ConstantInt::get(size_type, static_cast<uint64_t>(workspaceBytes(model)))});
  k.returnIf(ir.CreateIsNull(workspace), kPredictOutOfMemory);
  Value* status = ir.CreateCall(with_workspace, {k.arg(0), k.arg(1), n, workspace});
  ir.CreateCall(free_fn, {workspace});
  ir.CreateRet(status);
}

}  // namespace

int64_t workspaceBytes(const PredictModel& model) {
  int64_t bytes = entryWorkspaceBytes(model);
  if (!model.standardize_mean.empty()) {
    const int64_t staging = model.full.batch * model.features * static_cast<int64_t>(sizeof(float));
    bytes += (staging + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
  }
  return bytes;
}

void emitPredictEntries(llvm::Module& module, const PredictModel& model) {
  Shared shared{};
  shared.params = tensorGlobals(module, model.parameters, model.prefix + ".param");
  shared.states = tensorGlobals(module, model.states, model.prefix + ".state");
  shared.hyper = zeros(module, static_cast<int64_t>(model.full.layout.hyperparams.size()) * 4, model.prefix + ".hyper");
  int64_t secondary = secondaryInputBytes(model.full);
  if (model.tail) secondary = std::max(secondary, secondaryInputBytes(*model.tail));
  shared.secondary_inputs = zeros(module, secondary, model.prefix + ".no_labels");
  shared.softmax = model.classification ? emitSoftmax(module, model.prefix, model.width) : nullptr;
  shared.mean = nullptr;
  shared.stddev = nullptr;
  if (!model.standardize_mean.empty()) {
    const auto statistics = tensorGlobals(module, {model.standardize_mean, model.standardize_stddev},
                                          model.prefix + ".standardize");
    shared.mean = statistics[0];
    shared.stddev = statistics[1];
  }
  emitWorkspaceSize(module, model);
  emitPredict(module, model, emitPredictWithWorkspace(module, model, shared));
}

}  // namespace nnspec::aot
