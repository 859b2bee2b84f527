#include "runtime/data/byte_stream.h"

#include <fmt/core.h>
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace nnspec::rt {

namespace {

constexpr unsigned char kGzipMagic[2] = {0x1f, 0x8b};
constexpr size_t kGzipInputBytes = size_t{1} << 18;
constexpr size_t kMaxInflateBytes = size_t{1} << 30;  // avail_out is a uint32_t
constexpr size_t kChunkBytes = size_t{1} << 20;
constexpr size_t kSkipChunkBytes = size_t{1} << 16;
constexpr size_t kMinChunkBytes = size_t{1} << 12;

DataError cannotOpen(const std::string& path, int error_number, const std::string& missing_hint) {
  return DataError{path, fmt::format("cannot open: {}", std::strerror(error_number)),
                   error_number == ENOENT ? missing_hint : ""};
}

// What igzip's error codes mean, in zlib's words where it has them.
std::string inflateError(int code) {
  switch (code) {
    case ISAL_INVALID_BLOCK:
      return "invalid block type";
    case ISAL_INVALID_SYMBOL:
      return "invalid code";
    case ISAL_INVALID_LOOKBACK:
      return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER:
      return "incorrect header check";
    case ISAL_UNSUPPORTED_METHOD:
      return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "incorrect data check";
    default:
      return fmt::format("inflate failed (ISA-L code {})", code);
  }
}

}  // namespace

struct ByteStream::Inflater {
  inflate_state state;
  std::vector<uint8_t> input = std::vector<uint8_t>(kGzipInputBytes);
  bool input_ended = false;  // the file has no more bytes
  bool ended = false;        // the data has ended: after the last member

  // Ready for a gzip member at the unread input (next_in, avail_in).
  void startMember() {
    uint8_t* next_in = state.next_in;
    const uint32_t avail_in = state.avail_in;
    isal_inflate_init(&state);
    state.crc_flag = ISAL_GZIP;
    state.next_in = next_in;
    state.avail_in = avail_in;
  }
};

void ByteStream::FileCloser::operator()(std::FILE* file) const { std::fclose(file); }

void ByteStream::InflaterDeleter::operator()(Inflater* inflater) const { delete inflater; }

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
  stream.file_.reset(std::fopen(path.c_str(), "rb"));
  if (stream.file_ == nullptr) return cannotOpen(path, errno, missing_hint);

  unsigned char magic[2] = {0, 0};
  const size_t magic_bytes = std::fread(magic, 1, sizeof magic, stream.file_.get());
  const bool is_gzip = magic_bytes == sizeof magic && std::memcmp(magic, kGzipMagic, 2) == 0;
  if (!is_gzip) {
    // The bytes read are served first (no seek back: a pipe cannot).
    std::memcpy(stream.head_, magic, magic_bytes);
    stream.head_size_ = magic_bytes;
    return stream;
  }
  // The magic bytes are the inflater's first input (no seek back: a pipe works too).
  stream.gz_.reset(new Inflater);
  std::memcpy(stream.gz_->input.data(), magic, sizeof magic);
  stream.gz_->state.next_in = stream.gz_->input.data();
  stream.gz_->state.avail_in = sizeof magic;
  if (auto failed = stream.refill()) return *failed;
  stream.gz_->startMember();
  return stream;
}

DataError ByteStream::errorAt(std::string message) const {
  return DataError{path_, std::move(message), ""};
}

DataResult<size_t> ByteStream::read(uint8_t* out, size_t size) {
  if (gz_ != nullptr) return readGzip(out, size);
  const size_t head = std::min(size, head_size_ - head_read_);
  std::memcpy(out, head_ + head_read_, head);
  head_read_ += head;
  const size_t got = std::fread(out + head, 1, size - head, file_.get());
  if (got < size - head && std::ferror(file_.get())) {
    return errorAt(fmt::format("cannot read: {}", std::strerror(errno)));
  }
  return head + got;
}

std::optional<DataError> ByteStream::refill() {
  Inflater& gz = *gz_;
  if (gz.input_ended) return std::nullopt;
  const size_t kept = gz.state.avail_in;
  if (kept > 0 && gz.state.next_in != gz.input.data()) std::memmove(gz.input.data(), gz.state.next_in, kept);
  const size_t got = std::fread(gz.input.data() + kept, 1, gz.input.size() - kept, file_.get());
  if (got < gz.input.size() - kept) {
    if (std::ferror(file_.get())) return errorAt(fmt::format("cannot read: {}", std::strerror(errno)));
    gz.input_ended = true;
  }
  gz.state.next_in = gz.input.data();
  gz.state.avail_in = static_cast<uint32_t>(kept + got);
  return std::nullopt;
}

DataResult<size_t> ByteStream::readGzip(uint8_t* out, size_t size) {
  Inflater& gz = *gz_;
  size_t total = 0;
  while (total < size && !gz.ended) {
    if (gz.state.block_state == ISAL_BLOCK_FINISH) {
      // A member ended: another may follow; anything else ends the data.
      if (gz.state.avail_in < sizeof kGzipMagic) {
        if (auto failed = refill()) return *failed;
      }
      if (gz.state.avail_in < sizeof kGzipMagic || std::memcmp(gz.state.next_in, kGzipMagic, 2) != 0) {
        gz.ended = true;
        break;
      }
      gz.startMember();
    }
    if (gz.state.avail_in == 0) {
      if (auto failed = refill()) return *failed;
    }
    gz.state.next_out = out + total;
    gz.state.avail_out = static_cast<uint32_t>(std::min(size - total, kMaxInflateBytes));
    const uint32_t room = gz.state.avail_out;
    const uint32_t input_before = gz.state.avail_in;
    const int status = isal_inflate(&gz.state);
    if (status < 0) return errorAt(fmt::format("corrupt gzip data: {}", inflateError(status)));
    const size_t produced = room - gz.state.avail_out;
    total += produced;
    if (produced > 0 || gz.state.avail_in != input_before || gz.state.block_state == ISAL_BLOCK_FINISH) continue;
    // No progress: the member needs input the file does not have, or more than is buffered.
    if (gz.input_ended) return errorAt("truncated gzip data: the compressed stream ends early");
    if (gz.state.avail_in == gz.input.size()) return errorAt("corrupt gzip data: inflate made no progress");
    if (auto failed = refill()) return *failed;
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
  if (gz_ == nullptr) {
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
