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

std::vector<Signature> layerTable() {
  const ArgType activation = ArgType::of(TypeKind::kActivation);
  const ArgType window = ArgType::intOrPair(kMaxWindow);
  const ArgType stride = ArgType::intOrPair(kMaxStride);
  const ArgType padding = ArgType::choice({"valid", "same"});
  Signature dense{"dense", "layer",
                  {required("units", ArgType::integer(1, kMaxUnits)),
                   optional("activation", activation, defaultSymbol("linear"))}};
  Signature conv{"conv2d", "layer",
                 {required("filters", ArgType::integer(1, kMaxFilters)), required("kernel", window),
                  kw("stride", stride, defaultInt(1)), kw("padding", padding, defaultSymbol("valid")),
                  optional("activation", activation, defaultSymbol("linear"), false)}};
  for (auto* signature : {&dense, &conv}) {
    for (auto& arg : regularizedArgs()) signature->args.push_back(arg);
  }
  auto pool = [&](const std::string& name) {
    return Signature{name, "layer",
                     {optional("size", window, defaultInt(2)), optionalNoDefault("stride", stride, false),
                      kw("padding", padding, defaultSymbol("valid"))}};
  };
  return {
      dense,
      conv,
      pool("maxpool"),
      pool("avgpool"),
      {"zeropad", "layer", {optional("padding", ArgType::intOrPair(kMaxPadding), defaultInt(1))}},
      {"flatten", "layer", {}},
      {"reshape", "layer", {required("shape", ArgType::shape(kMaxShapeExtent))}},
      {"dropout", "layer", {required("rate", kProbability)}},
      {"batchnorm", "layer",
       {kw("momentum", kUnitOpen, defaultFloat(0.99)), kw("epsilon", ArgType::positiveReal(), defaultFloat(1e-3))}},
      {"relu", "layer", {}},
      {"sigmoid", "layer", {}},
      {"tanh", "layer", {}},
      {"softmax", "layer", {}},
      {"linear", "layer", {}},
      {"leaky_relu", "layer", {optional("alpha", ArgType::nonNegativeReal(), defaultFloat(0.01))}},
      {"elu", "layer", {optional("alpha", ArgType::positiveReal(), defaultFloat(1.0))}},
  };
}

std::vector<Signature> activationTable() {
  return {
      {"linear", "activation", {}},
      {"relu", "activation", {}},
      {"sigmoid", "activation", {}},
      {"tanh", "activation", {}},
      {"softmax", "activation", {}},
      {"leaky_relu", "activation", {optional("alpha", ArgType::nonNegativeReal(), defaultFloat(0.01))}},
      {"elu", "activation", {optional("alpha", ArgType::positiveReal(), defaultFloat(1.0))}},
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
        kw("weight_decay", decay, defaultFloat(0))}},
      {"adam", "optimizer",
       {optional("lr", lr, defaultFloat(0.001)), kw("beta1", kProbability, defaultFloat(0.9)),
        kw("beta2", kProbability, defaultFloat(0.999)), kw("eps", ArgType::positiveReal(), defaultFloat(1e-8)),
        kw("weight_decay", decay, defaultFloat(0)),
        kw("decoupled", ArgType::of(TypeKind::kBool), defaultBool(false))}},
      {"rmsprop", "optimizer",
       {optional("lr", lr, defaultFloat(0.01)), kw("alpha", kUnitOpen, defaultFloat(0.99)),
        kw("eps", ArgType::positiveReal(), defaultFloat(1e-8)), kw("momentum", kProbability, defaultFloat(0)),
        kw("weight_decay", decay, defaultFloat(0))}},
      {"adagrad", "optimizer",
       {optional("lr", lr, defaultFloat(0.01)), kw("eps", ArgType::positiveReal(), defaultFloat(1e-10)),
        kw("weight_decay", decay, defaultFloat(0))}},
  };
}

std::vector<Signature> reportTable() {
  const ArgType metric = ArgType::of(TypeKind::kMetric);
  const ArgType name = ArgType::of(TypeKind::kAny);
  return {
      {"table", "report item", {}},
      {"best", "report item", {}},
      {"summary", "report item", {}},
      {"timings", "report item", {}},
      {"curves", "report item",
       {kw("y", ArgType::of(TypeKind::kNames), defaultSymbol("loss")), optionalNoDefault("by", name, false)}},
      {"errorbar", "report item", {required("x", name, false), required("y", metric, false)}},
      {"confusion", "report item", {kw("on", ArgType::choice({"val", "test"}), defaultSymbol("test"))}},
      {"misclassified", "report item",
       {kw("n", ArgType::integer(1, 400), defaultInt(16)),
        kw("on", ArgType::choice({"val", "test"}), defaultSymbol("test"))}},
      {"weights", "report item", {kw("layer", ArgType::integer(1, kMaxModelLayers), defaultInt(1))}},
      {"filters", "report item", {kw("layer", ArgType::integer(1, kMaxModelLayers), defaultInt(1))}},
      {"feature_maps", "report item",
       {kw("layer", ArgType::integer(1, kMaxModelLayers), defaultInt(1)), kw("n", ArgType::integer(1, 64), defaultInt(8))}},
      {"histograms", "report item", {}},
      {"history", "report item", {}},
      {"importance", "report item", {}},
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

Catalog makeCatalog() {
  Catalog catalog;
  catalog.layers = layerTable();
  catalog.activations = activationTable();
  catalog.losses = {{"cross_entropy", "loss", {}}, {"mse", "loss", {}}};
  catalog.optimizers = optimizerTable();
  catalog.schedules = {
      {"constant", "schedule", {}},
      {"step", "schedule",
       {required("every", ArgType::integer(1, kMaxScheduleEvery)), kw("gamma", kUnitOpen, defaultFloat(0.1))}},
      {"exponential", "schedule", {required("gamma", kUnitOpen)}},
      {"cosine", "schedule", {kw("min_lr", ArgType::nonNegativeReal(), defaultFloat(0))}},
  };
  catalog.inits = {{"glorot_uniform", "init", {}}, {"he_normal", "init", {}}, {"he_uniform", "init", {}}};
  const ArgType text = ArgType::of(TypeKind::kString);
  catalog.sources = {
      {"fashion_mnist", "data source", {kw("dir", text, defaultString(""))}},
      {"mnist", "data source", {kw("dir", text, defaultString(""))}},
      {"idx", "data source", {required("images", text), required("labels", text)}},
      {"csv", "data source",
       {optionalNoDefault("path", text), optionalNoDefault("train", text, false),
        optionalNoDefault("test", text, false), optionalNoDefault("features", ArgType::of(TypeKind::kNames), false),
        required("target", ArgType::of(TypeKind::kNames), false)}},
      {"synthetic", "data source",
       {required("y", ArgType::of(TypeKind::kAny), false),
        required("n", ArgType::integer(1, kMaxSyntheticSamples), false),
        optionalNoDefault("x", ArgType::of(TypeKind::kAny), false), kw("noise", ArgType::nonNegativeReal(), defaultFloat(0)),
        kw("seed", ArgType::nonNegativeInt(), defaultInt(0))}},
  };
  catalog.transforms = {
      {"scale", "transform", {required("factor", ArgType::real())}},
      {"shift", "transform", {required("offset", ArgType::real())}},
      {"standardize", "transform", {}},
      {"reshape", "transform", {required("shape", ArgType::shape(kMaxShapeExtent))}},
      {"one_hot", "transform", {}},
  };
  catalog.split_methods = {
      {"shuffle", "split method", {optionalNoDefault("seed", ArgType::nonNegativeInt())}},
      {"take", "split method",
       {required("n", ArgType::integer(1, kMaxSelectCount)),
        kw("stratified", ArgType::of(TypeKind::kBool), defaultBool(false)),
        kw("min_per_class", ArgType::integer(0, kMaxSelectCount), defaultInt(0))}},
      {"skip", "split method", {required("n", ArgType::integer(0, kMaxSelectCount))}},
      {"holdout", "split method",
       {required("size", ArgType::of(TypeKind::kCountOrFraction)),
        kw("stratified", ArgType::of(TypeKind::kBool), defaultBool(false))}},
  };
  catalog.pruners = {
      {"median", "pruner",
       {kw("startup", ArgType::integer(0, kMaxTrials), defaultInt(5)),
        kw("warmup", ArgType::integer(0, kMaxEpochs), defaultInt(0)),
        kw("interval", ArgType::integer(1, kMaxEpochs), defaultInt(1))}},
  };
  catalog.stop_conditions = {
      {"no_improvement", "stop condition",
       {optionalNoDefault("metric", ArgType::of(TypeKind::kMetric)),
        kw("tol", ArgType::nonNegativeReal(), defaultFloat(1e-4)),
        kw("patience", ArgType::integer(1, kMaxPatience), defaultInt(10))}},
  };
  catalog.ensembles = {{"vote", "ensemble", {}}, {"mean", "ensemble", {}}};
  catalog.report_items = reportTable();
  catalog.distributions = {
      {"int", "distribution",
       {required("lo", ArgType::real()), required("hi", ArgType::real()),
        kw("step", ArgType::integer(1, 9e15), defaultInt(1)), kw("log", ArgType::of(TypeKind::kBool), defaultBool(false))}},
      {"float", "distribution",
       {required("lo", ArgType::real()), required("hi", ArgType::real()),
        kw("log", ArgType::of(TypeKind::kBool), defaultBool(false))}},
  };
  // Optuna's TPE defaults: 10 startup trials, 24 EI candidates, gamma 0.1 (of trials).
  catalog.sweep_options = {
      {"grid", "sweep", {}},
      {"random", "sweep", {}},
      {"tpe", "sweep",
       {kw("startup", ArgType::integer(0, kMaxTrials), defaultInt(10)),
        kw("candidates", ArgType::integer(1, kMaxTpeCandidates), defaultInt(24)), kw("gamma", kUnitOpen, defaultFloat(0.1))}},
  };
  return catalog;
}

}  // namespace nnspec::sema
