#include "runtime/store/tensor_blob.h"

#include <cstring>

#include <zlib.h>

namespace nnspec::rt {

std::vector<char> compressBytes(const void* data, size_t bytes) {
  uLongf bound = compressBound(static_cast<uLong>(bytes));
  std::vector<char> blob(8 + bound);
  const uint64_t size = bytes;
  for (int k = 0; k < 8; ++k) blob[static_cast<size_t>(k)] = static_cast<char>((size >> (8 * k)) & 0xff);
  const int status = compress2(reinterpret_cast<Bytef*>(blob.data() + 8), &bound, static_cast<const Bytef*>(data),
                               static_cast<uLong>(bytes), Z_NO_COMPRESSION);
  if (status != Z_OK) return {};
  blob.resize(8 + bound);
  return blob;
}

std::optional<std::vector<char>> decompressBytes(const std::vector<char>& blob) {
  if (blob.size() < 8) return std::nullopt;
  uint64_t size = 0;
  for (int k = 0; k < 8; ++k) size |= static_cast<uint64_t>(static_cast<unsigned char>(blob[static_cast<size_t>(k)])) << (8 * k);
  // A tensor of the store is at most a layer's parameters: far below this.
  constexpr uint64_t kMaxBytes = uint64_t{1} << 36;
  if (size > kMaxBytes) return std::nullopt;
  std::vector<char> out(size);
  uLongf length = static_cast<uLongf>(size);
  const int status = uncompress(reinterpret_cast<Bytef*>(out.data()), &length,
                                reinterpret_cast<const Bytef*>(blob.data() + 8), static_cast<uLong>(blob.size() - 8));
  if (status != Z_OK || length != size) return std::nullopt;
  return out;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string text;
  for (int64_t extent : shape) text += (text.empty() ? "" : ",") + std::to_string(extent);
  return text;
}

std::optional<std::vector<int64_t>> parseShapeText(const std::string& text) {
  std::vector<int64_t> shape;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    const std::string part = text.substr(at, end - at);
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 12) {
      return std::nullopt;
    }
    shape.push_back(std::stoll(part));
    at = end + 1;
  }
  return shape;
}

}  // namespace nnspec::rt
