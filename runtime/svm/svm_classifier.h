#pragma once
// A support vector classifier fitted by libsvm: C-SVC, one-vs-one over the classes, no
// probability estimates; scikit-learn's SVC(probability=False) is the same solver with
// the same defaults. Fitting is deterministic (libsvm draws random numbers only for
// probability estimates). libsvm's types stay inside svm_classifier.cpp.

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

enum class SvmKernel { kLinear, kPoly, kRbf, kSigmoid };

// How gamma is chosen: the number given, or from the training inputs as scikit-learn
// does: 'scale' 1 / (features * variance of every input value), 'auto' 1 / features.
enum class SvmGamma { kValue, kScale, kAuto };

struct SvmParams {
  SvmKernel kernel = SvmKernel::kRbf;
  double c = 1;
  SvmGamma gamma_rule = SvmGamma::kScale;
  double gamma = 0;  // for SvmGamma::kValue
  int degree = 3;
  double coef0 = 0;
  double tol = 1e-3;             // libsvm's eps
  double cache_megabytes = 200;  // libsvm's kernel cache
};

class SvmClassifier {
 public:
  // Fits on the samples `indices` of `data` (integer class labels); the problem libsvm
  // reports (bad parameters) as text on failure.
  static std::variant<SvmClassifier, std::string> fit(const Dataset& data, const std::vector<int64_t>& indices,
                                                      const SvmParams& params);

  // The predicted class of each sample `indices` of `data`, in order, on up to `threads`
  // threads (the result does not depend on it). libsvm's decision rule (the pairwise
  // decision values, one vote each, the first class with the most votes), with the kernel
  // values of a block of samples against every support vector computed at once from one
  // matrix product in double precision: libsvm's svm_predict computes them one sparse dot
  // product at a time, about 10x slower on 784 pixels (10,000 Fashion-MNIST test images
  // against 414 support vectors: 12.4 s against 1.2 s on one thread).
  std::vector<int32_t> predict(const Dataset& data, const std::vector<int64_t>& indices, int threads = 1) const;
  // The same by libsvm's own svm_predict, sample by sample (the reference `predict` is
  // tested against).
  std::vector<int32_t> predictWithLibsvm(const Dataset& data, const std::vector<int64_t>& indices) const;

  int64_t supportVectors() const;
  double gamma() const { return gamma_; }  // the gamma used (after 'scale' or 'auto')

  SvmClassifier(SvmClassifier&&) noexcept;
  SvmClassifier& operator=(SvmClassifier&&) noexcept;
  ~SvmClassifier();

 private:
  struct State;
  explicit SvmClassifier(std::unique_ptr<State> state, double gamma);
  std::unique_ptr<State> state_;
  double gamma_ = 0;
};

// The gamma `params` asks for on the samples `indices` of `data`.
double svmGamma(const SvmParams& params, const Dataset& data, const std::vector<int64_t>& indices);

}  // namespace nnspec::rt
