#pragma once
// The names of the trial outputs that reports read, written by `nnspec run` when the
// spec's report asks for them (runtime/store keeps them as rows x width floats).

#include <string>

namespace nnspec::rt::outputs {

// The model's input shape, 1 x rank (e.g. 28, 28, 1): how to draw inputs and weights.
inline constexpr const char* kSampleShape = "sample.shape";

// Counts, classes x classes: row = true class, column = predicted class.
inline std::string confusion(const std::string& split) { return split + ".confusion"; }

// n x features: the inputs of the most confidently misclassified samples of `split`.
inline std::string misclassifiedImages(const std::string& split) { return split + ".misclassified.images"; }
// n x 4: sample position in the split, true class, predicted class, its probability.
inline std::string misclassifiedLabels(const std::string& split) { return split + ".misclassified.labels"; }

// units x inputs: the kernel of the k-th dense layer, transposed (one row per unit).
inline std::string denseWeights(int layer) { return "weights.dense" + std::to_string(layer); }

// filters x (kernel_h * kernel_w * in_channels), and 1 x 3: kernel_h, kernel_w, in_channels.
inline std::string convFilters(int layer) { return "filters.conv" + std::to_string(layer); }
inline std::string convFiltersShape(int layer) { return convFilters(layer) + ".shape"; }

// The k-th conv layer's output (after its activation) on a few test samples:
// (images * channels) x (height * width), 1 x 4 (images, channels, height, width), and
// the samples themselves, images x features.
inline std::string featureMaps(int layer) { return "feature_maps.conv" + std::to_string(layer); }
inline std::string featureMapsShape(int layer) { return featureMaps(layer) + ".shape"; }
inline std::string featureMapsInputs(int layer) { return featureMaps(layer) + ".inputs"; }

// bins x 3 (lower edge, upper edge, count) of a kernel's final values, e.g. "histogram.dense1.kernel".
inline std::string histogram(const std::string& parameter) { return "histogram." + parameter; }
inline constexpr const char* kHistogramPrefix = "histogram.";

}  // namespace nnspec::rt::outputs
