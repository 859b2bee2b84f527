#pragma once
// Images for reports: 8-bit grayscale or RGB pixels, PNG encoding (zlib) and the
// data: URI that embeds a PNG in an HTML file. Colour maps turn float arrays (weights,
// filters, feature maps, input images) into pixels.

#include <cstdint>
#include <string>
#include <vector>

namespace nnspec::rt {

struct Image {
  int64_t width = 0;
  int64_t height = 0;
  int channels = 1;             // 1 gray, 3 RGB
  std::vector<uint8_t> pixels;  // row-major, channels interleaved
};

// The PNG file of `image` (8 bits per channel, no interlace, one IDAT chunk).
std::string encodePng(const Image& image);

std::string encodeBase64(const std::string& bytes);

// "data:image/png;base64,..." for an <img src>.
std::string pngDataUri(const Image& image);

// `values` (height x width, row-major) from [lo, hi] to ink on paper: lo white, hi black.
Image inkImage(const float* values, int64_t height, int64_t width, float lo, float hi);

// Signed values on a diverging blue-white-red map: -limit blue, 0 white, +limit red.
Image divergingImage(const float* values, int64_t height, int64_t width, float limit);

// Values on the viridis map (perceptually uniform), lo dark violet to hi yellow.
Image viridisImage(const float* values, int64_t height, int64_t width, float lo, float hi);

}  // namespace nnspec::rt
