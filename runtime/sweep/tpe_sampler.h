#pragma once
// TPE, the Tree-structured Parzen Estimator (Bergstra et al. 2011, "Algorithms for
// Hyper-Parameter Optimization"), as Optuna's TPESampler runs it with its defaults
// (Optuna 3.x; univariate, the TPESampler() a study gets by default):
//   n_startup_trials = 10   random sampling until 10 trials have finished
//   n_ei_candidates  = 24   candidates drawn from l(x) per parameter
//   gamma(n) = min(ceil(0.1 n), 25)   trials in the good group l(x)
//   weights  = default_weights        (see computeKernelWeights)
//   prior_weight = 1.0, consider_prior, consider_magic_clip, no consider_endpoints
//   multivariate = false, no constraints; constant_liar = true when the history holds
//   running trials (a study with several workers), false in effect otherwise
//
// One call samples one new trial, and the sampler has no state besides its input: it
// rebuilds everything from the finished trials, so a sweep resumed after a kill samples
// exactly what it would have, given the same history and the same trial number.
//
// Algorithm, per call:
//  1. The finished trials are the complete ones (with a non-NaN objective) and the pruned
//     ones. With fewer than n_startup_trials of them the whole sample is sampleRandom's.
//  2. They are ranked as Optuna does: complete trials by objective (best first), then
//     pruned trials by their last reported epoch (latest first) and that epoch's value
//     (NaN last), then pruned trials that reported nothing. The first gamma(n) form the
//     "below" group, the rest "above"; each group is put back in trial-number order. The
//     split is over all finished trials, whichever parameters they have.
//  3. For each parameter of the space, in order, if active given the values drawn so
//     far: a ParzenEstimator l is fitted to the below trials that have the parameter and
//     g to the above trials that have it; n_ei_candidates values are drawn from l and
//     the one with the largest log l(x) - log g(x) is kept (the first on ties). Stored
//     values outside the parameter's current domain (a space edited between runs) are
//     left out of the fit; a parameter with a single value takes it without drawing.
// Sorting ties are broken by trial number (numpy's argsort may order equal keys
// differently); the random streams are rt::Rng's, not numpy's.

#include <cstdint>
#include <span>

#include "runtime/pipeline/random.h"
#include "runtime/sweep/parzen_estimator.h"
#include "runtime/sweep/search_space.h"

namespace nnspec::rt {

struct TpeSettings {
  int64_t n_startup_trials = 10;
  int64_t n_ei_candidates = 24;
  double gamma_fraction = 0.1;  // gamma(n) = min(ceil(gamma_fraction * n), 25)
  ParzenSettings parzen;
};

// kRunning: drawn but not finished (another worker runs it). Counted as in Optuna's
// constant_liar: never in the below group, always above, as if it were the worst.
enum class TrialOutcome { kComplete, kPruned, kRunning };

struct FinishedTrial {
  int64_t number = 0;  // the trial's number in its study; orders the kernel weights
  Sample params;
  TrialOutcome outcome = TrialOutcome::kComplete;
  double value = 0;        // complete: the objective; pruned: the last intermediate value
  int64_t last_step = -1;  // pruned: the epoch `value` was reported at, -1 if none was
};

// Optuna's default_gamma (fraction 0.1): how many of n finished trials form the below
// group, min(ceil(fraction * n), 25).
int64_t computeGamma(int64_t n, double fraction = 0.1);

// The generator for trial `trial_number` of a study: depends on nothing else, so the
// draws do not depend on timing or on which trials ran before a restart.
Rng makeTrialRng(uint64_t study_seed, int64_t trial_number);

// The parameters of the next trial. `space` must pass checkSearchSpace; `history` holds
// the study's finished trials in any order (running and failed ones left out).
Sample sampleTpe(const SearchSpace& space, std::span<const FinishedTrial> history, bool minimize,
                 const TpeSettings& settings, Rng& rng);

}  // namespace nnspec::rt
