#pragma once
// The LLVM optimization pipeline run on a generated module before it is compiled: O0 and
// O1 are LLVM's; O2 and O3 a short pipeline for generated steps (vectorize the fused
// loops and clean up), see optimize_module.cpp.

#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

namespace nnspec::jit {

void optimizeModule(llvm::Module& module, llvm::TargetMachine& target_machine, int opt_level);

}  // namespace nnspec::jit
