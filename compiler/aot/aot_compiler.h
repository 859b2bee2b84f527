#pragma once
// Ahead-of-time compilation of a trained model's forward pass (like XLA's tfcompile): a
// relocatable object file whose only external symbols are libc/libm ones, and a C header.
//
//   lower -> differentiate -> fuse -> plan step   (compiler/pipeline, at the export's batch
//                                                  and at batch 1 for the remainder)
//   emit LLVM, keep nnspec_forward of each        (compiler/codegen)
//   portable kernels, weights, <prefix>_predict   (compiler/aot)
//   optimize and emit the object                  (LLVM TargetMachine)
//
// The forward entry evaluates as training's evaluation does: dropout is the identity and
// batch normalization reads its moving statistics (train_select's evaluation operand).
// LLVM types stay inside compiler/aot; this header has none.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "compiler/aot/c_header.h"
#include "compiler/sema/checked_spec.h"

namespace nnspec::aot {

// A trained tensor, matched by name (and kind) to the step layout's parameters and state
// leaves (runtime/store's StoredTensor and the trainer's KeptParameter both fit).
struct TensorView {
  std::string_view name;
  bool state = false;  // a state leaf (batchnorm moving statistics), not a parameter
  std::span<const int64_t> shape;
  std::span<const float> values;
};

struct AotOptions {
  std::string triple;  // "" for the host's
  // "" for the portable baseline of the architecture (x86-64: SSE2 only, runs on every
  // x86-64 CPU), "host" for this machine's CPU, else an LLVM CPU name as for -mcpu
  // ("x86-64-v3", "znver4", ...).
  std::string cpu;
  int64_t batch = 0;   // samples per compiled forward call; 0: the train config's batch
  int opt_level = 3;
  std::vector<std::string> input_notes;  // the data transforms, for the header's comment
  std::string object_name;               // for the header's comment; "" -> "<prefix>.o"
};

struct AotObject {
  std::vector<char> object;  // an ELF (or the triple's format) relocatable object
  std::string header;        // the C header
  ModelInterface interface;
};

struct AotError {
  bool internal = false;  // a compiler bug (codegen, LLVM verify), not the caller's input
  std::string message;
};

std::variant<AotObject, AotError> compileObject(const sema::TrainConfig& config, std::span<const TensorView> tensors,
                                                const std::string& prefix, const AotOptions& options);

// The spec's data transforms of the data set `config` trains on, as "scale(factor: 0.0039)".
std::vector<std::string> inputTransforms(const sema::CheckedSpec& spec, const sema::TrainConfig& config);

}  // namespace nnspec::aot
