#pragma once
// Sweep fusion: several sweep points that share one graph (they differ only in runtime
// numbers: learning rate, L1/L2 factors, momentum, seeds, folds) trained by one compiled
// step. The fused graph holds a copy of the point's forward graph per point, each with
// its own parameters (`NAME#k`), hyperparameters (`NAME#k`) and the inputs of its input
// class: points of one class read one batch (one data order), so they share `x` and
// `labels`/`targets` (named `x` with one class, `x#c` for class c with several); the root
// differentiated is the sum of the
// points' total losses, so each parameter's gradient is its own point's, computed by the
// same ops in the same order as when the point trains alone.

#include <string>
#include <vector>

#include "compiler/lowering/lower_model.h"
#include "compiler/transforms/autodiff.h"

namespace nnspec::lowering {

// The name point `point` gives leaf `name` in a fused graph ("dense1.w#2").
std::string pointLeafName(const std::string& name, int point);

// Why `step` cannot be fused (batch normalization's state, taps); "" when it can.
std::string fusionObstacle(const LoweredStep& step);

// The differentiated graph of input_classes.size() copies of `step` (fusionObstacle(step)
// must be ""); point k reads the inputs of class input_classes[k]. Classes are numbered
// 0, 1, ... in the order of their first point.
transforms::GradientGraph fusePoints(const LoweredStep& step, const std::vector<int>& input_classes);

// Input classes for `points` points: all one class (`shared`), else each its own.
std::vector<int> inputClasses(int points, bool shared);

// Whether `input_classes` numbers its classes 0, 1, ... in the order of their first point.
bool validInputClasses(const std::vector<int>& input_classes);

// How many classes `input_classes` has (validInputClasses).
int inputClassCount(const std::vector<int>& input_classes);

}  // namespace nnspec::lowering
