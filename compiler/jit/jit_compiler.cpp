#include "compiler/jit/jit_compiler.h"

#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/ADT/STLExtras.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/TargetParser/Host.h>

#include "compiler/codegen/emit_llvm.h"
#include "compiler/jit/codegen_identity.h"
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
  std::unique_ptr<ObjectCache> disk_cache;  // null when off
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

// Prepares a generated module for the host: its data layout, triple, CPU and features.
void prepareModule(const JitCompiler::Engine& engine, llvm::Module& module) {
  module.setDataLayout(engine.lljit->getDataLayout());
  module.setTargetTriple(engine.lljit->getTargetTriple().str());
  for (llvm::Function& function : module) {
    if (function.isDeclaration()) continue;
    function.addFnAttr("target-cpu", engine.target_machine->getTargetCPU());
    function.addFnAttr("target-features", engine.target_machine->getTargetFeatureString());
  }
}

// The generated module, prepared for the host and run through the optimization pipeline.
// The pipeline's last passes, in order: emit LLVM, optimize (here), then JIT (compile).
llvm::Expected<codegen::EmittedStep> optimizedModule(JitCompiler::Engine& engine,
                                                     const transforms::GradientGraph& gradient_graph,
                                                     const codegen::StepPlan& plan,
                                                     llvm::LLVMContext& context) {
  auto emitted = codegen::emitLlvm(gradient_graph, plan, context);
  if (!emitted) return emitted.takeError();
  prepareModule(engine, *emitted->module);
  optimizeModule(*emitted->module, *engine.target_machine, engine.opt_level);
  return emitted;
}

using Clock = std::chrono::steady_clock;

double secondsBetween(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

// The disk cache's key: the graph signature, the target, the optimization level, and the
// compiler that made the object (nnspec and LLVM versions, and the hash of the code
// generator's sources, so a development build never loads another code generator's
// objects).
ObjectKey objectKeyOf(const JitCompiler::Engine& engine, std::string signature, codegen::EntrySet entries) {
  const llvm::TargetMachine& machine = *engine.target_machine;
  ObjectKey key;
  key.signature = std::move(signature);
  key.triple = machine.getTargetTriple().str();
  key.cpu = machine.getTargetCPU().str();
  key.features = machine.getTargetFeatureString().str();
  key.opt_level = engine.opt_level;
  key.nnspec_version = NNSPEC_VERSION_TEXT;
  key.llvm_version = LLVM_VERSION_STRING;
  key.codegen_identity = codegenIdentity();
  key.entries = entries.text();
  return key;
}

// A copy of the engine's target machine for one compile thread: threads compiling at
// once may not share one.
std::unique_ptr<llvm::TargetMachine> copyTargetMachine(const llvm::TargetMachine& machine) {
  return std::unique_ptr<llvm::TargetMachine>(machine.getTarget().createTargetMachine(
      machine.getTargetTriple().str(), machine.getTargetCPU(), machine.getTargetFeatureString(), machine.Options,
      machine.getRelocationModel(), machine.getCodeModel(), machine.getOptLevel(), /*JIT=*/true));
}

// One entry point compiled to an object file, with the time of each phase.
struct CompiledEntry {
  std::string object;
  std::string error;
  double emit_seconds = 0;
  double optimize_seconds = 0;
  double codegen_seconds = 0;
};

// Emits the step in a context of its own, keeps only `entry`'s function, optimizes it and
// compiles it to an object file in memory (as LLJIT's compile layer would, but keeping
// the bytes for the disk cache). The entry points share nothing but declarations and
// constants, so each compiles alone, on a thread of its own.
CompiledEntry compileEntry(const JitCompiler::Engine& engine, const transforms::GradientGraph& gradient_graph,
                           const codegen::StepPlan& plan, codegen::EntryPoint entry) {
  CompiledEntry result;
  const auto emit_start = Clock::now();
  const std::unique_ptr<llvm::TargetMachine> machine = copyTargetMachine(*engine.target_machine);
  llvm::LLVMContext context;
  auto emitted = codegen::emitLlvm(gradient_graph, plan, context);
  if (!emitted) {
    result.error = llvm::toString(emitted.takeError());
    return result;
  }
  llvm::Module& module = *emitted->module;
  const std::string symbol = codegen::entrySymbol(entry);
  for (llvm::Function& function : module) {
    // The other entry points go; the module's own helpers (the vector math) stay, to be
    // inlined where used and dropped where not.
    if (!function.isDeclaration() && !function.hasLocalLinkage() && function.getName() != symbol) function.deleteBody();
  }
  for (llvm::GlobalVariable& global : llvm::make_early_inc_range(module.globals())) {
    if (global.hasLocalLinkage() && global.use_empty()) global.eraseFromParent();
  }
  prepareModule(engine, module);
  const auto optimize_start = Clock::now();
  optimizeModule(module, *machine, engine.opt_level);
  const auto codegen_start = Clock::now();
  llvm::SmallVector<char, 0> bytes;
  llvm::raw_svector_ostream stream(bytes);
  llvm::legacy::PassManager passes;
  llvm::MCContext* machine_code = nullptr;
  if (machine->addPassesToEmitMC(passes, machine_code, stream)) {
    result.error = "the target cannot emit object files";
    return result;
  }
  passes.run(module);
  const auto end = Clock::now();
  result.object.assign(bytes.data(), bytes.size());
  result.emit_seconds = secondsBetween(emit_start, optimize_start);
  result.optimize_seconds = secondsBetween(optimize_start, codegen_start);
  result.codegen_seconds = secondsBetween(codegen_start, end);
  return result;
}

// The phases' times of the compilations, summed over the entry points' threads.
struct PhaseSeconds {
  double emit = 0;
  double optimize = 0;
  double codegen = 0;
};

// The step's entry points in `entries` compiled at once, one thread each: an object file
// per entry point, in kEntryPoints order.
llvm::Expected<std::vector<std::string>> compileObjects(const JitCompiler::Engine& engine,
                                                        const transforms::GradientGraph& gradient_graph,
                                                        const codegen::StepPlan& plan, codegen::EntrySet entries,
                                                        PhaseSeconds& phases) {
  std::vector<codegen::EntryPoint> wanted;
  for (codegen::EntryPoint entry : codegen::kEntryPoints)
    if (entries.contains(entry)) wanted.push_back(entry);
  std::vector<CompiledEntry> compiled(wanted.size());
  std::vector<std::thread> threads;
  for (size_t index = 1; index < wanted.size(); ++index) {
    threads.emplace_back([&, index] { compiled[index] = compileEntry(engine, gradient_graph, plan, wanted[index]); });
  }
  if (!wanted.empty()) compiled[0] = compileEntry(engine, gradient_graph, plan, wanted[0]);
  for (std::thread& thread : threads) thread.join();
  std::vector<std::string> objects;
  for (CompiledEntry& entry : compiled) {
    if (!entry.error.empty()) return llvm::createStringError(llvm::inconvertibleErrorCode(), entry.error);
    phases.emit += entry.emit_seconds;
    phases.optimize += entry.optimize_seconds;
    phases.codegen += entry.codegen_seconds;
    objects.push_back(std::move(entry.object));
  }
  return objects;
}

// The disk cache's payload: the object files, each after its size (u64, native order).
std::string packObjects(const std::vector<std::string>& objects) {
  std::string packed;
  for (const std::string& object : objects) {
    const uint64_t size = object.size();
    packed.append(reinterpret_cast<const char*>(&size), sizeof(size));
    packed.append(object);
  }
  return packed;
}

// The object files of a payload; nothing when it does not split into whole objects.
std::optional<std::vector<std::string>> unpackObjects(const std::string& packed) {
  std::vector<std::string> objects;
  size_t offset = 0;
  while (offset < packed.size()) {
    uint64_t size = 0;
    if (packed.size() - offset < sizeof(size)) return std::nullopt;
    std::memcpy(&size, packed.data() + offset, sizeof(size));
    offset += sizeof(size);
    if (packed.size() - offset < size) return std::nullopt;
    objects.push_back(packed.substr(offset, size));
    offset += size;
  }
  return objects;
}

// Links a step's objects (of the entry points in `entries`, in kEntryPoints order) into a
// JITDylib of its own (entry symbols never clash), with exactly the runtime symbols of the
// explicit map visible to it, and sets those entry points of `step`. The caller holds the
// JIT's mutex (next_dylib).
llvm::Error linkEntries(JitCompiler::Engine& engine, const std::vector<std::string>& objects, codegen::EntrySet entries,
                        rt::CompiledStep& step) {
  llvm::orc::LLJIT& lljit = *engine.lljit;
  auto dylib = lljit.createJITDylib("nnspec_step_" + std::to_string(engine.next_dylib++));
  if (!dylib) return dylib.takeError();
  llvm::orc::SymbolMap symbols;
  for (const RuntimeSymbol& symbol : runtimeSymbols())
    symbols[lljit.mangleAndIntern(symbol.name)] = llvm::orc::ExecutorSymbolDef(
        llvm::orc::ExecutorAddr(symbol.address), llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
  if (llvm::Error error = dylib->define(llvm::orc::absoluteSymbols(std::move(symbols)))) return error;
  for (const std::string& object : objects) {
    if (llvm::Error error = lljit.addObjectFile(*dylib, llvm::MemoryBuffer::getMemBufferCopy(object, dylib->getName())))
      return error;
  }
  NnspecStepFn* pointers[] = {&step.forward, &step.gradients, &step.train_step};
  for (size_t entry_idx = 0; entry_idx < codegen::kEntryPoints.size(); ++entry_idx) {
    if (!entries.contains(codegen::kEntryPoints[entry_idx])) continue;
    auto address = lljit.lookup(*dylib, codegen::entrySymbol(codegen::kEntryPoints[entry_idx]));
    if (!address) return address.takeError();
    *pointers[entry_idx] = address->toPtr<NnspecStepFn>();
  }
  return llvm::Error::success();
}

// How many entry points `entries` holds.
size_t entryCount(codegen::EntrySet entries) {
  size_t count = 0;
  for (codegen::EntryPoint entry : codegen::kEntryPoints) count += entries.contains(entry) ? 1 : 0;
  return count;
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
  engine->disk_cache = ObjectCache::open(options.disk_cache);
  return std::make_unique<JitCompiler>(std::move(engine));
}

std::string JitCompiler::hostCpu() const { return engine_->cpu; }

int JitCompiler::compilationCount() const {
  std::lock_guard lock(mutex_);
  return compilation_count_;
}

Expected<std::shared_ptr<const rt::CompiledStep>> JitCompiler::compile(
    const transforms::GradientGraph& gradient_graph, const codegen::StepConfig& config, codegen::EntrySet entries) {
  codegen::StepPlan plan;
  try {
    plan = codegen::planStep(gradient_graph, config);
  } catch (const std::exception& error) {
    return JitError{std::string("jit: codegen: ") + error.what()};
  }
  return compilePlan(gradient_graph, plan, entries);
}

Expected<std::shared_ptr<const rt::CompiledStep>> JitCompiler::compilePlan(
    const transforms::GradientGraph& gradient_graph, const codegen::StepPlan& plan, codegen::EntrySet entries) {
  std::string signature = codegen::stepSignature(gradient_graph, plan.config);
  std::shared_ptr<std::mutex> signature_mutex;
  {
    std::lock_guard lock(mutex_);
    if (auto cached = cache_.find(signature); cached != cache_.end() && cached->second.entries.containsAll(entries))
      return cached->second.step;
    std::shared_ptr<std::mutex>& slot = compiling_[signature];
    if (!slot) slot = std::make_shared<std::mutex>();
    signature_mutex = slot;
  }
  // One compilation of a signature at a time; other signatures compile meanwhile.
  std::lock_guard signature_lock(*signature_mutex);
  std::shared_ptr<const rt::CompiledStep> previous;
  codegen::EntrySet have;
  {
    std::lock_guard lock(mutex_);
    if (auto cached = cache_.find(signature); cached != cache_.end()) {
      if (cached->second.entries.containsAll(entries)) return cached->second.step;
      previous = cached->second.step;
      have = cached->second.entries;
    }
  }
  const codegen::EntrySet missing = entries.without(have);
  const auto start = Clock::now();
  ObjectCache* disk_cache = engine_->disk_cache.get();
  const std::string key = disk_cache != nullptr ? objectKeyOf(*engine_, signature, missing).text() : std::string();
  std::optional<std::vector<std::string>> objects;
  if (disk_cache != nullptr) {
    std::lock_guard lock(mutex_);  // the disk cache is not thread-safe
    if (const std::optional<std::string> payload = disk_cache->load(key)) {
      objects = unpackObjects(*payload);
      if (objects && objects->size() != entryCount(missing)) objects.reset();
    }
  }
  // The step with its earlier entry points and the new ones.
  auto step = std::make_shared<rt::CompiledStep>();
  if (previous) *step = *previous;
  step->layout = plan.layout;
  step->code_owner = engine_;
  bool loaded = objects.has_value();
  auto link_start = Clock::now();
  if (loaded) {
    std::lock_guard lock(mutex_);
    // An entry that passed its checks but does not link (which a matching key rules out)
    // is compiled again like a damaged one, and replaced.
    if (llvm::Error error = linkEntries(*engine_, *objects, missing, *step)) {
      llvm::consumeError(std::move(error));
      loaded = false;
    }
  }
  PhaseSeconds phases;
  if (!loaded) {
    auto compiled = compileObjects(*engine_, gradient_graph, plan, missing, phases);  // without the JIT's mutex
    if (!compiled) return toJitError(compiled.takeError(), "jit");
    objects = std::move(*compiled);
    std::lock_guard lock(mutex_);
    if (disk_cache != nullptr) disk_cache->store(key, packObjects(*objects));
    link_start = Clock::now();
    if (llvm::Error error = linkEntries(*engine_, *objects, missing, *step)) return toJitError(std::move(error), "jit");
  }
  const auto end = Clock::now();
  std::lock_guard lock(mutex_);
  stats_.link_seconds += secondsBetween(link_start, end);
  stats_.emit_seconds += phases.emit;
  stats_.optimize_seconds += phases.optimize;
  stats_.codegen_seconds += phases.codegen;
  if (loaded) {
    ++stats_.loaded;
    stats_.load_seconds += secondsBetween(start, end);
  } else {
    ++stats_.compiled;
    stats_.compile_seconds += secondsBetween(start, end);
  }
  ++compilation_count_;
  cache_[signature] = Cached{step, have | missing};
  return std::shared_ptr<const rt::CompiledStep>(step);
}

ObjectKey JitCompiler::objectKey(const transforms::GradientGraph& gradient_graph, const codegen::StepConfig& config,
                                 codegen::EntrySet entries) const {
  std::lock_guard lock(mutex_);
  return objectKeyOf(*engine_, codegen::stepSignature(gradient_graph, config), entries);
}

JitStats JitCompiler::stats() const {
  std::lock_guard lock(mutex_);
  JitStats stats = stats_;
  if (engine_->disk_cache) stats.disk = engine_->disk_cache->counters();
  return stats;
}

std::string JitCompiler::diskCacheDirectory() const {
  std::lock_guard lock(mutex_);
  return engine_->disk_cache ? engine_->disk_cache->directory().string() : std::string();
}

}  // namespace nnspec::jit
