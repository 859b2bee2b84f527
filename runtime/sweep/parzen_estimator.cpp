#include "runtime/sweep/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/sweep/portable_math.h"

namespace nnspec::rt {

namespace {

constexpr int64_t kFlatWeightCount = 25;
constexpr double kMaxMagicClipDivisor = 100.0;
constexpr double kMinSigma = 1e-12;
constexpr double kLogSqrtTwoPi = 0.918938533204672741780329736405617640;
// A truncated-normal draw gives up after this many rejections and returns the mean; with
// an acceptance rate of at least 1/3 that happens with probability below 1e-170.
constexpr int kMaxRejections = 1000;
constexpr double kNegativeInfinity = -std::numeric_limits<double>::infinity();

std::vector<double> accumulate(const std::vector<double>& values) {
  std::vector<double> sums(values.size());
  std::partial_sum(values.begin(), values.end(), sums.begin());
  return sums;
}

// The first index whose cumulative weight exceeds u (the last one if rounding left the
// total a little below 1).
size_t pickIndex(const std::vector<double>& cumulative, double u) {
  const auto found = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  if (found == cumulative.end()) return cumulative.size() - 1;
  return static_cast<size_t>(found - cumulative.begin());
}

// log x, and -inf for a weight or probability of 0 (prior_weight 0).
double logOfNonNegative(double x) { return x > 0 ? portableLog(x) : kNegativeInfinity; }

double logSumExp(const std::vector<double>& terms) {
  const double largest = *std::max_element(terms.begin(), terms.end());
  if (largest == kNegativeInfinity) return kNegativeInfinity;
  double sum = 0;
  for (const double term : terms) sum += portableExp(term - largest);
  return largest + portableLog(sum);
}

double sampleTruncatedNormal(double mu, double sigma, double low, double high, Rng& rng) {
  for (int attempt = 0; attempt < kMaxRejections; ++attempt) {
    const double value = mu + sigma * rng.normal();
    if (value >= low && value <= high) return value;
  }
  return mu;
}

}  // namespace

std::vector<double> computeKernelWeights(int64_t n) {
  if (n <= 0) return {};
  std::vector<double> weights(static_cast<size_t>(n), 1.0);
  if (n < kFlatWeightCount) return weights;
  // numpy.linspace(1/n, 1, num=n-25): start + i * step, the last element exactly 1.
  const int64_t ramp = n - kFlatWeightCount;
  const double start = 1.0 / static_cast<double>(n);
  if (ramp == 1) {
    weights[0] = start;
    return weights;
  }
  const double step = (1.0 - start) / static_cast<double>(ramp - 1);
  for (int64_t index = 0; index + 1 < ramp; ++index) weights[static_cast<size_t>(index)] = start + index * step;
  return weights;
}

ParzenEstimator::ParzenEstimator(const ParamSpec& spec, std::span<const double> observations,
                                 const ParzenSettings& settings)
    : kind_(spec.kind),
      low_(spec.low),
      high_(spec.high),
      step_(spec.kind == ParamKind::kInt ? spec.step : 0.0),
      log_(spec.log),
      choices_(spec.choices) {
  std::vector<double> weights = computeKernelWeights(static_cast<int64_t>(observations.size()));
  if (observations.empty()) {
    weights = {1.0};
  } else {
    weights.push_back(settings.prior_weight);
  }
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  for (double& weight : weights) weight /= total;
  weights_ = std::move(weights);
  cumulative_weights_ = accumulate(weights_);
  if (kind_ == ParamKind::kCategorical) {
    buildCategorical(observations, settings);
  } else {
    buildNumeric(observations, settings);
  }
}

double ParzenEstimator::transform(double value) const { return log_ ? portableLog(value) : value; }

double ParzenEstimator::untransform(double value) const { return log_ ? portableExp(value) : value; }

void ParzenEstimator::buildNumeric(std::span<const double> observations, const ParzenSettings& settings) {
  low_t_ = transform(low_ - 0.5 * step_);
  high_t_ = transform(high_ + 0.5 * step_);
  const double width = high_t_ - low_t_;
  const double prior_mu = 0.5 * (low_t_ + high_t_);
  const size_t count = observations.size();

  std::vector<double> with_prior;
  with_prior.reserve(count + 1);
  for (const double observation : observations) with_prior.push_back(transform(observation));
  with_prior.push_back(prior_mu);

  // Sigmas from the gaps between sorted neighbours (stable sort: ties keep trial order).
  std::vector<size_t> order(count + 1);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return with_prior[x] < with_prior[y]; });
  std::vector<double> ends;
  ends.reserve(count + 3);
  ends.push_back(low_t_);
  for (const size_t index : order) ends.push_back(with_prior[index]);
  ends.push_back(high_t_);
  std::vector<double> sorted_sigmas(count + 1);
  for (size_t rank = 0; rank <= count; ++rank) {
    sorted_sigmas[rank] = std::max(ends[rank + 1] - ends[rank], ends[rank + 2] - ends[rank + 1]);
  }
  if (!settings.consider_endpoints && count >= 1) {
    sorted_sigmas[0] = ends[2] - ends[1];
    sorted_sigmas[count] = ends[count + 1] - ends[count];
  }
  const double max_sigma = width;
  const double min_sigma = settings.consider_magic_clip
                               ? width / std::min(kMaxMagicClipDivisor, 1.0 + static_cast<double>(count + 1))
                               : kMinSigma;
  mus_.assign(with_prior.begin(), with_prior.end());
  sigmas_.assign(count + 1, 0.0);
  for (size_t rank = 0; rank <= count; ++rank) {
    sigmas_[order[rank]] = std::clamp(sorted_sigmas[rank], min_sigma, max_sigma);
  }
  sigmas_[count] = width;  // the prior kernel

  log_constants_.resize(count + 1);
  for (size_t kernel = 0; kernel <= count; ++kernel) {
    const double mu = mus_[kernel];
    const double sigma = sigmas_[kernel];
    double constant = logOfNonNegative(weights_[kernel]) - logGaussMass((low_t_ - mu) / sigma, (high_t_ - mu) / sigma);
    if (step_ == 0) constant -= portableLog(sigma) + kLogSqrtTwoPi;
    log_constants_[kernel] = constant;
  }
}

void ParzenEstimator::buildCategorical(std::span<const double> observations, const ParzenSettings& settings) {
  const auto choices = static_cast<size_t>(choices_);
  choice_probabilities_.assign(choices, 0.0);
  if (observations.empty()) {
    choice_probabilities_.assign(choices, 1.0 / static_cast<double>(choices));
  } else {
    const double kernels = static_cast<double>(observations.size() + 1);
    const double floor = settings.prior_weight / kernels;
    const double row_sum = floor * static_cast<double>(choices) + 1.0;
    std::vector<double> row(choices);
    for (size_t kernel = 0; kernel < observations.size(); ++kernel) {
      std::fill(row.begin(), row.end(), floor);
      row[static_cast<size_t>(observations[kernel])] += 1.0;
      for (size_t choice = 0; choice < choices; ++choice) {
        choice_probabilities_[choice] += weights_[kernel] * (row[choice] / row_sum);
      }
    }
    const double prior_share = weights_.back() / static_cast<double>(choices);
    for (double& probability : choice_probabilities_) probability += prior_share;
  }
  cumulative_choice_probabilities_ = accumulate(choice_probabilities_);
}

double ParzenEstimator::sample(Rng& rng) const {
  if (kind_ == ParamKind::kCategorical) {
    return static_cast<double>(pickIndex(cumulative_choice_probabilities_, rng.uniformDouble()));
  }
  return sampleNumeric(rng);
}

double ParzenEstimator::sampleNumeric(Rng& rng) const {
  const size_t kernel = pickIndex(cumulative_weights_, rng.uniformDouble());
  const double value = untransform(sampleTruncatedNormal(mus_[kernel], sigmas_[kernel], low_t_, high_t_, rng));
  if (step_ == 0) return std::clamp(value, low_, high_);
  return std::clamp(low_ + std::nearbyint((value - low_) / step_) * step_, low_, high_);
}

double ParzenEstimator::logPdf(double value) const {
  if (kind_ == ParamKind::kCategorical) {
    return logOfNonNegative(choice_probabilities_[static_cast<size_t>(value)]);
  }
  return logPdfNumeric(value);
}

double ParzenEstimator::logPdfNumeric(double value) const {
  std::vector<double> terms(mus_.size());
  if (step_ == 0) {
    const double point = transform(value);
    for (size_t kernel = 0; kernel < mus_.size(); ++kernel) {
      const double z = (point - mus_[kernel]) / sigmas_[kernel];
      terms[kernel] = log_constants_[kernel] - 0.5 * z * z;
    }
    return logSumExp(terms);
  }
  const double bin_low = transform(std::max(value - 0.5 * step_, low_ - 0.5 * step_));
  const double bin_high = transform(std::min(value + 0.5 * step_, high_ + 0.5 * step_));
  for (size_t kernel = 0; kernel < mus_.size(); ++kernel) {
    const double mu = mus_[kernel];
    const double sigma = sigmas_[kernel];
    terms[kernel] = log_constants_[kernel] + logGaussMass((bin_low - mu) / sigma, (bin_high - mu) / sigma);
  }
  return logSumExp(terms);
}

}  // namespace nnspec::rt
