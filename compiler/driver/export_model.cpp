#include "compiler/driver/export_model.h"

#include <fmt/format.h>

#include "compiler/export/npz_writer.h"
#include "compiler/export/onnx_export.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/report/html_report.h"

namespace nnspec::driver {
namespace {

Outcome failure(int code, const std::string& text) { return Outcome{code, "", text}; }

std::string modelName(const sema::TrainConfig& config) {
  return config.train.empty() ? config.model.name : fmt::format("{}_{}", config.train, config.model.name);
}

std::vector<exporting::NamedTensor> namedTensors(const std::vector<rt::StoredTensor>& tensors) {
  std::vector<exporting::NamedTensor> named;
  named.reserve(tensors.size());
  for (const rt::StoredTensor& tensor : tensors) named.push_back({tensor.name, tensor.shape, tensor.values});
  return named;
}

std::variant<std::string, Outcome> onnxBytes(const sema::TrainConfig& config,
                                             const std::vector<exporting::NamedTensor>& tensors) {
  pipeline::Options options;
  options.stop_after = pipeline::Pass::kVerifyLowered;
  auto passes = pipeline::runPasses(config, config.batch, options);
  if (const auto* error = std::get_if<pipeline::PipelineError>(&passes)) {
    const std::string prefix = error->internal ? "internal error" : "error";
    return failure(error->internal ? 3 : 2, fmt::format("{}: cannot export model '{}': {}\n", prefix,
                                                        config.model.name, error->message));
  }
  const lowering::LoweredStep& step = std::get<pipeline::Artifacts>(passes).step;
  exporting::OnnxSource source{&step.forward, step.prediction, step.classification, modelName(config)};
  auto bytes = exporting::exportOnnx(source, tensors);
  if (auto* error = std::get_if<exporting::ExportError>(&bytes)) {
    return failure(2, fmt::format("error: cannot export model '{}' as ONNX: {}\n", config.model.name, error->message));
  }
  return std::get<std::string>(std::move(bytes));
}

}  // namespace

std::optional<ModelFormat> modelFormatNamed(std::string_view name) {
  if (name == "onnx") return ModelFormat::kOnnx;
  if (name == "npz") return ModelFormat::kNpz;
  return std::nullopt;
}

std::variant<std::string, Outcome> modelBytes(const sema::TrainConfig& config,
                                              const std::vector<rt::StoredTensor>& tensors, ModelFormat format) {
  if (tensors.empty()) {
    return failure(2, fmt::format("error: model '{}' has no stored tensors\nhint: export a finished trial of a run "
                                  "that kept its model\n",
                                  config.model.name));
  }
  const std::vector<exporting::NamedTensor> named = namedTensors(tensors);
  if (format == ModelFormat::kOnnx) return onnxBytes(config, named);
  auto bytes = exporting::npzBytes(named);
  if (auto* error = std::get_if<exporting::ExportError>(&bytes)) {
    return failure(2, fmt::format("error: cannot export model '{}' as npz: {}\n", config.model.name, error->message));
  }
  return std::get<std::string>(std::move(bytes));
}

Outcome exportModel(const sema::TrainConfig& config, const std::vector<rt::StoredTensor>& tensors, ModelFormat format,
                    const std::string& output_path) {
  auto bytes = modelBytes(config, tensors, format);
  if (auto* outcome = std::get_if<Outcome>(&bytes)) return std::move(*outcome);
  const std::string& data = std::get<std::string>(bytes);
  auto written = rt::writeTextFile(output_path, data);
  if (!written.ok()) {
    const rt::StoreError& error = written.error();
    return failure(2, fmt::format("error: '{}': {}\n{}", error.path, error.message,
                                  error.hint.empty() ? "" : "hint: " + error.hint + "\n"));
  }
  Outcome outcome;
  outcome.out = fmt::format("{} model '{}' ({} tensors, {} bytes): {}\n", format == ModelFormat::kOnnx ? "onnx" : "npz",
                            config.model.name, tensors.size(), data.size(), output_path);
  return outcome;
}

}  // namespace nnspec::driver
