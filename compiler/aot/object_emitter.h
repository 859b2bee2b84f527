#pragma once
// The back end of the ahead-of-time export: a TargetMachine for the chosen triple and CPU,
// LLVM's optimization pipeline, and the relocatable object file (legacy PassManager,
// addPassesToEmitFile with CodeGenFileType::ObjectFile).

#include <memory>
#include <string>
#include <vector>

#include <llvm/IR/Module.h>
#include <llvm/Support/Error.h>
#include <llvm/Target/TargetMachine.h>

namespace nnspec::aot {

struct TargetChoice {
  std::string triple;  // "" for the host's
  // "" for the architecture's portable baseline ("x86-64" on x86-64, "generic" elsewhere),
  // "host" for this machine's CPU and its features, else an LLVM CPU name as for clang's
  // -mcpu / -march (e.g. "x86-64-v3", "znver4", "skylake-avx512").
  std::string cpu;
};

// Fails for an unknown triple or CPU name (or a target this LLVM was built without).
// Position-independent code: the object links into PIE executables and shared libraries.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createTargetMachine(const TargetChoice& choice, int opt_level);

// Sets the module's triple and data layout to the machine's (before code is emitted into
// it), and every defined function's target-cpu / target-features.
void prepareModuleFor(llvm::Module& module, llvm::TargetMachine& machine);

// Runs the O`opt_level` pipeline on the module, then writes the object file's bytes.
llvm::Expected<std::vector<char>> emitObject(llvm::Module& module, llvm::TargetMachine& machine, int opt_level);

}  // namespace nnspec::aot
