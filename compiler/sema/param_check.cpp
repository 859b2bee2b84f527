// Param statements: fixed values, finite lists (literal, ranges, linspace/logspace,
// categorical) and distributions for random/TPE search (int, float, log scale).

#include <cmath>

#include <fmt/format.h>

#include "compiler/sema/check_context.h"
#include "compiler/sema/limits.h"

namespace nnspec::sema {
namespace {

const NameLookup kNoNames = [](const ast::Ident&, SourceRange) { return std::nullopt; };

bool checkDistribution(CheckContext& context, ParamDef& param, const ast::Expr& expr, const std::string& name) {
  const Signature* signature = Catalog::find(context.catalog.distributions, name);
  auto call = evaluate(expr, kNoNames, context.diagnostics);
  if (!call) return false;
  auto args = bindCall(*call, *signature, context.diagnostics);
  if (!args) return false;
  param.kind = name == "int" ? ParamKind::kInt : ParamKind::kFloat;
  param.lo = args->number("lo");
  param.hi = args->number("hi");
  param.log = args->at("log").boolean;
  if (param.kind == ParamKind::kInt) {
    param.step = args->integer("step");
    for (const char* bound : {"lo", "hi"}) {
      if (args->at(bound).kind != ValueKind::kInt) {
        context.diagnostics.error(args->rangeOf(bound, expr.range),
                                  fmt::format("bounds of int(...) must be integers, found {}",
                                              describeValue(args->at(bound))),
                                  "use float(lo, hi) for real numbers");
        return false;
      }
    }
    if (param.log && param.step != 1) {
      context.diagnostics.error(args->rangeOf("step", expr.range), "int(...) cannot combine log: true with a step");
      return false;
    }
  }
  if (param.lo > param.hi) {
    context.diagnostics.error(expr.range,
                              fmt::format("empty range: lower bound {} is above upper bound {}",
                                          formatValue(args->at("lo")), formatValue(args->at("hi"))),
                              "swap the bounds");
    return false;
  }
  if (param.log && param.lo <= 0) {
    context.diagnostics.error(args->rangeOf("lo", expr.range),
                              fmt::format("a log-scale range needs bounds > 0, found {}", formatValue(args->at("lo"))),
                              "use a small positive lower bound such as 1e-6");
    return false;
  }
  return true;
}

bool checkSpace(CheckContext& context, ParamDef& param, const ast::ParamStmt& statement) {
  const ast::Expr& expr = *statement.space;
  if (statement.fixed) {
    param.kind = ParamKind::kFixed;
    param.choices.push_back(&expr);
    return true;
  }
  if (expr.kind == ast::ExprKind::kList) {
    param.kind = ParamKind::kList;
    for (const auto& item : expr.operands) param.choices.push_back(item.get());
  } else if (expr.kind == ast::ExprKind::kRange) {
    auto list = evaluate(expr, kNoNames, context.diagnostics);
    if (!list) return false;
    param.kind = ParamKind::kList;
    param.generated = std::move(list->items);
  } else if (expr.kind == ast::ExprKind::kCall) {
    const std::string name = dottedName(*expr.operands[0]);
    if (name == "linspace" || name == "logspace") {
      auto list = evaluate(expr, kNoNames, context.diagnostics);
      if (!list) return false;
      param.kind = ParamKind::kList;
      param.generated = std::move(list->items);
    } else if (name == "int" || name == "float") {
      return checkDistribution(context, param, expr, name);
    } else if (name == "categorical") {
      param.kind = ParamKind::kList;
      for (const auto& arg : expr.args) {
        if (arg.key) {
          context.diagnostics.error(arg.key->range, "categorical(...) takes its choices without names");
          return false;
        }
        param.choices.push_back(arg.value.get());
      }
    } else {
      static const std::vector<std::string> kSpaces = {"linspace", "logspace", "int", "float", "categorical"};
      std::string hint = didYouMean(name, kSpaces);
      if (hint.empty()) hint = "write a list [a, b], a range 1..5, linspace, logspace, int, float or categorical";
      context.diagnostics.error(expr.operands[0]->range, fmt::format("unknown param space '{}'", name), hint);
      return false;
    }
  } else {
    context.diagnostics.error(expr.range,
                              fmt::format("param '{}' needs a set of values, found '{}'", statement.name.name,
                                          ast::printExpr(expr)),
                              fmt::format("write `param {0} in [a, b]`, or `param {0} = value` for one value",
                                          statement.name.name));
    return false;
  }
  if (param.choiceCount() == 0) {
    context.diagnostics.error(expr.range, fmt::format("param '{}' has no values: its space is empty", statement.name.name),
                              "give at least one value");
    return false;
  }
  return true;
}

void checkLength(CheckContext& context, ParamDef& param, const ast::ParamStmt& statement) {
  if (!statement.length) return;
  const std::string& name = statement.length->name;
  const auto it = context.param_stmts.find(name);
  if (it == context.param_stmts.end()) {
    std::vector<std::string> names;
    for (const auto& [candidate, _] : context.param_stmts) names.push_back(candidate);
    context.diagnostics.error(statement.length->range, fmt::format("unknown param '{}'", name),
                              didYouMean(name, names));
    return;
  }
  if (name == statement.name.name || it->second->length) {
    context.diagnostics.error(statement.length->range,
                              fmt::format("the length of '{}' must be a plain integer param", statement.name.name));
    return;
  }
  param.length_param = name;
}

// A list param whose values are all known integers (used for length params).
void checkLengthValues(CheckContext& context) {
  for (const auto& param : context.out.params) {
    if (param.length_param.empty()) continue;
    const ParamDef* length = context.findParam(param.length_param);
    if (length == nullptr) continue;
    const ArgType type = ArgType::integer(0, kMaxArrayLength);
    if (length->kind == ParamKind::kFloat) {
      context.diagnostics.error(length->range,
                                fmt::format("'{}' sets the length of '{}', so it must be an integer", length->name,
                                            param.name),
                                "use int(lo, hi)");
      continue;
    }
    if (length->kind == ParamKind::kInt) {
      if (length->lo < 0) {
        context.diagnostics.error(length->range, fmt::format("'{}' sets a length, so it cannot be negative", length->name));
      }
      if (length->hi > static_cast<double>(kMaxArrayLength)) {
        context.diagnostics.error(length->range,
                                  fmt::format("'{}' sets the length of '{}', so it can be at most {}, found up to {}",
                                              length->name, param.name, kMaxArrayLength,
                                              static_cast<int64_t>(length->hi)),
                                  fmt::format("use int({}, {}) or less; nnspec bounds every size a spec can ask for",
                                              static_cast<int64_t>(length->lo), kMaxArrayLength));
      }
      continue;
    }
    const size_t count = length->choiceCount();
    for (size_t k = 0; k < count; ++k) {
      auto value = length->choices.empty() ? std::optional<Value>(length->generated[k])
                                           : evaluate(*length->choices[k], kNoNames, context.diagnostics);
      if (!value) continue;
      if (!valueMatches(*value, type)) {
        reportMismatch(context.diagnostics, *value, type,
                       fmt::format("'{}' (the length of '{}')", length->name, param.name), value->range);
      }
    }
  }
}

}  // namespace

void checkParams(CheckContext& context) {
  for (const auto& statement : context.spec.params) {
    ParamDef param;
    param.name = statement.name.name;
    param.range = statement.range;
    if (!checkSpace(context, param, statement)) continue;
    checkLength(context, param, statement);
    if (!param.length_param.empty() && statement.fixed) {
      context.diagnostics.error(statement.range, "a param with a length needs a space: `param units[n] in int(64, 256)`");
      continue;
    }
    context.out.params.push_back(std::move(param));
  }
  checkLengthValues(context);
}

}  // namespace nnspec::sema
