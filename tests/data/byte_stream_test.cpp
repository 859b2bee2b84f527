// ByteStream's gzip reading (ISA-L's igzip) against what zlib writes: members one after
// another, headers with a name and a comment, large data read in small and large
// pieces, and damaged streams, each reported as the readers report them.
#include <zlib.h>

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/data/byte_stream.h"

namespace {

using Bytes = std::vector<uint8_t>;

std::string tempFile(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("nnspec_byte_stream_" + std::to_string(::getpid()) + name))
      .string();
}

// One gzip member of `data`, with a name and a comment in its header when asked.
Bytes gzipMember(const Bytes& data, bool named) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  gz_header header{};
  std::string name = "images.idx", comment = "written by the test";
  if (named) {
    header.name = reinterpret_cast<Bytef*>(name.data());
    header.comment = reinterpret_cast<Bytef*>(comment.data());
    REQUIRE(deflateSetHeader(&stream, &header) == Z_OK);
  }
  Bytes out(deflateBound(&stream, data.size()) + 64);
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

void writeFile(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// 3 MiB of bytes that compress, but not to nothing.
Bytes someData(size_t size, uint32_t seed) {
  Bytes data(size);
  uint32_t state = seed;
  for (size_t k = 0; k < size; ++k) {
    state = state * 1664525u + 1013904223u;
    data[k] = static_cast<uint8_t>((k / 7) % 200 + ((state >> 28) & 3));
  }
  return data;
}

// Everything the stream holds, read `piece` bytes at a time.
nnspec::rt::DataResult<Bytes> readAll(const std::string& path, size_t piece) {
  auto stream = nnspec::rt::ByteStream::open(path, "");
  if (!stream.ok()) return stream.error();
  Bytes all;
  Bytes buffer(piece);
  while (true) {
    auto got = stream.value().read(buffer.data(), buffer.size());
    if (!got.ok()) return got.error();
    all.insert(all.end(), buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(got.value()));
    if (got.value() < piece) return all;
  }
}

}  // namespace

TEST_CASE("byte stream: gzip members, one after another, read back whole in any piece size", "[runtime]") {
  const Bytes first = someData(size_t{3} << 20, 1);
  const Bytes second = someData(5000, 2);
  Bytes file = gzipMember(first, true);
  const Bytes more = gzipMember(second, false);
  file.insert(file.end(), more.begin(), more.end());
  const std::string path = tempFile("members.gz");
  writeFile(path, file);
  Bytes expected;
  expected.reserve(first.size() + second.size());
  expected.insert(expected.end(), first.begin(), first.end());
  expected.insert(expected.end(), second.begin(), second.end());
  for (size_t piece : {size_t{1} << 22, size_t{4096}, size_t{784}, size_t{1}}) {
    if (piece == 1) {
      // A byte at a time through the first 100 KiB only: the path is the same.
      auto stream = nnspec::rt::ByteStream::open(path, "");
      REQUIRE(stream.ok());
      CHECK(stream.value().gzipped());
      size_t same = 0;
      for (size_t k = 0; k < (size_t{100} << 10); ++k) {
        uint8_t byte = 0;
        auto got = stream.value().read(&byte, 1);
        if (got.ok() && got.value() == 1 && byte == expected[k]) ++same;
      }
      CHECK(same == (size_t{100} << 10));
      continue;
    }
    INFO("pieces of " << piece << " bytes");
    auto all = readAll(path, piece);
    REQUIRE(all.ok());
    CHECK(all.value().size() == expected.size());
    CHECK(all.value() == expected);
  }
  std::filesystem::remove(path);
}

TEST_CASE("byte stream: bytes after the last gzip member end the data, as in zlib", "[runtime]") {
  const Bytes data = someData(20000, 3);
  Bytes file = gzipMember(data, false);
  for (char c : std::string("not gzip")) file.push_back(static_cast<uint8_t>(c));
  const std::string path = tempFile("garbage.gz");
  writeFile(path, file);
  auto all = readAll(path, 1 << 16);
  REQUIRE(all.ok());
  CHECK(all.value() == data);
  std::filesystem::remove(path);
}

TEST_CASE("byte stream: cut and damaged gzip streams are reported, never read as data", "[runtime]") {
  const Bytes data = someData(size_t{1} << 20, 4);
  const Bytes whole = gzipMember(data, true);
  const std::string path = tempFile("damaged.gz");
  SECTION("cut in its deflate data") {
    writeFile(path, Bytes(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(whole.size() / 2)));
    auto all = readAll(path, 1 << 16);
    REQUIRE_FALSE(all.ok());
    CHECK_THAT(all.error().message, Catch::Equals("truncated gzip data: the compressed stream ends early"));
  }
  SECTION("cut in its header") {
    writeFile(path, Bytes(whole.begin(), whole.begin() + 12));
    auto all = readAll(path, 1 << 16);
    REQUIRE_FALSE(all.ok());
    CHECK_THAT(all.error().message, Catch::Contains("truncated gzip data"));
  }
  SECTION("without its trailer") {
    writeFile(path, Bytes(whole.begin(), whole.end() - 8));
    auto all = readAll(path, 1 << 16);
    REQUIRE_FALSE(all.ok());
    CHECK_THAT(all.error().message, Catch::Contains("truncated gzip data"));
  }
  SECTION("a wrong checksum") {
    Bytes bad = whole;
    bad[bad.size() - 6] ^= 0x55;  // in the CRC-32 of the trailer
    writeFile(path, bad);
    auto all = readAll(path, 1 << 16);
    REQUIRE_FALSE(all.ok());
    CHECK_THAT(all.error().message, Catch::Equals("corrupt gzip data: incorrect data check"));
  }
  SECTION("a damaged block header") {
    Bytes bad = whole;
    const size_t header = 10 + std::string("images.idx").size() + 1 + std::string("written by the test").size() + 1;
    bad[header] |= 0x06;  // BTYPE 11: reserved
    writeFile(path, bad);
    auto all = readAll(path, 1 << 16);
    REQUIRE_FALSE(all.ok());
    CHECK_THAT(all.error().message, Catch::StartsWith("corrupt gzip data: "));
    CHECK(all.error().path == path);
  }
  std::filesystem::remove(path);
}

TEST_CASE("byte stream: a pipe is read whole, gzipped or plain", "[runtime]") {
  const Bytes data = someData(300000, 5);
  for (const bool gzip : {true, false}) {
    INFO((gzip ? "gzip" : "plain"));
    const std::string path = tempFile(gzip ? "pipe.gz" : "pipe");
    std::filesystem::remove(path);
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    const Bytes bytes = gzip ? gzipMember(data, false) : data;
    std::thread writer([&] { writeFile(path, bytes); });
    auto all = readAll(path, 1 << 16);
    writer.join();
    std::filesystem::remove(path);
    REQUIRE(all.ok());
    CHECK(all.value() == data);
  }
}
