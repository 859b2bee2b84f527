// Sweeps: which train block runs, which params vary (axes) and which are fixed, the
// points to check, each point's training configuration and model, and protocol rules
// (no selecting or early stopping on the test split, pruning needs an objective ...).

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "compiler/sema/check_context.h"
#include "compiler/sema/fusion_size.h"
#include "compiler/sema/limits.h"
#include "compiler/sema/shapes.h"

namespace nnspec::sema {
namespace {

// How a param gets its value at one point: an expression as written (a list element,
// a fixed value, a `with` override) or a computed value (ranges, distribution corners).
struct Binding {
  const ast::Expr* expr = nullptr;
  std::optional<Value> value;
};

using Bindings = std::map<std::string, Binding>;

struct SweepSetup {
  std::string name;
  SourceRange range;
  SourceRange method_range;
  const ast::TrainStmt* train = nullptr;
  std::map<std::string, const ast::Assignment*> fixed_params;
  std::map<std::string, const ast::Assignment*> setting_overrides;
  std::set<std::string> reachable;  // params the train block uses
  SweepPlan plan;
};

std::string trainLabel(const ast::TrainStmt& train) {
  return train.name ? fmt::format("train block '{}'", train.name->name) : "the train block";
}

// ---- names the train block reaches ---------------------------------------------------

std::set<std::string> modelLoopVars(const std::vector<ast::LayerStmt>& layers) {
  std::set<std::string> vars;
  for (const auto& layer : layers) {
    if (layer.kind == ast::LayerKind::kFor) vars.insert(layer.name.name);
    auto inner = modelLoopVars(layer.body);
    vars.insert(inner.begin(), inner.end());
  }
  return vars;
}

void collectLayerNames(const std::vector<ast::LayerStmt>& layers, std::set<std::string>& names) {
  for (const auto& layer : layers) {
    if (layer.expr) collectNames(*layer.expr, names);
    for (const auto& arg : layer.args) collectNames(*arg.value, names);
    collectLayerNames(layer.body, names);
  }
}

std::set<std::string> reachableNames(CheckContext& context, const SweepSetup& setup) {
  std::set<std::string> names;
  for (const auto& setting : setup.train->settings) {
    if (setup.setting_overrides.count(setting.key.name) != 0) continue;
    for (const auto& value : setting.values) collectNames(*value, names);
    if (setting.stop_when) collectNames(*setting.stop_when, names);
  }
  for (const auto& [_, assignment] : setup.setting_overrides) collectNames(*assignment->value, names);
  std::set<std::string> done;
  bool grew = true;
  while (grew) {
    grew = false;
    for (const std::string& name : std::set<std::string>(names)) {
      if (!done.insert(name).second) continue;
      grew = true;
      if (const auto model = context.models.find(name); model != context.models.end()) {
        std::set<std::string> inner;
        collectLayerNames(model->second->layers, inner);
        if (model->second->kind) collectNames(*model->second->kind, inner);
        for (const auto& var : modelLoopVars(model->second->layers)) inner.erase(var);
        names.insert(inner.begin(), inner.end());
      }
      if (const auto param = context.param_stmts.find(name); param != context.param_stmts.end()) {
        if (const auto fixed = setup.fixed_params.find(name); fixed != setup.fixed_params.end()) {
          collectNames(*fixed->second->value, names);
        } else {
          collectNames(*param->second->space, names);
        }
        if (param->second->length) names.insert(param->second->length->name);
      }
    }
  }
  return names;
}

// ---- lookups -------------------------------------------------------------------------

class PointLookup {
 public:
  PointLookup(CheckContext& context, const Bindings& bindings) : context_(context), bindings_(bindings) {}

  std::optional<Value> operator()(const ast::Ident& name, SourceRange use) {
    const auto it = bindings_.find(name.name);
    if (it == bindings_.end()) return std::nullopt;
    if (in_progress_.count(name.name) != 0) {
      context_.diagnostics.error(use, fmt::format("param '{}' refers to itself", name.name));
      return std::nullopt;
    }
    in_progress_.insert(name.name);
    std::optional<Value> value = valueOf(name.name, it->second);
    in_progress_.erase(name.name);
    return value;
  }

  NameLookup function() {
    return [this](const ast::Ident& name, SourceRange use) { return (*this)(name, use); };
  }

 private:
  std::optional<Value> valueOf(const std::string& name, const Binding& binding) {
    std::optional<Value> element = binding.value;
    if (binding.expr != nullptr) element = evaluate(*binding.expr, function(), context_.diagnostics);
    if (!element) return std::nullopt;
    if (element->param.empty()) element->param = name;
    const ParamDef* param = context_.findParam(name);
    if (param == nullptr || param->length_param.empty()) return element;
    // A sampled array param comes whole: one value per element.
    if (binding.value && binding.value->kind == ValueKind::kList) return element;
    // An array param: one element per unit of its length param.
    auto length = (*this)(ast::Ident{param->length_param, param->range}, param->range);
    if (!length || length->kind != ValueKind::kInt) return std::nullopt;
    Value list;
    list.kind = ValueKind::kList;
    list.range = element->range;
    list.param = name;
    for (int64_t k = 0; k < length->asInt(); ++k) list.items.push_back(*element);
    return list;
  }

  CheckContext& context_;
  const Bindings& bindings_;
  std::set<std::string> in_progress_;
};

// ---- training configuration of one point ---------------------------------------------

struct SettingValues {
  const ast::Setting* setting = nullptr;  // as written in the train block
  std::vector<const ast::Expr*> values;
  SourceRange range;
  const ast::Expr* stop_when = nullptr;
};

std::map<std::string, SettingValues> effectiveSettings(CheckContext& context, const SweepSetup& setup) {
  std::map<std::string, SettingValues> out;
  for (const auto& setting : setup.train->settings) {
    SettingValues values{&setting, {}, setting.range, setting.stop_when.get()};
    for (const auto& value : setting.values) values.values.push_back(value.get());
    out[setting.key.name] = values;
  }
  for (const auto& [key, assignment] : setup.setting_overrides) {
    SettingValues values{nullptr, {assignment->value.get()}, assignment->range, nullptr};
    if (const auto it = out.find(key); it != out.end()) values.stop_when = it->second.stop_when;
    out[key] = values;
  }
  return out;
}

class TrainResolver {
 public:
  TrainResolver(CheckContext& context, const SweepSetup& setup, NameLookup lookup)
      : context_(context), setup_(setup), lookup_(std::move(lookup)), diagnostics_(context.diagnostics) {}

  std::optional<TrainConfig> run() {
    settings_ = effectiveSettings(context_, setup_);
    config_.train = setup_.train->name ? setup_.train->name->name : "";
    if (const ast::ModelStmt* kind = modelKind()) return runKind(*kind);
    for (const char* key : {"model", "loss", "optimizer", "epochs"}) {
      if (settings_.count(key) == 0) {
        diagnostics_.error(setup_.train->range, fmt::format("{} has no '{}' setting", trainLabel(*setup_.train), key),
                           missingHint(key));
        ok_ = false;
      }
    }
    if (!ok_) return std::nullopt;
    const Split* split = resolveSplit();
    if (split == nullptr) return std::nullopt;
    config_.split = split->name;
    resolveScalars();
    resolveLoss(*split);
    resolveOptimizer();
    resolveSchedule();
    if (!ok_) return std::nullopt;
    const ast::ModelStmt* model = resolveModel();
    if (model == nullptr) return std::nullopt;
    ModelDefaults defaults{config_.l1, config_.l2, config_.init};
    auto instance = instantiateModel(*model, split->sample_shape, lookup_, defaults, context_.catalog, diagnostics_);
    if (!instance) return std::nullopt;
    config_.model = std::move(*instance);
    if (!checkOutput(*split)) return std::nullopt;
    resolveStop(*split);
    resolveMetrics(*split);
    if (!ok_) return std::nullopt;
    return std::move(config_);
  }

 private:
  // The model the `model` setting names when it is a kind (`model svc = svm(...)`),
  // looked up quietly: a wrong name is reported where the model is resolved.
  const ast::ModelStmt* modelKind() {
    const auto it = settings_.find("model");
    if (it == settings_.end() || it->second.values.size() != 1) return nullptr;
    DiagnosticEngine quiet(diagnostics_.file());
    auto value = evaluate(*it->second.values[0], lookup_, quiet);
    if (!value || value->kind != ValueKind::kSymbol) return nullptr;
    const auto model = context_.models.find(value->text);
    if (model == context_.models.end() || !model->second->kind) return nullptr;
    return model->second;
  }

  // A train block of an svm: `model`, `split` and `metrics` only; libsvm fits it whole.
  std::optional<TrainConfig> runKind(const ast::ModelStmt& model) {
    for (const auto& [key, values] : settings_) {
      if (key == "model" || key == "split" || key == "metrics") continue;
      diagnostics_.error(values.range,
                         fmt::format("'{}' does not apply to model '{}': an svm is fitted by libsvm, without a "
                                     "loss, optimizer or epochs",
                                     key, model.name.name),
                         fmt::format("remove `{}`; the train block of an svm names `model`, `split` and `metrics`",
                                     key));
      ok_ = false;
    }
    const Split* split = resolveSplit();
    if (split == nullptr || !ok_) return std::nullopt;
    config_.split = split->name;
    if (split->num_classes == 0) {
      diagnostics_.error(rangeOf("model"),
                         fmt::format("model '{}' is an svm classifier, but the data has real-valued targets",
                                     model.name.name),
                         "an svm needs integer class labels; use a network with `loss mse` for a regression");
      return std::nullopt;
    }
    auto instance = instantiateModel(model, split->sample_shape, lookup_, {}, context_.catalog, diagnostics_);
    if (!instance) return std::nullopt;
    config_.model = std::move(*instance);
    config_.loss = "";
    config_.optimizer = "";
    config_.batch = 1;
    config_.epochs = 1;
    config_.shuffle = false;
    resolveMetrics(*split);
    if (!ok_) return std::nullopt;
    return std::move(config_);
  }

  static std::string missingHint(const std::string& key) {
    if (key == "model") return "add `model NAME` naming a model block";
    if (key == "loss") return "add `loss cross_entropy` (classes) or `loss mse` (regression)";
    if (key == "optimizer") return "add `optimizer adam(lr: 1e-3)`";
    return "add `epochs 10`";
  }

  std::optional<Value> single(const std::string& key) {
    const auto it = settings_.find(key);
    if (it == settings_.end()) return std::nullopt;
    if (it->second.values.size() != 1) {
      diagnostics_.error(it->second.values[1]->range, fmt::format("'{}' takes one value", key));
      ok_ = false;
      return std::nullopt;
    }
    auto value = evaluate(*it->second.values[0], lookup_, diagnostics_);
    if (!value) ok_ = false;
    return value;
  }

  SourceRange rangeOf(const std::string& key) const {
    const auto it = settings_.find(key);
    return it == settings_.end() ? setup_.train->range : it->second.values[0]->range;
  }

  bool expect(const std::string& key, const Value& value, const ArgType& type) {
    if (valueMatches(value, type)) return true;
    reportMismatch(diagnostics_, value, type, fmt::format("'{}'", key), rangeOf(key));
    ok_ = false;
    return false;
  }

  const Split* resolveSplit() {
    const auto& splits = context_.out.splits;
    if (settings_.count("split") == 0) {
      if (splits.size() == 1) return &splits[0];
      std::vector<std::string> names;
      for (const auto& split : splits) names.push_back(split.name.empty() ? "(unnamed)" : split.name);
      diagnostics_.error(setup_.train->range,
                         fmt::format("{} must say which split it trains on", trainLabel(*setup_.train)),
                         "add `split NAME`; splits are " + quotedList(names));
      ok_ = false;
      return nullptr;
    }
    auto value = single("split");
    if (!value) return nullptr;
    if (value->kind == ValueKind::kSymbol) {
      if (const Split* split = context_.out.findSplit(value->text)) return split;
    }
    std::vector<std::string> names;
    for (const auto& split : splits) {
      if (!split.name.empty()) names.push_back(split.name);
    }
    std::string hint = value->kind == ValueKind::kSymbol ? didYouMean(value->text, names) : "";
    if (hint.empty()) hint = names.empty() ? "name the split: `split NAME: train = ...`" : "splits are " + quotedList(names);
    diagnostics_.error(rangeOf("split"), fmt::format("unknown split {}", value->kind == ValueKind::kSymbol
                                                                             ? "'" + value->text + "'"
                                                                             : describeValue(*value)),
                       hint);
    ok_ = false;
    return nullptr;
  }

  void resolveScalars() {
    if (auto value = single("l1"); value && expect("l1", *value, ArgType::nonNegativeReal())) config_.l1 = value->number;
    if (auto value = single("l2"); value && expect("l2", *value, ArgType::nonNegativeReal())) config_.l2 = value->number;
    if (auto value = single("batch"); value && expect("batch", *value, ArgType::integer(1, kMaxBatch))) {
      config_.batch = value->asInt();
    }
    if (auto value = single("epochs"); value && expect("epochs", *value, ArgType::integer(1, kMaxEpochs))) {
      config_.epochs = value->asInt();
    }
    if (auto value = single("shuffle"); value && expect("shuffle", *value, ArgType::of(TypeKind::kBool))) {
      config_.shuffle = value->boolean;
    }
    if (auto value = single("trial_timeout");
        value && expect("trial_timeout", *value, ArgType::of(TypeKind::kDuration))) {
      config_.trial_timeout_seconds = value->number;
    }
    if (auto value = single("init");
        value && expect("init", *value, ArgType::choice(Catalog::names(context_.catalog.inits)))) {
      config_.init = value->text;
    }
  }

  // Resolves a setting whose value is a name or call from `table`.
  std::optional<BoundArgs> resolveCall(const std::string& key, const std::vector<Signature>& table, std::string* name) {
    auto value = single(key);
    if (!value) return std::nullopt;
    const bool callable = value->kind == ValueKind::kSymbol || value->kind == ValueKind::kCall;
    const Signature* signature = callable ? Catalog::find(table, value->text) : nullptr;
    if (signature == nullptr) {
      std::string hint = callable ? didYouMean(value->text, Catalog::names(table)) : "";
      if (hint.empty()) hint = fmt::format("use {}", quotedList(Catalog::names(table)));
      Diagnostic* diagnostic =
          diagnostics_.error(value->param.empty() ? value->range : rangeOf(key),
                             callable ? fmt::format("unknown {} '{}'", table[0].what, value->text)
                                      : fmt::format("'{}' must be a name such as '{}', found {}", key, table[0].name,
                                                    describeValue(*value)),
                             hint);
      if (diagnostic != nullptr && !value->param.empty()) {
        diagnostic->notes.push_back({value->range, fmt::format("this value comes from param '{}'", value->param)});
      }
      ok_ = false;
      return std::nullopt;
    }
    auto args = bindCall(*value, *signature, diagnostics_);
    if (!args) {
      ok_ = false;
      return std::nullopt;
    }
    *name = signature->name;
    return args;
  }

  void resolveLoss(const Split& split) {
    std::string name;
    if (!resolveCall("loss", context_.catalog.losses, &name)) return;
    config_.loss = name;
    if (name == "cross_entropy" && split.num_classes == 0) {
      diagnostics_.error(rangeOf("loss"), "cross_entropy needs class labels, but the data has real-valued targets",
                         "use `loss mse` for regression");
      ok_ = false;
    }
  }

  void resolveOptimizer() {
    std::string name;
    auto args = resolveCall("optimizer", context_.catalog.optimizers, &name);
    if (!args) return;
    config_.optimizer = name;
    config_.optimizer_args = std::move(*args);
    config_.optimizer_range = rangeOf("optimizer");
  }

  void resolveSchedule() {
    if (settings_.count("schedule") == 0) return;
    std::string name;
    auto args = resolveCall("schedule", context_.catalog.schedules, &name);
    if (!args) return;
    config_.schedule = name;
    config_.schedule_args = std::move(*args);
    config_.schedule_range = rangeOf("schedule");
  }

  const ast::ModelStmt* resolveModel() {
    auto value = single("model");
    if (!value) return nullptr;
    if (value->kind == ValueKind::kSymbol) {
      if (const auto it = context_.models.find(value->text); it != context_.models.end()) return it->second;
    }
    std::vector<std::string> names;
    for (const auto& [name, _] : context_.models) names.push_back(name);
    std::string hint = value->kind == ValueKind::kSymbol ? didYouMean(value->text, names) : "";
    if (hint.empty()) hint = names.empty() ? "define one with `model NAME { ... }`" : "models are " + quotedList(names);
    diagnostics_.error(rangeOf("model"),
                       value->kind == ValueKind::kSymbol ? fmt::format("unknown model '{}'", value->text)
                                                         : fmt::format("'model' must name a model, found {}",
                                                                       describeValue(*value)),
                       hint);
    ok_ = false;
    return nullptr;
  }

  bool checkOutput(const Split& split) {
    const LayerInstance& last = config_.model.layers.back();
    const Shape& out = last.output_shape;
    const int64_t want = config_.loss == "cross_entropy" ? split.num_classes : split.target_width;
    if (out.size() == 1 && out[0] == want) return true;
    const std::string what = config_.loss == "cross_entropy" ? fmt::format("the {} classes of the data", want)
                                                             : fmt::format("the {} target value{} of the data", want,
                                                                           want == 1 ? "" : "s");
    Diagnostic* diagnostic = diagnostics_.error(
        last.range,
        fmt::format("model '{}' ends with output {}, which does not match {}", config_.model.name,
                    formatBatchShape(out), what),
        out.size() == 1 ? fmt::format("end the model with dense({})", want)
                        : fmt::format("add `flatten` and end the model with dense({})", want));
    if (diagnostic != nullptr) diagnostic->notes.push_back({rangeOf("loss"), fmt::format("loss is '{}'", config_.loss)});
    ok_ = false;
    return false;
  }

  void resolveStop(const Split& split) {
    const auto it = settings_.find("epochs");
    if (it == settings_.end() || it->second.stop_when == nullptr) return;
    const ast::Expr& expr = *it->second.stop_when;
    auto value = evaluate(expr, lookup_, diagnostics_);
    if (!value) {
      ok_ = false;
      return;
    }
    const bool callable = value->kind == ValueKind::kSymbol || value->kind == ValueKind::kCall;
    const Signature* signature = callable ? Catalog::find(context_.catalog.stop_conditions, value->text) : nullptr;
    if (signature == nullptr) {
      std::string hint = callable ? didYouMean(value->text, Catalog::names(context_.catalog.stop_conditions)) : "";
      if (hint.empty()) hint = "write `stop when no_improvement(val.loss, tol: 1e-4, patience: 5)`";
      diagnostics_.error(value->range, fmt::format("unknown stop condition '{}'", ast::printExpr(expr)), hint);
      ok_ = false;
      return;
    }
    auto args = bindCall(*value, *signature, diagnostics_);
    if (!args) {
      ok_ = false;
      return;
    }
    const bool has_val = split.val.has_value() || setup_.plan.folds > 1;
    StopRule rule;
    rule.tol = args->number("tol");
    rule.patience = args->integer("patience");
    if (args->has("metric")) {
      rule.metric = checkMetric(context_, args->at("metric"), split, setup_.plan.folds, config_.loss, "early stopping");
      if (rule.metric.empty()) {
        ok_ = false;
        return;
      }
    } else {
      rule.metric = has_val ? "val.loss" : "train.loss";
    }
    config_.stop = rule;
  }

  void resolveMetrics(const Split& split) {
    const auto it = settings_.find("metrics");
    if (it == settings_.end()) {
      if (config_.model.isSvm()) {
        config_.metrics = {"accuracy"};
        return;
      }
      config_.metrics = {"loss"};
      if (config_.loss == "cross_entropy") config_.metrics.push_back("accuracy");
      return;
    }
    for (const ast::Expr* expr : it->second.values) {
      auto value = evaluate(*expr, lookup_, diagnostics_);
      if (!value) {
        ok_ = false;
        continue;
      }
      const std::string metric = checkModelMetric(context_, *value, split, 0, config_, "");
      if (metric.empty()) {
        ok_ = false;
        continue;
      }
      config_.metrics.push_back(metric);
    }
  }

 public:
  // checkMetric for the model of `config`: an svm predicts classes without scores, so it
  // has no loss, AUC or top-k accuracy (and no regression metrics).
  static std::string checkModelMetric(CheckContext& context, const Value& value, const Split& split, int64_t folds,
                                      const TrainConfig& config, const std::string& purpose) {
    if (!config.model.isSvm()) return checkMetric(context, value, split, folds, config.loss, purpose);
    if (value.kind == ValueKind::kSymbol) {
      const auto dot = value.text.find('.');
      const std::string metric = dot == std::string::npos ? value.text : value.text.substr(dot + 1);
      const std::string part = dot == std::string::npos ? "val" : value.text.substr(0, dot);
      const bool scores = metric == "auc_ovr" || isTopKAccuracy(metric);
      const bool regression = metric == "mse" || metric == "mae" || metric == "r2";
      if (metric == "loss" || scores || regression) {
        const std::string why = metric == "loss" ? "it has no loss (libsvm fits it whole, with no loss to minimize)"
                                : scores         ? "it predicts classes, not scores or probabilities"
                                                 : "it is a classifier";
        context.diagnostics.error(
            value.range,
            fmt::format("'{}' does not apply to model '{}', an svm: {}", value.text, config.model.name, why),
            fmt::format("use {}.accuracy, {}.error or {}.f1_macro", part, part, part));
        return "";
      }
    }
    return checkMetric(context, value, split, folds, "cross_entropy", purpose);
  }

  // Checks a metric reference (`accuracy`, `val.loss`); returns its canonical name or ""
  // after reporting. `purpose` is non-empty for selection and early stopping, which must
  // not look at the test split.
  static std::string checkMetric(CheckContext& context, const Value& value, const Split& split, int64_t folds,
                                 const std::string& loss, const std::string& purpose) {
    DiagnosticEngine& diagnostics = context.diagnostics;
    if (value.kind != ValueKind::kSymbol) {
      diagnostics.error(value.range, fmt::format("a metric must be a name such as val.accuracy, found {}",
                                                 describeValue(value)));
      return "";
    }
    const auto dot = value.text.find('.');
    const std::string part = dot == std::string::npos ? "" : value.text.substr(0, dot);
    const std::string metric = dot == std::string::npos ? value.text : value.text.substr(dot + 1);
    if (dot != std::string::npos &&
        std::find(kMetricParts.begin(), kMetricParts.end(), part) == kMetricParts.end()) {
      std::string hint = didYouMean(part, kMetricParts);
      if (hint.empty()) hint = "metrics are measured on " + quotedList(kMetricParts);
      diagnostics.error(value.range, fmt::format("unknown data part '{}' in metric '{}'", part, value.text), hint);
      return "";
    }
    const bool held_out = std::find(kHeldOutMetricNames.begin(), kHeldOutMetricNames.end(), metric) !=
                              kHeldOutMetricNames.end() ||
                          isTopKAccuracy(metric);
    if (!held_out && std::find(kMetricNames.begin(), kMetricNames.end(), metric) == kMetricNames.end()) {
      std::vector<std::string> known = kMetricNames;
      known.insert(known.end(), kHeldOutMetricNames.begin(), kHeldOutMetricNames.end());
      known.push_back("top5_accuracy");
      std::string hint = metric == "top1_accuracy" ? "the top-1 accuracy is `accuracy`" : didYouMean(metric, known);
      if (hint.empty()) hint = "metrics are " + quotedList(known) + " (topK_accuracy for any k from 2)";
      diagnostics.error(value.range, fmt::format("unknown metric '{}'", metric), hint);
      return "";
    }
    if (held_out && part == "train") {
      diagnostics.error(value.range,
                        fmt::format("'{}' is measured on held-out data, not on the training pass", value.text),
                        fmt::format("use val.{} or test.{}", metric, metric));
      return "";
    }
    const bool regression_only = metric == "r2";
    if (held_out && !loss.empty() && (regression_only ? loss == "cross_entropy" : loss != "cross_entropy")) {
      diagnostics.error(value.range,
                        fmt::format("'{}' is a {} metric, but the loss is '{}'", metric,
                                    regression_only ? "regression" : "classification", loss),
                        regression_only ? "use accuracy, f1_macro, auc_ovr ... for classes"
                                        : "use r2, mse or mae for regression");
      return "";
    }
    if ((metric == "accuracy" || metric == "error") && loss != "cross_entropy" && !loss.empty()) {
      diagnostics.error(value.range, fmt::format("'{}' needs class labels, but the loss is '{}'", metric, loss),
                        "use loss, mse or mae for regression");
      return "";
    }
    if (purpose.empty()) return value.text;
    if (part == "test") {
      diagnostics.error(value.range,
                        fmt::format("{} on the test split leaks the test set into the model choice", purpose),
                        "use a validation split (`val = train.holdout(0.1)`) or cross-validation (`cv 5`), "
                        "then val." + metric);
      return "";
    }
    if (part.empty()) {
      diagnostics.error(value.range, fmt::format("say which data {} looks at: val.{} or train.{}", purpose, metric,
                                                 metric));
      return "";
    }
    if (part == "val" && !split.val && folds < 2) {
      diagnostics.error(value.range, fmt::format("{} on '{}' needs validation data, but the split has no 'val'",
                                                 purpose, value.text),
                        "add `val = train.holdout(0.1)` to the split, or `cv 5` to the sweep");
      return "";
    }
    return value.text;
  }

 private:
  CheckContext& context_;
  const SweepSetup& setup_;
  NameLookup lookup_;
  DiagnosticEngine& diagnostics_;
  std::map<std::string, SettingValues> settings_;
  TrainConfig config_;
  bool ok_ = true;
};

// ---- sweep statements ----------------------------------------------------------------

const ast::TrainStmt* pickTrain(CheckContext& context, const ast::SweepStmt& sweep, const ast::Ident* using_name) {
  if (using_name != nullptr) {
    if (const auto it = context.trains.find(using_name->name); it != context.trains.end()) return it->second;
    std::vector<std::string> names;
    for (const auto& [name, _] : context.trains) {
      if (!name.empty()) names.push_back(name);
    }
    std::string hint = didYouMean(using_name->name, names);
    if (hint.empty()) hint = names.empty() ? "name the train block: `train NAME { ... }`" : "train blocks are " + quotedList(names);
    context.diagnostics.error(using_name->range, fmt::format("unknown train block '{}'", using_name->name), hint);
    return nullptr;
  }
  if (context.spec.trains.size() == 1) return &context.spec.trains[0];
  std::vector<std::string> names;
  for (const auto& [name, _] : context.trains) {
    if (!name.empty()) names.push_back(name);
  }
  context.diagnostics.error(sweep.method->range, "this sweep must say which train block it runs",
                            names.empty() ? "name the train blocks" : fmt::format("add `using {}`", names[0]));
  return nullptr;
}

bool readClauses(CheckContext& context, const ast::SweepStmt& sweep, SweepSetup& setup) {
  DiagnosticEngine& diagnostics = context.diagnostics;
  const NameLookup no_names = [](const ast::Ident&, SourceRange) { return std::nullopt; };
  std::map<ast::ClauseKind, SourceRange> seen;
  const ast::Ident* using_name = nullptr;
  bool ok = true;
  auto integer = [&](const ast::SweepClause& clause, const ArgType& type, const char* what) -> std::optional<int64_t> {
    auto value = evaluate(*clause.value, no_names, diagnostics);
    if (!value) return std::nullopt;
    if (!valueMatches(*value, type)) {
      reportMismatch(diagnostics, *value, type, what, clause.value->range);
      return std::nullopt;
    }
    return value->asInt();
  };
  for (const auto& clause : sweep.clauses) {
    if (clause.kind != ast::ClauseKind::kWith) {
      const auto [it, inserted] = seen.emplace(clause.kind, clause.range);
      if (!inserted) {
        Diagnostic* diagnostic = diagnostics.error(clause.keyword, "this clause is given twice in one sweep");
        if (diagnostic != nullptr) diagnostic->notes.push_back({it->second, "first given here"});
        ok = false;
        continue;
      }
    }
    switch (clause.kind) {
      case ast::ClauseKind::kCv: {
        auto folds = integer(clause, ArgType::integer(2, kMaxFolds), "the number of folds");
        if (!folds) {
          ok = false;
          break;
        }
        setup.plan.folds = *folds;
        setup.plan.stratified = clause.stratified;
        break;
      }
      case ast::ClauseKind::kReplicates: {
        auto count = integer(clause, ArgType::integer(1, kMaxReplicates), "the number of replicates");
        if (!count) {
          ok = false;
          break;
        }
        setup.plan.replicates = *count;
        break;
      }
      case ast::ClauseKind::kTrials: {
        auto count = integer(clause, ArgType::integer(1, kMaxTrials), "the number of trials");
        if (!count) {
          ok = false;
          break;
        }
        setup.plan.points = *count;
        break;
      }
      case ast::ClauseKind::kFuse: {
        auto value = evaluate(*clause.value, no_names, diagnostics);
        if (!value) {
          ok = false;
          break;
        }
        if (value->kind == ValueKind::kSymbol && (value->text == "auto" || value->text == "off")) {
          setup.plan.fuse = value->text == "off" ? 1 : 0;
          break;
        }
        const ArgType type = ArgType::integer(1, kMaxFusion);
        if (value->kind != ValueKind::kInt || !valueMatches(*value, type)) {
          diagnostics.error(clause.value->range,
                            fmt::format("fuse takes a number of trials from 1 to {}, 'auto' or 'off', not '{}'",
                                        kMaxFusion, ast::printExpr(*clause.value)),
                            "write e.g. 'fuse 4' (at most 4 trials train in one step), 'fuse auto' (as many as the "
                            "cache holds) or 'fuse off'");
          ok = false;
          break;
        }
        setup.plan.fuse = static_cast<int64_t>(value->number);
        break;
      }
      case ast::ClauseKind::kTimeout: {
        auto value = evaluate(*clause.value, no_names, diagnostics);
        const ArgType type = ArgType::of(TypeKind::kDuration);
        if (!value || !valueMatches(*value, type)) {
          if (value) reportMismatch(diagnostics, *value, type, "the timeout", clause.value->range);
          ok = false;
          break;
        }
        setup.plan.timeout_seconds = value->number;
        break;
      }
      case ast::ClauseKind::kPrune:
      case ast::ClauseKind::kEnsemble: {
        const bool prune = clause.kind == ast::ClauseKind::kPrune;
        const auto& table = prune ? context.catalog.pruners : context.catalog.ensembles;
        auto value = evaluate(*clause.value, no_names, diagnostics);
        if (!value) {
          ok = false;
          break;
        }
        const bool callable = value->kind == ValueKind::kSymbol || value->kind == ValueKind::kCall;
        const Signature* signature = callable ? Catalog::find(table, value->text) : nullptr;
        if (signature == nullptr) {
          std::string hint = callable ? didYouMean(value->text, Catalog::names(table)) : "";
          if (hint.empty()) hint = "use " + quotedList(Catalog::names(table));
          diagnostics.error(clause.value->range,
                            fmt::format("unknown {} '{}'", table[0].what, ast::printExpr(*clause.value)), hint);
          ok = false;
          break;
        }
        auto args = bindCall(*value, *signature, diagnostics);
        if (!args) {
          ok = false;
          break;
        }
        if (prune) {
          setup.plan.pruner = signature->name;
          setup.plan.pruner_args = std::move(*args);
        } else {
          setup.plan.ensemble = signature->name;
        }
        break;
      }
      case ast::ClauseKind::kSelect: {
        if (clause.word.name != "max" && clause.word.name != "min") {
          diagnostics.error(clause.word.range,
                            fmt::format("'select' is followed by max or min, found '{}'", clause.word.name),
                            "write `select max val.accuracy` or `select min val.loss`");
          ok = false;
          break;
        }
        setup.plan.maximize = clause.word.name == "max";
        break;  // the metric is checked once the split is known
      }
      case ast::ClauseKind::kRefit: setup.plan.refit = true; break;
      case ast::ClauseKind::kUsing: using_name = &clause.word; break;
      case ast::ClauseKind::kWith:
        for (const auto& fix : clause.fixes) {
          const std::string& name = fix.name.name;
          const bool is_param = context.param_stmts.count(name) != 0;
          const bool is_setting = std::find(kTrainKeys.begin(), kTrainKeys.end(), name) != kTrainKeys.end();
          if (!is_param && !is_setting) {
            std::vector<std::string> candidates(kTrainKeys.begin(), kTrainKeys.end());
            for (const auto& [param, _] : context.param_stmts) candidates.push_back(param);
            std::string hint = didYouMean(name, candidates);
            if (hint.empty()) hint = "`with` sets a param or a train setting such as epochs";
            diagnostics.error(fix.name.range, fmt::format("'{}' is neither a param nor a train setting", name), hint);
            ok = false;
            continue;
          }
          auto& target = is_param ? setup.fixed_params : setup.setting_overrides;
          if (!target.emplace(name, &fix).second) {
            diagnostics.error(fix.name.range, fmt::format("'{}' is set twice", name));
            ok = false;
          }
        }
        break;
    }
  }
  setup.train = pickTrain(context, sweep, using_name);
  return ok && setup.train != nullptr;
}

// Reads `grid(a, b)`, `random(a)`, `tpe(a, b, startup: 20)` or a bare method name.
bool readMethod(CheckContext& context, const ast::SweepStmt& sweep, SweepSetup& setup) {
  const ast::Expr& expr = *sweep.method;
  const std::string name = expr.kind == ast::ExprKind::kCall ? dottedName(*expr.operands[0]) : dottedName(expr);
  const SourceRange name_range = expr.kind == ast::ExprKind::kCall ? expr.operands[0]->range : expr.range;
  if (std::find(kSweepMethods.begin(), kSweepMethods.end(), name) == kSweepMethods.end()) {
    std::string hint = didYouMean(name, kSweepMethods);
    if (hint.empty()) hint = "sweep methods are " + quotedList(kSweepMethods);
    context.diagnostics.error(name_range, fmt::format("unknown sweep method '{}'", ast::printExpr(expr)), hint);
    return false;
  }
  setup.plan.method = name;
  setup.method_range = expr.range;
  Value options;
  options.kind = ValueKind::kCall;
  options.text = name;
  options.range = expr.range;
  bool ok = true;
  std::set<std::string> axes;
  for (const auto& arg : expr.args) {
    if (!arg.key) {
      if (arg.value->kind != ast::ExprKind::kName) {
        context.diagnostics.error(arg.value->range, "a sweep axis must be the name of a param");
        ok = false;
        continue;
      }
      const std::string& axis = arg.value->text;
      if (context.param_stmts.count(axis) == 0) {
        std::vector<std::string> names;
        for (const auto& [param, _] : context.param_stmts) names.push_back(param);
        std::string hint = didYouMean(axis, names);
        if (hint.empty()) hint = fmt::format("declare it: `param {} in [...]`", axis);
        context.diagnostics.error(arg.value->range, fmt::format("unknown param '{}'", axis), hint);
        ok = false;
        continue;
      }
      if (!axes.insert(axis).second) {
        context.diagnostics.error(arg.value->range, fmt::format("axis '{}' is listed twice", axis));
        ok = false;
        continue;
      }
      setup.plan.axes.push_back(axis);
      continue;
    }
    auto value = evaluate(*arg.value, [](const ast::Ident&, SourceRange) { return std::nullopt; }, context.diagnostics);
    if (!value) {
      ok = false;
      continue;
    }
    options.args.push_back({arg.key->name, arg.key->range, arg.range, std::make_unique<Value>(std::move(*value))});
  }
  auto bound = bindCall(options, *Catalog::find(context.catalog.sweep_options, name), context.diagnostics);
  if (!bound) return false;
  setup.plan.method_options = std::move(*bound);
  return ok;
}

// Validates the axes against what the train block uses; fills the remaining bindings.
bool resolveAxes(CheckContext& context, const ast::SweepStmt* sweep, SweepSetup& setup, bool implicit_axes) {
  DiagnosticEngine& diagnostics = context.diagnostics;
  const std::set<std::string> names = reachableNames(context, setup);
  for (const auto& param : context.out.params) {
    if (names.count(param.name) != 0) setup.reachable.insert(param.name);
  }
  bool ok = true;
  if (implicit_axes) {
    for (const auto& name : setup.reachable) {
      const ParamDef* param = context.findParam(name);
      if (param->isSwept() && setup.fixed_params.count(name) == 0) setup.plan.axes.push_back(name);
    }
  }
  for (const auto& axis : setup.plan.axes) {
    const ParamDef* param = context.findParam(axis);
    if (param == nullptr) continue;
    const auto* where = sweep ? &sweep->method->range : &setup.range;
    if (setup.reachable.count(axis) == 0) {
      diagnostics.error(*where, fmt::format("sweep axis '{}' is not used by {} or its model", axis,
                                            trainLabel(*setup.train)),
                        fmt::format("use '{}' in a setting or a layer, or remove it from the sweep", axis));
      ok = false;
    }
    if (setup.fixed_params.count(axis) != 0) {
      diagnostics.error(setup.fixed_params[axis]->range,
                        fmt::format("'{}' is a sweep axis and cannot also be fixed with `with`", axis));
      ok = false;
    }
    const bool overridden = context.param_stmts.at(axis)->overridden;
    if (!param->isSwept() && !overridden) {
      diagnostics.error(*where, fmt::format("param '{}' has a single value; there is nothing to sweep", axis),
                        fmt::format("give it several: `param {} in [a, b]`", axis));
      ok = false;
    }
    if (setup.plan.method == "grid" && (param->isDistribution() || !param->length_param.empty())) {
      diagnostics.error(*where,
                        fmt::format("a grid needs a finite list of values, but '{}' is {}", axis,
                                    param->length_param.empty() ? "a distribution" : "a list-valued param"),
                        "use a list, a range or linspace/logspace, or sweep with random or tpe");
      ok = false;
    }
  }
  for (const auto& name : setup.reachable) {
    const ParamDef* param = context.findParam(name);
    const bool axis = std::find(setup.plan.axes.begin(), setup.plan.axes.end(), name) != setup.plan.axes.end();
    if (axis || setup.fixed_params.count(name) != 0 || !param->isSwept()) continue;
    const std::string how = param->isDistribution() ? "is a distribution"
                                                    : fmt::format("has {} values", param->choiceCount());
    diagnostics.error(sweep ? sweep->method->range : setup.train->range,
                      fmt::format("param '{}' {} but {} does not vary it", name, how,
                                  sweep ? (setup.name.empty() ? std::string("this sweep")
                                                              : fmt::format("sweep '{}'", setup.name))
                                        : trainLabel(*setup.train) + ", which runs once,"),
                      sweep ? fmt::format("add it to the sweep's axes, or fix it with `with {} = ...`", name)
                            : fmt::format("add `sweep grid({}) using {}`", name,
                                          setup.train->name ? setup.train->name->name : "NAME"));
    ok = false;
  }
  return ok;
}

// The values each axis takes at the checked points.
std::vector<Binding> axisValues(const ParamDef& param) {
  std::vector<Binding> out;
  if (param.isDistribution()) {
    const bool is_int = param.kind == ParamKind::kInt;
    for (double bound : {param.lo, param.hi}) {
      out.push_back({nullptr, is_int ? makeInt(static_cast<int64_t>(bound), param.range) : makeFloat(bound, param.range)});
      if (param.lo == param.hi) break;
    }
    return out;
  }
  for (size_t k = 0; k < param.choiceCount(); ++k) {
    if (param.choices.empty()) {
      out.push_back({nullptr, param.generated[k]});
    } else {
      out.push_back({param.choices[k], std::nullopt});
    }
  }
  return out;
}

std::vector<Bindings> enumeratePoints(CheckContext& context, SweepSetup& setup) {
  Bindings base;
  for (const auto& name : setup.reachable) {
    const ParamDef* param = context.findParam(name);
    if (const auto fixed = setup.fixed_params.find(name); fixed != setup.fixed_params.end()) {
      base[name] = {fixed->second->value.get(), std::nullopt};
      setup.plan.fixed.emplace_back(name, makeSymbol(ast::printExpr(*fixed->second->value), fixed->second->range));
    } else if (!param->isSwept()) {
      base[name] = axisValues(*param)[0];
    }
  }
  std::vector<std::vector<Binding>> values;
  int64_t grid_points = 1;
  for (const auto& axis : setup.plan.axes) {
    values.push_back(axisValues(*context.findParam(axis)));
    grid_points = std::min<int64_t>(grid_points * static_cast<int64_t>(values.back().size()), int64_t{1} << 40);
  }
  if (setup.plan.method == "grid") setup.plan.points = grid_points;
  const int64_t limit = context.options.max_checked_points;
  const int64_t stride = std::max<int64_t>(1, (grid_points + limit - 1) / limit);
  std::vector<Bindings> points;
  for (int64_t index = 0; index < grid_points; index += stride) {
    Bindings point = base;
    int64_t rest = index;
    for (size_t a = values.size(); a-- > 0;) {
      point[setup.plan.axes[a]] = values[a][rest % static_cast<int64_t>(values[a].size())];
      rest /= static_cast<int64_t>(values[a].size());
    }
    points.push_back(std::move(point));
  }
  setup.plan.points_sampled = stride > 1 || setup.plan.method != "grid";
  return points;
}

void checkProtocol(CheckContext& context, const ast::SweepStmt& sweep, SweepSetup& setup, const Split& split,
                   const TrainConfig& config) {
  DiagnosticEngine& diagnostics = context.diagnostics;
  SweepPlan& plan = setup.plan;
  const ast::SweepClause* select = nullptr;
  const ast::SweepClause* prune = nullptr;
  const ast::SweepClause* trials = nullptr;
  const ast::SweepClause* ensemble = nullptr;
  const ast::SweepClause* refit = nullptr;
  const ast::SweepClause* cv = nullptr;
  const ast::SweepClause* fuse = nullptr;
  for (const auto& clause : sweep.clauses) {
    if (clause.kind == ast::ClauseKind::kSelect) select = &clause;
    if (clause.kind == ast::ClauseKind::kPrune) prune = &clause;
    if (clause.kind == ast::ClauseKind::kTrials) trials = &clause;
    if (clause.kind == ast::ClauseKind::kEnsemble) ensemble = &clause;
    if (clause.kind == ast::ClauseKind::kRefit) refit = &clause;
    if (clause.kind == ast::ClauseKind::kCv) cv = &clause;
    if (clause.kind == ast::ClauseKind::kFuse) fuse = &clause;
  }
  if (fuse != nullptr && plan.method != "grid" && plan.fuse > 1) {
    diagnostics.error(fuse->keyword,
                      fmt::format("a {} sweep draws its points one after another; 'fuse' applies to grid sweeps",
                                  plan.method),
                      "remove `fuse`, or sweep a grid(...)");
  }
  if (select != nullptr) {
    auto value = evaluate(*select->value, [](const ast::Ident&, SourceRange) { return std::nullopt; }, diagnostics);
    if (value) {
      plan.select_metric = TrainResolver::checkModelMetric(context, *value, split, plan.folds, config, "selection");
    }
  }
  if (plan.method == "grid" && trials != nullptr) {
    diagnostics.error(trials->keyword, "a grid runs every point; 'trials' applies to random and tpe sweeps",
                      "remove `trials`, or use random(...) or tpe(...)");
  }
  if (plan.method != "grid" && trials == nullptr) {
    diagnostics.error(sweep.method->range, fmt::format("a {} sweep needs a number of trials", plan.method),
                      "add `trials 50`");
  }
  if (plan.method == "tpe" && select == nullptr) {
    diagnostics.error(sweep.method->range, "tpe needs an objective to optimize", "add `select min val.loss`");
  }
  if (prune != nullptr) {
    if (select == nullptr) {
      diagnostics.error(prune->keyword, "pruning needs a per-epoch objective, but this sweep has none",
                        "add `select max val.accuracy` (or another val metric)");
    } else if (!plan.select_metric.empty() && plan.select_metric.rfind("val.", 0) != 0) {
      diagnostics.error(prune->keyword,
                        fmt::format("pruning needs a per-epoch validation objective, but the objective is '{}'",
                                    plan.select_metric),
                        "select on a val metric");
    }
  }
  if (ensemble != nullptr) {
    if (plan.folds < 2 && plan.replicates < 2) {
      diagnostics.error(ensemble->keyword, "an ensemble needs several models: add `cv 5` or `replicates 3`");
    } else if (plan.ensemble == "vote" && split.num_classes == 0) {
      diagnostics.error(ensemble->value->range, "a majority vote needs class labels; this data is a regression",
                        "use `ensemble mean`");
    }
  }
  if (refit != nullptr && plan.folds < 2 && !split.val) {
    diagnostics.error(refit->keyword, "refit retrains the best point on all training data, which needs cv or a val split");
  }
  if (refit != nullptr && select == nullptr) {
    diagnostics.error(refit->keyword, "refit needs an objective to pick the best point", "add `select max val.accuracy`");
  }
  if (cv != nullptr && plan.folds > 1) {
    const int64_t train = split.train->count;
    if (plan.folds > train) {
      diagnostics.error(cv->value->range,
                        fmt::format("{} folds need at least {} training samples, found {}", plan.folds, plan.folds, train));
    }
    if (split.val) {
      diagnostics.warning(cv->keyword, "the split's 'val' is not used: cross-validation holds out folds of 'train'");
    }
    if (plan.stratified && split.num_classes == 0) {
      diagnostics.error(cv->keyword, "stratified folds need class labels; this data is a regression");
    }
  }
}

std::string graphKey(const TrainConfig& config) {
  return fmt::format("{}|batch={}|{}|{}|l1={}|l2={}", config.model.signature(), config.batch, config.loss,
                     config.optimizer, config.l1 > 0, config.l2 > 0);
}

// Reads a sweep statement (or a train block run once) into its setup: train block,
// method, axes, fixed params, reachable params.
std::optional<SweepSetup> readSweep(CheckContext& context, const ast::SweepStmt* sweep, const ast::TrainStmt* train) {
  SweepSetup setup;
  bool implicit_axes = false;
  if (sweep != nullptr) {
    setup.name = sweep->name ? sweep->name->name : "";
    setup.range = sweep->range;
    if (!readClauses(context, *sweep, setup)) return std::nullopt;
    if (!readMethod(context, *sweep, setup)) return std::nullopt;
    implicit_axes = sweep->method->kind != ast::ExprKind::kCall;
  } else {
    setup.train = train;
    setup.name = train->name ? train->name->name : "";
    setup.range = train->range;
    setup.plan.method = "single";
  }
  setup.plan.name = setup.name;
  setup.plan.range = setup.range;
  if (!resolveAxes(context, sweep, setup, implicit_axes)) return std::nullopt;
  return setup;
}

std::optional<SweepPlan> checkSweep(CheckContext& context, const ast::SweepStmt* sweep, const ast::TrainStmt* train) {
  auto read = readSweep(context, sweep, train);
  if (!read) return std::nullopt;
  SweepSetup& setup = *read;
  std::vector<Bindings> points = enumeratePoints(context, setup);
  if (setup.plan.method == "grid" && setup.plan.points > kMaxTrials) {
    context.diagnostics.error(sweep != nullptr ? sweep->method->range : setup.range,
                              fmt::format("this grid has {}{} points, more than the limit of {}",
                                          setup.plan.points >= (int64_t{1} << 40) ? "at least " : "",
                                          setup.plan.points, kMaxTrials),
                              "sweep fewer values, or sample the space with random(...) or tpe(...) and `trials`");
    return std::nullopt;
  }
  std::set<std::string> graphs;
  for (const auto& bindings : points) {
    PointLookup lookup(context, bindings);
    TrainResolver resolver(context, setup, lookup.function());
    const size_t reported = context.diagnostics.diagnostics().size();
    auto config = resolver.run();
    if (!config) {
      // Say at which point of the sweep the problem shows.
      if (!setup.plan.axes.empty() && sweep != nullptr) {
        std::string where;
        for (const auto& axis : setup.plan.axes) {
          PointLookup value_lookup(context, bindings);
          if (auto value = value_lookup(ast::Ident{axis, {}}, {})) {
            where += (where.empty() ? "" : ", ") + axis + "=" + formatValue(*value);
          }
        }
        for (size_t k = reported; k < context.diagnostics.diagnostics().size(); ++k) {
          context.diagnostics.addNote(k, {sweep->method->range, "at sweep point " + where});
        }
      }
      if (context.diagnostics.capReached()) return std::nullopt;
      continue;
    }
    graphs.insert(graphKey(*config));
    Point point;
    for (const auto& axis : setup.plan.axes) {
      PointLookup value_lookup(context, bindings);
      if (auto value = value_lookup(ast::Ident{axis, {}}, {})) point.params.emplace_back(axis, std::move(*value));
    }
    point.config = std::move(*config);
    setup.plan.checked.push_back(std::move(point));
  }
  if (setup.plan.checked.size() != points.size()) return std::nullopt;
  const Split* split = context.out.findSplit(setup.plan.checked[0].config.split);
  if (sweep != nullptr) checkProtocol(context, *sweep, setup, *split, setup.plan.checked[0].config);
  for (const auto& point : setup.plan.checked) {
    if (point.config.batch > split->train->count) {
      context.diagnostics.warning(setup.range,
                                  fmt::format("batch {} is larger than the {} training samples; each step uses all of them",
                                              point.config.batch, split->train->count));
      break;
    }
  }
  setup.plan.distinct_graphs = static_cast<int64_t>(graphs.size());
  // Sampled spaces were checked at their corners only: if the corners already need
  // different graphs, every trial may need its own.
  if (setup.plan.points_sampled && graphs.size() > 1) {
    setup.plan.distinct_graphs = std::max<int64_t>(setup.plan.points, static_cast<int64_t>(graphs.size()));
    setup.plan.distinct_graphs_bound = true;
  }
  return std::move(setup.plan);
}

}  // namespace

struct PointResolver::State {
  CheckContext context;
  std::map<std::string, SweepSetup> setups;  // by sweep name
};

PointResolver::PointResolver(const ast::Spec& spec, const CheckedSpec& checked, const CheckOptions& options,
                             DiagnosticEngine& diagnostics)
    : state_(std::make_unique<State>(State{CheckContext{spec, options, diagnostics, makeCatalog(), checked, {}, {}, {}, {}},
                                           {}})) {
  CheckContext& context = state_->context;
  for (const auto& param : spec.params) context.param_stmts.emplace(param.name.name, &param);
  for (const auto& model : spec.models) context.models.emplace(model.name.name, &model);
  for (const auto& train : spec.trains) context.trains.emplace(train.name ? train.name->name : "", &train);
  for (const auto& sweep : spec.sweeps) {
    if (auto setup = readSweep(context, &sweep, nullptr)) state_->setups.emplace(setup->name, std::move(*setup));
  }
}

PointResolver::~PointResolver() = default;

std::optional<Point> PointResolver::resolve(const std::string& sweep, const std::vector<AxisValue>& values) {
  CheckContext& context = state_->context;
  const auto it = state_->setups.find(sweep);
  if (it == state_->setups.end()) return std::nullopt;
  const SweepSetup& setup = it->second;
  Bindings bindings;
  for (const auto& name : setup.reachable) {
    const ParamDef* param = context.findParam(name);
    if (const auto fixed = setup.fixed_params.find(name); fixed != setup.fixed_params.end()) {
      bindings[name] = {fixed->second->value.get(), std::nullopt};
    } else if (!param->isSwept()) {
      bindings[name] = axisValues(*param)[0];
    }
  }
  for (const auto& value : values) {
    const ParamDef* param = context.findParam(value.name);
    if (param == nullptr) return std::nullopt;
    const bool is_int = param->kind == ParamKind::kInt;
    auto number = [&](double x) { return is_int ? makeInt(static_cast<int64_t>(std::llround(x)), param->range)
                                                : makeFloat(x, param->range); };
    if (!param->length_param.empty()) {
      Value list;
      list.kind = ValueKind::kList;
      list.range = param->range;
      for (double x : value.numbers) list.items.push_back(number(x));
      bindings[value.name] = {nullptr, list};
    } else if (value.choice) {
      if (*value.choice >= param->choiceCount()) return std::nullopt;
      bindings[value.name] = param->choices.empty() ? Binding{nullptr, param->generated[*value.choice]}
                                                    : Binding{param->choices[*value.choice], std::nullopt};
    } else {
      bindings[value.name] = {nullptr, number(value.number)};
    }
  }
  PointLookup lookup(context, bindings);
  TrainResolver resolver(context, setup, lookup.function());
  auto config = resolver.run();
  if (!config) return std::nullopt;
  Point point;
  for (const auto& axis : setup.plan.axes) {
    PointLookup value_lookup(context, bindings);
    if (auto value = value_lookup(ast::Ident{axis, {}}, {})) point.params.emplace_back(axis, std::move(*value));
  }
  point.config = std::move(*config);
  return point;
}

void checkSweeps(CheckContext& context) {
  std::set<const ast::TrainStmt*> used;
  const int errors_before = context.diagnostics.errorCount();
  for (const auto& sweep : context.spec.sweeps) {
    auto plan = checkSweep(context, &sweep, nullptr);
    if (context.diagnostics.capReached()) return;
    if (!plan) continue;
    for (const auto& train : context.spec.trains) {
      const std::string name = train.name ? train.name->name : "";
      if (name == plan->checked[0].config.train) used.insert(&train);
    }
    context.out.sweeps.push_back(std::move(*plan));
  }
  const auto& alone = context.options.run_alone;
  for (const auto& train : context.spec.trains) {
    const bool asked = std::find(alone.begin(), alone.end(), train.name ? train.name->name : "") != alone.end();
    if (used.count(&train) != 0 && !asked) continue;
    // A train block no sweep names runs once (and one --train names, always); unless a
    // sweep failed to check, in which case it may have been meant for that sweep.
    if (!asked && context.diagnostics.errorCount() > errors_before) continue;
    auto plan = checkSweep(context, nullptr, &train);
    if (context.diagnostics.capReached()) return;
    if (plan) context.out.sweeps.push_back(std::move(*plan));
  }
}

}  // namespace nnspec::sema
