#include "compiler/aot/aot_compiler.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Linker/Linker.h>
#include <llvm/Support/raw_ostream.h>

#include "compiler/aot/object_emitter.h"
#include "compiler/aot/portable_kernels.h"
#include "compiler/aot/predict_entry.h"
#include "compiler/codegen/emit_llvm.h"
#include "compiler/pipeline/pipeline.h"

#include "runtime/pipeline/transforms.h"

namespace nnspec::aot {
namespace {

std::string shapeText(std::span<const int64_t> shape) {
  std::string text = "f32[";
  for (size_t dim = 0; dim < shape.size(); ++dim) text += (dim > 0 ? "," : "") + std::to_string(shape[dim]);
  return text + "]";
}

// The passes up to the step plan (no JIT) at `batch` rows.
std::variant<pipeline::Artifacts, AotError> planForward(const sema::TrainConfig& config, int64_t batch) {
  pipeline::Options options;
  options.stop_after = pipeline::Pass::kPlanStep;
  auto passes = pipeline::runPasses(config, batch, options);
  if (auto* error = std::get_if<pipeline::PipelineError>(&passes)) return AotError{error->internal, error->message};
  return std::get<pipeline::Artifacts>(std::move(passes));
}

std::string forwardName(int64_t batch) { return "nnspec_forward_b" + std::to_string(batch); }

// The step's module with only its forward entry, renamed for its batch size (left
// external until the modules are linked: the linker drops unreferenced internal code).
llvm::Expected<std::unique_ptr<llvm::Module>> forwardModule(const pipeline::Artifacts& artifacts,
                                                            llvm::LLVMContext& context) {
  auto emitted = codegen::emitLlvm(artifacts.step.graph, artifacts.plan, context);
  if (!emitted) return emitted.takeError();
  std::unique_ptr<llvm::Module> module = std::move(emitted->module);
  for (codegen::EntryPoint entry : {codegen::EntryPoint::Gradients, codegen::EntryPoint::TrainStep})
    if (llvm::Function* function = module->getFunction(codegen::entrySymbol(entry))) function->eraseFromParent();
  llvm::Function* forward = module->getFunction(codegen::entrySymbol(codegen::EntryPoint::Forward));
  if (forward == nullptr)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "aot: the step has no forward entry");
  forward->setName(forwardName(artifacts.step.batch));
  std::vector<llvm::Function*> unused;
  for (llvm::Function& function : *module)
    if (function.isDeclaration() && function.use_empty()) unused.push_back(&function);
  for (llvm::Function* function : unused) function->eraseFromParent();
  return module;
}

ForwardEntry forwardEntry(const pipeline::Artifacts& artifacts) {
  ForwardEntry entry;
  entry.batch = artifacts.step.batch;
  entry.workspace_floats = artifacts.plan.functions[0].workspace_floats;
  entry.layout = artifacts.plan.layout;
  return entry;
}

// The values of `slots` (parameters or state leaves) among `tensors`, by name.
std::variant<std::vector<std::span<const float>>, AotError> bindTensors(const std::vector<rt::LeafSlot>& slots,
                                                                         std::span<const TensorView> tensors,
                                                                         bool state) {
  std::vector<std::span<const float>> bound;
  const char* kind = state ? "state" : "parameter";
  for (const rt::LeafSlot& slot : slots) {
    const TensorView* found = nullptr;
    for (const TensorView& tensor : tensors)
      if (tensor.name == slot.name && tensor.state == state) found = &tensor;
    if (found == nullptr)
      return AotError{false, fmt::format("the trained tensors have no {} '{}' ({}) that the model needs", kind,
                                         slot.name, shapeText(slot.type.shape))};
    const bool same_shape = std::equal(found->shape.begin(), found->shape.end(), slot.type.shape.begin(),
                                       slot.type.shape.end());
    if (!same_shape || static_cast<int64_t>(found->values.size()) != slot.type.numElements())
      return AotError{false, fmt::format("trained {} '{}' is {} with {} values; the model needs {}", kind, slot.name,
                                         shapeText(found->shape), found->values.size(), shapeText(slot.type.shape))};
    bound.push_back(found->values);
  }
  return bound;
}

std::vector<std::string> layerLines(const sema::ModelInstance& model) {
  std::vector<std::string> lines;
  for (const sema::LayerInstance& layer : model.layers) {
    std::string name = layer.kind;
    if (layer.activation != "linear" && (layer.kind == "dense" || layer.kind == "conv2d"))
      name += "(" + layer.activation + ")";
    lines.push_back(fmt::format("{:<18} {} -> {}", name, shapeText(layer.input_shape), shapeText(layer.output_shape)));
  }
  return lines;
}

AotError llvmFailure(llvm::Error error, bool internal) { return AotError{internal, llvm::toString(std::move(error))}; }

struct Planned {
  pipeline::Artifacts full;
  std::optional<pipeline::Artifacts> tail;
};

// Links the forward modules into one, internalizes the entries, and adds the kernels,
// weights and exported functions.
std::variant<std::unique_ptr<llvm::Module>, AotError> buildModule(const Planned& planned, PredictModel& model,
                                                                  llvm::TargetMachine& machine,
                                                                  llvm::LLVMContext& context) {
  auto full = forwardModule(planned.full, context);
  if (!full) return llvmFailure(full.takeError(), true);
  std::unique_ptr<llvm::Module> module = std::move(*full);
  if (planned.tail) {
    auto tail = forwardModule(*planned.tail, context);
    if (!tail) return llvmFailure(tail.takeError(), true);
    if (llvm::Linker::linkModules(*module, std::move(*tail)))
      return AotError{true, "aot: linking the batch-1 forward entry failed"};
  }
  prepareModuleFor(*module, machine);
  model.full.function = module->getFunction(forwardName(model.full.batch));
  if (model.tail) model.tail->function = module->getFunction(forwardName(model.tail->batch));
  for (ForwardEntry* entry : {&model.full, model.tail ? &*model.tail : nullptr})
    if (entry != nullptr) entry->function->setLinkage(llvm::GlobalValue::InternalLinkage);
  if (llvm::Error error = definePortableKernels(*module)) return llvmFailure(std::move(error), true);
  emitPredictEntries(*module, model);
  std::string problems;
  llvm::raw_string_ostream stream(problems);
  if (llvm::verifyModule(*module, &stream))
    return AotError{true, "aot: the generated module does not verify: " + stream.str()};
  return module;
}

ModelInterface interfaceOf(const sema::TrainConfig& config, const PredictModel& model, const llvm::TargetMachine& machine,
                           const std::string& prefix, const AotOptions& options) {
  ModelInterface interface;
  interface.prefix = prefix;
  interface.model_name = config.model.name;
  interface.object_name = options.object_name.empty() ? prefix + ".o" : options.object_name;
  interface.input_shape = config.model.input_shape;
  interface.input_size = model.features;
  interface.output_size = model.width;
  interface.classes = model.classification ? model.width : 0;
  interface.batch = model.full.batch;
  interface.workspace_bytes = workspaceBytes(model);
  interface.triple = machine.getTargetTriple().str();
  interface.cpu = machine.getTargetCPU().str();
  interface.input_notes = options.input_notes;
  interface.layers = layerLines(config.model);
  return interface;
}

}  // namespace

std::variant<AotObject, AotError> compileObject(const sema::TrainConfig& config, std::span<const TensorView> tensors,
                                                const std::string& prefix, const AotOptions& options) {
  if (!isCIdentifier(prefix))
    return AotError{false, "'" + prefix + "' is not a C identifier (letters, digits and '_', not a digit first)"};
  const int64_t batch = options.batch > 0 ? options.batch : config.batch;
  auto full = planForward(config, batch);
  if (auto* error = std::get_if<AotError>(&full)) return *error;
  Planned planned{std::get<pipeline::Artifacts>(std::move(full)), std::nullopt};
  if (batch > 1) {
    auto tail = planForward(config, 1);
    if (auto* error = std::get_if<AotError>(&tail)) return *error;
    planned.tail = std::get<pipeline::Artifacts>(std::move(tail));
  }
  PredictModel model;
  model.prefix = prefix;
  model.features = planned.full.step.features;
  model.width = planned.full.step.output_width;
  model.classification = planned.full.step.classification;
  model.full = forwardEntry(planned.full);
  if (planned.tail) model.tail = forwardEntry(*planned.tail);
  auto parameters = bindTensors(model.full.layout.parameters, tensors, false);
  if (auto* error = std::get_if<AotError>(&parameters)) return *error;
  model.parameters = std::get<0>(std::move(parameters));
  auto states = bindTensors(model.full.layout.states, tensors, true);
  if (auto* error = std::get_if<AotError>(&states)) return *error;
  model.states = std::get<0>(std::move(states));
  for (const TensorView& tensor : tensors) {
    if (tensor.name == rt::kStandardizeMeanTensor) model.standardize_mean = tensor.values;
    if (tensor.name == rt::kStandardizeStddevTensor) model.standardize_stddev = tensor.values;
  }
  if (model.standardize_mean.empty() != model.standardize_stddev.empty() ||
      (!model.standardize_mean.empty() &&
       (static_cast<int64_t>(model.standardize_mean.size()) != model.features ||
        model.standardize_stddev.size() != model.standardize_mean.size()))) {
    return AotError{false, fmt::format("the stored standardize statistics do not fit the model's {} inputs",
                                       model.features)};
  }

  auto machine = createTargetMachine({options.triple, options.cpu}, options.opt_level);
  if (!machine) return llvmFailure(machine.takeError(), false);
  llvm::LLVMContext context;
  auto module = buildModule(planned, model, **machine, context);
  if (auto* error = std::get_if<AotError>(&module)) return *error;
  auto object = emitObject(*std::get<0>(module), **machine, options.opt_level);
  if (!object) return llvmFailure(object.takeError(), true);
  AotObject result;
  result.object = std::move(*object);
  result.interface = interfaceOf(config, model, **machine, prefix, options);
  result.header = renderHeader(result.interface);
  return result;
}

std::vector<std::string> inputTransforms(const sema::CheckedSpec& spec, const sema::TrainConfig& config) {
  const sema::Split* split = spec.findSplit(config.split);
  if (split == nullptr || !split->train) return {};
  const sema::DataSet* data = spec.findData(split->train->data);
  if (data == nullptr) return {};
  std::vector<std::string> notes;
  for (const sema::Transform& transform : data->transforms) {
    if (transform.name == "standardize") {
      notes.push_back("standardize() (not yours to do: the object standardizes each sample with its training rows' "
                      "statistics)");
      continue;
    }
    std::string args;
    for (const auto& [name, value] : transform.args.values)
      args += (args.empty() ? "" : ", ") + name + ": " + sema::formatValue(value);
    notes.push_back(transform.name + "(" + args + ")");
  }
  return notes;
}

}  // namespace nnspec::aot
