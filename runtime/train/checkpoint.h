#pragma once
// A running trial's whole state as bytes, so that a killed run continues the trial where
// its last checkpoint left it and ends with the numbers an uninterrupted run gives.
//
// What the state holds: the parameters, the optimizer slots and the state leaves (batch
// normalization's moving statistics); the step counter (Adam's bias correction and the
// dropout seeds derive from it); where training stands (epochs completed, and inside the
// next epoch the batches done with their running loss: the batch order of an epoch is a
// function of the trial's seed and the epoch, so a position is enough); early stopping
// (best, epochs since best, whether it stopped); the epoch records so far. The learning
// rate schedule is a function of the epoch and is not stored.
//
// Format, little-endian: the magic "NNSPECCK", u32 version, u32 flags (0), u64 payload
// size, u64 FNV-1a checksum of the payload, then the payload (see checkpoint.cpp). A
// checkpoint also names what it was made for (seed, epochs, batch, training samples,
// shuffling, stop rule, and a fingerprint of the model's settings): a trainer refuses
// one made for anything else.

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "runtime/train/epoch_record.h"

namespace nnspec::rt {

// Version 2 added the running count of correct predictions (train.accuracy); version 1
// checkpoints still load (that count unknown for the epoch in progress).
constexpr uint32_t kCheckpointVersion = 2;

// What the checkpoint was made for; a resume must match it field by field.
struct CheckpointIdentity {
  uint64_t seed = 0;
  int64_t epochs = 0;
  int64_t batch = 0;
  int64_t fit_samples = 0;
  bool shuffle = true;
  std::string stop;          // the stop rule as text, "" without one
  uint64_t fingerprint = 0;  // of the model's optimizer, hyperparameters, schedule and inits

  bool operator==(const CheckpointIdentity&) const = default;
};

struct TrainerState {
  CheckpointIdentity identity;
  int64_t completed_epochs = 0;  // epochs trained and recorded
  // Inside epoch completed_epochs + 1 (all 0 at an epoch's end): the batches trained,
  // their summed loss (per sample) and samples, and the seconds spent on them.
  int64_t batches_done = 0;
  double loss_sum = 0;
  int64_t seen = 0;
  int64_t correct = 0;  // of those samples, predicted right in the training pass; -1: unknown
  double epoch_seconds = 0;
  int32_t step = 0;  // train steps so far
  double best = 0;   // early stopping
  int64_t since_best = 0;
  bool stopped = false;  // early stopping ended the trial after completed_epochs
  double seconds = 0;    // the trial's training time so far
  std::vector<EpochRecord> records;  // epochs 1 .. completed_epochs
  std::vector<KeptParameter> parameters;
  std::vector<std::vector<KeptParameter>> optimizer_slots;  // [slot][parameter]
  std::vector<KeptParameter> states;
};

struct CheckpointError {
  std::string message;  // lowercase, e.g. "the checksum does not match: the bytes are damaged"
};

std::vector<uint8_t> serializeCheckpoint(const TrainerState& state);
std::variant<TrainerState, CheckpointError> parseCheckpoint(std::span<const uint8_t> bytes);

// FNV-1a, 64 bits (the checksum; also the identity's fingerprint of a settings text).
uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t hash = 0xcbf29ce484222325ULL);

}  // namespace nnspec::rt
