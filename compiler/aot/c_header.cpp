#include "compiler/aot/c_header.h"

#include <cctype>

#include <fmt/format.h>

namespace nnspec::aot {
namespace {

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t dim = 0; dim < shape.size(); ++dim) text += (dim > 0 ? ", " : "") + std::to_string(shape[dim]);
  return text + "]";
}

std::string inputLayout(const ModelInterface& model) {
  if (model.input_shape.size() == 3) return "(height, width, channels: channels-last)";
  if (model.input_shape.size() == 2) return "(rows, columns)";
  return "";
}

std::string commentBlock(const ModelInterface& model) {
  const std::string macro = macroPrefix(model.prefix);
  std::string text = fmt::format("/* {}.h: the model '{}', compiled ahead of time by nnspec into {}.\n", model.prefix,
                                 model.model_name, model.object_name);
  text += " *\n";
  text += fmt::format(" * Link the object into a C or C++ program; it needs only libc and libm:\n");
  text += fmt::format(" *   cc app.c {} -lm\n", model.object_name);
  const bool baseline = model.cpu == "x86-64" || model.cpu == "generic";
  text += fmt::format(" * Machine code for {}, CPU '{}' ({}).\n", model.triple, model.cpu,
                      baseline ? "the architecture's baseline: runs on every such CPU"
                               : "needs a CPU with at least that CPU's instruction set extensions");
  text += " * The trained weights are constants inside the object.\n *\n";
  text += fmt::format(" * Input: n samples one after another, each {}_INPUT_SIZE = {} floats: a row-major\n", macro,
                      model.input_size);
  text += fmt::format(" *   float array of shape {} {}.\n", shapeText(model.input_shape), inputLayout(model));
  if (!model.input_notes.empty()) {
    std::string notes;
    for (const std::string& note : model.input_notes) notes += (notes.empty() ? "" : " | ") + note;
    text += fmt::format(" *   Pass the values after the spec's data transforms, as training saw them:\n *     {}\n",
                        notes);
  }
  if (model.classes > 0)
    text += fmt::format(" * Output: n rows of {}_OUTPUT_SIZE = {} floats, the probabilities of the {} classes\n"
                        " *   (softmax; the predicted class is the row's largest).\n",
                        macro, model.output_size, model.classes);
  else
    text += fmt::format(" * Output: n rows of {}_OUTPUT_SIZE = {} floats, the model's regression outputs.\n", macro,
                        model.output_size);
  text += " * Inference form: dropout is the identity; batch normalization uses its moving statistics.\n";
  if (!model.layers.empty()) {
    text += " *\n * Layers:\n";
    for (const std::string& layer : model.layers) text += " *   " + layer + "\n";
  }
  text += " *\n";
  text += fmt::format(" * The samples run in batches of {}_BATCH = {}, the rest one at a time; any n >= 0 works.\n",
                      macro, model.batch);
  text += fmt::format(" * Each call needs {}_WORKSPACE_SIZE = {} bytes of scratch memory: {}_predict\n", macro,
                      model.workspace_bytes, model.prefix);
  text += fmt::format(" * allocates it with malloc and frees it per call; {}_predict_with_workspace takes a\n",
                      model.prefix);
  text += " * caller's buffer (any alignment of float; 64 bytes is best) and never allocates.\n";
  text += " * Thread safety: no function keeps mutable state; calls may run concurrently, each with\n";
  text += " * its own workspace.\n";
  text += fmt::format(" * Return value: {0}_OK (0) on success, {0}_BAD_ARGUMENT (n < 0 or a null buffer),\n", macro);
  text += fmt::format(" * {0}_OUT_OF_MEMORY (malloc failed), {0}_KERNEL_ERROR (an internal error).\n */\n", macro);
  return text;
}

std::string macros(const ModelInterface& model) {
  const std::string macro = macroPrefix(model.prefix);
  std::string text;
  text += fmt::format("#define {}_INPUT_RANK {}\n", macro, model.input_shape.size());
  for (size_t dim = 0; dim < model.input_shape.size(); ++dim)
    text += fmt::format("#define {}_INPUT_DIM{} {}\n", macro, dim, model.input_shape[dim]);
  if (model.input_shape.size() == 3) {
    text += fmt::format("#define {}_INPUT_HEIGHT {}\n", macro, model.input_shape[0]);
    text += fmt::format("#define {}_INPUT_WIDTH {}\n", macro, model.input_shape[1]);
    text += fmt::format("#define {}_INPUT_CHANNELS {}\n", macro, model.input_shape[2]);
  }
  text += fmt::format("#define {}_INPUT_SIZE {}\n", macro, model.input_size);
  text += fmt::format("#define {}_OUTPUT_SIZE {}\n", macro, model.output_size);
  text += fmt::format("#define {}_NUM_CLASSES {}  /* 0: a regression model */\n", macro, model.classes);
  text += fmt::format("#define {}_BATCH {}\n", macro, model.batch);
  text += fmt::format("#define {}_WORKSPACE_SIZE {}\n\n", macro, model.workspace_bytes);
  text += fmt::format("#define {}_OK 0\n#define {}_BAD_ARGUMENT 1\n#define {}_OUT_OF_MEMORY 2\n#define {}_KERNEL_ERROR 3\n",
                      macro, macro, macro, macro);
  return text;
}

std::string declarations(const ModelInterface& model) {
  const std::string& name = model.prefix;
  std::string text;
  text += "/* Predicts n samples: in holds n * INPUT_SIZE floats, out receives n * OUTPUT_SIZE. */\n";
  text += fmt::format("int {}_predict(const float* in, float* out, int64_t n);\n\n", name);
  text += "/* Bytes of the workspace buffer of _predict_with_workspace (the WORKSPACE_SIZE macro). */\n";
  text += fmt::format("size_t {}_workspace_size(void);\n\n", name);
  text += "/* The same as _predict, in the caller's workspace of _workspace_size() bytes. */\n";
  text += fmt::format("int {}_predict_with_workspace(const float* in, float* out, int64_t n, void* workspace);\n", name);
  return text;
}

}  // namespace

std::string macroPrefix(const std::string& prefix) {
  std::string macro = prefix;
  for (char& letter : macro) letter = static_cast<char>(std::toupper(static_cast<unsigned char>(letter)));
  return macro;
}

bool isCIdentifier(const std::string& prefix) {
  if (prefix.empty() || std::isdigit(static_cast<unsigned char>(prefix[0]))) return false;
  for (char letter : prefix)
    if (!std::isalnum(static_cast<unsigned char>(letter)) && letter != '_') return false;
  return true;
}

std::string renderHeader(const ModelInterface& model) {
  const std::string guard = macroPrefix(model.prefix) + "_H_";
  std::string text = commentBlock(model);
  text += fmt::format("#ifndef {0}\n#define {0}\n\n#include <stddef.h>\n#include <stdint.h>\n\n", guard);
  text += macros(model);
  text += "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  text += declarations(model);
  text += fmt::format("\n#ifdef __cplusplus\n}}\n#endif\n\n#endif  /* {} */\n", guard);
  return text;
}

}  // namespace nnspec::aot
