#include "compiler/aot/portable_kernels.h"

#include <array>
#include <functional>
#include <limits>

#include "compiler/aot/loop_builder.h"
#include "compiler/codegen/emit_llvm.h"
#include "runtime/abi/window_abi.h"

namespace nnspec::aot {
namespace {

using llvm::Value;

// ---- GEMM ----------------------------------------------------------------------------

// nnspec_rt_sgemm(m, n, k, alpha, a, transpose_a, b, transpose_b, beta, c, scratch):
// c[m,n] = alpha op(a) op(b) + beta c; beta 0 only writes c (runtime/kernels/sgemm.h).
// Row by row of c: with b stored [k,n] as axpy over c's row (contiguous, vectorized over
// n); with b stored [n,k] as dot products over k.
void defineSgemm(llvm::Function& function) {
  LoopBuilder k(function);
  Value* rows = k.arg(0);
  Value* cols = k.arg(1);
  Value* inner = k.arg(2);
  Value* alpha = k.arg(3);
  Value* a = k.arg(4);
  Value* transpose_a = k.ir().CreateICmpNE(k.arg(5), k.ir().getInt32(0));
  Value* b = k.arg(6);
  Value* transpose_b = k.ir().CreateICmpNE(k.arg(7), k.ir().getInt32(0));
  Value* beta = k.arg(8);
  Value* c = k.arg(9);
  Value* beta_zero = k.ir().CreateFCmpOEQ(beta, k.f32(0.0));
  // op(a)[row, depth]
  auto aAt = [&](Value* row, Value* depth) {
    Value* index = k.ir().CreateSelect(transpose_a, k.add(k.mul(depth, rows), row), k.add(k.mul(row, inner), depth));
    return k.load(a, index);
  };
  k.forCount(rows, [&](Value* row) {
    Value* c_row = k.at(c, k.mul(row, cols));
    k.ifElse(
        transpose_b,
        [&] {
          k.forCount(cols, [&](Value* col) {
            llvm::AllocaInst* sum = k.accumulator("dot");
            k.ir().CreateStore(k.f32(0.0), sum);
            Value* b_row = k.at(b, k.mul(col, inner));
            k.forCount(inner, [&](Value* depth) {
              k.ir().CreateStore(k.ir().CreateFAdd(k.read(sum), k.ir().CreateFMul(aAt(row, depth), k.load(b_row, depth))),
                                 sum);
            });
            Value* product = k.ir().CreateFMul(alpha, k.read(sum));
            k.ifElse(
                beta_zero, [&] { k.store(product, c_row, col); },
                [&] { k.store(k.ir().CreateFAdd(product, k.ir().CreateFMul(beta, k.load(c_row, col))), c_row, col); });
          });
        },
        [&] {
          k.ifElse(
              beta_zero, [&] { k.memset0(c_row, cols); },
              [&] {
                k.forCount(cols, [&](Value* col) { k.store(k.ir().CreateFMul(beta, k.load(c_row, col)), c_row, col); });
              });
          k.forCount(inner, [&](Value* depth) {
            Value* scaled = k.ir().CreateFMul(alpha, aAt(row, depth));
            Value* b_row = k.at(b, k.mul(depth, cols));
            k.forCount(cols, [&](Value* col) {
              k.store(k.ir().CreateFAdd(k.load(c_row, col), k.ir().CreateFMul(scaled, k.load(b_row, col))), c_row, col);
            });
          });
        });
  });
  k.returnOk();
}

// ---- window kernels ------------------------------------------------------------------

// The fields of the NnspecWindowGeometry argument (a constant global at every call site:
// after inlining they fold to constants).
struct Geometry {
  Value* batch;
  Value* in_h;
  Value* in_w;
  Value* in_c;
  Value* out_h;
  Value* out_w;
  Value* out_c;
  Value* kernel_h;
  Value* kernel_w;
  Value* stride_h;
  Value* stride_w;
  Value* pad_top;
  Value* pad_left;
};

Geometry loadGeometry(LoopBuilder& k, Value* pointer) {
  static_assert(kNnspecWindowGeometryFields == 13);
  std::array<Value*, kNnspecWindowGeometryFields> fields{};
  for (size_t field = 0; field < fields.size(); ++field)
    fields[field] = k.ir().CreateLoad(k.ir().getInt64Ty(),
                                      k.ir().CreateConstInBoundsGEP1_64(k.ir().getInt64Ty(), pointer, field));
  return {fields[0], fields[1], fields[2], fields[3],  fields[4],  fields[5], fields[6],
          fields[7], fields[8], fields[9], fields[10], fields[11], fields[12]};
}

// The in-image taps of one output position's window: kernel rows [row_lo, row_hi) and
// columns [col_lo, col_hi); (in_row0, in_col0) is the input position under tap (0, 0).
struct Window {
  Value* in_row0;
  Value* in_col0;
  Value* row_lo;
  Value* row_hi;
  Value* col_lo;
  Value* col_hi;
};

Window windowAt(LoopBuilder& k, const Geometry& g, Value* out_row, Value* out_col) {
  Window window;
  window.in_row0 = k.sub(k.mul(out_row, g.stride_h), g.pad_top);
  window.in_col0 = k.sub(k.mul(out_col, g.stride_w), g.pad_left);
  window.row_lo = k.smax(k.i64(0), k.sub(k.i64(0), window.in_row0));
  window.row_hi = k.smin(g.kernel_h, k.sub(g.in_h, window.in_row0));
  window.col_lo = k.smax(k.i64(0), k.sub(k.i64(0), window.in_col0));
  window.col_hi = k.smin(g.kernel_w, k.sub(g.in_w, window.in_col0));
  return window;
}

// Calls visit(batch_idx, out_row, out_col, out_offset) for every output position,
// out_offset the flat index of its channel 0.
void forEachOutput(LoopBuilder& k, const Geometry& g, const std::function<void(Value*, Value*, Value*, Value*)>& visit) {
  k.forCount(g.batch, [&](Value* batch_idx) {
    k.forCount(g.out_h, [&](Value* out_row) {
      k.forCount(g.out_w, [&](Value* out_col) {
        Value* position = k.add(k.mul(k.add(k.mul(batch_idx, g.out_h), out_row), g.out_w), out_col);
        visit(batch_idx, out_row, out_col, k.mul(position, g.out_c));
      });
    });
  });
}

// Calls visit(in_offset) for the in-image taps of `window` (row-major), in_offset the
// flat index of the tap's input channel 0.
void forEachTap(LoopBuilder& k, const Geometry& g, Value* batch_idx, const Window& window,
                const std::function<void(Value*, Value*, Value*)>& visit) {
  k.forRange(window.row_lo, window.row_hi, [&](Value* kernel_row) {
    k.forRange(window.col_lo, window.col_hi, [&](Value* kernel_col) {
      Value* in_row = k.add(window.in_row0, kernel_row);
      Value* in_col = k.add(window.in_col0, kernel_col);
      Value* position = k.add(k.mul(k.add(k.mul(batch_idx, g.in_h), in_row), g.in_w), in_col);
      visit(kernel_row, kernel_col, k.mul(position, g.in_c));
    });
  });
}

// The sums of nnspec_rt_conv2d_with_scratch(geometry, x, kernel, y, scratch) into y:
// y[n,oy,ox,co] = sum_{ky,kx,ci} x[n, oy*sh+ky-pt, ox*sw+kx-pl, ci] * kernel[ky,kx,ci,co],
// accumulated over the output channels (contiguous in y and in the kernel).
Geometry emitConv2d(LoopBuilder& k) {
  Geometry g = loadGeometry(k, k.arg(0));
  Value* x = k.arg(1);
  Value* kernel = k.arg(2);
  Value* y = k.arg(3);
  forEachOutput(k, g, [&](Value* batch_idx, Value* out_row, Value* out_col, Value* out_offset) {
    Value* y_row = k.at(y, out_offset);
    k.memset0(y_row, g.out_c);
    Window window = windowAt(k, g, out_row, out_col);
    forEachTap(k, g, batch_idx, window, [&](Value* kernel_row, Value* kernel_col, Value* in_offset) {
      Value* tap = k.add(k.mul(kernel_row, g.kernel_w), kernel_col);
      Value* tap_kernel = k.at(kernel, k.mul(k.mul(tap, g.in_c), g.out_c));
      k.forCount(g.in_c, [&](Value* in_channel) {
        Value* pixel = k.load(x, k.add(in_offset, in_channel));
        Value* kernel_row_ptr = k.at(tap_kernel, k.mul(in_channel, g.out_c));
        k.forCount(g.out_c, [&](Value* out_channel) {
          Value* sum = k.ir().CreateFAdd(k.load(y_row, out_channel),
                                         k.ir().CreateFMul(pixel, k.load(kernel_row_ptr, out_channel)));
          k.store(sum, y_row, out_channel);
        });
      });
    });
  });
  return g;
}

// nnspec_rt_conv2d_with_scratch(geometry, x, kernel, y, scratch).
void defineConv2d(llvm::Function& function) {
  LoopBuilder k(function);
  emitConv2d(k);
  k.returnOk();
}

// nnspec_rt_conv2d_fused_with_scratch(geometry, x, kernel, y, scratch, epilogue, context):
// the convolution, then epilogue(context, 0, positions) over every output row at once.
void defineConv2dFused(llvm::Function& function) {
  LoopBuilder k(function);
  Geometry g = emitConv2d(k);
  llvm::IRBuilder<>& ir = k.ir();
  auto* epilogue_type = llvm::FunctionType::get(ir.getVoidTy(), {ir.getPtrTy(), ir.getInt64Ty(), ir.getInt64Ty()}, false);
  Value* positions = k.mul(k.mul(g.batch, g.out_h), g.out_w);
  ir.CreateCall(epilogue_type, k.arg(5), {k.arg(6), k.i64(0), positions});
  k.returnOk();
}

enum class PoolKind { kMax, kAverage };

// nnspec_rt_max_pool / nnspec_rt_avg_pool(geometry, x, y): the max / mean over the
// in-image part of each window (mean: the sum times 1/taps in float, as the runtime).
void definePool(llvm::Function& function, PoolKind kind) {
  LoopBuilder k(function);
  Geometry g = loadGeometry(k, k.arg(0));
  Value* x = k.arg(1);
  Value* y = k.arg(2);
  const double start = kind == PoolKind::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
  forEachOutput(k, g, [&](Value* batch_idx, Value* out_row, Value* out_col, Value* out_offset) {
    Value* y_row = k.at(y, out_offset);
    k.forCount(g.out_c, [&](Value* channel) { k.store(k.f32(start), y_row, channel); });
    Window window = windowAt(k, g, out_row, out_col);
    forEachTap(k, g, batch_idx, window, [&](Value*, Value*, Value* in_offset) {
      k.forCount(g.out_c, [&](Value* channel) {
        Value* value = k.load(x, k.add(in_offset, channel));
        Value* current = k.load(y_row, channel);
        Value* next = kind == PoolKind::kMax
                          ? k.ir().CreateSelect(k.ir().CreateFCmpOGT(value, current), value, current)
                          : k.ir().CreateFAdd(current, value);
        k.store(next, y_row, channel);
      });
    });
    if (kind == PoolKind::kMax) return;
    Value* taps = k.mul(k.smax(k.i64(0), k.sub(window.row_hi, window.row_lo)),
                        k.smax(k.i64(0), k.sub(window.col_hi, window.col_lo)));
    Value* reciprocal = k.ir().CreateSelect(k.ir().CreateICmpSGT(taps, k.i64(0)),
                                            k.ir().CreateFDiv(k.f32(1.0), k.ir().CreateSIToFP(taps, k.ir().getFloatTy())),
                                            k.f32(0.0));
    k.forCount(g.out_c, [&](Value* channel) {
      k.store(k.ir().CreateFMul(k.load(y_row, channel), reciprocal), y_row, channel);
    });
  });
  k.returnOk();
}

// nnspec_rt_pad2d(geometry, x, y): [in_h,in_w] at (pad_top, pad_left) of a zero [out_h,out_w].
void definePad2d(llvm::Function& function) {
  LoopBuilder k(function);
  Geometry g = loadGeometry(k, k.arg(0));
  Value* x = k.arg(1);
  Value* y = k.arg(2);
  k.memset0(y, k.mul(k.mul(k.mul(g.batch, g.out_h), g.out_w), g.out_c));
  k.forCount(g.batch, [&](Value* batch_idx) {
    k.forCount(g.in_h, [&](Value* row) {
      Value* out_position = k.add(k.mul(k.add(k.mul(batch_idx, g.out_h), k.add(row, g.pad_top)), g.out_w), g.pad_left);
      Value* in_position = k.mul(k.add(k.mul(batch_idx, g.in_h), row), g.in_w);
      k.memcpy(k.at(y, k.mul(out_position, g.out_c)), k.at(x, k.mul(in_position, g.in_c)), k.mul(g.in_w, g.in_c));
    });
  });
  k.returnOk();
}

// nnspec_rt_crop2d(geometry, x, y): the [out_h,out_w] block at (pad_top, pad_left) of x.
void defineCrop2d(llvm::Function& function) {
  LoopBuilder k(function);
  Geometry g = loadGeometry(k, k.arg(0));
  Value* x = k.arg(1);
  Value* y = k.arg(2);
  k.forCount(g.batch, [&](Value* batch_idx) {
    k.forCount(g.out_h, [&](Value* row) {
      Value* out_position = k.mul(k.add(k.mul(batch_idx, g.out_h), row), g.out_w);
      Value* in_position = k.add(k.mul(k.add(k.mul(batch_idx, g.in_h), k.add(row, g.pad_top)), g.in_w), g.pad_left);
      k.memcpy(k.at(y, k.mul(out_position, g.out_c)), k.at(x, k.mul(in_position, g.in_c)), k.mul(g.out_w, g.out_c));
    });
  });
  k.returnOk();
}

struct PortableKernel {
  const char* symbol;
  void (*define)(llvm::Function&);
};

constexpr std::array<PortableKernel, 7> kPortableKernels = {{
    {codegen::kSgemmSymbol, defineSgemm},
    {codegen::kConv2dSymbol, defineConv2d},
    {codegen::kConv2dFusedSymbol, defineConv2dFused},
    {codegen::kMaxPoolSymbol, [](llvm::Function& function) { definePool(function, PoolKind::kMax); }},
    {codegen::kAvgPoolSymbol, [](llvm::Function& function) { definePool(function, PoolKind::kAverage); }},
    {codegen::kPad2dSymbol, definePad2d},
    {codegen::kCrop2dSymbol, defineCrop2d},
}};

const PortableKernel* findKernel(llvm::StringRef symbol) {
  for (const PortableKernel& kernel : kPortableKernels)
    if (symbol == kernel.symbol) return &kernel;
  return nullptr;
}

// Internal, always inlined, and the pointer arguments do not alias (the runtime ABI's
// contract: outputs never overlap inputs), except the fused convolution's.
void prepare(llvm::Function& function) {
  function.setLinkage(llvm::GlobalValue::InternalLinkage);
  function.addFnAttr(llvm::Attribute::AlwaysInline);
  function.addFnAttr(llvm::Attribute::NoUnwind);
  // The fused convolution's epilogue reads y and writes other buffers of the step
  // through `context`: its pointers may alias.
  if (function.getName() == codegen::kConv2dFusedSymbol) return;
  for (llvm::Argument& argument : function.args())
    if (argument.getType()->isPointerTy()) function.addParamAttr(argument.getArgNo(), llvm::Attribute::NoAlias);
}

}  // namespace

llvm::Error definePortableKernels(llvm::Module& module) {
  for (llvm::Function& function : module) {
    if (!function.isDeclaration() || !function.getName().starts_with("nnspec_rt_")) continue;
    const PortableKernel* kernel = findKernel(function.getName());
    if (kernel == nullptr)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "aot: no portable definition of runtime kernel '%s'",
                                     function.getName().str().c_str());
    prepare(function);
    kernel->define(function);
  }
  return llvm::Error::success();
}

}  // namespace nnspec::aot
