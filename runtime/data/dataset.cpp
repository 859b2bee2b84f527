#include "runtime/data/dataset.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "runtime/kernels/kernel_table.h"

namespace nnspec::rt {

std::string defaultDataDir() {
  const char* from_env = std::getenv("NNSPEC_DATA_DIR");
  if (from_env != nullptr && from_env[0] != '\0') return from_env;
  return NNSPEC_DEFAULT_DATA_DIR;
}

DataError outOfMemory(const std::string& path, const std::string& what) {
  return DataError{path, fmt::format("not enough memory to load {}", what),
                   "load less data or free memory; `nnspec check` prints the memory a run needs"};
}

void setByteInputs(Dataset& data, std::vector<uint8_t> bytes) {
  data.x.clear();
  data.x_bytes = std::move(bytes);
  for (size_t value = 0; value < data.byte_values.size(); ++value) data.byte_values[value] = static_cast<float>(value);
}

void storeInputsAsFloats(Dataset& data) {
  if (!bytesStored(data)) return;
  data.x.resize(data.x_bytes.size());
  ByteDecoder(data.byte_values).decode(data.x_bytes.data(), static_cast<int64_t>(data.x_bytes.size()), data.x.data());
  data.x_bytes = std::vector<uint8_t>();
}

ByteDecoder::ByteDecoder(const std::array<float, 256>& values) : values_(&values), form_(kByteFormTable) {
  const auto matches = [&](auto&& convert) {
    for (size_t value = 0; value < values.size(); ++value) {
      if (std::bit_cast<uint32_t>(convert(static_cast<float>(value))) != std::bit_cast<uint32_t>(values[value]))
        return false;
    }
    return true;
  };
  const float multiplier = values[1];
  if (multiplier != 0.0f && matches([&](float byte) { return byte * multiplier; })) {
    form_ = kByteFormMultiply;
    factor_ = multiplier;
    return;
  }
  if (multiplier == 0.0f) return;
  // A scale of 1/255 rounds to a float a little above 1/255, whose reciprocal rounds below
  // 255: try the whole number nearest it too.
  const double reciprocal = 1.0 / static_cast<double>(multiplier);
  for (const float divisor : {static_cast<float>(std::round(reciprocal)), static_cast<float>(reciprocal)}) {
    if (divisor != 0.0f && std::isfinite(divisor) && matches([&](float byte) { return byte / divisor; })) {
      form_ = kByteFormDivide;
      factor_ = divisor;
      return;
    }
  }
}

bool ByteDecoder::usesTable() const { return form_ == kByteFormTable; }

void ByteDecoder::decode(const uint8_t* in, int64_t count, float* out) const {
  activeKernelTable().decode_bytes(in, count, values_->data(), form_, factor_, out);
}

void copyInputValues(const Dataset& data, int64_t first, int64_t count, float* out) {
  if (!bytesStored(data)) {
    std::copy(data.x.begin() + first, data.x.begin() + first + count, out);
    return;
  }
  activeKernelTable().decode_bytes(data.x_bytes.data() + first, count, data.byte_values.data(), kByteFormTable, 0.0f,
                                   out);
}

}  // namespace nnspec::rt
