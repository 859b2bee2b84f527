// Fashion-MNIST as Debian's dataset-fashion-mnist installs it: four gzipped IDX files.
#include <fmt/core.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "runtime/data/idx.h"
#include "runtime/data/sources.h"

namespace nnspec::rt {

namespace {

constexpr const char* kFashionMissingHint =
    "install Debian's dataset-fashion-mnist (scripts/setup.sh does)";

struct FashionPart {
  const char* name;
  const char* images_file;
  const char* labels_file;
};
constexpr std::array<FashionPart, 2> kFashionParts{{
    {"train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"},
    {"test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"},
}};

std::optional<DataError> checkDirectory(const std::string& dir) {
  std::error_code status_error;
  std::filesystem::file_status status = std::filesystem::status(dir, status_error);
  if (!std::filesystem::exists(status)) {
    return DataError{dir, fmt::format("cannot open: {}", std::strerror(ENOENT)),
                     kFashionMissingHint};
  }
  if (!std::filesystem::is_directory(status)) {
    return DataError{dir, fmt::format("cannot open: {}", std::strerror(ENOTDIR)),
                     "fashion_mnist needs the folder that holds its four .gz files"};
  }
  return std::nullopt;
}

IdxFilePair filesOf(const std::string& dir, const FashionPart& part) {
  std::filesystem::path base(dir);
  return IdxFilePair{(base / part.images_file).string(), (base / part.labels_file).string(),
                     part.name, kFashionMissingHint};
}

}  // namespace

DataResult<std::vector<PartInfo>> probeFashionMnist(const std::string& dir) {
  if (std::optional<DataError> error = checkDirectory(dir)) return *error;
  std::vector<PartInfo> parts;
  for (const FashionPart& part : kFashionParts) {
    DataResult<PartInfo> info = probeIdxFiles(filesOf(dir, part));
    if (!info.ok()) return info.error();
    parts.push_back(std::move(info.value()));
  }
  return parts;
}

namespace {

DataResult<const FashionPart*> partNamed(const std::string& dir, const std::string& part) {
  const FashionPart* found = nullptr;
  for (const FashionPart& candidate : kFashionParts) {
    if (part == candidate.name) found = &candidate;
  }
  if (found == nullptr) {
    return DataError{"", fmt::format("fashion_mnist has no part '{}'", part), "its parts are 'train' and 'test'"};
  }
  if (std::optional<DataError> error = checkDirectory(dir)) return *error;
  return found;
}

}  // namespace

DataResult<Dataset> loadFashionMnist(const std::string& dir, const std::string& part, const RowSelection& rows,
                                     InputStorage storage) {
  DataResult<const FashionPart*> found = partNamed(dir, part);
  if (!found.ok()) return found.error();
  return loadIdxFiles(filesOf(dir, *found.value()), rows, storage);
}

DataResult<Dataset> loadFashionMnistLabels(const std::string& dir, const std::string& part) {
  DataResult<const FashionPart*> found = partNamed(dir, part);
  if (!found.ok()) return found.error();
  return loadIdxLabels(filesOf(dir, *found.value()));
}

}  // namespace nnspec::rt
