#include "runtime/data/idx.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <vector>

#include "runtime/data/byte_stream.h"
#include "runtime/data/huge_pages.h"
#include "runtime/data/sources.h"

namespace nnspec::rt {

namespace {

constexpr uint8_t kUint8Dtype = 0x08;
constexpr int kImageDims = 3;  // [n, rows, cols]
constexpr int kLabelDims = 1;  // [n]
constexpr size_t kMagicBytes = 4;
constexpr size_t kDimBytes = 4;
constexpr size_t kChunkBytes = size_t{1} << 20;
// Never reserve more than this many floats up front: a damaged header may claim far
// more values than the file holds, and the truncation check should report that.
constexpr size_t kMaxReservedValues = size_t{1} << 26;
constexpr const char* kIdxMissingHint =
    "check the path; relative paths in a spec are resolved from the spec's folder";

// What one IDX file holds: images or labels.
struct IdxKind {
  const char* noun;       // "image", "label"
  const char* data_noun;  // "pixel", "label"
  int dims;
};
constexpr IdxKind kImages{"image", "pixel", kImageDims};
constexpr IdxKind kLabels{"label", "label", kLabelDims};

struct IdxHeader {
  std::vector<int64_t> dims;  // dims[0] is the sample count
  int64_t values = 0;         // product of dims
  size_t bytes = 0;           // header size in bytes
};

uint32_t magicFor(const IdxKind& kind) {
  return (uint32_t{kUint8Dtype} << 8) | static_cast<uint32_t>(kind.dims);
}

const char* dtypeName(uint8_t dtype) {
  switch (dtype) {
    case 0x08:
      return "uint8";
    case 0x09:
      return "int8";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

uint32_t readBigEndian32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

DataResult<IdxHeader> readHeader(ByteStream& stream, const IdxKind& kind) {
  const size_t header_bytes = kMagicBytes + kDimBytes * static_cast<size_t>(kind.dims);
  auto error = [&](std::string message) {
    return DataError{stream.path(), std::move(message), ""};
  };

  uint8_t magic[kMagicBytes];
  DataResult<size_t> got = stream.read(magic, kMagicBytes);
  if (!got.ok()) return got.error();
  if (got.value() == 0) {
    return error(fmt::format("empty file: expected an idx {} file", kind.noun));
  }
  if (got.value() < kMagicBytes) {
    return error(
        fmt::format("truncated header: expected {} bytes, found {}", header_bytes, got.value()));
  }

  uint32_t found_magic = readBigEndian32(magic);
  if (magic[0] != 0 || magic[1] != 0) {
    return error(fmt::format("bad magic 0x{:08x}: not an idx file (expected 0x{:08x})", found_magic,
                             magicFor(kind)));
  }
  if (magic[2] != kUint8Dtype) {
    return error(fmt::format("unsupported dtype 0x{:02x} ({}): only uint8 (0x08) is supported",
                             magic[2], dtypeName(magic[2])));
  }
  if (magic[3] != kind.dims) {
    return error(fmt::format(
        "bad magic 0x{:08x}: expected an idx {} file (magic 0x{:08x}, {} dimension{}), found {} "
        "dimension{}",
        found_magic, kind.noun, magicFor(kind), kind.dims, kind.dims == 1 ? "" : "s", magic[3],
        magic[3] == 1 ? "" : "s"));
  }

  std::vector<uint8_t> dim_bytes(kDimBytes * static_cast<size_t>(kind.dims));
  got = stream.read(dim_bytes.data(), dim_bytes.size());
  if (!got.ok()) return got.error();
  if (got.value() < dim_bytes.size()) {
    return error(fmt::format("truncated header: expected {} bytes, found {}", header_bytes,
                             kMagicBytes + got.value()));
  }

  IdxHeader header;
  header.bytes = header_bytes;
  for (int dim_idx = 0; dim_idx < kind.dims; ++dim_idx) {
    header.dims.push_back(readBigEndian32(dim_bytes.data() + kDimBytes * dim_idx));
  }
  header.values = 1;
  for (int64_t extent : header.dims) {
    if (__builtin_mul_overflow(header.values, extent, &header.values)) {
      return error(fmt::format("dimensions {} overflow: their product does not fit in 64 bits",
                               fmt::join(header.dims, "x")));
    }
  }
  if (header.dims[0] == 0) {
    return error(fmt::format("no samples: the header says 0 {}s", kind.noun));
  }
  return header;
}

template <class Value>
DataResult<std::vector<Value>> readValuesInMemory(ByteStream& stream, const IdxHeader& header,
                                                  const IdxKind& kind, const RowSelection& rows);

// Reads the values after the header as floats or bytes (of the rows `rows` names, or
// all), then checks nothing follows them.
template <class Value>
DataResult<std::vector<Value>> readValues(ByteStream& stream, const IdxHeader& header, const IdxKind& kind,
                                          const RowSelection& rows = std::nullopt) {
  const int64_t kept = rows ? static_cast<int64_t>(rows->size()) * (header.values / header.dims[0]) : header.values;
  const std::string what =
      fmt::format("{} {} values ({:.1f} MiB as {})", kept, kind.data_noun,
                  static_cast<double>(kept) * sizeof(Value) / (1024.0 * 1024.0),
                  sizeof(Value) == 1 ? "bytes" : "floats");
  return loadWithinMemory<std::vector<Value>>(stream.path(), what,
                                              [&] { return readValuesInMemory<Value>(stream, header, kind, rows); });
}

template <class Value>
DataResult<std::vector<Value>> readValuesInMemory(ByteStream& stream, const IdxHeader& header,
                                                  const IdxKind& kind, const RowSelection& rows) {
  const size_t expected = static_cast<size_t>(header.values);
  // At least 1: images of 0 pixels (a 0 in the header) hold no values to read at all.
  const size_t row_values = std::max<size_t>(1, expected / static_cast<size_t>(header.dims[0]));
  std::vector<Value> values;
  values.reserve(std::min(rows ? rows->size() * row_values : expected, kMaxReservedValues));
  adviseHugePages(values.data(), values.capacity() * sizeof(Value));
  // No larger than the data: a small file should not zero-fill a whole chunk. Whole rows,
  // so a chunk keeps or skips each of its rows at once.
  std::vector<uint8_t> chunk(std::max(row_values, std::min(kChunkBytes, expected) / row_values * row_values));
  size_t read = 0;
  size_t next_kept = 0;  // into *rows
  while (read < expected) {
    size_t want = std::min(chunk.size(), expected - read);
    DataResult<size_t> got = stream.read(chunk.data(), want);
    if (!got.ok()) return got.error();
    if (!rows) {
      values.insert(values.end(), chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(got.value()));
    } else {
      const size_t end_row = (read + got.value()) / row_values;
      for (; next_kept < rows->size() && static_cast<size_t>((*rows)[next_kept]) < end_row; ++next_kept) {
        const size_t offset = static_cast<size_t>((*rows)[next_kept]) * row_values - read;
        const auto begin = chunk.begin() + static_cast<ptrdiff_t>(offset);
        values.insert(values.end(), begin, begin + static_cast<ptrdiff_t>(row_values));
      }
    }
    read += got.value();
    if (got.value() < want) break;
  }
  if (read < expected) {
    return DataError{stream.path(),
                     fmt::format("truncated: expected {} bytes of {} data, found {}", expected,
                                 kind.data_noun, read),
                     ""};
  }

  DataResult<uint64_t> extra = stream.skipToEnd();
  if (!extra.ok()) return extra.error();
  if (extra.value() > 0) {
    return DataError{stream.path(),
                     fmt::format("trailing garbage: {} bytes after the {} data (the header "
                                 "describes {} bytes in all)",
                                 extra.value(), kind.data_noun, header.bytes + expected),
                     ""};
  }
  return values;
}

struct Labels {
  std::vector<float> values;
  int64_t num_classes = 0;
};

// Without reading the values: what the file stores must match the header. A plain
// file's size must be header + values exactly; a gzip file's trailer (its last 4 bytes,
// the uncompressed size modulo 2^32) must say the same, which a truncated file or data
// after the gzip stream (which zlib skips) almost never does. nullopt when it matches.
std::optional<DataError> checkStoredSize(const std::string& path, const IdxHeader& header, const IdxKind& kind,
                                         bool gzipped) {
  const uint64_t expected = header.bytes + static_cast<uint64_t>(header.values);
  std::error_code failed;
  const uint64_t size = std::filesystem::file_size(path, failed);
  if (failed) return DataError{path, fmt::format("cannot read its size: {}", failed.message()), ""};
  if (!gzipped) {
    if (size < expected) {
      return DataError{path,
                       fmt::format("truncated: expected {} bytes of {} data, found {}", header.values,
                                   kind.data_noun, size - std::min<uint64_t>(size, header.bytes)),
                       "the file is incomplete: copy or download it again"};
    }
    if (size > expected) {
      return DataError{path,
                       fmt::format("trailing garbage: {} bytes after the {} data (the header describes {} bytes in "
                                   "all)",
                                   size - expected, kind.data_noun, expected),
                       "the file is damaged, or its header does not describe it"};
    }
    return std::nullopt;
  }
  uint8_t trailer[4] = {0, 0, 0, 0};
  std::FILE* file = std::fopen(path.c_str(), "rb");
  const bool read = file != nullptr && size >= 4 && std::fseek(file, -4, SEEK_END) == 0 &&
                    std::fread(trailer, 1, 4, file) == 4;
  if (file != nullptr) std::fclose(file);
  if (!read) return DataError{path, "cannot read the gzip trailer", ""};
  const uint32_t stored = uint32_t{trailer[0]} | (uint32_t{trailer[1]} << 8) | (uint32_t{trailer[2]} << 16) |
                          (uint32_t{trailer[3]} << 24);
  if (stored < expected && stored >= header.bytes) {
    return DataError{path,
                     fmt::format("truncated: expected {} bytes of {} data, found {} (by the gzip trailer)",
                                 header.values, kind.data_noun, stored - header.bytes),
                     "the file is incomplete: copy or download it again"};
  }
  if (stored != static_cast<uint32_t>(expected)) {
    return DataError{path,
                     fmt::format("damaged gzip: its trailer gives {} bytes uncompressed, but the idx header "
                                 "describes {}: the file is truncated or has data after its end",
                                 stored, expected),
                     "the file is incomplete or damaged: copy or download it again"};
  }
  return std::nullopt;
}

// Opens and reads the whole label file (one byte per sample, so this is cheap) and checks
// it has one label per image.
DataResult<Labels> readLabels(const IdxFilePair& files, int64_t image_count) {
  DataResult<ByteStream> stream = ByteStream::open(files.labels_path, files.missing_hint);
  if (!stream.ok()) return stream.error();
  DataResult<IdxHeader> header = readHeader(stream.value(), kLabels);
  if (!header.ok()) return header.error();
  int64_t label_count = header.value().dims[0];
  if (label_count != image_count) {
    return DataError{files.labels_path,
                     fmt::format("label count mismatch: {} labels, but '{}' has {} images",
                                 label_count, files.images_path, image_count),
                     "the image and label files must come from the same set"};
  }
  if (auto wrong = checkStoredSize(files.labels_path, header.value(), kLabels, stream.value().gzipped())) return *wrong;
  DataResult<std::vector<float>> values = readValues<float>(stream.value(), header.value(), kLabels);
  if (!values.ok()) return values.error();

  Labels labels;
  labels.values = std::move(values.value());
  float max_label = *std::max_element(labels.values.begin(), labels.values.end());
  labels.num_classes = static_cast<int64_t>(max_label) + 1;
  return labels;
}

struct ImageFile {
  ByteStream stream;  // positioned after the header
  IdxHeader header;
};

DataResult<ImageFile> openImages(const IdxFilePair& files) {
  DataResult<ByteStream> stream = ByteStream::open(files.images_path, files.missing_hint);
  if (!stream.ok()) return stream.error();
  DataResult<IdxHeader> header = readHeader(stream.value(), kImages);
  if (!header.ok()) return header.error();
  if (auto wrong = checkStoredSize(files.images_path, header.value(), kImages, stream.value().gzipped())) {
    return *wrong;
  }
  return ImageFile{std::move(stream.value()), std::move(header.value())};
}

}  // namespace

DataResult<PartInfo> probeIdxFiles(const IdxFilePair& files) {
  DataResult<Dataset> labels = loadIdxLabels(files);
  if (!labels.ok()) return labels.error();
  PartInfo info;
  info.part = files.part;
  info.count = labels.value().count;
  info.sample_shape = labels.value().sample_shape;
  info.target_width = 1;
  info.integer_targets = true;
  info.num_classes = labels.value().num_classes;
  return info;
}

DataResult<Dataset> loadIdxFiles(const IdxFilePair& files, const RowSelection& rows, InputStorage storage) {
  DataResult<ImageFile> images = openImages(files);
  if (!images.ok()) return images.error();
  const std::vector<int64_t>& dims = images.value().header.dims;
  if (rows) {
    for (size_t k = 0; k < rows->size(); ++k) {
      if ((*rows)[k] < 0 || (*rows)[k] >= dims[0] || (k > 0 && (*rows)[k] <= (*rows)[k - 1])) {
        return DataError{files.images_path,
                         fmt::format("cannot load sample {} of {}: the samples to load must be ascending, distinct "
                                     "and in 0..{}",
                                     (*rows)[k], dims[0], dims[0] - 1),
                         ""};
      }
    }
  }
  // Labels first: a count mismatch is cheaper to find than reading all the pixels.
  DataResult<Labels> labels = readLabels(files, dims[0]);
  if (!labels.ok()) return labels.error();
  Dataset dataset;
  if (storage == InputStorage::kBytes) {
    DataResult<std::vector<uint8_t>> pixels =
        readValues<uint8_t>(images.value().stream, images.value().header, kImages, rows);
    if (!pixels.ok()) return pixels.error();
    setByteInputs(dataset, std::move(pixels.value()));
  } else {
    DataResult<std::vector<float>> pixels =
        readValues<float>(images.value().stream, images.value().header, kImages, rows);
    if (!pixels.ok()) return pixels.error();
    dataset.x = std::move(pixels.value());
  }
  dataset.sample_shape.assign(dims.begin() + 1, dims.end());
  dataset.count = rows ? static_cast<int64_t>(rows->size()) : dims[0];
  dataset.target_width = 1;
  dataset.num_classes = labels.value().num_classes;  // of the whole part, kept or not
  if (rows) {
    dataset.y.reserve(rows->size());
    for (const int64_t row : *rows) dataset.y.push_back(labels.value().values[static_cast<size_t>(row)]);
  } else {
    dataset.y = std::move(labels.value().values);
  }
  return dataset;
}

DataResult<Dataset> loadIdxLabels(const IdxFilePair& files) {
  DataResult<ImageFile> images = openImages(files);
  if (!images.ok()) return images.error();
  const std::vector<int64_t>& dims = images.value().header.dims;
  DataResult<Labels> labels = readLabels(files, dims[0]);
  if (!labels.ok()) return labels.error();
  Dataset dataset;
  dataset.sample_shape.assign(dims.begin() + 1, dims.end());
  dataset.count = dims[0];
  dataset.target_width = 1;
  dataset.num_classes = labels.value().num_classes;
  dataset.y = std::move(labels.value().values);
  return dataset;
}

DataResult<Dataset> loadIdxImages(const std::string& images_path) {
  DataResult<ImageFile> images = openImages({images_path, "", "all", kIdxMissingHint});
  if (!images.ok()) return images.error();
  DataResult<std::vector<float>> pixels = readValues<float>(images.value().stream, images.value().header, kImages);
  if (!pixels.ok()) return pixels.error();
  const std::vector<int64_t>& dims = images.value().header.dims;
  Dataset dataset;
  dataset.sample_shape.assign(dims.begin() + 1, dims.end());
  dataset.count = dims[0];
  dataset.target_width = 0;
  dataset.x = std::move(pixels.value());
  return dataset;
}

DataResult<std::vector<PartInfo>> probeIdx(const std::string& images_path,
                                           const std::string& labels_path) {
  DataResult<PartInfo> info = probeIdxFiles({images_path, labels_path, "all", kIdxMissingHint});
  if (!info.ok()) return info.error();
  return std::vector<PartInfo>{std::move(info.value())};
}

DataResult<Dataset> loadIdx(const std::string& images_path, const std::string& labels_path, const RowSelection& rows,
                            InputStorage storage) {
  return loadIdxFiles({images_path, labels_path, "all", kIdxMissingHint}, rows, storage);
}

DataResult<Dataset> loadIdxLabels(const std::string& images_path, const std::string& labels_path) {
  return loadIdxLabels({images_path, labels_path, "all", kIdxMissingHint});
}

}  // namespace nnspec::rt
