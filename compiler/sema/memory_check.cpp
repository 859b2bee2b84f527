// Rejects a sweep whose estimated peak memory (memory_estimate.h) exceeds the memory
// the machine gives this process, naming the trial and layer or the data that need it.

#include <cstdlib>

#include <fmt/format.h>

#include "compiler/sema/check_context.h"
#include "compiler/sema/memory_estimate.h"
#include "compiler/sema/shapes.h"

namespace nnspec::sema {
namespace {

struct MemoryLimit {
  double bytes = 0;
  std::string source;  // "this machine allows", ...
};

std::optional<MemoryLimit> memoryLimit(const CheckOptions& options) {
  if (options.memory_limit_bytes) return MemoryLimit{*options.memory_limit_bytes, "the check's options allow"};
  const auto bytes = machineMemoryBytes();
  if (!bytes) return std::nullopt;
  const bool from_env = std::getenv("NNSPEC_MEMORY_LIMIT_BYTES") != nullptr;
  return MemoryLimit{*bytes, from_env ? "NNSPEC_MEMORY_LIMIT_BYTES allows" : "this machine allows"};
}

// The layer that holds the most of a trial's memory: its weights (with gradients and
// optimizer state) or its activations over the batch.
const LayerInstance* largestLayer(const TrainConfig& config) {
  const LayerInstance* largest = nullptr;
  double largest_bytes = -1;
  for (const auto& layer : config.model.layers) {
    const double bytes = 4.0 * static_cast<double>(layer.trainable_params) * 4.0 +
                         4.0 * 4.0 * static_cast<double>(config.batch) *
                             static_cast<double>(shapeElements(layer.output_shape));
    if (bytes > largest_bytes) largest = &layer, largest_bytes = bytes;
  }
  return largest;
}

std::string planLabel(const SweepPlan& plan) {
  if (plan.method != "single") return plan.name.empty() ? "the sweep" : fmt::format("sweep '{}'", plan.name);
  const std::string& train = plan.checked.front().config.train;
  return train.empty() ? "the train block" : fmt::format("train block '{}'", train);
}

void checkPlanMemory(CheckContext& context, const SweepPlan& plan, const MemoryLimit& limit) {
  const MemoryEstimate estimate = estimateMemory(context.out, plan);
  if (estimate.peak() <= limit.bytes) return;
  const Point& point = plan.checked[estimate.largest_point];
  const bool data_dominates = estimate.data > estimate.per_trial;
  const std::string hint =
      data_dominates ? "load less data: take fewer samples (from fashion_mnist and idx files only the rows the splits "
                       "read are loaded; other sources are loaded whole), or use a smaller data set or file"
                     : "use fewer units or filters, a smaller batch, or pooling or strides before large layers";
  Diagnostic* diagnostic = context.diagnostics.error(
      plan.range,
      fmt::format("{} needs about {} of memory (data {}, runtime {}, {} per trial), more than the {} {}",
                  planLabel(plan), formatBytes(estimate.peak()), formatBytes(estimate.data),
                  formatBytes(estimate.runtime), formatBytes(estimate.per_trial), formatBytes(limit.bytes), limit.source),
      hint);
  if (diagnostic == nullptr) return;
  if (data_dominates) {
    const Split* split = context.out.findSplit(point.config.split);
    for (const auto* selection : {&split->train, &split->val, &split->test}) {
      if (!*selection) continue;
      if (const DataSet* data = context.out.findData((*selection)->data)) {
        const bool some_rows = data->source == "fashion_mnist" || data->source == "idx";
        diagnostic->notes.push_back(
            {data->range, some_rows ? fmt::format("data '{}': the rows the split reads are loaded", data->name)
                                    : fmt::format("data '{}' is loaded whole, every part", data->name)});
        break;
      }
    }
    return;
  }
  if (const LayerInstance* layer = largestLayer(point.config)) {
    const std::string at = point.params.empty() ? "" : fmt::format(" (at {})", point.describe());
    diagnostic->notes.push_back(
        {layer->range, fmt::format("the largest layer of the largest trial{}: {} parameters, output {}", at,
                                   layer->trainable_params, formatBatchShape(layer->output_shape))});
  }
}

}  // namespace

void checkMemory(CheckContext& context) {
  const auto limit = memoryLimit(context.options);
  if (!limit) return;
  for (const auto& plan : context.out.sweeps) {
    if (plan.checked.empty()) continue;
    checkPlanMemory(context, plan, *limit);
  }
}

}  // namespace nnspec::sema
