#pragma once
// Portable LLVM IR definitions of the runtime kernels a forward pass calls (GEMM,
// convolution, pooling, padding, cropping: runtime/kernels/sgemm.h and window.h), so an
// ahead-of-time compiled object needs no nnspec at run time. Plain loop nests with the
// same arithmetic as the runtime kernels; internal and always inlined, so each call site
// sees its constant sizes and geometry and LLVM's -O3 specializes and vectorizes it for
// the object's target CPU.

#include <llvm/IR/Module.h>
#include <llvm/Support/Error.h>

namespace nnspec::aot {

// Gives every declared runtime kernel of `module` (nnspec_rt_*) a body. Fails for a
// kernel without a portable definition (e.g. a gradient kernel: a forward pass calls
// none).
llvm::Error definePortableKernels(llvm::Module& module);

}  // namespace nnspec::aot
