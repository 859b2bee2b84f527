#include "compiler/sema/memory_estimate.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "compiler/sema/limits.h"
#include "compiler/sema/shapes.h"

namespace nnspec::sema {
namespace {

constexpr double kFloatBytes = 4;
constexpr double kMiB = 1024.0 * 1024.0;
// The process before any data: the nnspec binary with LLVM and the C++ runtime mapped
// and touched, SQLite. Measured as the peak RSS of `nnspec check` (Release, LLVM 19).
constexpr double kProcessBytes = 54 * kMiB;
// Compiling a step with ORC (LLVM's modules and passes, the code it keeps): measured as
// the peak RSS of `nnspec run` of a one-sample synthetic spec less kProcessBytes.
// Compilation ends before the trial allocates its buffers, which reuse part of it.
constexpr double kCompileBytes = 22 * kMiB;
// Copies of the weights a trial holds besides its optimizer slots: the weights, their
// gradients copied out of the step, and the gradients in the step's workspace; plus
// one more measured (`nnspec run` of 784-4000-2000-10 on MNIST digits: the peak RSS
// grows by four copies of the weights under SGD).
constexpr double kWeightCopies = 4;
// Index lists per sample of the split (int64 selection, epoch order, int32 labels).
constexpr double kIndexBytesPerSample = 8 + 8 + 4;
// The packed GEMM's panels in every step's workspace (kNnspecSgemmScratchFloats).
constexpr double kGemmScratchFloats = 320 * 64 + 320 * 512;
// The im2col chunk of a convolution: about this many floats, at least 16 rows.
constexpr double kConvChunkFloats = 1 << 16;
constexpr double kConvChunkMinRows = 16;

double floats(int64_t count) { return static_cast<double>(count); }

int64_t optimizerSlots(const TrainConfig& config) {
  const auto momentum = [&] {
    return config.optimizer_args.has("momentum") && config.optimizer_args.number("momentum") > 0;
  };
  if (config.optimizer == "adam") return 2;
  if (config.optimizer == "rmsprop") return momentum() ? 2 : 1;
  if (config.optimizer == "adagrad") return 1;
  return momentum() ? 1 : 0;
}

// Floats of a convolution's scratch beyond the GEMM's panels: one chunk of patches and
// the transposed kernel gradient.
double convScratchFloats(const LayerInstance& layer) {
  if (layer.kind != "conv2d") return 0;
  const Value& kernel = layer.args.at("kernel");
  const double rows = kernel.kind == ValueKind::kList ? kernel.items[0].number : kernel.number;
  const double cols = kernel.kind == ValueKind::kList ? kernel.items[1].number : kernel.number;
  const double patch = rows * cols * floats(layer.input_shape.back());
  const double chunk = std::max(kConvChunkFloats, kConvChunkMinRows * patch);
  return chunk + patch * floats(layer.output_shape.back());
}

// Floats of the step's workspace beyond the weights' gradients: every value the fused
// step stores gets its own slot. Those are the activations of the batch (the values
// before and after each fused activation, kept for the backward pass) and their
// gradients, besides the GEMM's and convolutions' scratch. The input is the batch
// buffer; flatten and reshape are views.
double workspaceFloats(const TrainConfig& config) {
  const ModelInstance& model = config.model;
  double activations = 0;
  double scratch = 0;
  for (const auto& layer : model.layers) {
    if (layer.kind == "flatten" || layer.kind == "reshape") continue;
    const double outputs = floats(shapeElements(layer.output_shape));
    const bool fused_activation = layer.activation != "linear" && layer.activation != layer.kind;
    activations += outputs * (fused_activation ? 2 : 1);
    scratch = std::max(scratch, convScratchFloats(layer));
  }
  const double batch = floats(config.batch);
  return 2 * activations * batch + kGemmScratchFloats + scratch;
}

int64_t selectionCount(const std::optional<Selection>& selection) { return selection ? selection->count : 0; }

// Rows of `data`'s part `part` a run of `split` holds: all of them, except from IDX
// files, whose reader skips the rows the run's splits do not read
// (compiler/driver/materialize.cpp); then at most what the split's selections of the
// part count together (an overlap counts twice). A run of several sweeps whose splits
// read other rows of the part holds those too.
int64_t rowsLoaded(const Split& split, const DataSet& data, const rt::PartInfo& part) {
  if (data.source != "fashion_mnist" && data.source != "idx") return part.count;
  int64_t selected = 0;
  for (const auto* selection : {&split.train, &split.val, &split.test}) {
    if (*selection && (*selection)->data == data.name && (*selection)->part == part.part) {
      selected += (*selection)->count;
    }
  }
  return std::min(part.count, selected);
}

}  // namespace

double dataBytes(const CheckedSpec& spec, const Split& split) {
  std::set<std::string> names;
  for (const auto* selection : {&split.train, &split.val, &split.test}) {
    if (*selection) names.insert((*selection)->data);
  }
  double bytes = 0;
  for (const auto& name : names) {
    const DataSet* data = spec.findData(name);
    if (data == nullptr) continue;
    // Images from IDX files keep a byte per pixel (rt::Dataset::x_bytes); other inputs
    // and every target, a float.
    const double input_bytes = data->source == "fashion_mnist" || data->source == "idx" ? 1 : kFloatBytes;
    for (const auto& part : data->parts) {
      bytes += floats(rowsLoaded(split, *data, part)) *
               (input_bytes * floats(shapeElements(part.sample_shape)) + kFloatBytes * floats(part.target_width));
    }
  }
  return bytes;
}

// An svm: libsvm's rows of (index, value) pairs (16 bytes each, dense at worst), its
// kernel cache (float rows of the training samples, at most kSvmCacheMegabytes) and the
// predicted classes kept for reports.
double svmTrialBytes(const TrainConfig& config, const Split& split) {
  const double fit = floats(selectionCount(split.train));
  const double features = floats(shapeElements(config.model.input_shape));
  const double nodes = 16 * fit * (features + 1);
  const double cache = std::min(static_cast<double>(kSvmCacheMegabytes) * kMiB, kFloatBytes * fit * fit);
  const double held_out = floats(selectionCount(split.test) + selectionCount(split.val));
  const double samples = floats(selectionCount(split.train)) + held_out;
  return nodes + cache + kFloatBytes * held_out * floats(split.num_classes) + kIndexBytesPerSample * samples;
}

double trialBytes(const TrainConfig& config, const Split& split) {
  const ModelInstance& model = config.model;
  if (model.isSvm()) return svmTrialBytes(config, split);
  const double params = floats(model.totalParams());
  const double batch = floats(config.batch);
  const double features = floats(shapeElements(model.input_shape));
  const double outputs = model.layers.empty() ? 1 : floats(shapeElements(model.layers.back().output_shape));
  const double weights = params * (kWeightCopies + floats(optimizerSlots(config)));
  // Batch assembly (inputs and targets) for training and for evaluation, predictions.
  const double batches = 2 * batch * (features + floats(split.target_width)) + 2 * batch * outputs;
  // Outputs kept on the test set for ensembles and reports.
  const double kept = floats(selectionCount(split.test) + selectionCount(split.val)) * outputs;
  const double samples = floats(selectionCount(split.train) + selectionCount(split.val) + selectionCount(split.test));
  return kFloatBytes * (weights + workspaceFloats(config) + batches + kept) + kIndexBytesPerSample * samples;
}

MemoryEstimate estimateMemory(const CheckedSpec& spec, const SweepPlan& plan) {
  MemoryEstimate estimate;
  const Split* split = spec.findSplit(plan.checked.front().config.split);
  if (split == nullptr) return estimate;
  estimate.data = dataBytes(spec, *split);
  estimate.runtime = kProcessBytes + kCompileBytes;
  for (size_t index = 0; index < plan.checked.size(); ++index) {
    const double bytes = trialBytes(plan.checked[index].config, *split);
    if (bytes <= estimate.per_trial) continue;
    estimate.per_trial = bytes;
    estimate.largest_point = index;
  }
  return estimate;
}

namespace {

// A byte count written in a file such as cgroup's memory.max ("max" or a number).
std::optional<double> readLimitFile(const std::string& path) {
  std::ifstream stream(path);
  std::string text;
  if (!(stream >> text) || text == "max") return std::nullopt;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || value == 0) return std::nullopt;
  return static_cast<double>(value);
}

// The cgroup v2 directory of this process ("0::/path" in /proc/self/cgroup).
std::string cgroupDirectory() {
  std::ifstream stream("/proc/self/cgroup");
  std::string line;
  while (std::getline(stream, line)) {
    if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + line.substr(3);
  }
  return "/sys/fs/cgroup";
}

std::optional<double> cgroupLimit() {
  std::optional<double> limit;
  const auto lower = [&](std::optional<double> candidate) {
    if (candidate && (!limit || *candidate < *limit)) limit = candidate;
  };
  lower(readLimitFile(cgroupDirectory() + "/memory.max"));
  lower(readLimitFile("/sys/fs/cgroup/memory.max"));
  lower(readLimitFile("/sys/fs/cgroup/memory/memory.limit_in_bytes"));  // cgroup v1
  return limit;
}

}  // namespace

std::optional<double> machineMemoryBytes() {
  if (const char* text = std::getenv("NNSPEC_MEMORY_LIMIT_BYTES"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (*end == '\0' && value > 0) return static_cast<double>(value);
  }
  std::optional<double> limit;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) limit = static_cast<double>(pages) * static_cast<double>(page_size);
  if (const auto cgroup = cgroupLimit(); cgroup && (!limit || *cgroup < *limit)) limit = cgroup;
  return limit;
}

std::string formatBytes(double bytes) {
  if (bytes >= 1024.0 * kMiB * 1024.0) return fmt::format("{:.1f} TiB", bytes / (1024.0 * 1024.0 * kMiB));
  if (bytes >= 1024.0 * kMiB) return fmt::format("{:.1f} GiB", bytes / (1024.0 * kMiB));
  if (bytes >= 100 * kMiB) return fmt::format("{:.0f} MiB", bytes / kMiB);
  if (bytes >= kMiB) return fmt::format("{:.1f} MiB", bytes / kMiB);
  return fmt::format("{:.1f} KiB", bytes / 1024.0);
}

}  // namespace nnspec::sema
