#pragma once
// A model's named tensors as an .npz file: a zip of stored (uncompressed) .npy entries,
// one per tensor ("dense1.kernel.npy", little-endian f32, C order), which numpy.load reads
// without extra packages: numpy.load(F)["dense1.kernel"].

#include <string>
#include <variant>
#include <vector>

#include "compiler/export/tensors.h"

namespace nnspec::exporting {

// The .npy bytes of one tensor (format 1.0, header padded to 64 bytes).
std::string npyBytes(const NamedTensor& tensor);

// The .npz bytes, or an error for a duplicate or empty name, a tensor whose values do not
// fill its shape, or a file past zip's 4 GiB (no zip64 here).
std::variant<std::string, ExportError> npzBytes(const std::vector<NamedTensor>& tensors);

}  // namespace nnspec::exporting
