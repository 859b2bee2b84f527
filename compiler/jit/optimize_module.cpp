#include "compiler/jit/optimize_module.h"

#include <llvm/Passes/PassBuilder.h>
#include <llvm/Transforms/IPO/AlwaysInliner.h>
#include <llvm/Transforms/IPO/GlobalDCE.h>
#include <llvm/Transforms/InstCombine/InstCombine.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/LICM.h>
#include <llvm/Transforms/Scalar/LoopPassManager.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>
#include <llvm/Transforms/Vectorize/LoopVectorize.h>

namespace nnspec::jit {
namespace {

// The step pipeline (opt levels 2 and 3). Generated steps are already in the shape O3
// would bring them to: no calls to inline but the vector math (compiler/codegen/
// vector_math.h: always-inline functions, inlined first so their loops vectorize), no allocas, loops with constant bounds in
// canonical form, alias scopes on every access. What they need is vectorization of the
// fused loops (the GEMMs and convolutions run in the runtime kernels), with the clean-up
// around it. LLVM's O3 pipeline (~60 passes) vectorized the same loops of the MLP and
// LeNet-5 steps (the same loss after an epoch, the same samples/s) in about 2.5x the time.
llvm::ModulePassManager stepPipeline() {
  llvm::FunctionPassManager passes;
  passes.addPass(llvm::SimplifyCFGPass());  // the blocks between a kernel call and its loop
  passes.addPass(llvm::EarlyCSEPass());     // index arithmetic shared by the fused ops
  passes.addPass(llvm::InstCombinePass());
  // Keeps an accumulator in a register across its loop (a reduction into memory would
  // not vectorize: the vectorizer sees a dependence through the stored sum).
  passes.addPass(llvm::createFunctionToLoopPassAdaptor(llvm::LICMPass(llvm::LICMOptions()), /*UseMemorySSA=*/true));
  // The loops stream memory: vector width is what matters, and interleaving them only
  // multiplies the code the backend must select and schedule.
  passes.addPass(llvm::LoopVectorizePass(llvm::LoopVectorizeOptions(/*InterleaveOnlyWhenForced=*/true,
                                                                    /*VectorizeOnlyWhenForced=*/false)));
  passes.addPass(llvm::SimplifyCFGPass());
  passes.addPass(llvm::InstCombinePass());  // the vector loops' prologues and epilogues
  llvm::ModulePassManager module_passes;
  module_passes.addPass(llvm::AlwaysInlinerPass());
  module_passes.addPass(llvm::GlobalDCEPass());  // the math functions, once inlined
  module_passes.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(passes)));
  return module_passes;
}

}  // namespace

void optimizeModule(llvm::Module& module, llvm::TargetMachine& target_machine, int opt_level) {
  llvm::LoopAnalysisManager loop_analyses;
  llvm::FunctionAnalysisManager function_analyses;
  llvm::CGSCCAnalysisManager cgscc_analyses;
  llvm::ModuleAnalysisManager module_analyses;
  llvm::PipelineTuningOptions tuning;  // for O1 (O2 and O3 run the step pipeline)
  tuning.LoopInterleaving = false;
  tuning.LoopUnrolling = false;
  llvm::PassBuilder builder(&target_machine, tuning);
  builder.registerModuleAnalyses(module_analyses);
  builder.registerCGSCCAnalyses(cgscc_analyses);
  builder.registerFunctionAnalyses(function_analyses);
  builder.registerLoopAnalyses(loop_analyses);
  builder.crossRegisterProxies(loop_analyses, function_analyses, cgscc_analyses, module_analyses);
  llvm::ModulePassManager passes = opt_level <= 0   ? builder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0)
                                   : opt_level == 1 ? builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O1)
                                                    : stepPipeline();
  passes.run(module, module_analyses);
}

}  // namespace nnspec::jit
