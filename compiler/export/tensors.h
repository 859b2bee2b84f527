#pragma once
// What the exporters read and how they fail: named trained tensors (a model's parameters
// and state leaves, as the store keeps them) and an export error as a value.

#include <cstdint>
#include <string>
#include <vector>

namespace nnspec::exporting {

// A trained tensor, row-major: "dense1.kernel" f32[784, 50], "batchnorm1.moving_mean" f32[64].
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;  // empty: a scalar
  std::vector<float> values;
};

// Why a model cannot be exported (lowercase, names in quotes, shapes in IR syntax).
struct ExportError {
  std::string message;
};

}  // namespace nnspec::exporting
