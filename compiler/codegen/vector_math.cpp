#include "compiler/codegen/vector_math.h"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

namespace nnspec::codegen {
namespace {

using llvm::Value;

// ln 2 = kLn2High + kLn2Low; kLn2High has 12 significant bits, so n * kLn2High is exact
// for every |n| < 2^12 the reductions produce.
constexpr float kLn2High = 0.693115234375f;
constexpr float kLn2Low = 3.19461833e-05f;
constexpr float kLog2E = 1.44269502f;
// Adding 1.5 * 2^23 rounds a float of magnitude < 2^22 to an integer, held in the low
// bits of the sum's significand.
constexpr float kRoundMagic = 12582912.0f;
constexpr int32_t kRoundMagicBits = 0x4B400000;
constexpr int32_t kSqrtHalfBits = 0x3F3504F3;  // sqrt(1/2) rounded down
constexpr int32_t kExponentBias = 127;
constexpr int32_t kSignificandBits = 23;
constexpr int32_t kSignificandMask = 0x7FFFFF;

// e^r = 1 + r + r^2 q(r) for |r| <= ln2/2 (absolute error of r^2 q below 5e-11).
constexpr float kExpQ[] = {0.5f, 1.66666672e-01f, 4.16662693e-02f, 8.33326578e-03f, 1.39460748e-03f,
                           1.99178219e-04f};
// log(1 + f) = f - f^2/2 + f^3 P(f) for f in [sqrt(1/2) - 1, sqrt(2) - 1] (error below
// 7.3e-10 |f|).
constexpr float kLogP[] = {3.33333105e-01f,  -2.49999866e-01f, 2.00022265e-01f,
                           -1.66692495e-01f, 1.42186567e-01f,  -1.23843580e-01f,
                           1.18729934e-01f,  -1.17897607e-01f, 6.91527575e-02f};
// tanh(x) = x + x^3 P(x^2) for |x| < kTanhPolyLimit (error below 1.5e-10 |x|).
constexpr float kTanhP[] = {-3.33333313e-01f, 1.33332103e-01f, -5.39472178e-02f,
                            2.17030328e-02f,  -8.18282273e-03f, 2.14766338e-03f};
constexpr float kTanhPolyLimit = 0.625f;

// exp's clamp: e^-104 rounds to 0 and e^89 overflows; n stays within [-150, 128].
constexpr float kExpLow = -104.0f;
constexpr float kExpHigh = 89.0f;
// expm1's: e^-18 - 1 rounds to -1; below 2^-25 in magnitude expm1(x) rounds to x.
constexpr float kExpm1Low = -18.0f;
constexpr float kExpm1Tiny = 2.98023224e-08f;  // 2^-25
constexpr float kMinNormal = std::numeric_limits<float>::min();
constexpr float kDenormalScale = 8388608.0f;  // 2^23

// The body of one math function: plain IEEE float operations (no fast-math flags: the
// range reductions depend on the order of their roundings), multiply-adds as fmuladd.
class MathBuilder {
 public:
  explicit MathBuilder(llvm::BasicBlock* block) : b_(block) {}

  llvm::IRBuilder<>& ir() { return b_; }
  Value* f32(float value) { return llvm::ConstantFP::get(b_.getFloatTy(), value); }
  Value* i32(int32_t value) { return b_.getInt32(static_cast<uint32_t>(value)); }
  Value* mulAdd(Value* a, Value* b, Value* c) {
    return b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {b_.getFloatTy()}, {a, b, c});
  }
  // c[0] + c[1] x + ... + c[n] x^n by Horner's rule.
  template <size_t N>
  Value* polynomial(Value* x, const float (&c)[N]) {
    Value* sum = f32(c[N - 1]);
    for (size_t idx = N - 1; idx-- > 0;) sum = mulAdd(sum, x, f32(c[idx]));
    return sum;
  }
  Value* bitsOf(Value* x) { return b_.CreateBitCast(x, b_.getInt32Ty()); }
  Value* floatOf(Value* bits) { return b_.CreateBitCast(bits, b_.getFloatTy()); }
  // 2^n for n in [-126, 127].
  Value* powerOfTwo(Value* n) {
    return floatOf(b_.CreateShl(b_.CreateAdd(n, i32(kExponentBias)), i32(kSignificandBits)));
  }
  Value* isNan(Value* x) { return b_.CreateFCmpUNO(x, x); }
  // x clamped into [low, high]; NaN becomes `high` (callers select NaN back at the end).
  Value* clamp(Value* x, float low, float high) {
    Value* below_high = b_.CreateSelect(b_.CreateFCmpOLT(x, f32(high)), x, f32(high));
    return b_.CreateSelect(b_.CreateFCmpOGT(below_high, f32(low)), below_high, f32(low));
  }

  // x = n ln2 + r, |r| <= ln2/2 (a little more after rounding), for |x| < 2^21.
  struct Reduced {
    Value* n;  // i32
    Value* r;
  };
  Reduced reduce(Value* x) {
    Value* shifted = b_.CreateFAdd(b_.CreateFMul(x, f32(kLog2E)), f32(kRoundMagic));
    Value* n_float = b_.CreateFSub(shifted, f32(kRoundMagic));
    Value* n = b_.CreateSub(bitsOf(shifted), i32(kRoundMagicBits));
    Value* r = b_.CreateFSub(x, b_.CreateFMul(n_float, f32(kLn2High)));
    r = b_.CreateFSub(r, b_.CreateFMul(n_float, f32(kLn2Low)));
    return {n, r};
  }
  // e^r - 1 = r + r^2 q(r).
  Value* expm1Reduced(Value* r) { return mulAdd(b_.CreateFMul(r, r), polynomial(r, kExpQ), r); }

 private:
  llvm::IRBuilder<> b_;
};

// e^x = 2^n e^r; 2^n applied as two factors 2^(n/2) so that results near overflow and
// in the denormal range are rounded once, by the last multiplication.
Value* emitExp(MathBuilder& m, Value* x) {
  llvm::IRBuilder<>& ir = m.ir();
  MathBuilder::Reduced reduced = m.reduce(m.clamp(x, kExpLow, kExpHigh));
  Value* e_r = ir.CreateFAdd(m.expm1Reduced(reduced.r), m.f32(1.0f));
  Value* half_n = ir.CreateAShr(reduced.n, m.i32(1));
  Value* rest_n = ir.CreateSub(reduced.n, half_n);
  Value* result = ir.CreateFMul(ir.CreateFMul(e_r, m.powerOfTwo(half_n)), m.powerOfTwo(rest_n));
  return ir.CreateSelect(m.isNan(x), x, result);
}

// e^x - 1 = 2^n (e^r - 1) + (2^n - 1), written 2 (s u + (s - 1/2)) with s = 2^(n-1) and
// u = e^r - 1: s - 1/2 is exact for n in [-24, 24] (beyond, the rounding is below the
// result's), and s stays finite up to n = 128.
Value* emitExpm1(MathBuilder& m, Value* x) {
  llvm::IRBuilder<>& ir = m.ir();
  MathBuilder::Reduced reduced = m.reduce(m.clamp(x, kExpm1Low, kExpHigh));
  Value* u = m.expm1Reduced(reduced.r);
  Value* s = m.powerOfTwo(ir.CreateSub(reduced.n, m.i32(1)));
  Value* result = ir.CreateFMul(m.mulAdd(s, u, ir.CreateFSub(s, m.f32(0.5f))), m.f32(2.0f));
  Value* tiny = ir.CreateFCmpOLT(ir.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x), m.f32(kExpm1Tiny));
  return ir.CreateSelect(ir.CreateOr(tiny, m.isNan(x)), x, result);
}

// x = 2^e m with m in [sqrt(1/2), sqrt(2)); log x = e ln2 + log(1 + f), f = m - 1 exact.
// Denormals are scaled by 2^23 first.
Value* emitLog(MathBuilder& m, Value* x) {
  llvm::IRBuilder<>& ir = m.ir();
  Value* denormal = ir.CreateFCmpOLT(x, m.f32(kMinNormal));
  Value* scaled = ir.CreateSelect(denormal, ir.CreateFMul(x, m.f32(kDenormalScale)), x);
  Value* offset = ir.CreateSub(m.bitsOf(scaled), m.i32(kSqrtHalfBits));
  Value* exponent = ir.CreateAdd(ir.CreateAShr(offset, m.i32(kSignificandBits)),
                                 ir.CreateSelect(denormal, m.i32(-kSignificandBits), m.i32(0)));
  Value* mantissa = m.floatOf(ir.CreateAdd(ir.CreateAnd(offset, m.i32(kSignificandMask)), m.i32(kSqrtHalfBits)));
  Value* f = ir.CreateFSub(mantissa, m.f32(1.0f));
  Value* tail = m.mulAdd(f, m.polynomial(f, kLogP), m.f32(-0.5f));  // -1/2 + f P(f)
  Value* log1p_f = m.mulAdd(ir.CreateFMul(f, f), tail, f);
  Value* e = ir.CreateSIToFP(exponent, ir.getFloatTy());
  Value* result = ir.CreateFAdd(m.mulAdd(e, m.f32(kLn2Low), log1p_f), ir.CreateFMul(e, m.f32(kLn2High)));
  const float infinity = std::numeric_limits<float>::infinity();
  result = ir.CreateSelect(ir.CreateFCmpOEQ(x, m.f32(infinity)), x, result);
  result = ir.CreateSelect(ir.CreateFCmpOEQ(x, m.f32(0.0f)), m.f32(-infinity), result);
  result = ir.CreateSelect(ir.CreateFCmpOLT(x, m.f32(0.0f)), m.f32(std::numeric_limits<float>::quiet_NaN()), result);
  return ir.CreateSelect(m.isNan(x), x, result);
}

// On a = |x|: a + a^3 P(a^2) below kTanhPolyLimit, else 1 - 2 / (e^2a + 1) (e^2a = +inf
// gives 1); the sign of x copied last (so tanh(-0) = -0).
Value* emitTanh(MathBuilder& m, Value* x, llvm::Function* exp) {
  llvm::IRBuilder<>& ir = m.ir();
  Value* a = ir.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  Value* a2 = ir.CreateFMul(a, a);
  Value* small = m.mulAdd(ir.CreateFMul(a, a2), m.polynomial(a2, kTanhP), a);
  Value* e2a = ir.CreateCall(exp, {ir.CreateFMul(a, m.f32(2.0f))});
  Value* large = ir.CreateFSub(m.f32(1.0f), ir.CreateFDiv(m.f32(2.0f), ir.CreateFAdd(e2a, m.f32(1.0f))));
  Value* result = ir.CreateSelect(ir.CreateFCmpOLT(a, m.f32(kTanhPolyLimit)), small, large);
  return ir.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, result, x);
}

const char* nameOf(MathFunction function) {
  switch (function) {
    case MathFunction::Exp:
      return "nnspec.exp.f32";
    case MathFunction::Expm1:
      return "nnspec.expm1.f32";
    case MathFunction::Log:
      return "nnspec.log.f32";
    case MathFunction::Tanh:
      return "nnspec.tanh.f32";
  }
  return "";
}

}  // namespace

llvm::Function* mathFunction(llvm::Module& module, MathFunction function) {
  const char* name = nameOf(function);
  if (llvm::Function* existing = module.getFunction(name)) return existing;
  // tanh calls exp: made first, so that tanh's body is built with no other in progress.
  llvm::Function* exp = function == MathFunction::Tanh ? mathFunction(module, MathFunction::Exp) : nullptr;
  llvm::LLVMContext& context = module.getContext();
  llvm::Type* float_type = llvm::Type::getFloatTy(context);
  auto* type = llvm::FunctionType::get(float_type, {float_type}, false);
  auto* created = llvm::Function::Create(type, llvm::Function::InternalLinkage, name, module);
  created->addFnAttr(llvm::Attribute::AlwaysInline);
  created->addFnAttr(llvm::Attribute::NoUnwind);
  created->addFnAttr(llvm::Attribute::WillReturn);
  created->addFnAttr(llvm::Attribute::NoSync);
  created->setDoesNotAccessMemory();
  MathBuilder m(llvm::BasicBlock::Create(context, "entry", created));
  Value* x = created->getArg(0);
  Value* result = nullptr;
  switch (function) {
    case MathFunction::Exp:
      result = emitExp(m, x);
      break;
    case MathFunction::Expm1:
      result = emitExpm1(m, x);
      break;
    case MathFunction::Log:
      result = emitLog(m, x);
      break;
    case MathFunction::Tanh:
      result = emitTanh(m, x, exp);
      break;
  }
  m.ir().CreateRet(result);
  return created;
}

}  // namespace nnspec::codegen
