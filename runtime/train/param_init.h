#pragma once
// How a parameter buffer starts: shared by lowering (which decides it per layer) and
// the trainer (which fills the buffers). Keras defaults: Glorot uniform kernels, zero
// biases; He normal/uniform on request.

#include <cstdint>
#include <string>

namespace nnspec::rt {

enum class InitKind { kGlorotUniform, kHeNormal, kHeUniform, kZeros, kOnes };

struct ParamInit {
  std::string name;
  InitKind kind = InitKind::kZeros;
  int64_t fan_in = 0;
  int64_t fan_out = 0;
  int64_t size = 0;
};

}  // namespace nnspec::rt
