#pragma once
// The one prediction path of nnspec: a trained model (compiled steps plus trained
// parameters and state leaves) and a Predictor that runs its JIT'd forward step over
// rows in chunks of the compiled batch. `nnspec predict`, the C API's models (trained in
// this process or loaded from a store) and ensembles of a sweep's best point all use it.
//
// predictor.cpp is the only driver file that runs rt::StepRunner for prediction.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "runtime/sweep/ensemble.h"

namespace nnspec::jit {
class JitCompiler;
}
namespace nnspec::rt {
struct CompiledModel;
struct StoredTensor;
}  // namespace nnspec::rt

namespace nnspec::driver {

struct TrainedTrial;

// Which trial a model comes from.
struct ModelOrigin {
  std::string sweep;
  std::string point;
  int64_t fold = 0;  // -1: a refit
  int64_t replicate = 0;
  int64_t trial_id = 0;  // in the store; 0 for a model trained in this process
  std::map<std::string, double> metrics;
};

// Immutable once made; any number of Predictors (one per thread) share it.
class TrainedModel {
 public:
  // Copies what prediction needs out of `trial` (valid only during RunRequest::on_trained).
  static std::shared_ptr<const TrainedModel> fromTrial(const TrainedTrial& trial,
                                                       std::shared_ptr<jit::JitCompiler> jit);
  // A model compiled again from its spec, with the tensors a run stored. The error names
  // a tensor the model lacks or whose size differs.
  static std::variant<std::shared_ptr<const TrainedModel>, std::string> fromTensors(
      ModelOrigin origin, const rt::CompiledModel& model, const std::vector<rt::StoredTensor>& tensors,
      std::shared_ptr<jit::JitCompiler> jit);
  ~TrainedModel();
  TrainedModel(const TrainedModel&) = delete;
  TrainedModel& operator=(const TrainedModel&) = delete;

  const ModelOrigin& origin() const { return origin_; }
  const std::string& sweep() const { return origin_.sweep; }
  const std::string& point() const { return origin_.point; }
  int64_t fold() const { return origin_.fold; }
  int64_t replicate() const { return origin_.replicate; }
  const std::map<std::string, double>& metrics() const { return origin_.metrics; }
  int64_t inputWidth() const;
  int64_t outputWidth() const;
  bool classifier() const;

  struct Compiled;  // the compiled model, parameters and states (predictor.cpp)
  const Compiled& compiled() const { return *compiled_; }

 private:
  struct Key {};  // only the factories make one

 public:
  explicit TrainedModel(Key);

 private:
  ModelOrigin origin_;
  std::shared_ptr<jit::JitCompiler> jit_;  // keeps the machine code alive
  std::unique_ptr<Compiled> compiled_;
};

// Runs a model's forward pass, or an ensemble's (members best first, combined like the
// run's ensembles: the mean of the outputs, or a majority vote whose ties go to the best
// member), on caller rows. Holds the steps' buffers, so one Predictor is used by one
// thread at a time.
class Predictor {
 public:
  explicit Predictor(std::shared_ptr<const TrainedModel> model);
  Predictor(std::vector<std::shared_ptr<const TrainedModel>> members, rt::EnsembleKind kind);
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  // The (best) model; the others of an ensemble in members().
  const TrainedModel& model() const { return *members_.front(); }
  const std::vector<std::shared_ptr<const TrainedModel>>& members() const { return members_; }
  rt::EnsembleKind ensemble() const { return kind_; }

  // `in`: rows x inputWidth() floats; `out`: rows x outputWidth() floats: class
  // probabilities for classifiers (softmax of the mean of the members' logits; a vote's
  // share of the members per class), outputs for regressions. `classes`, when not null,
  // gets each row's predicted class (classifiers). Returns "" or what went wrong.
  std::string predict(const float* in, int64_t rows, float* out, int64_t* classes = nullptr);

  // The raw outputs (logits of classifiers) of member `member`: rows x outputWidth().
  std::string outputs(size_t member, const float* in, int64_t rows, float* out);

 private:
  struct Runner;  // a step runner and its input buffers, made at the first predict
  std::vector<std::shared_ptr<const TrainedModel>> members_;
  rt::EnsembleKind kind_ = rt::EnsembleKind::kNone;
  std::vector<std::unique_ptr<Runner>> runners_;
};

// Softmax of one row of logits, in double precision like the trainer's metrics.
void softmaxRow(const float* logits, int64_t width, float* out);

}  // namespace nnspec::driver
