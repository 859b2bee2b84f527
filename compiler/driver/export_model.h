#pragma once
// `nnspec export STORE --model [--trial N | --best] --format onnx|npz -o F`: a trained
// model out of nnspec. The CLI loads the trial's checked configuration and its stored
// tensors (compiler/driver/stored_model.h) and calls exportModel:
//   onnx  the evaluation forward graph with the weights (compiler/export/onnx_export.h)
//   npz   the named tensors, parameters and state leaves (compiler/export/npz_writer.h)

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/export/tensors.h"
#include "compiler/sema/checked_spec.h"
#include "runtime/store/store.h"

namespace nnspec::driver {

enum class ModelFormat { kOnnx, kNpz };

// "onnx" or "npz"; nullopt for another name.
std::optional<ModelFormat> modelFormatNamed(std::string_view name);

// The file's bytes, or the exit code (2: the model cannot be exported; 3: a compiler bug)
// and its error text.
std::variant<std::string, Outcome> modelBytes(const sema::TrainConfig& config,
                                              const std::vector<rt::StoredTensor>& tensors, ModelFormat format);

// Writes the trial's model to `output_path` (atomically: a temporary file renamed).
// Outcome::out says what was written; bad output paths and models the format cannot hold
// are exit code 2 with an error naming them.
Outcome exportModel(const sema::TrainConfig& config, const std::vector<rt::StoredTensor>& tensors, ModelFormat format,
                    const std::string& output_path);

}  // namespace nnspec::driver
