#include "runtime/train/checkpoint.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <optional>

#include <fmt/format.h>

namespace nnspec::rt {
namespace {

constexpr std::array<uint8_t, 8> kMagic = {'N', 'N', 'S', 'P', 'E', 'C', 'C', 'K'};
constexpr size_t kHeaderBytes = kMagic.size() + 4 + 4 + 8 + 8;
// Bounds that no real trial reaches; a count above one means damaged bytes.
constexpr uint64_t kMaxRank = 16;
constexpr uint64_t kMaxStringBytes = 1 << 20;

// ---- writing ------------------------------------------------------------------------

class Writer {
 public:
  void u8(uint8_t value) { bytes_.push_back(value); }
  void u32(uint32_t value) {
    for (int shift = 0; shift < 32; shift += 8) bytes_.push_back(static_cast<uint8_t>(value >> shift));
  }
  void u64(uint64_t value) {
    for (int shift = 0; shift < 64; shift += 8) bytes_.push_back(static_cast<uint8_t>(value >> shift));
  }
  void i64(int64_t value) { u64(static_cast<uint64_t>(value)); }
  void f64(double value) { u64(std::bit_cast<uint64_t>(value)); }
  void text(const std::string& value) {
    u64(value.size());
    bytes_.insert(bytes_.end(), value.begin(), value.end());
  }
  void floats(const std::vector<float>& values) {
    bytes_.reserve(bytes_.size() + values.size() * 4);
    for (float value : values) u32(std::bit_cast<uint32_t>(value));
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

void writeTensor(Writer& out, const KeptParameter& tensor) {
  out.text(tensor.name);
  out.u64(tensor.shape.size());
  for (int64_t extent : tensor.shape) out.i64(extent);
  out.u64(tensor.values.size());
  out.floats(tensor.values);
}

void writeTensors(Writer& out, const std::vector<KeptParameter>& tensors) {
  out.u64(tensors.size());
  for (const KeptParameter& tensor : tensors) writeTensor(out, tensor);
}

void writeRecord(Writer& out, const EpochRecord& record) {
  out.i64(record.epoch);
  out.f64(record.seconds);
  out.u64(record.metrics.size());
  for (const auto& [name, value] : record.metrics) {
    out.text(name);
    out.f64(value);
  }
}

void writeIdentity(Writer& out, const CheckpointIdentity& identity) {
  out.u64(identity.seed);
  out.i64(identity.epochs);
  out.i64(identity.batch);
  out.i64(identity.fit_samples);
  out.u8(identity.shuffle ? 1 : 0);
  out.text(identity.stop);
  out.u64(identity.fingerprint);
}

std::vector<uint8_t> payloadOf(const TrainerState& state) {
  Writer out;
  writeIdentity(out, state.identity);
  out.i64(state.completed_epochs);
  out.i64(state.batches_done);
  out.f64(state.loss_sum);
  out.i64(state.seen);
  out.i64(state.correct);
  out.f64(state.epoch_seconds);
  out.u32(static_cast<uint32_t>(state.step));
  out.f64(state.best);
  out.i64(state.since_best);
  out.u8(state.stopped ? 1 : 0);
  out.f64(state.seconds);
  out.u64(state.records.size());
  for (const EpochRecord& record : state.records) writeRecord(out, record);
  writeTensors(out, state.parameters);
  out.u64(state.optimizer_slots.size());
  for (const auto& slot : state.optimizer_slots) writeTensors(out, slot);
  writeTensors(out, state.states);
  return std::move(out.bytes());
}

// ---- reading ------------------------------------------------------------------------

// Reads values in order; the first read past the end (or of a count too large for the
// bytes left) makes every later read fail too, and failed() tells.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool failed() const { return failed_; }
  bool atEnd() const { return position_ == bytes_.size(); }

  uint8_t u8() { return static_cast<uint8_t>(little(1)); }
  uint32_t u32() { return static_cast<uint32_t>(little(4)); }
  uint64_t u64() { return little(8); }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64() { return std::bit_cast<double>(u64()); }
  bool flag() {
    const uint8_t value = u8();
    if (value > 1) failed_ = true;
    return value == 1;
  }
  std::string text() {
    const uint64_t size = count(1);
    if (size > kMaxStringBytes) failed_ = true;
    if (failed_) return {};
    std::string value(reinterpret_cast<const char*>(bytes_.data() + position_), size);
    position_ += size;
    return value;
  }
  std::vector<float> floats(uint64_t size) {
    if (failed_ || size > left() / 4) {
      failed_ = true;
      return {};
    }
    std::vector<float> values(size);
    for (float& value : values) value = std::bit_cast<float>(u32());
    return values;
  }
  // A count of items of at least `item_bytes` each: fails when the bytes left cannot hold them.
  uint64_t count(uint64_t item_bytes) {
    const uint64_t value = u64();
    if (failed_ || (item_bytes > 0 && value > left() / item_bytes)) {
      failed_ = true;
      return 0;
    }
    return value;
  }

 private:
  uint64_t left() const { return bytes_.size() - position_; }
  uint64_t little(size_t size) {
    if (failed_ || left() < size) {
      failed_ = true;
      return 0;
    }
    uint64_t value = 0;
    for (size_t index = 0; index < size; ++index) value |= static_cast<uint64_t>(bytes_[position_ + index]) << (8 * index);
    position_ += size;
    return value;
  }

  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
  bool failed_ = false;
};

std::optional<KeptParameter> readTensor(Reader& in) {
  KeptParameter tensor;
  tensor.name = in.text();
  const uint64_t rank = in.count(8);
  if (rank > kMaxRank) return std::nullopt;
  uint64_t elements = 1;
  for (uint64_t axis = 0; axis < rank && !in.failed(); ++axis) {
    const int64_t extent = in.i64();
    if (extent < 0 || (extent > 0 && elements > (uint64_t{1} << 40) / static_cast<uint64_t>(extent))) return std::nullopt;
    tensor.shape.push_back(extent);
    elements *= static_cast<uint64_t>(extent);
  }
  const uint64_t size = in.u64();
  if (in.failed() || size != elements) return std::nullopt;
  tensor.values = in.floats(size);
  if (in.failed()) return std::nullopt;
  return tensor;
}

std::optional<std::vector<KeptParameter>> readTensors(Reader& in) {
  const uint64_t size = in.count(24);  // a name's size, a rank and a value count at least
  std::vector<KeptParameter> tensors;
  for (uint64_t index = 0; index < size && !in.failed(); ++index) {
    auto tensor = readTensor(in);
    if (!tensor) return std::nullopt;
    tensors.push_back(std::move(*tensor));
  }
  if (in.failed()) return std::nullopt;
  return tensors;
}

EpochRecord readRecord(Reader& in) {
  EpochRecord record;
  record.epoch = in.i64();
  record.seconds = in.f64();
  const uint64_t size = in.count(16);
  for (uint64_t index = 0; index < size && !in.failed(); ++index) {
    std::string name = in.text();
    record.metrics[std::move(name)] = in.f64();
  }
  return record;
}

CheckpointIdentity readIdentity(Reader& in) {
  CheckpointIdentity identity;
  identity.seed = in.u64();
  identity.epochs = in.i64();
  identity.batch = in.i64();
  identity.fit_samples = in.i64();
  identity.shuffle = in.flag();
  identity.stop = in.text();
  identity.fingerprint = in.u64();
  return identity;
}

// The progress fields, then the records and tensors; nullopt when the bytes end early
// or hold impossible counts.
std::optional<TrainerState> readPayload(Reader& in, uint32_t version) {
  TrainerState state;
  state.identity = readIdentity(in);
  state.completed_epochs = in.i64();
  state.batches_done = in.i64();
  state.loss_sum = in.f64();
  state.seen = in.i64();
  state.correct = version >= 2 ? in.i64() : -1;
  state.epoch_seconds = in.f64();
  state.step = static_cast<int32_t>(in.u32());
  state.best = in.f64();
  state.since_best = in.i64();
  state.stopped = in.flag();
  state.seconds = in.f64();
  const uint64_t records = in.count(24);
  for (uint64_t index = 0; index < records && !in.failed(); ++index) state.records.push_back(readRecord(in));
  auto parameters = readTensors(in);
  if (!parameters) return std::nullopt;
  state.parameters = std::move(*parameters);
  const uint64_t slots = in.count(8);
  for (uint64_t slot = 0; slot < slots && !in.failed(); ++slot) {
    auto tensors = readTensors(in);
    if (!tensors) return std::nullopt;
    state.optimizer_slots.push_back(std::move(*tensors));
  }
  auto states = readTensors(in);
  if (!states || in.failed()) return std::nullopt;
  state.states = std::move(*states);
  return state;
}

// Counts and positions that must agree with each other.
std::optional<std::string> inconsistency(const TrainerState& state) {
  if (state.completed_epochs < 0 || state.completed_epochs > state.identity.epochs) {
    return fmt::format("it says {} of {} epochs are done", state.completed_epochs, state.identity.epochs);
  }
  if (static_cast<int64_t>(state.records.size()) != state.completed_epochs) {
    return fmt::format("it holds {} epoch records for {} epochs", state.records.size(), state.completed_epochs);
  }
  for (size_t index = 0; index < state.records.size(); ++index) {
    if (state.records[index].epoch != static_cast<int64_t>(index) + 1) return std::string("its epoch records are out of order");
  }
  if (state.batches_done < 0 || state.seen < 0 || state.step < 0 || state.since_best < 0 || state.correct < -1 ||
      state.correct > state.seen) {
    return std::string("it holds a negative count");
  }
  for (const auto& slot : state.optimizer_slots) {
    if (slot.size() != state.parameters.size()) return std::string("an optimizer slot does not cover every parameter");
  }
  return std::nullopt;
}

}  // namespace

uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t hash) {
  for (uint8_t byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::vector<uint8_t> serializeCheckpoint(const TrainerState& state) {
  const std::vector<uint8_t> payload = payloadOf(state);
  Writer out;
  for (uint8_t byte : kMagic) out.u8(byte);
  out.u32(kCheckpointVersion);
  out.u32(0);
  out.u64(payload.size());
  out.u64(fnv1a(payload));
  std::vector<uint8_t>& bytes = out.bytes();
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return std::move(bytes);
}

std::variant<TrainerState, CheckpointError> parseCheckpoint(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes || !std::equal(kMagic.begin(), kMagic.end(), bytes.begin())) {
    return CheckpointError{"it is not an nnspec checkpoint"};
  }
  Reader header(bytes.subspan(kMagic.size(), kHeaderBytes - kMagic.size()));
  const uint32_t version = header.u32();
  const uint32_t flags = header.u32();
  const uint64_t size = header.u64();
  const uint64_t checksum = header.u64();
  if (version < 1 || version > kCheckpointVersion || flags != 0) {
    return CheckpointError{fmt::format("it has format version {}, not one this nnspec reads (1 to {})", version,
                                       kCheckpointVersion)};
  }
  const std::span<const uint8_t> payload = bytes.subspan(kHeaderBytes);
  if (payload.size() != size) {
    return CheckpointError{fmt::format("it is {} bytes long, not the {} its header says", bytes.size(), size + kHeaderBytes)};
  }
  if (fnv1a(payload) != checksum) return CheckpointError{"its checksum does not match: the bytes are damaged"};
  Reader in(payload);
  auto state = readPayload(in, version);
  if (!state || !in.atEnd()) return CheckpointError{"its contents do not parse"};
  if (auto problem = inconsistency(*state)) return CheckpointError{*problem};
  return std::move(*state);
}

}  // namespace nnspec::rt
