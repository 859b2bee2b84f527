#pragma once
// Transforms of a data statement, applied to its loaded parts in the order written.
//
// standardize is the only one that learns from data: its per-feature mean and standard
// deviation (population, ddof = 0, like sklearn's StandardScaler) come from the TRAIN
// rows only and are then applied to every part. With cross-validation, pass the fold's
// fit positions so the held-out fold does not leak into the statistics.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

enum class TransformKind { kScale, kShift, kStandardize, kReshape, kOneHot };

struct TransformOp {
  TransformKind kind = TransformKind::kScale;
  double value = 0;            // scale: factor, shift: offset
  std::vector<int64_t> shape;  // reshape: the new sample shape
};

// Per-feature statistics fitted by standardize.
struct FeatureStats {
  std::vector<float> mean;
  std::vector<float> stddev;  // 1 where a feature is constant on the fit rows
};

// The names a kept model's standardize statistics are stored and exported under.
inline constexpr const char* kStandardizeMeanTensor = "input.standardize.mean";
inline constexpr const char* kStandardizeStddevTensor = "input.standardize.stddev";

// Values per sample: the product of the sample shape.
int64_t featuresOf(const Dataset& data);

void scaleInputs(Dataset& data, double factor);
void shiftInputs(Dataset& data, double offset);
DataResult<FeatureStats> fitStandardize(const Dataset& data, std::span<const int64_t> fit_indices);
std::optional<DataError> applyStandardize(Dataset& data, const FeatureStats& stats);
// Metadata only: the new shape must hold as many values as the old one.
std::optional<DataError> reshapeSamples(Dataset& data, const std::vector<int64_t>& shape);
// Class labels (one column) become num_classes columns of 0/1.
std::optional<DataError> oneHotTargets(Dataset& data);

// Applies `ops` in order to every part of one data set; standardize is fitted on the
// rows `fit_indices` of parts[fit_part], as it stands after the ops before it. When
// `fitted` is given, the statistics of each standardize are appended to it in order.
std::optional<DataError> applyTransforms(std::span<Dataset> parts, std::span<const TransformOp> ops, size_t fit_part,
                                         std::span<const int64_t> fit_indices,
                                         std::vector<FeatureStats>* fitted = nullptr);

// Standardizes `count` rows of `features` values in place with statistics a trial
// fitted, exactly as applyStandardize does (x - mean) / stddev.
void standardizeRows(float* rows, int64_t count, const FeatureStats& stats);

}  // namespace nnspec::rt
