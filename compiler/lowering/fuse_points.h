#pragma once
// Sweep fusion: several sweep points that share one graph (they differ only in runtime
// numbers: learning rate, L1/L2 factors, momentum, seeds, folds) trained by one compiled
// step. The fused graph holds a copy of the point's forward graph per point, each with
// its own parameters (`NAME#k`), hyperparameters (`NAME#k`) and, unless the points read
// one batch, inputs (`x#k`, `labels#k`); the root differentiated is the sum of the
// points' total losses, so each parameter's gradient is its own point's, computed by the
// same ops in the same order as when the point trains alone.

#include <string>

#include "compiler/lowering/lower_model.h"
#include "compiler/transforms/autodiff.h"

namespace nnspec::lowering {

// The name point `point` gives leaf `name` in a fused graph ("dense1.w#2").
std::string pointLeafName(const std::string& name, int point);

// Why `step` cannot be fused (batch normalization's state, taps); "" when it can.
std::string fusionObstacle(const LoweredStep& step);

// The differentiated graph of `points` copies of `step` (fusionObstacle(step) must be "").
// `shared_inputs`: every point reads the same batch (one `x`, one `labels`/`targets`).
transforms::GradientGraph fusePoints(const LoweredStep& step, int points, bool shared_inputs);

}  // namespace nnspec::lowering
