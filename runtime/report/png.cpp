#include "runtime/report/png.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

namespace nnspec::rt {
namespace {

void appendBigEndian(std::string& out, uint32_t value) {
  out += static_cast<char>(value >> 24);
  out += static_cast<char>(value >> 16);
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value);
}

// length, type, data, CRC of type and data.
void appendChunk(std::string& out, const char* type, const std::string& data) {
  appendBigEndian(out, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()),
                          static_cast<uInt>(body.size()));
  appendBigEndian(out, static_cast<uint32_t>(crc));
}

uint8_t toByte(double unit) { return static_cast<uint8_t>(std::lround(std::clamp(unit, 0.0, 1.0) * 255.0)); }

// Viridis at 9 evenly spaced stops (matplotlib's), interpolated linearly between them.
constexpr std::array<std::array<double, 3>, 9> kViridis = {{{0.267, 0.005, 0.329},
                                                            {0.279, 0.175, 0.483},
                                                            {0.230, 0.322, 0.546},
                                                            {0.173, 0.449, 0.558},
                                                            {0.128, 0.567, 0.551},
                                                            {0.153, 0.680, 0.504},
                                                            {0.361, 0.786, 0.388},
                                                            {0.659, 0.866, 0.204},
                                                            {0.993, 0.906, 0.144}}};

}  // namespace

std::string encodePng(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<size_t>(image.width * image.height * image.channels)) {
    throw std::invalid_argument("encodePng: the pixels do not match the image size");
  }
  std::string out = "\x89PNG\r\n\x1a\n";
  std::string header;
  appendBigEndian(header, static_cast<uint32_t>(image.width));
  appendBigEndian(header, static_cast<uint32_t>(image.height));
  header += static_cast<char>(8);                              // bits per channel
  header += static_cast<char>(image.channels == 1 ? 0 : 2);    // gray or RGB
  header += std::string(3, '\0');                              // deflate, filter 0, no interlace
  appendChunk(out, "IHDR", header);
  // Each scanline starts with its filter type (0: none).
  const size_t stride = static_cast<size_t>(image.width * image.channels);
  std::string raw;
  raw.reserve((stride + 1) * static_cast<size_t>(image.height));
  for (int64_t row = 0; row < image.height; ++row) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(image.pixels.data()) + static_cast<size_t>(row) * stride, stride);
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string compressed(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION) != Z_OK) {
    throw std::runtime_error("encodePng: zlib failed");
  }
  compressed.resize(size);
  appendChunk(out, "IDAT", compressed);
  appendChunk(out, "IEND", "");
  return out;
}

std::string encodeBase64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t at = 0; at < bytes.size(); at += 3) {
    const size_t count = std::min<size_t>(3, bytes.size() - at);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k) {
      group = (group << 8) | (k < count ? static_cast<uint8_t>(bytes[at + k]) : 0u);
    }
    for (size_t k = 0; k < 4; ++k) {
      out += k <= count ? kAlphabet[(group >> (18 - 6 * k)) & 0x3f] : '=';
    }
  }
  return out;
}

std::string pngDataUri(const Image& image) { return "data:image/png;base64," + encodeBase64(encodePng(image)); }

Image inkImage(const float* values, int64_t height, int64_t width, float lo, float hi) {
  Image image{width, height, 1, std::vector<uint8_t>(static_cast<size_t>(width * height))};
  const double span = hi > lo ? hi - lo : 1.0;
  for (size_t k = 0; k < image.pixels.size(); ++k) image.pixels[k] = toByte(1.0 - (values[k] - lo) / span);
  return image;
}

Image divergingImage(const float* values, int64_t height, int64_t width, float limit) {
  Image image{width, height, 3, std::vector<uint8_t>(static_cast<size_t>(width * height * 3))};
  const double scale = limit > 0 ? limit : 1.0;
  // Ends of the map: a deep blue and a deep red (RdBu's), white in the middle.
  constexpr std::array<double, 3> kBlue = {0.129, 0.400, 0.675};
  constexpr std::array<double, 3> kRed = {0.698, 0.094, 0.169};
  for (int64_t k = 0; k < width * height; ++k) {
    const double t = std::clamp(values[k] / scale, -1.0, 1.0);
    const auto& end = t < 0 ? kBlue : kRed;
    const double weight = std::fabs(t);
    for (int c = 0; c < 3; ++c) image.pixels[static_cast<size_t>(k * 3 + c)] = toByte(1.0 + (end[c] - 1.0) * weight);
  }
  return image;
}

Image viridisImage(const float* values, int64_t height, int64_t width, float lo, float hi) {
  Image image{width, height, 3, std::vector<uint8_t>(static_cast<size_t>(width * height * 3))};
  const double span = hi > lo ? hi - lo : 1.0;
  for (int64_t k = 0; k < width * height; ++k) {
    const double t = std::clamp((values[k] - lo) / span, 0.0, 1.0) * (kViridis.size() - 1);
    const size_t stop = std::min(static_cast<size_t>(t), kViridis.size() - 2);
    const double frac = t - static_cast<double>(stop);
    for (int c = 0; c < 3; ++c) {
      const double value = kViridis[stop][c] + (kViridis[stop + 1][c] - kViridis[stop][c]) * frac;
      image.pixels[static_cast<size_t>(k * 3 + c)] = toByte(value);
    }
  }
  return image;
}

}  // namespace nnspec::rt
