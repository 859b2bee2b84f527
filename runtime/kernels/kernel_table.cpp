// The kernel table of one CPU level (kernel_table.h); a per-level source (kernel_level.h).
#include "runtime/kernels/kernel_table.h"

#include "runtime/kernels/conv2d_direct.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "runtime/kernels/level_kernels.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {

#define NNSPEC_STRINGIFY_INNER(name) #name
#define NNSPEC_STRINGIFY(name) NNSPEC_STRINGIFY_INNER(name)

const KernelTable& kernelTable() noexcept {
  static constexpr KernelTable kTable{
      NNSPEC_KERNEL_LEVEL,
      NNSPEC_STRINGIFY(NNSPEC_KERNEL_NS),
      &sgemm,
      &sgemmSharedA,
      &conv2dWithScratch,
      &conv2dFusedWithScratch,
      &conv2dInputGradWithScratch,
      &conv2dKernelGradWithScratch,
      &maxPool,
      &avgPool,
      &maxPoolGrad,
      &avgPoolGrad,
      &pad2d,
      &crop2d,
      &directConvApplies,
      &decodeBytes,
  };
  return kTable;
}

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
