// IDX image/label pairs written by the test, plain and gzipped, read back exactly; and
// one damaged file per error the reader must report.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "runtime/data/sources.h"

namespace {

using nnspec::rt::DataError;
using nnspec::rt::Dataset;
using nnspec::rt::PartInfo;

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nnspec_idx_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

using Bytes = std::vector<uint8_t>;

void appendBigEndian32(Bytes& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<uint8_t>(value >> shift));
}

Bytes idxHeader(uint32_t magic, const std::vector<uint32_t>& dims) {
  Bytes bytes;
  appendBigEndian32(bytes, magic);
  for (uint32_t extent : dims) appendBigEndian32(bytes, extent);
  return bytes;
}

Bytes concat(Bytes head, const Bytes& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

Bytes readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writePlain(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void writeGzip(const std::string& path, const Bytes& bytes) {
  gzFile out = gzopen(path.c_str(), "wb");
  REQUIRE(out != nullptr);
  REQUIRE(gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  gzclose(out);
}

// Three 2x4 images with pixel values 0, 10, 20, ... and labels 2, 0, 1.
constexpr uint32_t kCount = 3;
constexpr uint32_t kRows = 2;
constexpr uint32_t kCols = 4;

Bytes samplePixels() {
  Bytes pixels;
  for (uint32_t value_idx = 0; value_idx < kCount * kRows * kCols; ++value_idx) {
    pixels.push_back(static_cast<uint8_t>(value_idx * 10));
  }
  return pixels;
}
const Bytes kSampleLabels = {2, 0, 1};

Bytes sampleImageFile() { return concat(idxHeader(0x803, {kCount, kRows, kCols}), samplePixels()); }
Bytes sampleLabelFile() { return concat(idxHeader(0x801, {kCount}), kSampleLabels); }

void checkSampleDataset(const Dataset& dataset) {
  CHECK(dataset.count == kCount);
  CHECK(dataset.sample_shape == std::vector<int64_t>{kRows, kCols});
  CHECK(dataset.target_width == 1);
  CHECK(dataset.num_classes == 3);
  Bytes pixels = samplePixels();
  REQUIRE(dataset.x.size() == pixels.size());
  for (size_t value_idx = 0; value_idx < pixels.size(); ++value_idx) {
    CHECK(dataset.x[value_idx] == Approx(pixels[value_idx]));
  }
  REQUIRE(dataset.y.size() == kSampleLabels.size());
  for (size_t label_idx = 0; label_idx < kSampleLabels.size(); ++label_idx) {
    CHECK(dataset.y[label_idx] == Approx(kSampleLabels[label_idx]));
  }
}

// Loads (probes) the pair and returns its error; fails the test if that succeeds.
DataError loadError(const std::string& images, const std::string& labels) {
  auto result = nnspec::rt::loadIdx(images, labels);
  REQUIRE_FALSE(result.ok());
  return result.error();
}

DataError probeError(const std::string& images, const std::string& labels) {
  auto result = nnspec::rt::probeIdx(images, labels);
  REQUIRE_FALSE(result.ok());
  return result.error();
}

}  // namespace

TEST_CASE("idx: plain files load back exactly", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"), sampleImageFile());
  writePlain(dir.file("labels"), sampleLabelFile());
  auto result = nnspec::rt::loadIdx(dir.file("images"), dir.file("labels"));
  REQUIRE(result.ok());
  checkSampleDataset(result.value());
}

TEST_CASE("idx: gzipped files load back exactly", "[runtime]") {
  TempDir dir;
  writeGzip(dir.file("images.gz"), sampleImageFile());
  writeGzip(dir.file("labels.gz"), sampleLabelFile());
  auto result = nnspec::rt::loadIdx(dir.file("images.gz"), dir.file("labels.gz"));
  REQUIRE(result.ok());
  checkSampleDataset(result.value());
}

TEST_CASE("idx: gzipped images with plain labels load", "[runtime]") {
  TempDir dir;
  writeGzip(dir.file("images.gz"), sampleImageFile());
  writePlain(dir.file("labels"), sampleLabelFile());
  auto result = nnspec::rt::loadIdx(dir.file("images.gz"), dir.file("labels"));
  REQUIRE(result.ok());
  checkSampleDataset(result.value());
}

TEST_CASE("idx: probe reports count, shape and classes", "[runtime]") {
  TempDir dir;
  writeGzip(dir.file("images.gz"), sampleImageFile());
  writePlain(dir.file("labels"), sampleLabelFile());
  auto result = nnspec::rt::probeIdx(dir.file("images.gz"), dir.file("labels"));
  REQUIRE(result.ok());
  REQUIRE(result.value().size() == 1);
  const PartInfo& info = result.value()[0];
  CHECK(info.part == "all");
  CHECK(info.count == kCount);
  CHECK(info.sample_shape == std::vector<int64_t>{kRows, kCols});
  CHECK(info.target_width == 1);
  CHECK(info.integer_targets);
  CHECK(info.num_classes == 3);
}

TEST_CASE("idx: probe finds missing, extra and damaged pixel data by size, as load does", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("labels"), sampleLabelFile());
  const Bytes whole = sampleImageFile();
  SECTION("header only") {
    writePlain(dir.file("images"), idxHeader(0x803, {kCount, kRows, kCols}));
    CHECK_THAT(probeError(dir.file("images"), dir.file("labels")).message,
               Catch::Contains("truncated: expected 24 bytes of pixel data, found 0"));
    CHECK_FALSE(nnspec::rt::loadIdx(dir.file("images"), dir.file("labels")).ok());
  }
  SECTION("trailing bytes, plain") {
    writePlain(dir.file("images"), concat(whole, Bytes{1, 2, 3}));
    CHECK_THAT(probeError(dir.file("images"), dir.file("labels")).message,
               Catch::Contains("trailing garbage: 3 bytes after the pixel data"));
    CHECK_THAT(loadError(dir.file("images"), dir.file("labels")).message, Catch::Contains("trailing garbage"));
  }
  SECTION("a gzip file cut short") {
    writeGzip(dir.file("images.gz"), whole);
    std::filesystem::resize_file(dir.file("images.gz"), std::filesystem::file_size(dir.file("images.gz")) - 6);
    CHECK_FALSE(nnspec::rt::probeIdx(dir.file("images.gz"), dir.file("labels")).ok());
    CHECK_FALSE(nnspec::rt::loadIdx(dir.file("images.gz"), dir.file("labels")).ok());
  }
  SECTION("garbage after a gzip stream, which zlib would skip") {
    writeGzip(dir.file("images.gz"), whole);
    Bytes gz = readBytes(dir.file("images.gz"));
    writePlain(dir.file("images.gz"), concat(gz, Bytes{'g', 'a', 'r', 'b', 'a', 'g', 'e', '!'}));
    CHECK_THAT(probeError(dir.file("images.gz"), dir.file("labels")).message, Catch::Contains("damaged gzip"));
    CHECK_THAT(loadError(dir.file("images.gz"), dir.file("labels")).message, Catch::Contains("damaged gzip"));
  }
  SECTION("a whole gzip file passes") {
    writeGzip(dir.file("images.gz"), whole);
    REQUIRE(nnspec::rt::probeIdx(dir.file("images.gz"), dir.file("labels")).ok());
    REQUIRE(nnspec::rt::loadIdx(dir.file("images.gz"), dir.file("labels")).ok());
  }
}

TEST_CASE("idx: bad magic is reported", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"),
             concat(idxHeader(0x12345678, {kCount, kRows, kCols}), samplePixels()));
  writePlain(dir.file("labels"), sampleLabelFile());
  DataError error = loadError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("images"));
  CHECK_THAT(error.message, Catch::Contains("bad magic 0x12345678"));
}

TEST_CASE("idx: a label file given as images is reported", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("labels"), sampleLabelFile());
  DataError error = loadError(dir.file("labels"), dir.file("labels"));
  CHECK(error.path == dir.file("labels"));
  CHECK_THAT(error.message, Catch::Contains("bad magic 0x00000801") &&
                                Catch::Contains("expected an idx image file"));
}

TEST_CASE("idx: non-uint8 dtypes are unsupported", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"), idxHeader(0x0D03, {kCount, kRows, kCols}));
  writePlain(dir.file("labels"), sampleLabelFile());
  DataError error = loadError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("images"));
  CHECK_THAT(error.message, Catch::Contains("unsupported dtype 0x0d (float32)"));
}

TEST_CASE("idx: dimensions whose product overflows are reported", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"), idxHeader(0x803, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}));
  writePlain(dir.file("labels"), sampleLabelFile());
  DataError error = loadError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("images"));
  CHECK_THAT(error.message, Catch::Contains("overflow"));
}

TEST_CASE("idx: a file with no samples is reported", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"), idxHeader(0x803, {0, kRows, kCols}));
  writePlain(dir.file("labels"), idxHeader(0x801, {0}));
  DataError error = probeError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("images"));
  CHECK_THAT(error.message, Catch::Contains("no samples"));
}

TEST_CASE("idx: truncated pixel data is reported", "[runtime]") {
  TempDir dir;
  Bytes image_file = sampleImageFile();
  image_file.resize(image_file.size() - 4);
  writePlain(dir.file("labels"), sampleLabelFile());

  SECTION("plain") {
    writePlain(dir.file("images"), image_file);
    DataError error = loadError(dir.file("images"), dir.file("labels"));
    CHECK(error.path == dir.file("images"));
    CHECK_THAT(error.message,
               Catch::Contains("truncated: expected 24 bytes of pixel data, found 20"));
  }
  SECTION("gzipped") {
    writeGzip(dir.file("images.gz"), image_file);
    DataError error = loadError(dir.file("images.gz"), dir.file("labels"));
    CHECK(error.path == dir.file("images.gz"));
    CHECK_THAT(error.message,
               Catch::Contains("truncated: expected 24 bytes of pixel data, found 20"));
  }
}

TEST_CASE("idx: truncated header is reported", "[runtime]") {
  TempDir dir;
  Bytes image_file = sampleImageFile();
  image_file.resize(10);
  writePlain(dir.file("images"), image_file);
  writePlain(dir.file("labels"), sampleLabelFile());
  DataError error = loadError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("images"));
  CHECK_THAT(error.message, Catch::Contains("truncated header: expected 16 bytes, found 10"));
}

TEST_CASE("idx: truncated labels are reported", "[runtime]") {
  TempDir dir;
  Bytes label_file = sampleLabelFile();
  label_file.pop_back();
  writePlain(dir.file("images"), sampleImageFile());
  writePlain(dir.file("labels"), label_file);
  DataError error = loadError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("labels"));
  CHECK_THAT(error.message, Catch::Contains("truncated: expected 3 bytes of label data, found 2"));
}

TEST_CASE("idx: a cut gzip stream is reported", "[runtime]") {
  TempDir dir;
  writeGzip(dir.file("whole.gz"), sampleImageFile());
  std::ifstream whole(dir.file("whole.gz"), std::ios::binary);
  Bytes compressed((std::istreambuf_iterator<char>(whole)), std::istreambuf_iterator<char>());
  compressed.resize(compressed.size() / 2);
  writePlain(dir.file("images.gz"), compressed);
  writePlain(dir.file("labels"), sampleLabelFile());
  DataError error = loadError(dir.file("images.gz"), dir.file("labels"));
  CHECK(error.path == dir.file("images.gz"));
  CHECK_THAT(error.message, Catch::Contains("truncated"));
}

TEST_CASE("idx: trailing garbage is reported", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"), concat(sampleImageFile(), {1, 2, 3}));
  writePlain(dir.file("labels"), sampleLabelFile());
  DataError error = loadError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("images"));
  CHECK_THAT(error.message, Catch::Contains("trailing garbage: 3 bytes after the pixel data"));
}

TEST_CASE("idx: image and label counts must agree", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"), sampleImageFile());
  writePlain(dir.file("labels"), concat(idxHeader(0x801, {2}), {0, 1}));
  for (auto error : {probeError(dir.file("images"), dir.file("labels")),
                     loadError(dir.file("images"), dir.file("labels"))}) {
    CHECK(error.path == dir.file("labels"));
    CHECK_THAT(error.message, Catch::Contains("label count mismatch: 2 labels") &&
                                  Catch::Contains("has 3 images"));
  }
}

TEST_CASE("idx: a missing file is reported with a hint", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("labels"), sampleLabelFile());
  for (auto error : {probeError(dir.file("nope"), dir.file("labels")),
                     loadError(dir.file("nope"), dir.file("labels"))}) {
    CHECK(error.path == dir.file("nope"));
    CHECK(error.message == "cannot open: No such file or directory");
    CHECK_FALSE(error.hint.empty());
  }
}

TEST_CASE("idx: an empty file is reported", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"), {});
  writePlain(dir.file("labels"), sampleLabelFile());
  DataError error = loadError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("images"));
  CHECK_THAT(error.message, Catch::StartsWith("empty file"));
}

TEST_CASE("idx: a directory is not a file", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("labels"), sampleLabelFile());
  std::filesystem::create_directory(dir.file("images"));
  DataError error = loadError(dir.file("images"), dir.file("labels"));
  CHECK(error.path == dir.file("images"));
  CHECK_THAT(error.message, Catch::Contains("cannot open"));
}

namespace {

// 3000 images of 28x28 (more than one 1 MiB read chunk: 1337 rows fit in one), pixel
// (row, k) = (7 * row + k) % 251, labels row % 9 except the last, 9.
constexpr uint32_t kManyImages = 3000;
constexpr uint32_t kSide = 28;

uint8_t manyPixel(int64_t row, int64_t k) { return static_cast<uint8_t>((7 * row + k) % 251); }

void writeManyImages(const TempDir& dir) {
  Bytes images = idxHeader(0x803, {kManyImages, kSide, kSide});
  Bytes labels = idxHeader(0x801, {kManyImages});
  for (int64_t row = 0; row < kManyImages; ++row) {
    for (int64_t k = 0; k < kSide * kSide; ++k) images.push_back(manyPixel(row, k));
    labels.push_back(static_cast<uint8_t>(row == kManyImages - 1 ? 9 : row % 9));
  }
  writeGzip(dir.file("images.gz"), images);
  writePlain(dir.file("labels"), labels);
  writePlain(dir.file("images"), images);
}

}  // namespace

TEST_CASE("idx: a load keeps only the rows asked for, in order, across read chunks", "[runtime]") {
  TempDir dir;
  writeManyImages(dir);
  const std::vector<int64_t> rows{0, 1, 1336, 1337, 1338, 2673, 2674, 2998};
  for (const char* images : {"images.gz", "images"}) {
    INFO(images);
    auto result = nnspec::rt::loadIdx(dir.file(images), dir.file("labels"), std::span<const int64_t>(rows));
    REQUIRE(result.ok());
    const Dataset& data = result.value();
    CHECK(data.count == static_cast<int64_t>(rows.size()));
    CHECK(data.sample_shape == std::vector<int64_t>{kSide, kSide});
    CHECK(data.num_classes == 10);  // the whole file's: label 9 is only in row 2999, not loaded
    REQUIRE(data.x.size() == rows.size() * kSide * kSide);
    REQUIRE(data.y.size() == rows.size());
    int64_t wrong = 0;
    for (size_t kept = 0; kept < rows.size(); ++kept) {
      CHECK(data.y[kept] == static_cast<float>(rows[kept] % 9));
      for (int64_t k = 0; k < kSide * kSide; ++k) {
        if (data.x[kept * kSide * kSide + static_cast<size_t>(k)] != manyPixel(rows[kept], k)) ++wrong;
      }
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("idx: the labels alone, and rows a load cannot keep", "[runtime]") {
  TempDir dir;
  writeManyImages(dir);
  auto labels = nnspec::rt::loadIdxLabels(dir.file("images.gz"), dir.file("labels"));
  REQUIRE(labels.ok());
  CHECK(labels.value().count == kManyImages);
  CHECK(labels.value().x.empty());
  CHECK(labels.value().y.size() == kManyImages);
  CHECK(labels.value().y.back() == 9);
  CHECK(labels.value().num_classes == 10);

  using Rows = std::vector<int64_t>;
  for (const Rows& rows : {Rows{5, 3}, Rows{3, 3}, Rows{kManyImages}, Rows{-1}}) {
    auto result = nnspec::rt::loadIdx(dir.file("images.gz"), dir.file("labels"), std::span<const int64_t>(rows));
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message, Catch::Contains("must be ascending, distinct and in 0..2999"));
  }
  // The checks of the whole file still apply when only some rows are kept.
  Bytes images = readBytes(dir.file("images"));
  writePlain(dir.file("images"), concat(images, Bytes{1, 2}));
  const std::vector<int64_t> rows{0};
  auto result = nnspec::rt::loadIdx(dir.file("images"), dir.file("labels"), std::span<const int64_t>(rows));
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("trailing garbage"));
}

TEST_CASE("idx: images of no pixels load as no values, whole or some rows", "[runtime]") {
  TempDir dir;
  writePlain(dir.file("images"), idxHeader(0x803, {kCount, kRows, 0}));
  writePlain(dir.file("labels"), sampleLabelFile());
  auto whole = nnspec::rt::loadIdx(dir.file("images"), dir.file("labels"));
  REQUIRE(whole.ok());
  CHECK(whole.value().count == kCount);
  CHECK(whole.value().x.empty());
  const std::vector<int64_t> rows{1, 2};
  auto some = nnspec::rt::loadIdx(dir.file("images"), dir.file("labels"), std::span<const int64_t>(rows));
  REQUIRE(some.ok());
  CHECK(some.value().count == 2);
  CHECK(some.value().x.empty());
  CHECK(some.value().y == std::vector<float>{0, 1});
}
