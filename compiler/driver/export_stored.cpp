#include "compiler/driver/export_stored.h"

#include "runtime/store/store_url.h"

#include <cctype>

#include <fmt/format.h>

#include "compiler/aot/aot_compiler.h"
#include "compiler/driver/export_model.h"
#include "compiler/driver/export_object.h"

namespace nnspec::driver {
namespace {

Outcome failure(int code, std::string message) { return Outcome{code, "", std::move(message)}; }

// A C identifier from the model's name: "lenet-5" -> "lenet_5".
std::string cPrefix(const std::string& name) {
  std::string prefix;
  for (char c : name) prefix += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (prefix.empty() || std::isdigit(static_cast<unsigned char>(prefix[0]))) prefix = "model_" + prefix;
  return prefix;
}

Outcome writeObject(const StoredExportRequest& request, const StoredModel& model,
                    const std::vector<rt::StoredTensor>& tensors) {
  const sema::TrainConfig& config = model.point.config;
  ExportObjectOptions options;
  options.cpu = request.cpu;
  options.input_notes = aot::inputTransforms(*model.spec, config);
  const std::string prefix = request.prefix.empty() ? cPrefix(config.model.name) : request.prefix;
  auto exported = exportObject(config, tensors, prefix, request.output_path, options);
  if (const auto* error = std::get_if<ExportObjectError>(&exported)) {
    return failure(error->exit_code, fmt::format("{}: {}\n", error->exit_code == 3 ? "internal error" : "error",
                                                 error->message));
  }
  const auto& done = std::get<ExportedObject>(exported);
  return Outcome{0, fmt::format("{}: wrote {} and {}\n", model.description, done.paths.object, done.paths.header), ""};
}

}  // namespace

std::optional<StoredModelFormat> storedModelFormatNamed(const std::string& name) {
  if (name == "onnx") return StoredModelFormat::kOnnx;
  if (name == "npz") return StoredModelFormat::kNpz;
  if (name == "object") return StoredModelFormat::kObject;
  return std::nullopt;
}

Outcome exportStoredModel(const StoredExportRequest& request) {
  auto loaded = loadStoredModel(request.store_path, request.selector, request.data_paths);
  if (const auto* problem = std::get_if<LoadFailure>(&loaded)) return failure(problem->exit_code, problem->message);
  const StoredModel& model = std::get<StoredModel>(loaded);
  if (model.trials.size() != 1) {
    std::string ids;
    for (const auto& trial : model.trials) ids += fmt::format("{}{}", ids.empty() ? "" : ", ", trial.id);
    return failure(2, fmt::format("error: {} is an ensemble of {} models; a file holds one\n"
                                  "hint: export one member with --trial N (one of {})\n",
                                  model.description, model.trials.size(), ids));
  }
  auto store = rt::Store::openForReading(request.store_path);
  if (!store.ok()) {
    return failure(2, fmt::format("error: store '{}': {}\n", rt::redactStoreUrl(request.store_path),
                                  store.error().message));
  }
  auto tensors = store.value().readTensors(rt::TrialHandle{model.trials[0].id});
  if (!tensors.ok()) {
    return failure(2, fmt::format("error: store '{}': {}\n", rt::redactStoreUrl(request.store_path),
                                  tensors.error().message));
  }
  if (request.format == StoredModelFormat::kObject) return writeObject(request, model, tensors.value());
  const ModelFormat format = request.format == StoredModelFormat::kOnnx ? ModelFormat::kOnnx : ModelFormat::kNpz;
  Outcome outcome = exportModel(model.point.config, tensors.value(), format, request.output_path);
  if (outcome.exit_code == 0) outcome.out = model.description + ": " + outcome.out;
  return outcome;
}

}  // namespace nnspec::driver
