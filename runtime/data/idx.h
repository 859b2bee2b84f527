#pragma once
// IDX files, the format of the MNIST family: a big-endian header (two zero bytes, a
// dtype byte, a dimension count, then one uint32 per dimension) followed by the values.
// Images are uint8 [n, rows, cols] (magic 0x00000803), labels uint8 [n] (0x00000801).
// probeIdx/loadIdx (sources.h) and the Fashion-MNIST reader share these.

#include <string>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

struct IdxFilePair {
  std::string images_path;
  std::string labels_path;
  std::string part;          // the PartInfo name to report, e.g. "train"
  std::string missing_hint;  // suggested fix when either file does not exist
};

// Reads the image header and the (small) label file: counts must agree, and the labels
// give num_classes. The pixel data is not read.
DataResult<PartInfo> probeIdxFiles(const IdxFilePair& files);
// Reads and validates both files completely; keeps the samples `rows` names (all by
// default). num_classes is always the whole label file's.
DataResult<Dataset> loadIdxFiles(const IdxFilePair& files, const RowSelection& rows = std::nullopt,
                                 InputStorage storage = InputStorage::kFloats);
// The labels alone (x empty, count the whole part's), after the same checks of both
// headers: what selections need to choose rows before the pixels are read.
DataResult<Dataset> loadIdxLabels(const IdxFilePair& files);
// Reads an image file alone (samples to predict): target_width 0, no y.
DataResult<Dataset> loadIdxImages(const std::string& images_path);

}  // namespace nnspec::rt
