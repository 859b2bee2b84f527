#pragma once
// The Parzen estimator of TPE for one parameter (Optuna's univariate _ParzenEstimator):
// a weighted mixture with one kernel per observation plus a prior kernel.
//
// Numeric parameters work in a transformed space: log(value) for log-scaled ones, and
// for ints the interval widened by half a step on each side, [low - step/2, high + step/2].
// Kernel k is a Gaussian N(mu_k, sigma_k) truncated to that interval:
//  - mu_k is the observation; the prior kernel sits at the interval's centre with sigma =
//    the interval's width;
//  - sigma_k is the larger gap to its neighbours among the sorted mus (the prior's mu
//    included, the interval's ends as outer neighbours); without consider_endpoints the
//    lowest and highest kernels use their one inner gap instead;
//  - with consider_magic_clip, sigmas are clipped to [width / min(100, n_kernels + 1), width]
//    (n_kernels counts the prior), otherwise to [1e-12, width].
// Floats have a density; ints put on each grid value the kernel's mass over its step-wide
// bin (in log space for log-scaled ints, as in Optuna 4), and draws are rounded to the grid.
// Categoricals: kernel k puts prior_weight / n_kernels on every choice plus 1 on its
// observation, normalised; the prior kernel is uniform.
// Mixture weights: computeKernelWeights(n) for the n observations in trial order, then
// prior_weight for the prior, normalised; with no observations only the prior remains.
//
// Draws differ from Optuna's stream (this uses rt::Rng): the component is chosen by one
// uniform against the cumulative weights, a truncated normal by rejection of rt::Rng
// normals (the mus lie inside the interval and sigma <= its width, so at least a third of
// the draws are accepted), a categorical from the mixture's summed choice probabilities.
// These give the same distributions as Optuna's inverse-CDF draws.

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/pipeline/random.h"
#include "runtime/sweep/search_space.h"

namespace nnspec::rt {

struct ParzenSettings {
  double prior_weight = 1.0;
  bool consider_magic_clip = true;
  bool consider_endpoints = false;
};

// Optuna's default_weights: n ones for n < 25, otherwise a linear ramp from 1/n to 1 over
// the oldest n - 25 observations followed by 25 ones.
std::vector<double> computeKernelWeights(int64_t n);

class ParzenEstimator {
 public:
  // `observations`: values of `spec` (as in a Sample), oldest trial first. `spec` must
  // pass checkSearchSpace and take more than one value.
  ParzenEstimator(const ParamSpec& spec, std::span<const double> observations, const ParzenSettings& settings);

  // A value of the parameter, as in a Sample.
  double sample(Rng& rng) const;
  // The log density (floats, in transformed space) or log probability (ints, categoricals)
  // of a value on the parameter's domain.
  double logPdf(double value) const;

  // The mixture, for inspection: normalised weights, and for numeric parameters the
  // kernels' mus and sigmas in transformed space (the prior kernel last).
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<double>& mus() const { return mus_; }
  const std::vector<double>& sigmas() const { return sigmas_; }

 private:
  double transform(double value) const;
  double untransform(double value) const;
  void buildNumeric(std::span<const double> observations, const ParzenSettings& settings);
  void buildCategorical(std::span<const double> observations, const ParzenSettings& settings);
  double sampleNumeric(Rng& rng) const;
  double logPdfNumeric(double value) const;

  ParamKind kind_;
  double low_;  // the parameter's own bounds
  double high_;
  double step_;  // 0 for floats
  bool log_;
  int64_t choices_;   // categoricals
  double low_t_ = 0;  // the kernels' interval in transformed space
  double high_t_ = 0;
  std::vector<double> weights_;
  std::vector<double> cumulative_weights_;
  std::vector<double> mus_;
  std::vector<double> sigmas_;
  // Per kernel: log weight - log(mass of the truncation interval), and for floats also
  // - log sigma - log sqrt(2 pi).
  std::vector<double> log_constants_;
  std::vector<double> choice_probabilities_;
  std::vector<double> cumulative_choice_probabilities_;
};

}  // namespace nnspec::rt
