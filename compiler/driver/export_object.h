#pragma once
// `nnspec export --format object`: a trained model as an ahead-of-time compiled object
// file and its C header (compiler/aot/aot_compiler.h), written to disk. The CLI finds the
// stored trial, reads its tensors (rt::Store::readTensors) and calls exportObject.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "compiler/aot/aot_compiler.h"
#include "compiler/sema/checked_spec.h"
#include "runtime/store/store.h"

namespace nnspec::driver {

struct ExportObjectOptions {
  std::string cpu;     // "" portable baseline (x86-64), "host", or a CPU name ("x86-64-v3", "znver4")
  std::string triple;  // "" the host's
  int64_t batch = 0;   // samples per compiled forward call; 0: the spec's batch
  // The spec's data transforms, for the header's comment: aot::inputTransforms(spec, config).
  std::vector<std::string> input_notes;
};

struct ObjectPaths {
  std::string object;  // <name>.o
  std::string header;  // <name>.h
};

// `out` is a directory (then <out>/<prefix>.o and <out>/<prefix>.h) or the object's path
// ending in ".o" (the header beside it, ".h" for ".o").
ObjectPaths objectPaths(const std::string& out, const std::string& prefix);

struct ExportedObject {
  ObjectPaths paths;
  aot::ModelInterface interface;  // sizes, classes, batch, target: for the CLI's message
};

struct ExportObjectError {
  int exit_code = 2;  // 2: bad input (prefix, CPU, tensors, unwritable path); 3: internal
  std::string message;
};

std::variant<ExportedObject, ExportObjectError> exportObject(const sema::TrainConfig& config,
                                                            const std::vector<rt::StoredTensor>& tensors,
                                                            const std::string& prefix, const std::string& out,
                                                            const ExportObjectOptions& options);

}  // namespace nnspec::driver
