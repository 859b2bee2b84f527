#pragma once
// What a trial leaves behind per epoch and per tensor: shared by the trainer's result
// (runtime/train/trial.h) and its checkpoints (runtime/train/checkpoint.h).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nnspec::rt {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  std::map<std::string, double> metrics;
  double seconds = 0;
};

// A trained parameter, e.g. "dense1.kernel" f32[784, 50], row-major.
struct KeptParameter {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

}  // namespace nnspec::rt
