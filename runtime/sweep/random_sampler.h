#pragma once
// Random search: every active parameter drawn independently and uniformly.
//
// Ints are uniform over their step grid; log-scaled ints are log-uniform over
// [low - 1/2, high + 1/2] rounded to the nearest int (Optuna's RandomSampler); floats are
// uniform on [low, high), log-scaled floats log-uniform; categoricals uniform over the
// choices. A parameter with a single value takes it without drawing.

#include "runtime/pipeline/random.h"
#include "runtime/sweep/search_space.h"

namespace nnspec::rt {

// One value of `spec` (which must pass checkSearchSpace).
double sampleParamRandom(const ParamSpec& spec, Rng& rng);

// A sample of the active parameters of `space` (which must pass checkSearchSpace), drawn
// in the space's order so a condition sees its parent's value.
Sample sampleRandom(const SearchSpace& space, Rng& rng);

}  // namespace nnspec::rt
