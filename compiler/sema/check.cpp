#include "compiler/sema/check.h"

#include <algorithm>

#include <fmt/format.h>

#include "compiler/sema/check_context.h"
#include "compiler/sema/shapes.h"

namespace nnspec::sema {
namespace {

// Reports the second and later definitions of one name.
template <class Stmt, class NameOf>
void checkUnique(CheckContext& context, const std::vector<Stmt>& statements, const char* what, NameOf name_of) {
  std::map<std::string, SourceRange> seen;
  for (const auto& statement : statements) {
    const ast::Ident* name = name_of(statement);
    const std::string key = name ? name->name : "";
    const SourceRange range = name ? name->range : statement.range;
    const auto [it, inserted] = seen.emplace(key, range);
    if (inserted) continue;
    Diagnostic* diagnostic =
        key.empty() ? context.diagnostics.error(range, fmt::format("more than one unnamed {}", what),
                                                fmt::format("give each {} a name", what))
                    : context.diagnostics.error(range, fmt::format("{} '{}' is defined twice", what, key));
    if (diagnostic != nullptr) diagnostic->notes.push_back({it->second, "first defined here"});
  }
}

// `keep all | best | none`, at most once.
void checkKeep(CheckContext& context) {
  const ast::Spec& spec = context.spec;
  for (size_t k = 0; k < spec.keeps.size(); ++k) {
    if (k > 0) {
      Diagnostic* diagnostic = context.diagnostics.error(spec.keeps[k].range, "only one 'keep' line is allowed");
      if (diagnostic != nullptr) diagnostic->notes.push_back({spec.keeps[0].range, "first given here"});
      continue;
    }
    const ast::Expr& policy = *spec.keeps[k].policy;
    const auto& names = kKeepPolicies;
    const auto it = policy.kind == ast::ExprKind::kName ? std::find(names.begin(), names.end(), policy.text)
                                                        : names.end();
    if (it == names.end()) {
      const std::string suggestion = policy.kind == ast::ExprKind::kName ? didYouMean(policy.text, names) : "";
      context.diagnostics.error(policy.range,
                                fmt::format("'keep' takes all, best or none, not '{}'", ast::printExpr(policy)),
                                suggestion.empty() ? "`keep best` keeps the trained weights of each sweep's best "
                                                     "point; `keep all` every trial's; `keep none` no weights"
                                                   : suggestion);
      continue;
    }
    context.out.keep = static_cast<KeepPolicy>(it - names.begin());
  }
}

void checkHeader(CheckContext& context) {
  const ast::Spec& spec = context.spec;
  if (spec.experiments.empty()) {
    context.diagnostics.error({0, 0}, "the spec has no 'experiment' line",
                              "start the file with `experiment NAME`");
  } else {
    context.out.experiment = spec.experiments[0].name.name;
    for (size_t k = 1; k < spec.experiments.size(); ++k) {
      Diagnostic* diagnostic =
          context.diagnostics.error(spec.experiments[k].range, "only one 'experiment' line is allowed");
      if (diagnostic != nullptr) diagnostic->notes.push_back({spec.experiments[0].range, "first given here"});
    }
  }
  for (size_t k = 0; k < spec.seeds.size(); ++k) {
    if (k > 0) {
      Diagnostic* diagnostic = context.diagnostics.error(spec.seeds[k].range, "only one 'seed' line is allowed");
      if (diagnostic != nullptr) diagnostic->notes.push_back({spec.seeds[0].range, "first given here"});
      continue;
    }
    const auto value = evaluate(*spec.seeds[k].value, [](const ast::Ident&, SourceRange) { return std::nullopt; },
                                context.diagnostics);
    if (!value) continue;
    const ArgType type = ArgType::integer(0, 9007199254740991.0);
    if (!valueMatches(*value, type)) {
      reportMismatch(context.diagnostics, *value, type, "the seed", spec.seeds[k].value->range);
      continue;
    }
    context.out.seed = static_cast<uint64_t>(value->number);
  }
  checkKeep(context);
}

void checkNames(CheckContext& context) {
  const ast::Spec& spec = context.spec;
  checkUnique(context, spec.data, "data set", [](const ast::DataStmt& s) { return &s.name; });
  checkUnique(context, spec.splits, "split",
              [](const ast::SplitStmt& s) { return s.name ? &*s.name : nullptr; });
  checkUnique(context, spec.params, "param", [](const ast::ParamStmt& s) { return &s.name; });
  checkUnique(context, spec.models, "model", [](const ast::ModelStmt& s) { return &s.name; });
  checkUnique(context, spec.trains, "train block",
              [](const ast::TrainStmt& s) { return s.name ? &*s.name : nullptr; });
  checkUnique(context, spec.sweeps, "sweep",
              [](const ast::SweepStmt& s) { return s.name ? &*s.name : nullptr; });
  for (const auto& param : spec.params) context.param_stmts.emplace(param.name.name, &param);
  for (const auto& model : spec.models) context.models.emplace(model.name.name, &model);
  for (const auto& train : spec.trains) context.trains.emplace(train.name ? train.name->name : "", &train);
  if (spec.trains.empty()) {
    context.diagnostics.error({0, 0}, "the spec has no 'train' block",
                              "add `train { model NAME  loss cross_entropy  optimizer adam  epochs 10 }`");
  }
}

// Every layer of every model names a known layer, whatever else fails: shape inference
// (checkSweeps) stops a model at its first error and does not run at all when the data or
// splits are wrong, so a misspelt layer after them would go unreported. The same report
// as shape inference's (reportUnknownLayer), which the engine keeps once.
void walkLayerNames(CheckContext& context, const std::vector<ast::LayerStmt>& layers) {
  for (const auto& layer : layers) {
    if (layer.kind == ast::LayerKind::kFor || layer.kind == ast::LayerKind::kRepeat) {
      walkLayerNames(context, layer.body);
      continue;
    }
    if (layer.kind == ast::LayerKind::kCall && Catalog::find(context.catalog.layers, layer.name.name) == nullptr) {
      reportUnknownLayer(context.diagnostics, context.catalog, layer.name);
    }
  }
}

void checkLayerNames(CheckContext& context) {
  for (const auto& model : context.spec.models) {
    walkLayerNames(context, model.layers);
    if (!model.kind) continue;
    // `model NAME = KIND(...)`: a known kind, used or not (its arguments are checked per point).
    const ast::Expr* callee = model.kind->kind == ast::ExprKind::kCall ? model.kind->operands[0].get() : model.kind.get();
    if (callee->kind == ast::ExprKind::kName && context.param_stmts.count(callee->text) == 0 &&
        Catalog::find(context.catalog.model_kinds, callee->text) == nullptr) {
      reportUnknownModelKind(context.diagnostics, context.catalog, model, callee->text);
    }
  }
}

// Setting keys are known words, each given once.
void checkTrainKeys(CheckContext& context) {
  for (const auto& train : context.spec.trains) {
    std::map<std::string, SourceRange> seen;
    for (const auto& setting : train.settings) {
      const std::string& key = setting.key.name;
      if (std::find(kTrainKeys.begin(), kTrainKeys.end(), key) == kTrainKeys.end()) {
        std::string hint = didYouMean(key, kTrainKeys);
        if (hint.empty()) hint = "settings are " + quotedList(kTrainKeys);
        context.diagnostics.error(setting.key.range, fmt::format("unknown train setting '{}'", key), hint);
        continue;
      }
      const auto [it, inserted] = seen.emplace(key, setting.key.range);
      if (!inserted) {
        Diagnostic* diagnostic = context.diagnostics.error(setting.key.range, fmt::format("'{}' is set twice", key));
        if (diagnostic != nullptr) diagnostic->notes.push_back({it->second, "first set here"});
      }
      if (setting.stop_when && key != "epochs") {
        context.diagnostics.error(setting.stop_when->range, "'stop when' belongs to the 'epochs' setting",
                                  "write `epochs 100 stop when no_improvement(val.loss)`");
      }
    }
  }
}

void checkReports(CheckContext& context) {
  for (const auto& report : context.spec.reports) {
    for (const auto& item : report.items) {
      auto value = evaluate(*item, [](const ast::Ident&, SourceRange) { return std::nullopt; }, context.diagnostics);
      if (!value) continue;
      if (value->kind != ValueKind::kSymbol && value->kind != ValueKind::kCall) {
        context.diagnostics.error(item->range, fmt::format("a report item must be a name such as 'table', found {}",
                                                           describeValue(*value)));
        continue;
      }
      const Signature* signature = Catalog::find(context.catalog.report_items, value->text);
      if (signature == nullptr) {
        std::string hint = didYouMean(value->text, Catalog::names(context.catalog.report_items));
        if (hint.empty()) hint = "report items are " + quotedList(Catalog::names(context.catalog.report_items));
        context.diagnostics.error(item->kind == ast::ExprKind::kCall ? item->operands[0]->range : item->range,
                                  fmt::format("unknown report item '{}'", value->text), hint);
        continue;
      }
      auto args = bindCall(*value, *signature, context.diagnostics);
      if (!args) continue;
      context.out.reports.push_back({signature->name, std::move(*args), item->range});
    }
  }
}

// Report items that refer to params or metrics are checked against the sweeps.
void checkReportReferences(CheckContext& context) {
  for (const auto& item : context.out.reports) {
    if (item.name != "errorbar" && item.name != "curves") continue;
    const char* key = item.name == "errorbar" ? "x" : "by";
    if (!item.args.has(key)) continue;
    const Value& value = item.args.at(key);
    if (value.kind == ValueKind::kSymbol && value.text == "epoch") continue;
    bool swept = false;
    for (const auto& sweep : context.out.sweeps) {
      for (const auto& axis : sweep.axes) swept = swept || axis == value.text;
    }
    if (swept) continue;
    std::vector<std::string> axes;
    for (const auto& sweep : context.out.sweeps) axes.insert(axes.end(), sweep.axes.begin(), sweep.axes.end());
    std::string hint = didYouMean(value.text, axes);
    if (hint.empty()) hint = axes.empty() ? "no sweep varies a param" : "swept params are " + quotedList(axes);
    context.diagnostics.error(item.args.rangeOf(key, item.range),
                              fmt::format("'{}' of '{}' must be a swept param, found {}", key, item.name,
                                          describeValue(value)),
                              hint);
  }
}

// The report items that draw a layer of the trained models (weights: the L-th dense layer,
// filters and feature_maps: the L-th conv2d layer) must name one some model of the run
// has; histograms and curves need a model with layers (an svm has no layers, no epochs):
// otherwise the report would quietly lack them.
void checkReportLayers(CheckContext& context) {
  for (const auto& item : context.out.reports) {
    std::string kind;
    if (item.name == "weights") {
      kind = "dense";
    } else if (item.name == "filters" || item.name == "feature_maps") {
      kind = "conv2d";
    } else if (item.name != "histograms" && item.name != "curves") {
      continue;
    }
    int64_t most = 0;  // the most layers of that kind one model of the run has
    bool layered = false;
    for (const auto& sweep : context.out.sweeps) {
      for (const auto& point : sweep.checked) {
        const auto& layers = point.config.model.layers;
        layered = layered || !layers.empty();
        most = std::max<int64_t>(most, std::count_if(layers.begin(), layers.end(),
                                                     [&](const LayerInstance& layer) { return layer.kind == kind; }));
      }
    }
    if (kind.empty()) {  // curves, histograms: any model with layers will do
      const bool curves = item.name == "curves";
      if (!layered) {
        context.diagnostics.error(
            item.range,
            curves ? "'curves' draws learning curves per epoch, and every model of this run is an svm (fitted once, "
                     "without epochs)"
                   : "'histograms' draws the trained weights of each layer, and no model of this run has layers (an "
                     "svm has none)",
            fmt::format("remove '{}' from the report line{}", item.name,
                        curves ? "; 'table' and 'errorbar' show svm results" : ""));
      }
      continue;
    }
    const int64_t layer = item.args.integer("layer");
    if (layer <= most) continue;
    const std::string found = most == 0 ? fmt::format("no model of this run has a {} layer", kind)
                                        : fmt::format("the models of this run have at most {} {} layer{}", most, kind,
                                                      most == 1 ? "" : "s");
    const std::string hint = most == 0 ? fmt::format("remove '{}' from the report line", item.name)
                             : most == 1 ? "use layer: 1"
                                         : fmt::format("use a layer from 1 to {}", most);
    context.diagnostics.error(item.args.rangeOf("layer", item.range),
                              fmt::format("'{}' draws {} layer {} (counted from 1 among the {} layers), but {}", item.name,
                                          kind, layer, kind, found),
                              hint);
  }
}

}  // namespace

void collectNames(const ast::Expr& expr, std::set<std::string>& names) {
  if (expr.kind == ast::ExprKind::kName) names.insert(expr.text);
  for (const auto& operand : expr.operands) {
    // In `a.b` only `a` can name something.
    collectNames(*operand, names);
  }
  for (const auto& arg : expr.args) collectNames(*arg.value, names);
}

const DataSet* CheckedSpec::findData(const std::string& name) const {
  for (const auto& data : datasets) {
    if (data.name == name) return &data;
  }
  return nullptr;
}

const Split* CheckedSpec::findSplit(const std::string& name) const {
  for (const auto& split : splits) {
    if (split.name == name) return &split;
  }
  return nullptr;
}

std::optional<CheckedSpec> checkSpec(const ast::Spec& spec, const CheckOptions& options,
                                     DiagnosticEngine& diagnostics) {
  CheckContext context{spec, options, diagnostics, makeCatalog(), {}, {}, {}, {}, {}};
  checkHeader(context);
  checkNames(context);
  checkTrainKeys(context);
  checkReports(context);
  checkParams(context);
  checkData(context);
  checkSplits(context);
  const bool blocked = diagnostics.hasErrors();
  checkLayerNames(context);
  if (blocked) return std::nullopt;
  checkSweeps(context);
  checkReportReferences(context);
  if (!diagnostics.hasErrors()) checkReportLayers(context);
  if (!diagnostics.hasErrors()) checkMemory(context);
  if (diagnostics.hasErrors()) return std::nullopt;
  return std::move(context.out);
}

}  // namespace nnspec::sema
