#pragma once
// The store's compressed blobs (private to runtime/store): float32 tensors and opaque
// checkpoints, zlib-compressed, with the uncompressed size in front (8 bytes, little
// endian) so that reading needs no guess.

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
