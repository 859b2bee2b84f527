#pragma once
// Batch normalization's moving statistics: state leaves of a compiled step that the
// trainer keeps (Keras semantics). Generated code normalizes with the batch's mean and
// variance while training and exports them; after each train step the trainer folds them
// in, moving = momentum * moving + (1 - momentum) * batch; evaluation normalizes with the
// moving ones. Shared by lowering (which names them) and the trainer.

#include <string>

namespace nnspec::rt {

struct MovingStats {
  std::string mean_state;      // state leaf, starts at 0
  std::string variance_state;  // state leaf, starts at 1
  std::string mean_export;     // the batch mean the training entries export
  std::string variance_export; // the batch variance (biased, as Keras) they export
  double momentum = 0.99;
};

}  // namespace nnspec::rt
