#include "compiler/jit/jit_compiler.h"

#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/TargetParser/Host.h>

#include "compiler/codegen/emit_llvm.h"
#include "compiler/jit/cpu_target.h"
#include "compiler/jit/optimize_module.h"
#include "compiler/jit/runtime_symbols.h"

namespace nnspec::jit {

struct JitCompiler::Engine {
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::unique_ptr<llvm::TargetMachine> target_machine;  // for the optimization pipeline
  std::string cpu;
  int opt_level = 3;
  int next_dylib = 0;
};

namespace {

JitError toJitError(llvm::Error error, const std::string& stage) {
  return JitError{stage + ": " + llvm::toString(std::move(error))};
}

// The host's triple, and the CPU and features of the level the runtime kernels run at
// (cpu_target.h).
llvm::orc::JITTargetMachineBuilder hostMachineBuilder(int opt_level) {
  llvm::Triple triple(llvm::sys::getProcessTriple());
  llvm::orc::JITTargetMachineBuilder builder(triple);
  const CpuTarget target = activeCpuTarget();
  builder.setCPU(target.cpu);
  builder.addFeatures(target.features);
  builder.setCodeGenOptLevel(opt_level >= 3   ? llvm::CodeGenOptLevel::Aggressive
                             : opt_level == 0 ? llvm::CodeGenOptLevel::None
                                              : llvm::CodeGenOptLevel::Default);
  return builder;
}

// The generated module, prepared for the host and run through the optimization pipeline.
// The pipeline's last passes, in order: emit LLVM, optimize (here), then JIT (compile).
llvm::Expected<codegen::EmittedStep> optimizedModule(JitCompiler::Engine& engine,
                                                     const transforms::GradientGraph& gradient_graph,
                                                     const codegen::StepPlan& plan,
                                                     llvm::LLVMContext& context) {
  auto emitted = codegen::emitLlvm(gradient_graph, plan, context);
  if (!emitted) return emitted.takeError();
  llvm::Module& module = *emitted->module;
  module.setDataLayout(engine.lljit->getDataLayout());
  module.setTargetTriple(engine.lljit->getTargetTriple().str());
  for (llvm::Function& function : module) {
    if (function.isDeclaration()) continue;
    function.addFnAttr("target-cpu", engine.target_machine->getTargetCPU());
    function.addFnAttr("target-features", engine.target_machine->getTargetFeatureString());
  }
  optimizeModule(module, *engine.target_machine, engine.opt_level);
  return emitted;
}

}  // namespace

Expected<std::string> JitCompiler::optimizedLlvmText(
    const transforms::GradientGraph& gradient_graph, const codegen::StepPlan& plan) {
  std::lock_guard lock(mutex_);  // the target machine is shared
  llvm::LLVMContext context;
  auto emitted = optimizedModule(*engine_, gradient_graph, plan, context);
  if (!emitted) return toJitError(emitted.takeError(), "jit");
  std::string text;
  llvm::raw_string_ostream stream(text);
  emitted->module->print(stream, nullptr);
  stream.flush();
  return text;
}

JitCompiler::JitCompiler(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}
JitCompiler::~JitCompiler() = default;

Expected<std::unique_ptr<JitCompiler>> JitCompiler::create(JitOptions options) {
  if (llvm::InitializeNativeTarget() || llvm::InitializeNativeTargetAsmPrinter())
    return JitError{"jit: the host target is not available in this LLVM"};
  auto engine = std::make_unique<Engine>();
  engine->opt_level = options.opt_level;
  engine->cpu = activeCpuTarget().cpu;
  auto target_machine = hostMachineBuilder(options.opt_level).createTargetMachine();
  if (!target_machine) return toJitError(target_machine.takeError(), "jit");
  engine->target_machine = std::move(*target_machine);
  auto lljit = llvm::orc::LLJITBuilder()
                   .setJITTargetMachineBuilder(hostMachineBuilder(options.opt_level))
                   // Generated steps have no static constructors and may see only the
                   // explicit runtime symbol map, not the whole process.
                   .setLinkProcessSymbolsByDefault(false)
                   .setPlatformSetUp(llvm::orc::setUpInactivePlatform)
                   .create();
  if (!lljit) return toJitError(lljit.takeError(), "jit");
  engine->lljit = std::move(*lljit);
  return std::make_unique<JitCompiler>(std::move(engine));
}

std::string JitCompiler::hostCpu() const { return engine_->cpu; }

int JitCompiler::compilationCount() const {
  std::lock_guard lock(mutex_);
  return compilation_count_;
}

Expected<std::shared_ptr<const rt::CompiledStep>> JitCompiler::compile(
    const transforms::GradientGraph& gradient_graph, const codegen::StepConfig& config) {
  codegen::StepPlan plan;
  try {
    plan = codegen::planStep(gradient_graph, config);
  } catch (const std::exception& error) {
    return JitError{std::string("jit: codegen: ") + error.what()};
  }
  return compilePlan(gradient_graph, plan);
}

Expected<std::shared_ptr<const rt::CompiledStep>> JitCompiler::compilePlan(
    const transforms::GradientGraph& gradient_graph, const codegen::StepPlan& plan) {
  std::string signature = codegen::stepSignature(gradient_graph, plan.config);
  std::lock_guard lock(mutex_);
  if (auto cached = cache_.find(signature); cached != cache_.end()) return cached->second;

  auto context = std::make_unique<llvm::LLVMContext>();
  auto emitted = optimizedModule(*engine_, gradient_graph, plan, *context);
  if (!emitted) return toJitError(emitted.takeError(), "jit");
  llvm::orc::LLJIT& lljit = *engine_->lljit;

  // Each compiled step gets its own JITDylib, so entry symbols never clash, with exactly
  // the runtime symbols of the explicit map visible to it.
  auto dylib = lljit.createJITDylib("nnspec_step_" + std::to_string(engine_->next_dylib++));
  if (!dylib) return toJitError(dylib.takeError(), "jit");
  llvm::orc::SymbolMap symbols;
  for (const RuntimeSymbol& symbol : runtimeSymbols())
    symbols[lljit.mangleAndIntern(symbol.name)] = llvm::orc::ExecutorSymbolDef(
        llvm::orc::ExecutorAddr(symbol.address),
        llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
  if (llvm::Error error = dylib->define(llvm::orc::absoluteSymbols(std::move(symbols))))
    return toJitError(std::move(error), "jit");
  llvm::orc::ThreadSafeModule thread_safe(std::move(emitted->module), std::move(context));
  if (llvm::Error error = lljit.addIRModule(*dylib, std::move(thread_safe)))
    return toJitError(std::move(error), "jit");

  auto step = std::make_shared<rt::CompiledStep>();
  step->layout = emitted->plan.layout;
  step->code_owner = engine_;
  NnspecStepFn* entries[] = {&step->forward, &step->gradients, &step->train_step};
  for (size_t entry_idx = 0; entry_idx < codegen::kEntryPoints.size(); ++entry_idx) {
    auto address = lljit.lookup(*dylib, codegen::entrySymbol(codegen::kEntryPoints[entry_idx]));
    if (!address) return toJitError(address.takeError(), "jit");
    *entries[entry_idx] = address->toPtr<NnspecStepFn>();
  }
  ++compilation_count_;
  cache_.emplace(std::move(signature), step);
  return std::shared_ptr<const rt::CompiledStep>(step);
}

}  // namespace nnspec::jit
