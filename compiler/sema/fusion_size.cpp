#include "compiler/sema/fusion_size.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "compiler/sema/memory_estimate.h"
#include "compiler/sema/shapes.h"

namespace nnspec::sema {
namespace {

constexpr double kFloatBytes = 4;
constexpr double kDefaultCacheBytes = 1024.0 * 1024.0;

int64_t stateSlots(const std::string& optimizer) {
  if (optimizer == "adam" || optimizer == "adamw" || optimizer == "rmsprop") return 2;
  return 1;  // sgd's velocity, adagrad's sum
}

// "1024K", "2M", "512" as bytes; 0 when it does not parse.
double parseSize(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || value <= 0) return 0;
  if (*end == 'K') return value * 1024;
  if (*end == 'M') return value * 1024 * 1024;
  return value;
}

std::string readLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::string fusionBlocker(const TrainConfig& config) {
  if (config.model.isSvm()) return "an svm is fitted by libsvm, not by a compiled train step";
  for (const LayerInstance& layer : config.model.layers) {
    if (layer.kind == "batchnorm") return "batch normalization keeps moving statistics per trial";
  }
  return "";
}

double fusedPointBytes(const TrainConfig& config) {
  const ModelInstance& model = config.model;
  const double params = static_cast<double>(model.trainableParams());
  double activations = static_cast<double>(shapeElements(model.input_shape));
  for (const LayerInstance& layer : model.layers) activations += static_cast<double>(shapeElements(layer.output_shape));
  const double batch = static_cast<double>(config.batch);
  return kFloatBytes * (params * static_cast<double>(2 + stateSlots(config.optimizer)) + 2 * batch * activations);
}

double cacheBytes() {
  if (const char* forced = std::getenv("NNSPEC_CACHE_BYTES")) {
    const double bytes = parseSize(forced);
    if (bytes > 0) return bytes;
  }
  for (int index = 0; index < 8; ++index) {
    const std::string dir = fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}/", index);
    if (readLine(dir + "level") != "2") continue;
    const std::string type = readLine(dir + "type");
    if (type != "Unified" && type != "Data") continue;
    const double bytes = parseSize(readLine(dir + "size"));
    if (bytes > 0) return bytes;
  }
  return kDefaultCacheBytes;
}

FusionSize fusionSize(const TrainConfig& config, int64_t requested) {
  FusionSize size;
  if (requested == 1) {
    size.why = "off";
    return size;
  }
  const std::string blocker = fusionBlocker(config);
  if (!blocker.empty()) {
    size.why = "off: " + blocker;
    return size;
  }
  if (requested > 1) {
    size.limit = requested;
    size.why = fmt::format("fuse {}", requested);
    return size;
  }
  const double point = fusedPointBytes(config);
  const double cache = cacheBytes();
  const int64_t fit = static_cast<int64_t>(cache / std::max(point, 1.0));
  if (fit < 2) {
    size.why = fmt::format("auto: off, two trials' steps ({} each) do not fit the {} L2 cache", formatBytes(point),
                           formatBytes(cache));
    return size;
  }
  size.limit = std::min(fit, kMaxAutoFusion);
  size.why = size.limit == kMaxAutoFusion
                 ? fmt::format("auto: at most {}", kMaxAutoFusion)
                 : fmt::format("auto: {} trials' steps ({} each) fit the {} L2 cache", size.limit, formatBytes(point),
                               formatBytes(cache));
  return size;
}

}  // namespace nnspec::sema
