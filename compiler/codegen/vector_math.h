#pragma once
// exp, expm1, log and tanh on float as LLVM IR functions of the module that uses them, so
// that generated loops call no libm: each is internal and always-inline, branch-free
// (special cases are selects) and uses only operations LLVM vectorizes at the target's
// width (integer bit operations, fmuladd, copysign, division). After inlining, the loop
// vectorizer widens a loop that computes them like any other element-wise loop.
//
// Range reduction and minimax polynomials (coefficients fitted by
// compiler/codegen/vector_math_fit.py). Accuracy: the error against the exact value in
// ULPs of the result, the bound tests/jit/vector_math_test.cpp asserts (on dense sweeps,
// with fused multiply-add and without) and the maximum it measured over every float of
// the domain (host CPU with FMA, the [.slow] test):
//                                                          bound   every float
//   exp    x in [-104, 89] (below: 0, above: +inf)          1       0.996
//   expm1  x in [-18, 89] (below: -1, above: +inf)          2       1.423
//   log    x > 0, denormals included                        1       0.912
//   tanh   every x                                          2       1.330
// (expm1 loses up to ~1/2 ulp to cancellation where the reduction's n is 1 or -1; tanh
// just above 0.625, where 1 - 2/(e^2x + 1) takes over from the polynomial.)
// Special values: NaN gives NaN; exp(+inf) = +inf, exp(-inf) = 0; exp and expm1 overflow
// to +inf; exp's results below FLT_MIN are denormals, rounded once (not flushed) unless
// the CPU flushes denormals; log(±0) = -inf, log(x < 0) = NaN, log(+inf) = +inf;
// tanh(±inf) = ±1, tanh and expm1 keep the sign of zero.

#include <llvm/IR/Function.h>
#include <llvm/IR/Module.h>

namespace nnspec::codegen {

enum class MathFunction { Exp, Expm1, Log, Tanh };

// The module's float(float) definition of `function`, created on first use (named
// "nnspec.<name>.f32"; a module holds at most one of each).
llvm::Function* mathFunction(llvm::Module& module, MathFunction function);

}  // namespace nnspec::codegen
