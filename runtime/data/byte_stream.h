#pragma once
// Sequential reading of one file, plain or gzipped: a file that starts with the gzip
// magic (1f 8b) is read through zlib, any other file as it is. Every data source reads
// through here, so "cannot open" and "corrupt gzip" errors look the same everywhere.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "runtime/data/dataset.h"

struct gzFile_s;  // zlib's handle type, kept out of this header

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
  struct GzCloser {
    void operator()(gzFile_s* file) const;
  };

  explicit ByteStream(std::string path) : path_(std::move(path)) {}
  DataError errorAt(std::string message) const;

  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> plain_;
  std::unique_ptr<gzFile_s, GzCloser> gz_;
};

// The whole (decompressed) content of a file.
DataResult<std::string> readWholeFile(const std::string& path, const std::string& missing_hint);

}  // namespace nnspec::rt
