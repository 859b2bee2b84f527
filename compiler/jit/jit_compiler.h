#pragma once
// Compiles train steps to machine code with LLVM ORC (LLJIT) for the host CPU, and caches
// them by graph signature: sweep points that differ only in runtime hyperparameters share
// one compiled step. Compiled code lives as long as the JitCompiler. A caller names the
// entry points it will call (codegen::EntrySet; a later caller asking for more gets the
// missing ones compiled and added), and they compile at once, on threads of their own,
// each to an object file; the objects are also kept on disk (compiler/jit/object_cache.h,
// keyed by the graph and the entry points compiled), and the next process that needs the
// same step for the same target and compiler links them without emitting or optimizing
// IR. Thread-safe: trials running in parallel may compile at once. Different graphs
// compile in parallel; a caller asking for a graph being compiled waits for it. The
// compiled steps run on any number of threads.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "compiler/codegen/step_plan.h"
#include "compiler/jit/jit_error.h"
#include "compiler/jit/object_cache.h"
#include "compiler/transforms/autodiff.h"
#include "runtime/abi/step_abi.h"
#include "runtime/exec/compiled_step.h"

namespace nnspec::jit {

struct JitOptions {
  ObjectCacheOptions disk_cache;  // where compiled objects are kept between runs
  int opt_level = 3;  // the LLVM pipeline run on the module before it is added (0-3)
};

// What the JIT did so far, for the run summary and the benches.
struct JitStats {
  int compiled = 0;  // steps emitted, optimized and compiled from IR
  int loaded = 0;    // steps loaded from the disk cache (no IR)
  double compile_seconds = 0;  // the compilations, emission to linked code
  double load_seconds = 0;     // the loads, reading the entry to linked code
  // The compilations by phase, summed over the entry points' threads.
  double emit_seconds = 0;
  double optimize_seconds = 0;
  double codegen_seconds = 0;  // instruction selection to the object file
  double link_seconds = 0;     // JIT-linking the objects, both paths
  ObjectCacheCounters disk;    // zero when the disk cache is off
};

class JitCompiler {
 public:
  static Expected<std::unique_ptr<JitCompiler>> create(JitOptions options = {});
  struct Engine;  // LLVM state, kept out of this header; made only by create()
  explicit JitCompiler(std::unique_ptr<Engine> engine);
  ~JitCompiler();
  JitCompiler(const JitCompiler&) = delete;
  JitCompiler& operator=(const JitCompiler&) = delete;

  // The cached step when one with the same signature was compiled with (at least) these
  // entry points, else a new one; its other entry points may be null. The step keeps the
  // compiled code alive (CompiledStep::code_owner) after the JitCompiler is gone.
  Expected<std::shared_ptr<const rt::CompiledStep>> compile(
      const transforms::GradientGraph& gradient_graph, const codegen::StepConfig& config,
      codegen::EntrySet entries = codegen::EntrySet::all());
  // The same for a plan made already (the pipeline's fuse and plan-step passes); the
  // plan must be codegen::planStep's for this graph and config.
  Expected<std::shared_ptr<const rt::CompiledStep>> compilePlan(const transforms::GradientGraph& gradient_graph,
                                                                const codegen::StepPlan& plan,
                                                                codegen::EntrySet entries = codegen::EntrySet::all());

  // `--emit=llvm-opt`: the module as the JIT compiles it, after the optimization pipeline
  // (not added to the JIT, not cached).
  Expected<std::string> optimizedLlvmText(const transforms::GradientGraph& gradient_graph,
                                          const codegen::StepPlan& plan);

  // How many steps this JIT made (misses of its in-memory cache, a step's added entry
  // points among them), compiled from IR or loaded from the disk cache; stats() says which.
  int compilationCount() const;
  JitStats stats() const;
  // The disk cache's key of a step's entry points compiled at once (whether or not the
  // cache is on).
  ObjectKey objectKey(const transforms::GradientGraph& gradient_graph, const codegen::StepConfig& config,
                      codegen::EntrySet entries = codegen::EntrySet::all()) const;
  // The disk cache's directory, empty when it is off.
  std::string diskCacheDirectory() const;
  // The host CPU the code is compiled for, e.g. "znver3".
  std::string hostCpu() const;

 private:
  struct Cached {
    std::shared_ptr<const rt::CompiledStep> step;
    codegen::EntrySet entries;  // those compiled; the step's others are null
  };
  // Guards everything below, the disk cache and linking (engine_'s LLVM state); a
  // compilation runs without it, under its signature's mutex in compiling_.
  mutable std::mutex mutex_;
  std::shared_ptr<Engine> engine_;  // shared with the steps it compiled
  std::map<std::string, Cached> cache_;  // by signature
  std::map<std::string, std::shared_ptr<std::mutex>> compiling_;  // by signature
  int compilation_count_ = 0;
  JitStats stats_;
};

}  // namespace nnspec::jit
