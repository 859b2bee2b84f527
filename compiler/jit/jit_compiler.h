#pragma once
// Compiles train steps to machine code with LLVM ORC (LLJIT) for the host CPU, and caches
// them by graph signature: sweep points that differ only in runtime hyperparameters share
// one compiled step. Compiled code lives as long as the JitCompiler. Thread-safe: trials
// running in parallel may compile at once; one mutex serializes the compilations (and
// cache lookups wait for a compilation in progress). The compiled steps run on any
// number of threads.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "compiler/codegen/step_plan.h"
#include "compiler/jit/jit_error.h"
#include "compiler/transforms/autodiff.h"
#include "runtime/abi/step_abi.h"

namespace nnspec::jit {

// One compiled graph: its entry points and the buffers a caller provides.
struct CompiledStep {
  codegen::StepLayout layout;
  NnspecStepFn forward = nullptr;
  NnspecStepFn gradients = nullptr;
  NnspecStepFn train_step = nullptr;
};

struct JitOptions {
  int opt_level = 3;  // the LLVM pipeline run on the module before it is added (0-3)
};

class JitCompiler {
 public:
  static Expected<std::unique_ptr<JitCompiler>> create(JitOptions options = {});
  struct Engine;  // LLVM state, kept out of this header; made only by create()
  explicit JitCompiler(std::unique_ptr<Engine> engine);
  ~JitCompiler();
  JitCompiler(const JitCompiler&) = delete;
  JitCompiler& operator=(const JitCompiler&) = delete;

  // The cached step when one with the same signature was compiled, else a new one.
  Expected<std::shared_ptr<const CompiledStep>> compile(
      const transforms::GradientGraph& gradient_graph, const codegen::StepConfig& config);

  // `--emit=llvm-opt`: the module as the JIT compiles it, after the optimization pipeline
  // (not added to the JIT, not cached).
  Expected<std::string> optimizedLlvmText(const transforms::GradientGraph& gradient_graph,
                                          const codegen::StepConfig& config);

  // How many modules were compiled (cache misses).
  int compilationCount() const;
  // The host CPU the code is compiled for, e.g. "znver3".
  std::string hostCpu() const;

 private:
  mutable std::mutex mutex_;  // guards everything below, and the LLVM state in engine_
  std::unique_ptr<Engine> engine_;
  std::map<std::string, std::shared_ptr<const CompiledStep>> cache_;
  int compilation_count_ = 0;
};

}  // namespace nnspec::jit
