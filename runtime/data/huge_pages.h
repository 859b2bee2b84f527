#pragma once
// Asks the kernel to back a large array with transparent huge pages where it is set to
// do so only when asked (the "madvise" mode of Debian's kernels): the batch gather reads
// a data set's rows in shuffled order, and with 4 KiB pages most of those reads miss the
// TLB (the epoch's gather took about half the time with huge pages in a benchmark of the
// 784-50-10 model). Call it on memory not yet touched; a no-op for small arrays, and any
// failure is ignored (the pages are then ordinary ones).

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace nnspec::rt {

inline void adviseHugePages(const void* data, size_t bytes) {
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHugePage - 1);
  if (end <= begin) return;
  (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace nnspec::rt
