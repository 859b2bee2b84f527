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

int64_t cpuListSize(const std::string& list) {
  int64_t count = 0;
  size_t at = 0;
  while (at < list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    const std::string range = list.substr(at, comma - at);
    const size_t dash = range.find('-');
    char* end = nullptr;
    const long first = std::strtol(range.c_str(), &end, 10);
    if (end == range.c_str()) return 0;
    long last = first;
    if (dash != std::string::npos) {
      const char* tail = range.c_str() + dash + 1;
      last = std::strtol(tail, &end, 10);
      if (end == tail || last < first) return 0;
    }
    count += last - first + 1;
    at = comma + 1;
  }
  return count;
}

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

CacheShare cacheShare() {
  if (const char* forced = std::getenv("NNSPEC_CACHE_BYTES")) {
    const double bytes = parseSize(forced);
    if (bytes > 0) return {bytes, formatBytes(bytes) + " cache ($NNSPEC_CACHE_BYTES)"};
  }
  // The largest level this core has; a level shared by several cores counts its share.
  // Read once: the plan and the scheduler ask for every point and group.
  static const CacheShare listed = [] {
    CacheShare best{kDefaultCacheBytes, formatBytes(kDefaultCacheBytes) + " cache (assumed: no cache size is listed)"};
    bool found = false;
    for (int index = 0; index < 8; ++index) {
      const std::string dir = fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}/", index);
      const std::string level = readLine(dir + "level");
      if (level != "2" && level != "3") continue;
      const std::string type = readLine(dir + "type");
      if (type != "Unified" && type != "Data") continue;
      const double bytes = parseSize(readLine(dir + "size"));
      if (bytes <= 0) continue;
      const int64_t cores = std::max<int64_t>(1, cpuListSize(readLine(dir + "shared_cpu_list")));
      const double share = bytes / static_cast<double>(cores);
      if (found && share <= best.bytes) continue;
      found = true;
      best.bytes = share;
      best.text = cores == 1 ? fmt::format("{} L{} cache", formatBytes(bytes), level)
                             : fmt::format("{} share of the {} L{} cache of {} cores", formatBytes(share),
                                           formatBytes(bytes), level, cores);
    }
    return best;
  }();
  return listed;
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
  const CacheShare cache = cacheShare();
  const int64_t fit = static_cast<int64_t>(cache.bytes / std::max(point, 1.0));
  if (fit < 2) {
    size.why = fmt::format("auto: off, two trials' steps ({} each) do not fit the {}", formatBytes(point), cache.text);
    return size;
  }
  size.limit = std::min(fit, kMaxAutoFusion);
  size.why = size.limit == kMaxAutoFusion
                 ? fmt::format("auto: at most {}", kMaxAutoFusion)
                 : fmt::format("auto: {} trials' steps ({} each) fit the {}", size.limit, formatBytes(point), cache.text);
  return size;
}

}  // namespace nnspec::sema
