#pragma once
// The compile pipeline: every pass from a checked sweep point to a trainable model, in
// the order they run, listed once (kPasses). `nnspec compile --emit=NAME` stops after the
// pass called NAME and prints what it made; `nnspec run`, the benches and the C API call
// compileTrainable, which runs them all.
//
//   lower -> verify -> differentiate -> verify -> fuse -> plan step -> emit LLVM
//         -> optimize -> JIT
//
// The verifier passes check the graph after each graph pass; they are linear in the graph
// and run in every build. A failed verify is an internal error (a compiler bug), never the
// user's. The last three passes share one LLVM context, which stays inside compiler/jit:
// JitCompiler::compilePlan runs them in this order.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "compiler/codegen/step_plan.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/lowering/lower_model.h"
#include "compiler/sema/checked_spec.h"
#include "compiler/support/source_file.h"
#include "runtime/exec/compiled_step.h"
#include "runtime/train/trial.h"

namespace nnspec::pipeline {

enum class Pass { kLower, kVerifyLowered, kDifferentiate, kVerifyGradient, kFuse, kPlanStep, kEmitLlvm, kOptimize, kJit };

struct PassInfo {
  Pass pass;
  std::string_view name;  // `--emit=NAME`
  std::string_view does;
};

// The pass list, in order.
inline constexpr std::array<PassInfo, 9> kPasses = {{
    {Pass::kLower, "ir", "lower the point's model and loss to the graph IR"},
    {Pass::kVerifyLowered, "verify-ir", "verify the forward graph"},
    {Pass::kDifferentiate, "grad", "append the reverse-mode gradient of the loss"},
    {Pass::kVerifyGradient, "verify-grad", "verify the graph with its gradient"},
    {Pass::kFuse, "fusion", "fuse element-wise chains into loop nests, per entry point"},
    {Pass::kPlanStep, "step", "lay out the ABI arrays and the workspace"},
    {Pass::kEmitLlvm, "llvm", "emit the LLVM module"},
    {Pass::kOptimize, "llvm-opt", "run LLVM's optimization pipeline for the host CPU"},
    {Pass::kJit, "jit", "compile to machine code with ORC LLJIT (cached by graph signature)"},
}};

const PassInfo& passInfo(Pass pass);
std::optional<Pass> passNamed(std::string_view name);

struct PipelineError {
  // true: a verifier, codegen or LLVM failure, i.e. a compiler bug (exit 3); false: the
  // spec asks for something this back-end cannot run yet (exit 2, at `range`).
  bool internal = false;
  Pass pass = Pass::kLower;
  SourceRange range;
  std::string message;
};

// What the passes made, up to the one the pipeline stopped after.
struct Artifacts {
  lowering::LoweredStep step;  // kLower; step.graph from kDifferentiate on
  codegen::StepPlan plan;      // kFuse (kernels), kPlanStep (layout and workspace)
  std::string llvm_text;       // kEmitLlvm or kOptimize, when the pipeline stops there
  std::shared_ptr<const rt::CompiledStep> compiled;  // kJit
  std::vector<std::string> trace;  // a line per pass that ran, e.g. "verify-ir: ok, 14 values"
};

struct Options {
  Pass stop_after = Pass::kJit;
  jit::JitCompiler* jit = nullptr;  // needed by kOptimize and kJit
  lowering::LowerOptions lower;     // e.g. conv outputs every entry copies out (taps)
  // Sweep fusion (compiler/lowering/fuse_points.h): more than 1 compiles one step that
  // trains this many points of the graph at once; point k reads the batch of input class
  // fuse_input_classes[k] (lowering::fusePoints; empty: all read one batch).
  int fuse_points = 1;
  std::vector<int> fuse_input_classes;
  // The entry points kJit compiles; the compiled step's others are null.
  codegen::EntrySet entries = codegen::EntrySet::all();
};

// Runs the passes in order on one sweep point's configuration at `batch` rows per step.
std::variant<Artifacts, PipelineError> runPasses(const sema::TrainConfig& config, int64_t batch,
                                                 const Options& options);

// What `--emit=NAME` prints for the pass the artifacts stopped after.
std::string printArtifacts(const Artifacts& artifacts, Pass pass);

// What the trainer needs of a lowered step besides compiled code (sizes, inits, L1/L2
// factors, optimizer numbers, schedule, moving statistics).
rt::CompiledModel trainableModel(const lowering::LoweredStep& step);

// The library's entry: compiles a checked sweep point into a trainable model for
// `fit_count` training samples: the step for full batches (the entry points `entries`: by
// default its train step and the forward that evaluates) and, when fit_count does not
// divide into them, one for the last partial batch (its train step). Compiled steps are
// cached by the JIT.
std::variant<rt::CompiledModel, PipelineError> compileTrainable(
    const sema::TrainConfig& config, int64_t fit_count, jit::JitCompiler& jit,
    codegen::EntrySet entries = {codegen::EntryPoint::Forward, codegen::EntryPoint::TrainStep});

// Sweep fusion: the step that trains input_classes.size() points of `config`'s graph at
// `batch` rows at once (each point's numbers set at run time:
// StepRunner::trainStepPoints), point k reading the batch of its input class
// (lowering::fusePoints): the points of one class read one batch. Cached by the JIT like
// any step. A run calls only its train step; `entries` adds others (tests).
std::variant<std::shared_ptr<const rt::CompiledStep>, PipelineError> compileFusedStep(
    const sema::TrainConfig& config, int64_t batch, const std::vector<int>& input_classes, jit::JitCompiler& jit,
    codegen::EntrySet entries = {codegen::EntryPoint::TrainStep});

}  // namespace nnspec::pipeline
