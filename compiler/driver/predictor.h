#pragma once
// A model trained during a run of this process, kept for prediction: a copy of its
// compiled model description and its trained parameters and state leaves, plus the JIT
// that owns its machine code. Immutable once made; any number of Predictors (one per API
// handle, one thread each) share it.
//
// trained_model.cpp is the only file of the API that touches rt::StepRunner and
// rt::CompiledModel.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace nnspec::driver {
struct TrainedTrial;
}
namespace nnspec::jit {
class JitCompiler;
}

namespace nnspec::api {

class TrainedModel {
 public:
  // Copies what prediction needs out of `trial` (valid only during RunRequest::on_trained).
  static std::shared_ptr<const TrainedModel> fromTrial(const driver::TrainedTrial& trial,
                                                       std::shared_ptr<jit::JitCompiler> jit);
  ~TrainedModel();
  TrainedModel(const TrainedModel&) = delete;
  TrainedModel& operator=(const TrainedModel&) = delete;

  const std::string& sweep() const { return sweep_; }
  const std::string& point() const { return point_; }
  int64_t fold() const { return fold_; }
  int64_t replicate() const { return replicate_; }
  const std::map<std::string, double>& metrics() const { return metrics_; }
  int64_t inputWidth() const;
  int64_t outputWidth() const;
  bool classifier() const;

  struct Compiled;  // the compiled model, parameters and states (trained_model.cpp)
  const Compiled& compiled() const { return *compiled_; }

 private:
  struct Key {};  // only fromTrial makes one

 public:
  explicit TrainedModel(Key);

 private:

  std::string sweep_;
  std::string point_;
  int64_t fold_ = 0;
  int64_t replicate_ = 0;
  std::map<std::string, double> metrics_;
  std::shared_ptr<jit::JitCompiler> jit_;  // keeps the machine code alive
  std::unique_ptr<Compiled> compiled_;
};

// Runs a TrainedModel's forward pass on caller rows; holds the step's buffers, so one
// Predictor is used by one thread at a time.
class Predictor {
 public:
  explicit Predictor(std::shared_ptr<const TrainedModel> model);
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  const TrainedModel& model() const { return *model_; }

  // `in`: rows x inputWidth() floats; `out`: rows x outputWidth() floats (softmax
  // probabilities for classifiers). Returns "" or what went wrong.
  std::string predict(const float* in, int64_t rows, float* out);

 private:
  struct Runner;  // the step runner and its input buffers, made at the first predict
  std::shared_ptr<const TrainedModel> model_;
  std::unique_ptr<Runner> runner_;
};

}  // namespace nnspec::api
