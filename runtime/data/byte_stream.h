#pragma once
// Sequential reading of one file, plain or gzipped: a file that starts with the gzip
// magic (1f 8b) is inflated with ISA-L's igzip (member after member, as zlib's gzread
// does; bytes after the last member that start no new one end the data, as there), any
// other file is read as it is. Every data source reads through here, so "cannot open"
// and "corrupt gzip" errors look the same everywhere.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

class ByteStream {
 public:
  // Fails with "cannot open: <reason>" (and `missing_hint` when the file is absent).
  static DataResult<ByteStream> open(const std::string& path, const std::string& missing_hint);

  // Reads up to `size` bytes into `out`; returns fewer only at the end of the data.
  DataResult<size_t> read(uint8_t* out, size_t size);
  // Reads and discards everything left; returns how many bytes that was.
  DataResult<uint64_t> skipToEnd();
  // Reads everything left.
  DataResult<std::string> readRest();

  const std::string& path() const { return path_; }
  bool gzipped() const { return gz_ != nullptr; }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const;
  };
  struct Inflater;  // ISA-L's inflate state and its input buffer (byte_stream.cpp)
  struct InflaterDeleter {
    void operator()(Inflater* inflater) const;
  };

  explicit ByteStream(std::string path) : path_(std::move(path)) {}
  DataError errorAt(std::string message) const;
  DataResult<size_t> readGzip(uint8_t* out, size_t size);
  // Moves the unread input to the buffer's start and fills the rest from the file.
  std::optional<DataError> refill();

  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;  // the file, plain or compressed
  std::unique_ptr<Inflater, InflaterDeleter> gz_;  // set for a gzip file
  // A plain file's first bytes, read to tell it from gzip: read() serves them first.
  uint8_t head_[2] = {0, 0};
  size_t head_size_ = 0;
  size_t head_read_ = 0;
};

// The whole (decompressed) content of a file.
DataResult<std::string> readWholeFile(const std::string& path, const std::string& missing_hint);

}  // namespace nnspec::rt
