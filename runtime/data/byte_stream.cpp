#include "runtime/data/byte_stream.h"

#include <fmt/core.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace nnspec::rt {

namespace {

constexpr unsigned char kGzipMagic[2] = {0x1f, 0x8b};
constexpr size_t kGzipBufferBytes = size_t{1} << 17;
constexpr size_t kMaxGzReadBytes = size_t{1} << 30;  // gzread takes an unsigned int
constexpr size_t kChunkBytes = size_t{1} << 20;
constexpr size_t kSkipChunkBytes = size_t{1} << 16;
constexpr size_t kMinChunkBytes = size_t{1} << 12;

DataError cannotOpen(const std::string& path, int error_number, const std::string& missing_hint) {
  return DataError{path, fmt::format("cannot open: {}", std::strerror(error_number)),
                   error_number == ENOENT ? missing_hint : ""};
}

}  // namespace

void ByteStream::FileCloser::operator()(std::FILE* file) const { std::fclose(file); }

void ByteStream::GzCloser::operator()(gzFile_s* file) const { gzclose(file); }

DataResult<ByteStream> ByteStream::open(const std::string& path, const std::string& missing_hint) {
  std::error_code status_error;
  const std::filesystem::file_status status = std::filesystem::status(path, status_error);
  if (std::filesystem::is_directory(status)) return cannotOpen(path, EISDIR, "");
  // A device may never end (/dev/zero, /dev/urandom) and a socket is no data: refused. A
  // pipe is read as before (its writer ends it).
  const bool device = std::filesystem::is_character_file(status) || std::filesystem::is_block_file(status);
  if (device || std::filesystem::is_socket(status)) {
    return DataError{path,
                     fmt::format("not a data file: a {}", device ? (std::filesystem::is_character_file(status)
                                                                        ? "character device, which may never end"
                                                                        : "block device")
                                                                 : "socket"),
                     "give a regular file of data"};
  }

  ByteStream stream(path);
  stream.plain_.reset(std::fopen(path.c_str(), "rb"));
  if (stream.plain_ == nullptr) return cannotOpen(path, errno, missing_hint);

  unsigned char magic[2] = {0, 0};
  size_t magic_bytes = std::fread(magic, 1, sizeof magic, stream.plain_.get());
  bool is_gzip = magic_bytes == sizeof magic && std::memcmp(magic, kGzipMagic, 2) == 0;
  if (!is_gzip) {
    if (std::fseek(stream.plain_.get(), 0, SEEK_SET) != 0) {
      return stream.errorAt(fmt::format("cannot read: {}", std::strerror(errno)));
    }
    return stream;
  }

  stream.plain_.reset();
  stream.gz_.reset(gzopen(path.c_str(), "rb"));
  if (stream.gz_ == nullptr) return cannotOpen(path, errno, missing_hint);
  gzbuffer(stream.gz_.get(), kGzipBufferBytes);
  return stream;
}

DataError ByteStream::errorAt(std::string message) const {
  return DataError{path_, std::move(message), ""};
}

DataResult<size_t> ByteStream::read(uint8_t* out, size_t size) {
  if (plain_ != nullptr) {
    size_t got = std::fread(out, 1, size, plain_.get());
    if (got < size && std::ferror(plain_.get())) {
      return errorAt(fmt::format("cannot read: {}", std::strerror(errno)));
    }
    return got;
  }

  size_t total = 0;
  while (total < size) {
    size_t want = std::min(size - total, kMaxGzReadBytes);
    int got = gzread(gz_.get(), out + total, static_cast<unsigned>(want));
    int zlib_status = Z_OK;
    const char* zlib_message = gzerror(gz_.get(), &zlib_status);
    if (zlib_status == Z_BUF_ERROR) {
      return errorAt("truncated gzip data: the compressed stream ends early");
    }
    if (got < 0 || (zlib_status != Z_OK && zlib_status != Z_STREAM_END)) {
      if (zlib_status == Z_ERRNO) {
        return errorAt(fmt::format("cannot read: {}", std::strerror(errno)));
      }
      // zlib prefixes its message with the path; the DataError carries that already.
      std::string detail = zlib_message;
      std::string prefix = path_ + ": ";
      if (detail.rfind(prefix, 0) == 0) detail.erase(0, prefix.size());
      return errorAt(fmt::format("corrupt gzip data: {}", detail));
    }
    if (got == 0) break;
    total += static_cast<size_t>(got);
  }
  return total;
}

DataResult<uint64_t> ByteStream::skipToEnd() {
  // Usually nothing is left: a small buffer, not a zero-filled chunk per call.
  std::vector<uint8_t> chunk(kSkipChunkBytes);
  uint64_t skipped = 0;
  while (true) {
    DataResult<size_t> got = read(chunk.data(), chunk.size());
    if (!got.ok()) return got.error();
    skipped += got.value();
    if (got.value() < chunk.size()) return skipped;
  }
}

DataResult<std::string> ByteStream::readRest() {
  std::string content;
  size_t chunk_bytes = kChunkBytes;
  if (plain_ != nullptr) {
    std::error_code size_error;
    uintmax_t file_bytes = std::filesystem::file_size(path_, size_error);
    // A small file is read in one chunk of about its size (plus the byte that finds the
    // end), not zero-filled into a whole chunk.
    if (!size_error) {
      chunk_bytes = static_cast<size_t>(std::clamp<uintmax_t>(file_bytes + 1, kMinChunkBytes, kChunkBytes));
    }
    if (!size_error) content.reserve(file_bytes + chunk_bytes);
  }
  while (true) {
    size_t old_size = content.size();
    content.resize(old_size + chunk_bytes);
    DataResult<size_t> got =
        read(reinterpret_cast<uint8_t*>(content.data()) + old_size, chunk_bytes);
    if (!got.ok()) return got.error();
    content.resize(old_size + got.value());
    if (got.value() < chunk_bytes) return content;
  }
}

DataResult<std::string> readWholeFile(const std::string& path, const std::string& missing_hint) {
  DataResult<ByteStream> stream = ByteStream::open(path, missing_hint);
  if (!stream.ok()) return stream.error();
  return stream.value().readRest();
}

}  // namespace nnspec::rt
