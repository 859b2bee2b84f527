#pragma once
// The result of checking a spec: every name resolved, every argument typed, every
// sweep point's model instantiated with its shapes, and the plan of trials. Separate
// from the AST (which stays as written); later stages read only this.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/frontend/ast.h"
#include "compiler/sema/signature.h"
#include "compiler/sema/value.h"
#include "runtime/data/dataset.h"

namespace nnspec::sema {

using Shape = std::vector<int64_t>;

struct Transform {
  std::string name;  // scale, shift, standardize, reshape, one_hot
  BoundArgs args;
};

struct DataSet {
  std::string name;
  SourceRange range;
  std::string source;  // fashion_mnist, mnist, idx, csv, synthetic
  BoundArgs source_args;
  const ast::Expr* synthetic_fn = nullptr;  // y = f(x) of a synthetic source
  double synthetic_lo = -1, synthetic_hi = 1;  // x is drawn uniformly from [lo, hi]
  std::vector<Transform> transforms;
  std::vector<rt::PartInfo> parts;  // sizes and sample shapes after the transforms
};

enum class SelectKind { kShuffle, kTake, kSkip, kHoldout };

struct SelectOp {
  SelectKind kind = SelectKind::kShuffle;
  int64_t n = 0;               // take/skip count, holdout count
  uint64_t seed = 0;           // shuffle
  bool stratified = false;     // take/holdout
  int64_t min_per_class = 0;   // take
};

struct Selection {
  std::string data;  // data statement name
  std::string part;  // train, test, all
  std::vector<SelectOp> ops;
  int64_t count = 0;
  SourceRange range;
};

struct Split {
  std::string name;  // "" for the unnamed split
  SourceRange range;
  std::optional<Selection> train;
  std::optional<Selection> val;
  std::optional<Selection> test;
  Shape sample_shape;
  int64_t num_classes = 0;    // 0 for regression targets
  int64_t target_width = 1;
};

enum class ParamKind { kFixed, kList, kInt, kFloat };

struct ParamDef {
  std::string name;
  SourceRange range;
  ParamKind kind = ParamKind::kList;
  std::vector<const ast::Expr*> choices;  // kFixed (one) and kList, as written
  std::vector<Value> generated;           // kList from ranges, linspace, logspace
  double lo = 0, hi = 0;                  // kInt, kFloat
  int64_t step = 1;
  bool log = false;
  std::string length_param;               // `param units[n_layers] in ...`

  size_t choiceCount() const { return choices.empty() ? generated.size() : choices.size(); }
  bool isDistribution() const { return kind == ParamKind::kInt || kind == ParamKind::kFloat; }
  bool isSwept() const { return kind != ParamKind::kFixed && !(kind == ParamKind::kList && choiceCount() == 1); }
};

struct LayerInstance {
  std::string kind;  // dense, conv2d, ...
  BoundArgs args;
  std::string activation = "linear";  // fused activation of dense/conv2d
  double activation_alpha = 0;
  Shape input_shape;
  Shape output_shape;
  int64_t trainable_params = 0;
  int64_t other_params = 0;      // batch norm running statistics
  double forward_flops = 0;      // per sample (a double: large convolutions exceed int64)
  SourceRange range;
};

// An SVM classifier (`model NAME = svm(...)`): libsvm's C-SVC, one-vs-one over the
// classes, as scikit-learn's SVC. K(x, y) is x·y (linear), (gamma x·y + coef0)^degree
// (poly), exp(-gamma |x - y|^2) (rbf) or tanh(gamma x·y + coef0) (sigmoid).
struct SvmSpec {
  std::string kernel = "rbf";  // linear, poly, rbf, sigmoid
  double c = 1;
  std::string gamma_rule;      // "scale" or "auto" (computed from the training data), "" for `gamma`
  double gamma = 0;            // when gamma_rule is ""
  int64_t degree = 3;
  double coef0 = 0;
  double tol = 1e-3;
  std::string describe() const;  // svm(kernel: rbf, C: 10, gamma: 0.01)
};

struct ModelInstance {
  std::string name;
  Shape input_shape;
  std::vector<LayerInstance> layers;    // empty for an svm
  std::optional<SvmSpec> svm;           // set for `model NAME = svm(...)`
  bool isSvm() const { return svm.has_value(); }
  int64_t trainableParams() const;
  int64_t totalParams() const;
  // Layer kinds, arguments that change code and shapes: equal signatures share code.
  std::string signature() const;
};

struct StopRule {
  std::string metric;  // e.g. val.loss
  double tol = 0;
  int64_t patience = 1;
};

struct TrainConfig {
  std::string train;  // train block name ("" if unnamed)
  ModelInstance model;
  std::string split;
  std::string loss;  // cross_entropy, mse; "" for an svm (it has no loss, no optimizer, no epochs)
  std::string optimizer;
  BoundArgs optimizer_args;
  SourceRange optimizer_range;  // where the optimizer is written (for run-time errors)
  double l1 = 0, l2 = 0;
  int64_t batch = 32;
  int64_t epochs = 1;
  std::optional<StopRule> stop;
  std::vector<std::string> metrics;
  std::string schedule = "constant";
  BoundArgs schedule_args;
  SourceRange schedule_range;
  std::string init = "glorot_uniform";
  bool shuffle = true;
  double trial_timeout_seconds = 0;  // `trial_timeout`: each trial's training time limit; 0 = none
};

// One sweep point: a value for every param the train block reaches.
struct Point {
  std::vector<std::pair<std::string, Value>> params;
  TrainConfig config;
  std::string describe() const;  // hidden=[50], lr=0.1
};

struct SweepPlan {
  std::string name;       // sweep name, or the train block's for an implicit run
  SourceRange range;
  std::string method;     // grid, random, tpe, single
  BoundArgs method_options;
  std::vector<std::string> axes;
  std::vector<std::pair<std::string, Value>> fixed;  // `with` overrides of params
  int64_t points = 1;     // grid points, or trials for random/tpe
  bool points_sampled = false;
  int64_t folds = 1;
  bool stratified = false;
  int64_t replicates = 1;
  double timeout_seconds = 0;
  std::string select_metric;  // "" when there is no objective
  bool maximize = true;
  std::string pruner;         // "" or median, asha
  BoundArgs pruner_args;
  std::string ensemble;       // "" or vote/mean
  bool refit = false;
  int64_t fuse = 0;       // sweep fusion: 0 auto, 1 off, N at most N trials a group
  std::vector<Point> checked;  // every grid point (or the corners of a sampled space)
  int64_t distinct_graphs = 0;
  bool distinct_graphs_bound = false;  // true when distinct_graphs is an upper bound

  int64_t trials() const { return points * folds * replicates; }
};

struct ReportItem {
  std::string name;
  BoundArgs args;
  SourceRange range;
};

// Whose trained tensors stay in the store after a run: every finished trial, the best
// point's trials (its folds and replicates, its refit) of each sweep, or none.
enum class KeepPolicy { kAll, kBest, kNone };

struct CheckedSpec {
  std::string experiment;
  uint64_t seed = 0;
  KeepPolicy keep = KeepPolicy::kBest;
  std::vector<DataSet> datasets;
  std::vector<Split> splits;
  std::vector<ParamDef> params;
  std::vector<SweepPlan> sweeps;
  std::vector<ReportItem> reports;

  const DataSet* findData(const std::string& name) const;
  const Split* findSplit(const std::string& name) const;
};

}  // namespace nnspec::sema
