#include "compiler/driver/export_object.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace nnspec::driver {
namespace {

bool endsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "" or the error of writing `bytes` to `path`.
std::string writeFile(const std::string& path, const char* bytes, size_t size) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (file) file.write(bytes, static_cast<std::streamsize>(size));
  if (file) file.close();
  if (!file) return "cannot write '" + path + "': " + std::strerror(errno);
  return "";
}

std::vector<aot::TensorView> viewsOf(const std::vector<rt::StoredTensor>& tensors) {
  std::vector<aot::TensorView> views;
  for (const rt::StoredTensor& tensor : tensors) views.push_back({tensor.name, tensor.state, tensor.shape, tensor.values});
  return views;
}

}  // namespace

ObjectPaths objectPaths(const std::string& out, const std::string& prefix) {
  if (endsWith(out, ".o")) return {out, out.substr(0, out.size() - 2) + ".h"};
  const std::filesystem::path directory(out.empty() ? "." : out);
  return {(directory / (prefix + ".o")).string(), (directory / (prefix + ".h")).string()};
}

std::variant<ExportedObject, ExportObjectError> exportObject(const sema::TrainConfig& config,
                                                            const std::vector<rt::StoredTensor>& tensors,
                                                            const std::string& prefix, const std::string& out,
                                                            const ExportObjectOptions& options) {
  ObjectPaths paths = objectPaths(out, prefix);
  aot::AotOptions aot_options;
  aot_options.cpu = options.cpu;
  aot_options.triple = options.triple;
  aot_options.batch = options.batch;
  aot_options.input_notes = options.input_notes;
  aot_options.object_name = std::filesystem::path(paths.object).filename().string();
  const std::vector<aot::TensorView> views = viewsOf(tensors);
  auto compiled = aot::compileObject(config, views, prefix, aot_options);
  if (auto* error = std::get_if<aot::AotError>(&compiled))
    return ExportObjectError{error->internal ? 3 : 2, error->message};
  const aot::AotObject& object = std::get<aot::AotObject>(compiled);
  if (std::string error = writeFile(paths.object, object.object.data(), object.object.size()); !error.empty())
    return ExportObjectError{2, error};
  if (std::string error = writeFile(paths.header, object.header.data(), object.header.size()); !error.empty())
    return ExportObjectError{2, error};
  return ExportedObject{paths, object.interface};
}

}  // namespace nnspec::driver
