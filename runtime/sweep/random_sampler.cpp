#include "runtime/sweep/random_sampler.h"

#include <algorithm>
#include <cmath>

#include "runtime/sweep/portable_math.h"

namespace nnspec::rt {

namespace {

double sampleInt(const ParamSpec& spec, Rng& rng) {
  if (!spec.log) {
    const auto last_index = static_cast<int64_t>((spec.high - spec.low) / spec.step);
    return spec.low + static_cast<double>(rng.uniformInt(0, last_index)) * spec.step;
  }
  const double half_step = 0.5 * spec.step;
  const double log_value = rng.uniformDouble(portableLog(spec.low - half_step), portableLog(spec.high + half_step));
  const double rounded = spec.low + std::nearbyint((portableExp(log_value) - spec.low) / spec.step) * spec.step;
  return std::clamp(rounded, spec.low, spec.high);
}

double sampleFloat(const ParamSpec& spec, Rng& rng) {
  if (!spec.log) return rng.uniformDouble(spec.low, spec.high);
  const double log_value = rng.uniformDouble(portableLog(spec.low), portableLog(spec.high));
  return std::clamp(portableExp(log_value), spec.low, spec.high);
}

}  // namespace

double sampleParamRandom(const ParamSpec& spec, Rng& rng) {
  if (const auto single = findSingleValue(spec)) return *single;
  switch (spec.kind) {
    case ParamKind::kInt:
      return sampleInt(spec, rng);
    case ParamKind::kFloat:
      return sampleFloat(spec, rng);
    case ParamKind::kCategorical:
      return static_cast<double>(rng.uniformBelow(static_cast<uint64_t>(spec.choices)));
  }
  return spec.low;
}

Sample sampleRandom(const SearchSpace& space, Rng& rng) {
  Sample sample;
  for (const ParamSpec& spec : space) {
    if (!isParamActive(spec, sample)) continue;
    sample[spec.name] = sampleParamRandom(spec, rng);
  }
  return sample;
}

}  // namespace nnspec::rt
