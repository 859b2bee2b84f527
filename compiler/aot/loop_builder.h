#pragma once
// A small IRBuilder wrapper for the loop nests of compiler/aot: counted loops with runtime
// bounds, if/else, early returns and float element access. Fast-math reassociation and
// contraction are on (the runtime kernels' summation order differs from a plain loop's
// anyway), so LLVM vectorizes the reductions.

#include <cstdint>
#include <functional>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include "runtime/abi/step_abi.h"

namespace nnspec::aot {

// Builds one function body, starting at a new entry block of `function`.
class LoopBuilder {
 public:
  using Value = llvm::Value;

  explicit LoopBuilder(llvm::Function& function)
      : context_(function.getContext()), function_(function), builder_(function.getContext()) {
    llvm::FastMathFlags flags;
    flags.setAllowReassoc();  // lets LLVM vectorize the reductions (the runtime's order differs too)
    flags.setAllowContract();
    builder_.setFastMathFlags(flags);
    builder_.SetInsertPoint(llvm::BasicBlock::Create(context_, "entry", &function_));
  }

  llvm::IRBuilder<>& ir() { return builder_; }
  Value* arg(unsigned index) { return function_.getArg(index); }
  Value* i64(int64_t value) { return builder_.getInt64(static_cast<uint64_t>(value)); }
  Value* f32(double value) { return llvm::ConstantFP::get(builder_.getFloatTy(), value); }

  // for (index = begin; index < end; ++index) body(index), signed; no iteration when
  // end <= begin.
  void forRange(Value* begin, Value* end, const std::function<void(Value*)>& body) {
    llvm::BasicBlock* preheader = builder_.GetInsertBlock();
    llvm::BasicBlock* header = llvm::BasicBlock::Create(context_, "loop", &function_);
    llvm::BasicBlock* inside = llvm::BasicBlock::Create(context_, "loop.body", &function_);
    llvm::BasicBlock* exit = llvm::BasicBlock::Create(context_, "loop.end", &function_);
    builder_.CreateBr(header);
    builder_.SetInsertPoint(header);
    llvm::PHINode* index = builder_.CreatePHI(builder_.getInt64Ty(), 2, "idx");
    index->addIncoming(begin, preheader);
    builder_.CreateCondBr(builder_.CreateICmpSLT(index, end), inside, exit);
    builder_.SetInsertPoint(inside);
    body(index);
    index->addIncoming(builder_.CreateAdd(index, i64(1), "idx.next", false, true), builder_.GetInsertBlock());
    builder_.CreateBr(header);
    builder_.SetInsertPoint(exit);
  }

  void forCount(Value* count, const std::function<void(Value*)>& body) { forRange(i64(0), count, body); }

  // if (condition) then_part(); else else_part();
  void ifElse(Value* condition, const std::function<void()>& then_part, const std::function<void()>& else_part) {
    llvm::BasicBlock* then_block = llvm::BasicBlock::Create(context_, "then", &function_);
    llvm::BasicBlock* else_block = llvm::BasicBlock::Create(context_, "else", &function_);
    llvm::BasicBlock* done = llvm::BasicBlock::Create(context_, "endif", &function_);
    builder_.CreateCondBr(condition, then_block, else_block);
    builder_.SetInsertPoint(then_block);
    then_part();
    builder_.CreateBr(done);
    builder_.SetInsertPoint(else_block);
    else_part();
    builder_.CreateBr(done);
    builder_.SetInsertPoint(done);
  }

  Value* load(Value* base, Value* index) {
    return builder_.CreateLoad(builder_.getFloatTy(), builder_.CreateInBoundsGEP(builder_.getFloatTy(), base, index));
  }
  void store(Value* value, Value* base, Value* index) {
    builder_.CreateStore(value, builder_.CreateInBoundsGEP(builder_.getFloatTy(), base, index));
  }
  Value* at(Value* base, Value* index) { return builder_.CreateInBoundsGEP(builder_.getFloatTy(), base, index); }

  // Index arithmetic is signed and may go below zero (a window's first row under padding
  // is -pad_top): no signed wrap, but never "no unsigned wrap", which would make a
  // negative intermediate poison.
  Value* add(Value* a, Value* b) { return builder_.CreateAdd(a, b, "", false, true); }
  Value* mul(Value* a, Value* b) { return builder_.CreateMul(a, b, "", false, true); }
  Value* sub(Value* a, Value* b) { return builder_.CreateSub(a, b, "", false, true); }
  Value* smax(Value* a, Value* b) { return builder_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, a, b); }
  Value* smin(Value* a, Value* b) { return builder_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, a, b); }

  // A float accumulator in the entry block (promoted to a register by SROA/mem2reg).
  llvm::AllocaInst* accumulator(const char* name) {
    llvm::IRBuilder<> entry(&function_.getEntryBlock(), function_.getEntryBlock().begin());
    return entry.CreateAlloca(builder_.getFloatTy(), nullptr, name);
  }
  Value* read(llvm::AllocaInst* slot) { return builder_.CreateLoad(builder_.getFloatTy(), slot); }

  void memset0(Value* base, Value* floats) {
    builder_.CreateMemSet(base, builder_.getInt8(0), mul(floats, i64(sizeof(float))), llvm::MaybeAlign(alignof(float)));
  }
  void memcpy(Value* to, Value* from, Value* floats) {
    builder_.CreateMemCpy(to, llvm::MaybeAlign(alignof(float)), from, llvm::MaybeAlign(alignof(float)),
                          mul(floats, i64(sizeof(float))));
  }

  void returnOk() { builder_.CreateRet(builder_.getInt32(kNnspecOk)); }

  // if (condition) return status; (an i32) and continue after it.
  void returnIf(Value* condition, int32_t status) {
    llvm::BasicBlock* leave = llvm::BasicBlock::Create(context_, "return", &function_);
    llvm::BasicBlock* next = llvm::BasicBlock::Create(context_, "continue", &function_);
    builder_.CreateCondBr(condition, leave, next);
    builder_.SetInsertPoint(leave);
    builder_.CreateRet(builder_.getInt32(static_cast<uint32_t>(status)));
    builder_.SetInsertPoint(next);
  }

 private:
  llvm::LLVMContext& context_;
  llvm::Function& function_;
  llvm::IRBuilder<> builder_;
};

}  // namespace nnspec::aot
