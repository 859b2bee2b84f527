#pragma once
// The LLVM optimization pipeline (PassBuilder, O0-O3) run on a generated module before it
// is handed to the JIT.

#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

namespace nnspec::jit {

void optimizeModule(llvm::Module& module, llvm::TargetMachine& target_machine, int opt_level);

}  // namespace nnspec::jit
