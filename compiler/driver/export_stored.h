#pragma once
// `nnspec export STORE --model [--trial N | --best [SWEEP]] --format onnx|npz|object -o PATH`:
// a model kept in a store, out of nnspec. The trial is found and its spec checked again as
// `predict` does (compiler/driver/stored_model.h); then exportModel (ONNX, npz) or
// exportObject (an ahead-of-time compiled object with a C header) writes it.

#include <optional>
#include <string>

#include "compiler/driver/driver.h"
#include "compiler/driver/stored_model.h"

namespace nnspec::driver {

enum class StoredModelFormat { kOnnx, kNpz, kObject };

// "onnx", "npz" or "object"; nullopt for another name.
std::optional<StoredModelFormat> storedModelFormatNamed(const std::string& name);

struct StoredExportRequest {
  std::string store_path;
  ModelSelector selector;
  StoredModelFormat format = StoredModelFormat::kOnnx;
  std::string output_path;  // object: a folder, or the object's path ending in ".o"
  std::string prefix;       // object: the C names' prefix ("" = the model's name)
  std::string cpu;          // object: "" the portable x86-64 baseline, "host", or a CPU name
  rt::DataPaths data_paths;
};

// Exit code 0, or 2 when the store, the selection, the path or the model is wrong (an
// ensemble is several models: export one member with --trial), 3 for a compiler bug.
Outcome exportStoredModel(const StoredExportRequest& request);

}  // namespace nnspec::driver
