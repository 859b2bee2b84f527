#pragma once
// The C header that goes with an ahead-of-time compiled model object: the exported
// functions, the sizes as macros, and a comment block that says what the input and output
// arrays hold. Plain text; no LLVM.

#include <cstdint>
#include <string>
#include <vector>

namespace nnspec::aot {

struct ModelInterface {
  std::string prefix;      // C identifier: the functions are <prefix>_predict, ...
  std::string model_name;  // the spec's model
  std::string object_name; // the object file's name, for the comment ("lenet.o")
  std::vector<int64_t> input_shape;  // one sample, as the spec's `input` (channels last)
  int64_t input_size = 0;   // floats per sample
  int64_t output_size = 0;  // floats per output row
  int64_t classes = 0;      // 0 for a regression model
  int64_t batch = 0;        // samples per compiled forward call
  int64_t workspace_bytes = 0;
  std::string triple;
  std::string cpu;
  std::vector<std::string> input_notes;  // the spec's data transforms, e.g. "scale(0.00392157)"
  std::vector<std::string> layers;       // "conv2d(6, 5, relu)  [32, 32, 1] -> [28, 28, 6]"
};

// "lenet" -> "LENET"; the macro prefix.
std::string macroPrefix(const std::string& prefix);

// Whether `prefix` is a C identifier (letters, digits, '_', not starting with a digit).
bool isCIdentifier(const std::string& prefix);

std::string renderHeader(const ModelInterface& model);

}  // namespace nnspec::aot
