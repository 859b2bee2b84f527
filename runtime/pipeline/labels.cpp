#include "runtime/pipeline/labels.h"

#include <fmt/format.h>

#include <cmath>

namespace nnspec::rt {

DataResult<PartLabels> labelsOf(const Dataset& data) {
  PartLabels out;
  out.count = data.count;
  out.num_classes = data.num_classes;
  if (data.num_classes == 0) return out;
  const int64_t width = data.target_width;
  const bool one_hot = width == data.num_classes && width > 1;
  if (width != 1 && !one_hot) {
    return DataError{"",
                     fmt::format("class labels need one target column or {} one-hot columns, but there are {}",
                                 data.num_classes, width),
                     ""};
  }
  if (static_cast<int64_t>(data.y.size()) != data.count * width) {
    return DataError{"",
                     fmt::format("the targets hold {} values, but {} samples of width {} need {}", data.y.size(),
                                 data.count, width, data.count * width),
                     ""};
  }
  out.labels.resize(static_cast<size_t>(data.count));
  for (int64_t sample = 0; sample < data.count; ++sample) {
    const float* row = data.y.data() + sample * width;
    if (one_hot) {
      int64_t best = 0;
      for (int64_t column = 1; column < width; ++column) {
        if (row[column] > row[best]) best = column;
      }
      out.labels[static_cast<size_t>(sample)] = static_cast<int32_t>(best);
      continue;
    }
    const float value = row[0];
    if (!(value >= 0) || value >= static_cast<float>(data.num_classes) || std::floor(value) != value) {
      return DataError{
          "", fmt::format("sample {} has label {}, not a class in 0..{}", sample, value, data.num_classes - 1), ""};
    }
    out.labels[static_cast<size_t>(sample)] = static_cast<int32_t>(value);
  }
  return out;
}

std::vector<int64_t> countClasses(const PartLabels& labels, std::span<const int64_t> positions) {
  std::vector<int64_t> counts(static_cast<size_t>(labels.num_classes), 0);
  if (labels.labels.empty()) return counts;
  for (const int64_t position : positions) ++counts[static_cast<size_t>(labels.labels[static_cast<size_t>(position)])];
  return counts;
}

}  // namespace nnspec::rt
