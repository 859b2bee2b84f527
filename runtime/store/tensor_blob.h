#pragma once
// The store's blobs (private to runtime/store): float32 tensors and opaque checkpoints
// as zlib streams, with the uncompressed size in front (8 bytes, little endian) so that
// reading needs no guess. Written as stored (uncompressed) zlib blocks: trained float32
// values barely compress (5-10% at zlib's fastest level, for 10-20 ms a megabyte, which a
// checkpoint per epoch paid), and the stream still carries zlib's adler32 check, so a
// damaged blob is refused. Blobs written compressed by earlier versions read the same.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nnspec::rt {

std::vector<char> compressBytes(const void* data, size_t bytes);
// nullopt when the blob is not one compressBytes made (corrupt or truncated).
std::optional<std::vector<char>> decompressBytes(const std::vector<char>& blob);

// "784,50" <-> {784, 50}; "" is a scalar.
std::string shapeText(const std::vector<int64_t>& shape);
std::optional<std::vector<int64_t>> parseShapeText(const std::string& text);

}  // namespace nnspec::rt
