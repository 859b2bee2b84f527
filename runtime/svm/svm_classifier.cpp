#include "runtime/svm/svm_classifier.h"

#include <libsvm/svm.h>

#include <Eigen/Dense>

#include <algorithm>
#include <mutex>
#include <thread>

namespace nnspec::rt {
namespace {

void quiet(const char*) {}

// libsvm prints its solver's progress to stdout unless told otherwise (a process-wide
// setting, made once).
void silenceLibsvm() {
  static std::once_flag once;
  std::call_once(once, [] { svm_set_print_string_function(&quiet); });
}

int64_t featuresOf(const Dataset& data) {
  int64_t features = 1;
  for (int64_t extent : data.sample_shape) features *= extent;
  return features;
}

// Sample `sample`'s inputs as floats: in place, or (byte inputs) converted into `scratch`.
const float* inputsOf(const Dataset& data, int64_t sample, int64_t features, std::vector<float>& scratch) {
  if (!bytesStored(data)) return data.x.data() + sample * features;
  scratch.resize(static_cast<size_t>(features));
  copyInputValues(data, sample * features, features, scratch.data());
  return scratch.data();
}

// One sample as libsvm's sparse row: (1-based index, value) of every non-zero input,
// then the terminator (index -1).
void appendRow(const Dataset& data, int64_t sample, int64_t features, std::vector<svm_node>& row) {
  std::vector<float> scratch;
  const float* x = inputsOf(data, sample, features, scratch);
  for (int64_t feature = 0; feature < features; ++feature) {
    if (x[feature] != 0.0f) row.push_back(svm_node{static_cast<int>(feature + 1), static_cast<double>(x[feature])});
  }
  row.push_back(svm_node{-1, 0});
}

int kernelType(SvmKernel kernel) {
  switch (kernel) {
    case SvmKernel::kLinear: return LINEAR;
    case SvmKernel::kPoly: return POLY;
    case SvmKernel::kRbf: return RBF;
    case SvmKernel::kSigmoid: return SIGMOID;
  }
  return RBF;
}

}  // namespace

struct SvmClassifier::State {
  std::vector<svm_node> nodes;  // the training rows; the model's support vectors point into them
  svm_model* model = nullptr;
  ~State() {
    if (model != nullptr) svm_free_and_destroy_model(&model);
  }
};

SvmClassifier::SvmClassifier(std::unique_ptr<State> state, double gamma) : state_(std::move(state)), gamma_(gamma) {}
SvmClassifier::SvmClassifier(SvmClassifier&&) noexcept = default;
SvmClassifier& SvmClassifier::operator=(SvmClassifier&&) noexcept = default;
SvmClassifier::~SvmClassifier() = default;

double svmGamma(const SvmParams& params, const Dataset& data, const std::vector<int64_t>& indices) {
  const int64_t features = featuresOf(data);
  if (params.gamma_rule == SvmGamma::kValue) return params.gamma;
  if (params.gamma_rule == SvmGamma::kAuto || indices.empty()) return 1.0 / static_cast<double>(features);
  // scikit-learn's X.var(): the population variance of every value of the inputs.
  double sum = 0, squares = 0;
  std::vector<float> scratch;
  for (int64_t sample : indices) {
    const float* x = inputsOf(data, sample, features, scratch);
    for (int64_t feature = 0; feature < features; ++feature) {
      sum += x[feature];
      squares += static_cast<double>(x[feature]) * x[feature];
    }
  }
  const double count = static_cast<double>(indices.size()) * static_cast<double>(features);
  const double mean = sum / count;
  const double variance = std::max(0.0, squares / count - mean * mean);
  return variance > 0 ? 1.0 / (static_cast<double>(features) * variance) : 1.0;
}

std::variant<SvmClassifier, std::string> SvmClassifier::fit(const Dataset& data, const std::vector<int64_t>& indices,
                                                            const SvmParams& params) {
  silenceLibsvm();
  if (indices.empty()) return std::string("no training samples");
  const int64_t features = featuresOf(data);
  auto state = std::make_unique<State>();
  std::vector<size_t> starts;
  std::vector<double> labels;
  for (int64_t sample : indices) {
    starts.push_back(state->nodes.size());
    appendRow(data, sample, features, state->nodes);
    labels.push_back(static_cast<double>(data.y[static_cast<size_t>(sample * data.target_width)]));
  }
  std::vector<svm_node*> rows;
  for (size_t start : starts) rows.push_back(state->nodes.data() + start);
  svm_problem problem{static_cast<int>(indices.size()), labels.data(), rows.data()};
  const double gamma = svmGamma(params, data, indices);
  svm_parameter parameter{};
  parameter.svm_type = C_SVC;
  parameter.kernel_type = kernelType(params.kernel);
  parameter.degree = params.degree;
  parameter.gamma = gamma;
  parameter.coef0 = params.coef0;
  parameter.cache_size = params.cache_megabytes;
  parameter.eps = params.tol;
  parameter.C = params.c;
  parameter.shrinking = 1;
  parameter.probability = 0;
  if (const char* problem_text = svm_check_parameter(&problem, &parameter)) return std::string(problem_text);
  state->model = svm_train(&problem, &parameter);
  if (state->model == nullptr) return std::string("libsvm did not return a model");
  return SvmClassifier(std::move(state), gamma);
}

namespace {

// Samples scored at once: a block's inputs and kernel values stay a few MiB.
constexpr int64_t kPredictBlock = 256;

// The support vectors as dense rows, with what the decision functions need.
struct DenseModel {
  Eigen::MatrixXd vectors;       // support vectors x features
  Eigen::VectorXd squared_norms;  // of each support vector (rbf)
};

DenseModel denseModel(const svm_model& model, int64_t features) {
  DenseModel dense;
  dense.vectors = Eigen::MatrixXd::Zero(model.l, features);
  for (int vector = 0; vector < model.l; ++vector) {
    for (const svm_node* node = model.SV[vector]; node->index != -1; ++node) {
      dense.vectors(vector, node->index - 1) = node->value;
    }
  }
  dense.squared_norms = dense.vectors.rowwise().squaredNorm();
  return dense;
}

// libsvm's kernels (svm.cpp, Kernel::k_function) from dot products.
void applyKernel(const svm_parameter& param, const Eigen::VectorXd& sample_norms, const Eigen::VectorXd& vector_norms,
                 Eigen::MatrixXd& dots) {
  switch (param.kernel_type) {
    case LINEAR: return;
    case POLY:
      dots = (param.gamma * dots.array() + param.coef0).pow(static_cast<double>(param.degree)).matrix();
      return;
    case SIGMOID: dots = (param.gamma * dots.array() + param.coef0).tanh().matrix(); return;
    default: {  // RBF: exp(-gamma |x - y|^2), |x - y|^2 = |x|^2 + |y|^2 - 2 x.y (never below 0)
      Eigen::ArrayXXd distances = (-2.0 * dots).array();
      distances.colwise() += sample_norms.array();
      distances.rowwise() += vector_norms.transpose().array();
      dots = (-param.gamma * distances.max(0.0)).exp().matrix();
    }
  }
}

// libsvm's svm_predict_values for C-SVC: class i against class j for every pair, one
// vote to the side of the decision value, the first class with the most votes wins.
int32_t vote(const svm_model& model, const double* kernel_values, const std::vector<int>& start,
             std::vector<int>& votes) {
  const int classes = model.nr_class;
  std::fill(votes.begin(), votes.end(), 0);
  int pair = 0;
  for (int first = 0; first < classes; ++first) {
    for (int second = first + 1; second < classes; ++second) {
      double sum = 0;
      const double* coef_first = model.sv_coef[second - 1];
      const double* coef_second = model.sv_coef[first];
      for (int k = 0; k < model.nSV[first]; ++k) sum += coef_first[start[first] + k] * kernel_values[start[first] + k];
      for (int k = 0; k < model.nSV[second]; ++k) {
        sum += coef_second[start[second] + k] * kernel_values[start[second] + k];
      }
      sum -= model.rho[pair++];
      ++votes[sum > 0 ? first : second];
    }
  }
  int best = 0;
  for (int k = 1; k < classes; ++k) {
    if (votes[k] > votes[best]) best = k;
  }
  return model.label[best];
}

}  // namespace

std::vector<int32_t> SvmClassifier::predict(const Dataset& data, const std::vector<int64_t>& indices,
                                            int threads) const {
  const int64_t features = featuresOf(data);
  const svm_model& model = *state_->model;
  const DenseModel dense = denseModel(model, features);
  std::vector<int> start(static_cast<size_t>(model.nr_class), 0);
  for (int k = 1; k < model.nr_class; ++k) start[k] = start[k - 1] + model.nSV[k - 1];
  std::vector<int32_t> out(indices.size());
  const int64_t count = static_cast<int64_t>(indices.size());
  const int64_t blocks = (count + kPredictBlock - 1) / kPredictBlock;
  auto work = [&](int64_t first_block, int64_t end_block) {
    Eigen::MatrixXd samples;
    Eigen::MatrixXd kernel;  // samples x support vectors, row-major use below
    std::vector<int> votes(static_cast<size_t>(model.nr_class));
    std::vector<float> scratch;
    for (int64_t block = first_block; block < end_block; ++block) {
      const int64_t begin = block * kPredictBlock;
      const int64_t rows = std::min(kPredictBlock, count - begin);
      samples.resize(rows, features);
      for (int64_t row = 0; row < rows; ++row) {
        const float* x = inputsOf(data, indices[static_cast<size_t>(begin + row)], features, scratch);
        for (int64_t feature = 0; feature < features; ++feature) samples(row, feature) = x[feature];
      }
      kernel.noalias() = samples * dense.vectors.transpose();
      const Eigen::VectorXd norms = samples.rowwise().squaredNorm();
      applyKernel(model.param, norms, dense.squared_norms, kernel);
      const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows_major = kernel;
      for (int64_t row = 0; row < rows; ++row) {
        out[static_cast<size_t>(begin + row)] = vote(model, rows_major.data() + row * model.l, start, votes);
      }
    }
  };
  const int64_t workers = std::clamp<int64_t>(threads, 1, std::max<int64_t>(blocks, 1));
  std::vector<std::thread> pool;
  for (int64_t worker = 1; worker < workers; ++worker) {
    pool.emplace_back(work, blocks * worker / workers, blocks * (worker + 1) / workers);
  }
  work(0, blocks / workers);
  for (auto& thread : pool) thread.join();
  return out;
}

std::vector<int32_t> SvmClassifier::predictWithLibsvm(const Dataset& data, const std::vector<int64_t>& indices) const {
  const int64_t features = featuresOf(data);
  std::vector<int32_t> out;
  std::vector<svm_node> row;
  for (int64_t sample : indices) {
    row.clear();
    appendRow(data, sample, features, row);
    out.push_back(static_cast<int32_t>(svm_predict(state_->model, row.data())));
  }
  return out;
}

int64_t SvmClassifier::supportVectors() const { return state_->model->l; }

}  // namespace nnspec::rt
