// PNG encoding (decoded back with zlib), base64 and the colour maps of report images.

#include <zlib.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/report/png.h"

namespace {

using nnspec::rt::Image;

uint32_t bigEndian(const std::string& bytes, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 3]));
}

struct Chunk {
  std::string type;
  std::string data;
  bool crc_ok = false;
};

std::vector<Chunk> chunksOf(const std::string& png) {
  std::vector<Chunk> chunks;
  size_t at = 8;
  while (at + 12 <= png.size()) {
    const uint32_t length = bigEndian(png, at);
    Chunk chunk{png.substr(at + 4, 4), png.substr(at + 8, length), false};
    const std::string body = png.substr(at + 4, 4 + length);
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    chunk.crc_ok = crc == bigEndian(png, at + 8 + length);
    chunks.push_back(chunk);
    at += 12 + length;
  }
  return chunks;
}

// The pixels of a PNG this encoder wrote (filter 0 on every row).
std::vector<uint8_t> decode(const std::string& png, int64_t width, int64_t height, int channels) {
  std::string compressed;
  for (const auto& chunk : chunksOf(png)) {
    if (chunk.type == "IDAT") compressed += chunk.data;
  }
  const size_t stride = static_cast<size_t>(width * channels);
  std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(height));
  uLongf size = raw.size();
  REQUIRE(uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()) == Z_OK);
  REQUIRE(size == raw.size());
  std::vector<uint8_t> pixels;
  for (int64_t row = 0; row < height; ++row) {
    CHECK(raw[static_cast<size_t>(row) * (stride + 1)] == 0);
    const auto begin = raw.begin() + static_cast<long>(static_cast<size_t>(row) * (stride + 1) + 1);
    pixels.insert(pixels.end(), begin, begin + static_cast<long>(stride));
  }
  return pixels;
}

}  // namespace

TEST_CASE("a grayscale PNG decodes back to its pixels", "[report]") {
  Image image{5, 3, 1, {}};
  for (int k = 0; k < 15; ++k) image.pixels.push_back(static_cast<uint8_t>(k * 17));
  const std::string png = nnspec::rt::encodePng(image);
  REQUIRE(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  const auto chunks = chunksOf(png);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0].type == "IHDR");
  CHECK(chunks[1].type == "IDAT");
  CHECK(chunks[2].type == "IEND");
  for (const auto& chunk : chunks) CHECK(chunk.crc_ok);
  CHECK(bigEndian(chunks[0].data, 0) == 5);
  CHECK(bigEndian(chunks[0].data, 4) == 3);
  CHECK(chunks[0].data[8] == 8);  // bits per channel
  CHECK(chunks[0].data[9] == 0);  // grayscale
  CHECK(decode(png, 5, 3, 1) == image.pixels);
}

TEST_CASE("an RGB PNG decodes back to its pixels", "[report]") {
  Image image{4, 4, 3, {}};
  for (int k = 0; k < 48; ++k) image.pixels.push_back(static_cast<uint8_t>((k * 37) % 256));
  const std::string png = nnspec::rt::encodePng(image);
  CHECK(chunksOf(png)[0].data[9] == 2);  // truecolour
  CHECK(decode(png, 4, 4, 3) == image.pixels);
}

TEST_CASE("an image whose pixels do not match its size is refused", "[report]") {
  Image image{4, 4, 1, std::vector<uint8_t>(15)};
  CHECK_THROWS_AS(nnspec::rt::encodePng(image), std::invalid_argument);
}

TEST_CASE("base64 pads like RFC 4648", "[report]") {
  CHECK(nnspec::rt::encodeBase64("") == "");
  CHECK(nnspec::rt::encodeBase64("M") == "TQ==");
  CHECK(nnspec::rt::encodeBase64("Ma") == "TWE=");
  CHECK(nnspec::rt::encodeBase64("Man") == "TWFu");
  CHECK(nnspec::rt::encodeBase64(std::string("\xff\xfe\x00", 3)) == "//4A");
  Image image{1, 1, 1, {0}};
  CHECK(nnspec::rt::pngDataUri(image).rfind("data:image/png;base64,iVBORw0KGgo", 0) == 0);
}

TEST_CASE("colour maps put their ends where they say", "[report]") {
  const float values[] = {-1.0f, 0.0f, 1.0f};
  const Image ink = nnspec::rt::inkImage(values, 1, 3, -1.0f, 1.0f);
  CHECK(ink.pixels == std::vector<uint8_t>{255, 128, 0});  // low is paper, high is ink
  const Image diverging = nnspec::rt::divergingImage(values, 1, 3, 1.0f);
  CHECK(diverging.pixels[0] < diverging.pixels[2]);  // blue: more blue than red
  CHECK(diverging.pixels[3] == 255);                // zero is white
  CHECK(diverging.pixels[4] == 255);
  CHECK(diverging.pixels[5] == 255);
  CHECK(diverging.pixels[6] > diverging.pixels[8]);  // red: more red than blue
  const Image viridis = nnspec::rt::viridisImage(values, 1, 3, -1.0f, 1.0f);
  CHECK(viridis.pixels[8] > 0);           // dark violet has blue
  CHECK(viridis.pixels[6 + 0] > 240);     // yellow end: red and green high
  CHECK(viridis.pixels[6 + 1] > 220);
}
