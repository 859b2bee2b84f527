#include "runtime/pipeline/transforms.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <functional>
#include <numeric>

namespace nnspec::rt {

namespace {

DataError transformError(std::string message, std::string hint = "") {
  return DataError{"", std::move(message), std::move(hint)};
}

std::string shapeText(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

}  // namespace

int64_t featuresOf(const Dataset& data) {
  return std::accumulate(data.sample_shape.begin(), data.sample_shape.end(), int64_t{1}, std::multiplies<>());
}

// Byte inputs map their 256 values instead of every input: the same arithmetic on the
// same floats, so the values are the same bits.
void scaleInputs(Dataset& data, double factor) {
  for (float& value : bytesStored(data) ? std::span<float>(data.byte_values) : std::span<float>(data.x))
    value = static_cast<float>(static_cast<double>(value) * factor);
}

void shiftInputs(Dataset& data, double offset) {
  for (float& value : bytesStored(data) ? std::span<float>(data.byte_values) : std::span<float>(data.x))
    value = static_cast<float>(static_cast<double>(value) + offset);
}

DataResult<FeatureStats> fitStandardize(const Dataset& data, std::span<const int64_t> fit_indices) {
  if (fit_indices.empty()) return transformError("standardize needs at least one training sample to fit");
  const int64_t features = featuresOf(data);
  std::vector<float> row_values(static_cast<size_t>(features));
  const auto rowOf = [&](int64_t sample) {  // byte inputs as floats, a row at a time
    if (!bytesStored(data)) return data.x.data() + sample * features;
    copyInputValues(data, sample * features, features, row_values.data());
    return static_cast<const float*>(row_values.data());
  };
  std::vector<double> sum(static_cast<size_t>(features), 0.0);
  for (const int64_t sample : fit_indices) {
    if (sample < 0 || sample >= data.count) {
      return transformError(fmt::format("sample {} is outside the {} samples of this part", sample, data.count));
    }
    const float* row = rowOf(sample);
    for (int64_t feature = 0; feature < features; ++feature) sum[static_cast<size_t>(feature)] += row[feature];
  }
  const double rows = static_cast<double>(fit_indices.size());
  std::vector<double> mean(sum.size());
  for (size_t feature = 0; feature < sum.size(); ++feature) mean[feature] = sum[feature] / rows;
  // Two passes: the squared deviations from the mean, not E[x^2] - E[x]^2.
  std::vector<double> squares(static_cast<size_t>(features), 0.0);
  for (const int64_t sample : fit_indices) {
    const float* row = rowOf(sample);
    for (int64_t feature = 0; feature < features; ++feature) {
      const double deviation = row[feature] - mean[static_cast<size_t>(feature)];
      squares[static_cast<size_t>(feature)] += deviation * deviation;
    }
  }
  FeatureStats stats;
  stats.mean.resize(sum.size());
  stats.stddev.resize(sum.size());
  for (size_t feature = 0; feature < sum.size(); ++feature) {
    const double stddev = std::sqrt(squares[feature] / rows);
    stats.mean[feature] = static_cast<float>(mean[feature]);
    stats.stddev[feature] = stddev > 0 ? static_cast<float>(stddev) : 1.0f;
  }
  return stats;
}

void standardizeRows(float* rows, int64_t count, const FeatureStats& stats) {
  const int64_t features = static_cast<int64_t>(stats.mean.size());
  for (int64_t sample = 0; sample < count; ++sample) {
    float* row = rows + sample * features;
    for (int64_t feature = 0; feature < features; ++feature) {
      const size_t slot = static_cast<size_t>(feature);
      row[feature] = (row[feature] - stats.mean[slot]) / stats.stddev[slot];
    }
  }
}

std::optional<DataError> applyStandardize(Dataset& data, const FeatureStats& stats) {
  const int64_t features = featuresOf(data);
  if (static_cast<int64_t>(stats.mean.size()) != features || stats.stddev.size() != stats.mean.size()) {
    return transformError(
        fmt::format("standardize statistics are for {} features, but samples have {}", stats.mean.size(), features));
  }
  storeInputsAsFloats(data);  // standardized values are a float per input
  standardizeRows(data.x.data(), data.count, stats);
  return std::nullopt;
}

std::optional<DataError> reshapeSamples(Dataset& data, const std::vector<int64_t>& shape) {
  int64_t values = 1;
  for (const int64_t extent : shape) {
    if (extent < 1) return transformError(fmt::format("reshape to {} needs positive sizes", shapeText(shape)));
    values *= extent;
  }
  if (shape.empty() || values != featuresOf(data)) {
    return transformError(fmt::format("cannot reshape samples of {} ({} values) to {} ({} values)",
                                      shapeText(data.sample_shape), featuresOf(data), shapeText(shape), values));
  }
  data.sample_shape = shape;
  return std::nullopt;
}

std::optional<DataError> oneHotTargets(Dataset& data) {
  if (data.num_classes < 1 || data.target_width != 1) {
    return transformError(data.num_classes < 1
                              ? "one_hot needs integer class labels, but the targets are real-valued"
                              : fmt::format("one_hot needs one target column, not {}", data.target_width));
  }
  if (static_cast<int64_t>(data.y.size()) != data.count) {
    return transformError(fmt::format("the targets hold {} values for {} samples", data.y.size(), data.count));
  }
  const size_t classes = static_cast<size_t>(data.num_classes);
  std::vector<float> columns(static_cast<size_t>(data.count) * classes, 0.0f);
  for (int64_t sample = 0; sample < data.count; ++sample) {
    const float label = data.y[static_cast<size_t>(sample)];
    if (!(label >= 0) || label >= static_cast<float>(data.num_classes) || std::floor(label) != label) {
      return transformError(
          fmt::format("sample {} has label {}, not a class in 0..{}", sample, label, data.num_classes - 1));
    }
    columns[static_cast<size_t>(sample) * classes + static_cast<size_t>(label)] = 1.0f;
  }
  data.y = std::move(columns);
  data.target_width = data.num_classes;
  return std::nullopt;
}

std::optional<DataError> applyTransforms(std::span<Dataset> parts, std::span<const TransformOp> ops, size_t fit_part,
                                         std::span<const int64_t> fit_indices, std::vector<FeatureStats>* fitted) {
  for (const TransformOp& op : ops) {
    if (op.kind == TransformKind::kStandardize) {
      if (fit_part >= parts.size()) return transformError("standardize has no training part to fit on");
      auto stats = fitStandardize(parts[fit_part], fit_indices);
      if (!stats.ok()) return stats.error();
      for (Dataset& part : parts) {
        if (auto error = applyStandardize(part, stats.value())) return error;
      }
      if (fitted != nullptr) fitted->push_back(std::move(stats.value()));
      continue;
    }
    for (Dataset& part : parts) {
      std::optional<DataError> error;
      switch (op.kind) {
        case TransformKind::kScale:
          scaleInputs(part, op.value);
          break;
        case TransformKind::kShift:
          shiftInputs(part, op.value);
          break;
        case TransformKind::kReshape:
          error = reshapeSamples(part, op.shape);
          break;
        case TransformKind::kOneHot:
          error = oneHotTargets(part);
          break;
        case TransformKind::kStandardize:
          break;
      }
      if (error) return error;
    }
  }
  return std::nullopt;
}

}  // namespace nnspec::rt
