#include "runtime/sweep/tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "runtime/sweep/random_sampler.h"

namespace nnspec::rt {

namespace {

constexpr int64_t kMaxGamma = 25;
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Optuna's ranking key (-step, value) with complete trials at step +inf; smaller is better.
struct RankKey {
  double step_key = 0;
  double value_key = 0;
  bool operator<(const RankKey& other) const {
    if (step_key != other.step_key) return step_key < other.step_key;
    return value_key < other.value_key;
  }
};

RankKey rankTrial(const FinishedTrial& trial, double sign) {
  if (trial.outcome == TrialOutcome::kRunning) return {kInfinity, kInfinity};
  if (trial.outcome == TrialOutcome::kComplete) return {-kInfinity, sign * trial.value};
  if (trial.last_step < 0) return {kInfinity, 0.0};
  const double value = std::isnan(trial.value) ? kInfinity : sign * trial.value;
  return {-static_cast<double>(trial.last_step), value};
}

struct SplitTrials {
  std::vector<const FinishedTrial*> below;  // both in trial-number order
  std::vector<const FinishedTrial*> above;
};

SplitTrials splitTrials(const std::vector<const FinishedTrial*>& trials, bool minimize, double gamma_fraction) {
  const double sign = minimize ? 1.0 : -1.0;
  std::vector<const FinishedTrial*> ranked = trials;
  std::stable_sort(ranked.begin(), ranked.end(), [sign](const FinishedTrial* x, const FinishedTrial* y) {
    return rankTrial(*x, sign) < rankTrial(*y, sign);
  });
  const auto ended = static_cast<int64_t>(std::count_if(
      trials.begin(), trials.end(), [](const FinishedTrial* trial) { return trial->outcome != TrialOutcome::kRunning; }));
  const auto below_count = static_cast<size_t>(
      std::min<int64_t>(computeGamma(static_cast<int64_t>(trials.size()), gamma_fraction), ended));
  SplitTrials split;
  split.below.assign(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(below_count));
  split.above.assign(ranked.begin() + static_cast<std::ptrdiff_t>(below_count), ranked.end());
  const auto by_number = [](const FinishedTrial* x, const FinishedTrial* y) { return x->number < y->number; };
  std::stable_sort(split.below.begin(), split.below.end(), by_number);
  std::stable_sort(split.above.begin(), split.above.end(), by_number);
  return split;
}

// A stored value that the current space could have produced (a space edited between
// runs may leave others in the history).
bool isInDomain(const ParamSpec& spec, double value) {
  if (spec.kind == ParamKind::kCategorical) {
    return value >= 0 && value < static_cast<double>(spec.choices) && std::floor(value) == value;
  }
  if (!(value >= spec.low && value <= spec.high)) return false;
  if (spec.kind == ParamKind::kFloat) return true;
  const double steps = (value - spec.low) / spec.step;
  return std::floor(steps) == steps;
}

std::vector<double> collectValues(const std::vector<const FinishedTrial*>& trials, const ParamSpec& spec) {
  std::vector<double> values;
  for (const FinishedTrial* trial : trials) {
    const auto found = trial->params.find(spec.name);
    if (found != trial->params.end() && isInDomain(spec, found->second)) values.push_back(found->second);
  }
  return values;
}

double sampleParamTpe(const ParamSpec& spec, const SplitTrials& split, const TpeSettings& settings, Rng& rng) {
  if (const auto single = findSingleValue(spec)) return *single;
  const std::vector<double> below_values = collectValues(split.below, spec);
  const std::vector<double> above_values = collectValues(split.above, spec);
  const ParzenEstimator below(spec, below_values, settings.parzen);
  const ParzenEstimator above(spec, above_values, settings.parzen);
  double best_value = 0;
  double best_score = -kInfinity;
  const int64_t candidates = std::max<int64_t>(settings.n_ei_candidates, 1);
  for (int64_t candidate = 0; candidate < candidates; ++candidate) {
    const double value = below.sample(rng);
    const double score = below.logPdf(value) - above.logPdf(value);
    // The first candidate always counts, even when its score is NaN or -inf.
    if (candidate == 0 || score > best_score) {
      best_value = value;
      best_score = score;
    }
  }
  return best_value;
}

}  // namespace

int64_t computeGamma(int64_t n, double fraction) {
  return std::min(static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n))), kMaxGamma);
}

Rng makeTrialRng(uint64_t study_seed, int64_t trial_number) {
  return Rng(deriveSeed(study_seed, "sampler;trial=" + std::to_string(trial_number)));
}

Sample sampleTpe(const SearchSpace& space, std::span<const FinishedTrial> history, bool minimize,
                 const TpeSettings& settings, Rng& rng) {
  std::vector<const FinishedTrial*> finished;
  for (const FinishedTrial& trial : history) {
    // A complete trial with a NaN objective is a failed one to Optuna.
    if (trial.outcome == TrialOutcome::kComplete && std::isnan(trial.value)) continue;
    finished.push_back(&trial);
  }
  const auto ended = std::count_if(finished.begin(), finished.end(), [](const FinishedTrial* trial) {
    return trial->outcome != TrialOutcome::kRunning;
  });
  if (static_cast<int64_t>(ended) < settings.n_startup_trials) return sampleRandom(space, rng);
  std::stable_sort(finished.begin(), finished.end(),
                   [](const FinishedTrial* x, const FinishedTrial* y) { return x->number < y->number; });
  const SplitTrials split = splitTrials(finished, minimize, settings.gamma_fraction);
  Sample sample;
  for (const ParamSpec& spec : space) {
    if (!isParamActive(spec, sample)) continue;
    sample[spec.name] = sampleParamTpe(spec, split, settings, rng);
  }
  return sample;
}

}  // namespace nnspec::rt
