#pragma once
// Element types and static tensor types of the graph IR.

#include <cstdint>
#include <string>
#include <vector>

namespace nnspec::ir {

enum class DType { F32, I32 };

using Shape = std::vector<int64_t>;

struct TensorType {
  DType dtype = DType::F32;
  Shape shape;  // empty: a scalar

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t numElements() const;
  bool isScalar() const { return shape.empty(); }
  bool operator==(const TensorType&) const = default;
};

inline TensorType f32(Shape shape) { return {DType::F32, std::move(shape)}; }
inline TensorType i32(Shape shape) { return {DType::I32, std::move(shape)}; }

std::string dtypeName(DType dtype);
// "f32[128,784]", "f32[]" for a scalar.
std::string typeString(const TensorType& type);

}  // namespace nnspec::ir
