#include "compiler/export/npz_writer.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

namespace nnspec::exporting {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfCentral = 0x06054b50;
constexpr uint16_t kZipVersion = 20;     // 2.0: what a stored entry needs
constexpr uint16_t kDosDate = (1 << 5) | 1;  // 1980-01-01: a fixed date, reproducible files
constexpr size_t kNpyAlignment = 64;
constexpr uint64_t kZipLimit = 0xffffffffu;

void put16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value & 0xff));
  out.push_back(static_cast<char>(value >> 8));
}

void put32(std::string& out, uint32_t value) {
  put16(out, static_cast<uint16_t>(value & 0xffff));
  put16(out, static_cast<uint16_t>(value >> 16));
}

std::string shapeTuple(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

struct Entry {
  std::string name;
  uint32_t crc = 0;
  uint32_t size = 0;
  uint32_t offset = 0;
};

// The header fields a local and a central record share, from "version needed" to the
// name's length.
void putCommon(std::string& out, const Entry& entry) {
  put16(out, kZipVersion);
  put16(out, 0);  // flags
  put16(out, 0);  // method: stored
  put16(out, 0);  // time
  put16(out, kDosDate);
  put32(out, entry.crc);
  put32(out, entry.size);  // compressed
  put32(out, entry.size);  // uncompressed
  put16(out, static_cast<uint16_t>(entry.name.size()));
  put16(out, 0);  // extra field length
}

void putCentral(std::string& out, const Entry& entry) {
  put32(out, kCentralHeader);
  put16(out, kZipVersion);  // made by
  putCommon(out, entry);
  put16(out, 0);  // comment length
  put16(out, 0);  // disk
  put16(out, 0);  // internal attributes
  put32(out, 0);  // external attributes
  put32(out, entry.offset);
  out += entry.name;
}

std::optional<ExportError> checkTensor(const NamedTensor& tensor, std::set<std::string>& names) {
  if (tensor.name.empty()) return ExportError{"a tensor without a name cannot be an npz entry"};
  if (!names.insert(tensor.name).second) return ExportError{fmt::format("two tensors are named '{}'", tensor.name)};
  int64_t elements = 1;
  for (const int64_t dim : tensor.shape) elements *= dim;
  if (elements != static_cast<int64_t>(tensor.values.size())) {
    return ExportError{fmt::format("tensor '{}' has {} values for shape {}", tensor.name, tensor.values.size(),
                                   shapeTuple(tensor.shape))};
  }
  return std::nullopt;
}

}  // namespace

std::string npyBytes(const NamedTensor& tensor) {
  std::string header =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shapeTuple(tensor.shape));
  const size_t prefix = 10;  // magic (6), version (2), header length (2)
  const size_t padded = (prefix + header.size() + 1 + kNpyAlignment - 1) / kNpyAlignment * kNpyAlignment;
  header.append(padded - prefix - header.size() - 1, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  put16(out, static_cast<uint16_t>(header.size()));
  out += header;
  // Little-endian hosts only (as the JIT's targets): the floats are copied as they are.
  const size_t bytes = tensor.values.size() * sizeof(float);
  const size_t start = out.size();
  out.resize(start + bytes);
  if (bytes > 0) std::memcpy(out.data() + start, tensor.values.data(), bytes);
  return out;
}

std::variant<std::string, ExportError> npzBytes(const std::vector<NamedTensor>& tensors) {
  std::string out;
  std::vector<Entry> entries;
  std::set<std::string> names;
  for (const NamedTensor& tensor : tensors) {
    if (auto error = checkTensor(tensor, names)) return *error;
    const std::string data = npyBytes(tensor);
    if (out.size() + data.size() + 64 + tensor.name.size() > kZipLimit) {
      return ExportError{"the tensors pass the 4 GiB an npz without zip64 can hold"};
    }
    Entry entry{tensor.name + ".npy", 0, static_cast<uint32_t>(data.size()), static_cast<uint32_t>(out.size())};
    entry.crc = static_cast<uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    put32(out, kLocalHeader);
    putCommon(out, entry);
    out += entry.name;
    out += data;
    entries.push_back(std::move(entry));
  }
  const size_t central_start = out.size();
  for (const Entry& entry : entries) putCentral(out, entry);
  if (out.size() + 22 > kZipLimit || entries.size() > 0xffff) {
    return ExportError{"the tensors pass what an npz without zip64 can hold (4 GiB, 65,535 tensors)"};
  }
  const size_t central_size = out.size() - central_start;
  put32(out, kEndOfCentral);
  put16(out, 0);  // this disk
  put16(out, 0);  // the disk where the central directory starts
  put16(out, static_cast<uint16_t>(entries.size()));
  put16(out, static_cast<uint16_t>(entries.size()));
  put32(out, static_cast<uint32_t>(central_size));
  put32(out, static_cast<uint32_t>(central_start));
  put16(out, 0);  // comment length
  return out;
}

}  // namespace nnspec::exporting
