#include "compiler/ir/types.h"

namespace nnspec::ir {

int64_t TensorType::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

std::string dtypeName(DType dtype) { return dtype == DType::F32 ? "f32" : "i32"; }

std::string typeString(const TensorType& type) {
  std::string text = dtypeName(type.dtype) + "[";
  for (size_t dim_idx = 0; dim_idx < type.shape.size(); ++dim_idx) {
    if (dim_idx > 0) text += ",";
    text += std::to_string(type.shape[dim_idx]);
  }
  return text + "]";
}

}  // namespace nnspec::ir
