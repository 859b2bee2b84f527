// The data readers on fuzzed files. An input is
//   byte 0: bits 0-1 the reader (0: an IDX image/label pair, 1: IDX images alone,
//           2 and 3: CSV); bit 2: gzip the first file; bit 3: gzip the second;
//   IDX pair: 4 bytes little-endian, the image file's length (cut to what is left), the
//           image file, then the label file;
//   IDX images: the image file;
//   CSV: one line choosing the columns, "target" or "target;feature,feature", then the
//           CSV file.
// The harness gzips a file only when its bit is set; raw bytes that start with 1f 8b are
// read as gzip by the readers anyway, so damaged streams are reached too.

#include <fmt/core.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data/idx.h"
#include "runtime/data/sources.h"
#include "tests/fuzz/fuzz_targets.h"

namespace nnspec::fuzz {
namespace {

constexpr uint8_t kReaderBits = 0x03;
constexpr uint8_t kGzipFirst = 0x04;
constexpr uint8_t kGzipSecond = 0x08;
constexpr int kGzipWindowBits = 15 + 16;  // zlib's way of asking for a gzip wrapper
constexpr int kMemoryLevel = 8;

std::string gzipped(std::string_view bytes) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, kGzipWindowBits, kMemoryLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::string(bytes);
  }
  std::string out(deflateBound(&stream, bytes.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string writeFile(const std::string& path, std::string_view bytes, bool gzip) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  const std::string content = gzip ? gzipped(bytes) : std::string(bytes);
  stream.write(content.data(), static_cast<std::streamsize>(content.size()));
  return stream ? "" : "cannot write " + path;
}

int64_t product(const std::vector<int64_t>& dims) {
  int64_t out = 1;
  for (int64_t dim : dims) out *= dim;
  return out;
}

// A loaded data set must hold what its header promises and agree with its probe.
std::string checkLoaded(const rt::DataResult<rt::Dataset>& loaded, const rt::DataResult<std::vector<rt::PartInfo>>* probed) {
  if (!loaded.ok()) return loaded.error().message.empty() ? "an error without a message" : "";
  const rt::Dataset& data = loaded.value();
  if (static_cast<int64_t>(data.x.size()) != data.count * product(data.sample_shape)) {
    return "x holds " + std::to_string(data.x.size()) + " values for " + std::to_string(data.count) + " samples";
  }
  if (static_cast<int64_t>(data.y.size()) != data.count * data.target_width) {
    return "y holds " + std::to_string(data.y.size()) + " values for " + std::to_string(data.count) + " samples";
  }
  if (probed == nullptr) return "";
  if (!probed->ok()) return "the load succeeded where the probe failed: " + probed->error().message;
  const rt::PartInfo& info = probed->value().front();
  if (info.count != data.count || info.sample_shape != data.sample_shape || info.target_width != data.target_width) {
    return "the probe and the load disagree on the count or the shape";
  }
  return "";
}

std::string checkProbed(const rt::DataResult<std::vector<rt::PartInfo>>& probed) {
  if (!probed.ok()) return probed.error().message.empty() ? "an error without a message" : "";
  if (probed.value().size() != 1) return "a probe of one file found several parts";
  return "";
}

// Loading every other row as bytes (as a run does) must succeed exactly when the whole
// load as floats does, and give the whole load's rows and labels.
std::string checkSomeRows(const std::string& images, const std::string& labels,
                          const rt::DataResult<rt::Dataset>& whole) {
  const int64_t count = whole.ok() ? whole.value().count : 3;
  std::vector<int64_t> rows;
  for (int64_t row = 0; row < count; row += 2) rows.push_back(row);
  const auto some = rt::loadIdx(images, labels, std::span<const int64_t>(rows), rt::InputStorage::kBytes);
  if (some.ok() != whole.ok()) {
    return fmt::format("loadIdx with rows: {} where the whole load {}", some.ok() ? "succeeded" : "failed",
                       whole.ok() ? "succeeded" : "failed");
  }
  if (!whole.ok()) return "";
  const rt::Dataset& all = whole.value();
  const rt::Dataset& kept = some.value();
  const auto features = static_cast<size_t>(product(all.sample_shape));
  if (kept.count != static_cast<int64_t>(rows.size()) || kept.num_classes != all.num_classes ||
      static_cast<size_t>(rt::inputValueCount(kept)) != rows.size() * features || !kept.x.empty() ||
      kept.y.size() != rows.size()) {
    return "loadIdx with rows: the wrong count, classes or sizes";
  }
  std::vector<float> kept_row(features);
  for (size_t k = 0; k < rows.size(); ++k) {
    const auto row = static_cast<size_t>(rows[k]);
    rt::copyInputValues(kept, static_cast<int64_t>(k * features), static_cast<int64_t>(features), kept_row.data());
    if (!std::equal(kept_row.begin(), kept_row.end(), all.x.begin() + static_cast<ptrdiff_t>(row * features)) ||
        kept.y[k] != all.y[row]) {
      return fmt::format("loadIdx with rows: row {} differs from the whole load's", row);
    }
  }
  return "";
}

std::string readIdxPair(std::string_view payload, uint8_t mode, const std::string& scratch_dir) {
  uint32_t images_length = 0;
  for (size_t byte_idx = 0; byte_idx < 4 && byte_idx < payload.size(); ++byte_idx) {
    images_length |= uint32_t{static_cast<uint8_t>(payload[byte_idx])} << (8 * byte_idx);
  }
  payload.remove_prefix(std::min<size_t>(4, payload.size()));
  const size_t split = std::min<size_t>(images_length, payload.size());
  const std::string images = scratch_dir + "/images.idx";
  const std::string labels = scratch_dir + "/labels.idx";
  if (auto failed = writeFile(images, payload.substr(0, split), mode & kGzipFirst); !failed.empty()) return failed;
  if (auto failed = writeFile(labels, payload.substr(split), mode & kGzipSecond); !failed.empty()) return failed;
  const auto probed = rt::probeIdx(images, labels);
  if (auto problem = checkProbed(probed); !problem.empty()) return "probeIdx: " + problem;
  const auto whole = rt::loadIdx(images, labels);
  if (auto problem = checkLoaded(whole, &probed); !problem.empty()) return "loadIdx: " + problem;
  return checkSomeRows(images, labels, whole);
}

std::string readIdxImages(std::string_view payload, uint8_t mode, const std::string& scratch_dir) {
  const std::string images = scratch_dir + "/images.idx";
  if (auto failed = writeFile(images, payload, mode & kGzipFirst); !failed.empty()) return failed;
  if (auto problem = checkLoaded(rt::loadIdxImages(images), nullptr); !problem.empty()) return "loadIdxImages: " + problem;
  return "";
}

std::vector<std::string> splitFeatures(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string readCsvFile(std::string_view payload, uint8_t mode, const std::string& scratch_dir) {
  const size_t line_end = payload.find('\n');
  const std::string_view choice = payload.substr(0, line_end);
  payload.remove_prefix(line_end == std::string_view::npos ? payload.size() : line_end + 1);
  rt::CsvColumns columns;
  const size_t semicolon = choice.find(';');
  columns.target = std::string(choice.substr(0, semicolon));
  if (semicolon != std::string_view::npos) columns.features = splitFeatures(choice.substr(semicolon + 1));
  const std::string path = scratch_dir + "/data.csv";
  if (auto failed = writeFile(path, payload, mode & kGzipFirst); !failed.empty()) return failed;
  const auto probed = rt::probeCsv(path, columns);
  if (auto problem = checkProbed(probed); !problem.empty()) return "probeCsv: " + problem;
  if (auto problem = checkLoaded(rt::loadCsv(path, columns), &probed); !problem.empty()) return "loadCsv: " + problem;
  return "";
}

}  // namespace

std::string readDataFiles(std::string_view bytes, const std::string& scratch_dir) {
  if (bytes.empty()) return "";
  const uint8_t mode = static_cast<uint8_t>(bytes[0]);
  bytes.remove_prefix(1);
  switch (mode & kReaderBits) {
    case 0:
      return readIdxPair(bytes, mode, scratch_dir);
    case 1:
      return readIdxImages(bytes, mode, scratch_dir);
    default:
      return readCsvFile(bytes, mode, scratch_dir);
  }
}

}  // namespace nnspec::fuzz
