#include "runtime/kernels/sgemm.h"

#include <Eigen/Core>

#include "runtime/abi/step_abi.h"

namespace nnspec::rt {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor>;

template <class A, class B>
void multiplyInto(float* c, int64_t m, int64_t n, const A& a, const B& b) {
  Eigen::Map<RowMajor>(c, m, n).noalias() = a * b;
}

}  // namespace
}  // namespace nnspec::rt

extern "C" int32_t nnspec_rt_sgemm(int64_t m, int64_t n, int64_t k, const float* a,
                                   int32_t transpose_a, const float* b, int32_t transpose_b,
                                   float* c) noexcept {
  using nnspec::rt::ConstMap;
  using nnspec::rt::multiplyInto;
  if (m < 0 || n < 0 || k < 0 || a == nullptr || b == nullptr || c == nullptr)
    return kNnspecKernelError;
  ConstMap a_map(a, transpose_a ? k : m, transpose_a ? m : k);
  ConstMap b_map(b, transpose_b ? n : k, transpose_b ? k : n);
  if (!transpose_a && !transpose_b) multiplyInto(c, m, n, a_map, b_map);
  if (!transpose_a && transpose_b) multiplyInto(c, m, n, a_map, b_map.transpose());
  if (transpose_a && !transpose_b) multiplyInto(c, m, n, a_map.transpose(), b_map);
  if (transpose_a && transpose_b) multiplyInto(c, m, n, a_map.transpose(), b_map.transpose());
  return kNnspecOk;
}
