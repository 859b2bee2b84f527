#include "compiler/aot/object_emitter.h"

#include <llvm/IR/LegacyPassManager.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CodeGen.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

namespace nnspec::aot {
namespace {

llvm::Error failure(const std::string& message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", message.c_str());
}

std::string baselineCpu(const llvm::Triple& triple) {
  return triple.getArch() == llvm::Triple::x86_64 ? "x86-64" : "generic";
}

std::string hostFeatures() {
  std::string features;
  for (const auto& feature : llvm::sys::getHostCPUFeatures()) {
    if (!features.empty()) features += ",";
    features += (feature.second ? "+" : "-") + feature.first().str();
  }
  return features;
}

// Whether `cpu` is a processor the target knows (LLVM only warns and ignores it else).
bool knownCpu(const llvm::Target& target, const std::string& triple, const std::string& cpu) {
  std::unique_ptr<llvm::MCSubtargetInfo> info(target.createMCSubtargetInfo(triple, "", ""));
  return info != nullptr && info->isCPUStringValid(cpu);
}

llvm::CodeGenOptLevel codeGenLevel(int opt_level) {
  if (opt_level <= 0) return llvm::CodeGenOptLevel::None;
  return opt_level >= 3 ? llvm::CodeGenOptLevel::Aggressive : llvm::CodeGenOptLevel::Default;
}

void optimize(llvm::Module& module, llvm::TargetMachine& machine, int opt_level) {
  llvm::LoopAnalysisManager loop_analyses;
  llvm::FunctionAnalysisManager function_analyses;
  llvm::CGSCCAnalysisManager cgscc_analyses;
  llvm::ModuleAnalysisManager module_analyses;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(module_analyses);
  builder.registerCGSCCAnalyses(cgscc_analyses);
  builder.registerFunctionAnalyses(function_analyses);
  builder.registerLoopAnalyses(loop_analyses);
  builder.crossRegisterProxies(loop_analyses, function_analyses, cgscc_analyses, module_analyses);
  if (opt_level <= 0) {
    builder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0).run(module, module_analyses);
    return;
  }
  llvm::OptimizationLevel level = opt_level == 1   ? llvm::OptimizationLevel::O1
                                  : opt_level == 2 ? llvm::OptimizationLevel::O2
                                                   : llvm::OptimizationLevel::O3;
  builder.buildPerModuleDefaultPipeline(level).run(module, module_analyses);
}

}  // namespace

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createTargetMachine(const TargetChoice& choice, int opt_level) {
  llvm::InitializeAllTargetInfos();
  llvm::InitializeAllTargets();
  llvm::InitializeAllTargetMCs();
  llvm::InitializeAllAsmPrinters();
  const std::string triple_name =
      llvm::Triple::normalize(choice.triple.empty() ? llvm::sys::getDefaultTargetTriple() : choice.triple);
  const llvm::Triple triple(triple_name);
  std::string error;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(triple_name, error);
  if (target == nullptr) return failure("unknown target '" + triple_name + "': " + error);
  if (!triple.isArch64Bit()) return failure("target '" + triple_name + "': only 64-bit targets are supported");
  std::string cpu = choice.cpu;
  std::string features;
  if (cpu.empty()) cpu = baselineCpu(triple);
  if (cpu == "host") {
    cpu = llvm::sys::getHostCPUName().str();
    features = hostFeatures();
  } else if (!knownCpu(*target, triple_name, cpu)) {
    return failure("'" + cpu + "' is not a CPU of target '" + triple_name + "'");
  }
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple_name, cpu, features, options, llvm::Reloc::PIC_, std::nullopt, codeGenLevel(opt_level)));
  if (machine == nullptr) return failure("cannot create a target machine for '" + triple_name + "' (" + cpu + ")");
  return machine;
}

void prepareModuleFor(llvm::Module& module, llvm::TargetMachine& machine) {
  module.setTargetTriple(machine.getTargetTriple().str());
  module.setDataLayout(machine.createDataLayout());
  for (llvm::Function& function : module) {
    if (function.isDeclaration()) continue;
    function.addFnAttr("target-cpu", machine.getTargetCPU());
    function.addFnAttr("target-features", machine.getTargetFeatureString());
  }
}

llvm::Expected<std::vector<char>> emitObject(llvm::Module& module, llvm::TargetMachine& machine, int opt_level) {
  prepareModuleFor(module, machine);
  optimize(module, machine, opt_level);
  llvm::SmallVector<char, 0> bytes;
  llvm::raw_svector_ostream stream(bytes);
  llvm::legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, stream, nullptr, llvm::CodeGenFileType::ObjectFile))
    return failure("target '" + machine.getTargetTriple().str() + "' cannot emit an object file");
  passes.run(module);
  return std::vector<char>(bytes.begin(), bytes.end());
}

}  // namespace nnspec::aot
