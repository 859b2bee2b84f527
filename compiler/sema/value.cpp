#include "compiler/sema/value.h"

#include <cmath>

#include <fmt/format.h>

namespace nnspec::sema {
namespace {

constexpr int64_t kMaxGeneratedListLength = 100000;

bool isIntegral(double value) { return std::isfinite(value) && std::floor(value) == value && std::fabs(value) < 9e15; }

std::optional<Value> numberOp(const ast::Expr& expr, const Value& lhs, const Value& rhs,
                              DiagnosticEngine& diagnostics) {
  for (const Value* operand : {&lhs, &rhs}) {
    if (!operand->isNumber()) {
      diagnostics.error(operand->range, fmt::format("'{}' needs numbers, found {}", expr.text, describeValue(*operand)));
      return std::nullopt;
    }
  }
  const bool both_int = lhs.kind == ValueKind::kInt && rhs.kind == ValueKind::kInt;
  double result = 0;
  bool integer = both_int;
  const char op = expr.text[0];
  switch (op) {
    case '+': result = lhs.number + rhs.number; break;
    case '-': result = lhs.number - rhs.number; break;
    case '*': result = lhs.number * rhs.number; break;
    case '/':
      if (rhs.number == 0) {
        diagnostics.error(expr.range, "division by zero");
        return std::nullopt;
      }
      result = lhs.number / rhs.number;
      integer = false;
      break;
    case '^':
      result = std::pow(lhs.number, rhs.number);
      integer = both_int && rhs.number >= 0;
      break;
    default: return std::nullopt;
  }
  if (!std::isfinite(result)) {
    diagnostics.error(expr.range, fmt::format("'{}' overflows", ast::printExpr(expr)));
    return std::nullopt;
  }
  if (integer && !isIntegral(result)) integer = false;
  return integer ? makeInt(static_cast<int64_t>(result), expr.range) : makeFloat(result, expr.range);
}

std::optional<Value> rangeOf(const ast::Expr& expr, const NameLookup& lookup, DiagnosticEngine& diagnostics) {
  std::vector<Value> bounds;
  for (const auto& operand : expr.operands) {
    auto value = evaluate(*operand, lookup, diagnostics);
    if (!value) return std::nullopt;
    if (value->kind != ValueKind::kInt) {
      diagnostics.error(value->range, fmt::format("a range needs integers, found {}", describeValue(*value)),
                        "use linspace(lo, hi, n) for evenly spaced real numbers");
      return std::nullopt;
    }
    bounds.push_back(std::move(*value));
  }
  const int64_t lo = bounds[0].asInt();
  const int64_t hi = bounds[1].asInt();
  const int64_t step = bounds.size() > 2 ? bounds[2].asInt() : 1;
  if (step <= 0) {
    diagnostics.error(bounds[2].range, fmt::format("range step must be positive, found {}", step));
    return std::nullopt;
  }
  if (hi >= lo && (hi - lo) / step + 1 > kMaxGeneratedListLength) {
    diagnostics.error(expr.range, fmt::format("range has more than {} values", kMaxGeneratedListLength));
    return std::nullopt;
  }
  Value list;
  list.kind = ValueKind::kList;
  list.range = expr.range;
  for (int64_t v = lo; v <= hi; v += step) list.items.push_back(makeInt(v, expr.range));
  return list;
}

// linspace(lo, hi, n) and logspace(lo_exp, hi_exp, n) (numpy semantics, base 10).
std::optional<Value> spacedList(const ast::Expr& expr, const std::string& name, const NameLookup& lookup,
                                DiagnosticEngine& diagnostics) {
  if (expr.args.size() != 3) {
    diagnostics.error(expr.range, fmt::format("'{}' takes 3 arguments (start, stop, count), found {}", name,
                                              expr.args.size()));
    return std::nullopt;
  }
  std::vector<Value> args;
  for (const auto& arg : expr.args) {
    if (arg.key) {
      diagnostics.error(arg.key->range, fmt::format("'{}' takes positional arguments only", name));
      return std::nullopt;
    }
    auto value = evaluate(*arg.value, lookup, diagnostics);
    if (!value) return std::nullopt;
    if (!value->isNumber()) {
      diagnostics.error(value->range, fmt::format("'{}' needs numbers, found {}", name, describeValue(*value)));
      return std::nullopt;
    }
    args.push_back(std::move(*value));
  }
  if (args[2].kind != ValueKind::kInt || args[2].number < 1 || args[2].number > kMaxGeneratedListLength) {
    diagnostics.error(args[2].range, fmt::format("'{}' count must be an integer from 1 to {}, found {}", name,
                                                 kMaxGeneratedListLength, formatValue(args[2])));
    return std::nullopt;
  }
  const int64_t count = args[2].asInt();
  Value list;
  list.kind = ValueKind::kList;
  list.range = expr.range;
  for (int64_t k = 0; k < count; ++k) {
    const double t = count == 1 ? 0.0 : static_cast<double>(k) / static_cast<double>(count - 1);
    const double linear = args[0].number + t * (args[1].number - args[0].number);
    list.items.push_back(makeFloat(name == "logspace" ? std::pow(10.0, linear) : linear, expr.range));
  }
  return list;
}

}  // namespace

Value::Value(const Value& other)
    : kind(other.kind),
      number(other.number),
      boolean(other.boolean),
      text(other.text),
      items(other.items),
      range(other.range),
      param(other.param) {
  for (const auto& arg : other.args) {
    args.push_back({arg.key, arg.key_range, arg.range, std::make_unique<Value>(*arg.value)});
  }
}

Value& Value::operator=(const Value& other) {
  if (this != &other) *this = Value(other);
  return *this;
}

Value makeInt(int64_t value, SourceRange range) {
  Value out;
  out.kind = ValueKind::kInt;
  out.number = static_cast<double>(value);
  out.range = range;
  return out;
}

Value makeFloat(double value, SourceRange range) {
  Value out;
  out.kind = ValueKind::kFloat;
  out.number = value;
  out.range = range;
  return out;
}

Value makeSymbol(std::string name, SourceRange range) {
  Value out;
  out.kind = ValueKind::kSymbol;
  out.text = std::move(name);
  out.range = range;
  return out;
}

std::string describeValue(const Value& value) {
  switch (value.kind) {
    case ValueKind::kInt: return fmt::format("the integer {}", formatValue(value));
    case ValueKind::kFloat: return fmt::format("the number {}", formatValue(value));
    case ValueKind::kBool: return fmt::format("the boolean {}", formatValue(value));
    case ValueKind::kString: return fmt::format("the string {}", formatValue(value));
    case ValueKind::kSymbol: return fmt::format("the name '{}'", value.text);
    case ValueKind::kList: return fmt::format("the list {}", formatValue(value));
    case ValueKind::kCall: return fmt::format("the call {}", formatValue(value));
    case ValueKind::kDuration: return fmt::format("the duration {}", formatValue(value));
  }
  return "a value";
}

std::string formatValue(const Value& value) {
  switch (value.kind) {
    case ValueKind::kInt: return fmt::format("{}", value.asInt());
    case ValueKind::kFloat: return fmt::format("{}", value.number);
    case ValueKind::kBool: return value.boolean ? "true" : "false";
    case ValueKind::kString: return fmt::format("\"{}\"", value.text);
    case ValueKind::kSymbol: return value.text;
    case ValueKind::kDuration: return fmt::format("{}s", value.number);
    case ValueKind::kList: {
      std::string out = "[";
      for (size_t k = 0; k < value.items.size(); ++k) out += (k ? ", " : "") + formatValue(value.items[k]);
      return out + "]";
    }
    case ValueKind::kCall: {
      std::string out = value.text + "(";
      for (size_t k = 0; k < value.args.size(); ++k) {
        if (k > 0) out += ", ";
        if (!value.args[k].key.empty()) out += value.args[k].key + ": ";
        out += formatValue(*value.args[k].value);
      }
      return out + ")";
    }
  }
  return "";
}

std::optional<Value> evaluateCall(const ast::Expr& call, std::string name, const NameLookup& lookup,
                                  DiagnosticEngine& diagnostics) {
  Value out;
  out.kind = ValueKind::kCall;
  out.text = std::move(name);
  out.range = call.range;
  for (const auto& arg : call.args) {
    auto value = evaluate(*arg.value, lookup, diagnostics);
    if (!value) return std::nullopt;
    out.args.push_back({arg.key ? arg.key->name : "", arg.key ? arg.key->range : SourceRange{}, arg.range,
                        std::make_unique<Value>(std::move(*value))});
  }
  return out;
}

std::string dottedName(const ast::Expr& expr) {
  if (expr.kind == ast::ExprKind::kName) return expr.text;
  if (expr.kind == ast::ExprKind::kMember) {
    const std::string target = dottedName(*expr.operands[0]);
    return target.empty() ? "" : target + "." + expr.member.name;
  }
  return "";
}

std::optional<Value> evaluate(const ast::Expr& expr, const NameLookup& lookup, DiagnosticEngine& diagnostics) {
  switch (expr.kind) {
    case ast::ExprKind::kNumber:
      return expr.is_integer ? makeInt(static_cast<int64_t>(expr.number), expr.range)
                             : makeFloat(expr.number, expr.range);
    case ast::ExprKind::kDuration: {
      static const std::vector<std::pair<std::string, double>> kUnits = {{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}};
      for (const auto& [unit, seconds] : kUnits) {
        if (expr.text == unit) {
          Value out;
          out.kind = ValueKind::kDuration;
          out.number = expr.number * seconds;
          out.range = expr.range;
          return out;
        }
      }
      diagnostics.error(expr.range, fmt::format("'{}' is not a number or a duration", ast::printExpr(expr)),
                        "durations are written like 500ms, 30s, 10m or 2h");
      return std::nullopt;
    }
    case ast::ExprKind::kString: {
      Value out;
      out.kind = ValueKind::kString;
      out.text = expr.text;
      out.range = expr.range;
      return out;
    }
    case ast::ExprKind::kBool: {
      Value out;
      out.kind = ValueKind::kBool;
      out.boolean = expr.boolean;
      out.range = expr.range;
      return out;
    }
    case ast::ExprKind::kName: {
      if (auto bound = lookup(ast::Ident{expr.text, expr.range}, expr.range)) return bound;
      return makeSymbol(expr.text, expr.range);
    }
    case ast::ExprKind::kMember: {
      const std::string path = dottedName(expr);
      if (path.empty()) {
        diagnostics.error(expr.member.range, fmt::format("'.{}' is only allowed after a name here", expr.member.name));
        return std::nullopt;
      }
      return makeSymbol(path, expr.range);
    }
    case ast::ExprKind::kList: {
      Value out;
      out.kind = ValueKind::kList;
      out.range = expr.range;
      for (const auto& item : expr.operands) {
        auto value = evaluate(*item, lookup, diagnostics);
        if (!value) return std::nullopt;
        out.items.push_back(std::move(*value));
      }
      return out;
    }
    case ast::ExprKind::kCall: {
      const std::string name = dottedName(*expr.operands[0]);
      if (name.empty()) {
        diagnostics.error(expr.operands[0]->range, "only a name can be called");
        return std::nullopt;
      }
      if (name == "linspace" || name == "logspace") return spacedList(expr, name, lookup, diagnostics);
      Value out;
      out.kind = ValueKind::kCall;
      out.range = expr.range;
      // A param whose value is a name may be called: `optimizer opt(lr: lr)`.
      if (auto bound = lookup(ast::Ident{name, expr.operands[0]->range}, expr.operands[0]->range)) {
        if (bound->kind != ValueKind::kSymbol) {
          diagnostics.error(expr.operands[0]->range,
                            fmt::format("'{}' is {}, which cannot be called", name, describeValue(*bound)));
          return std::nullopt;
        }
        out.text = bound->text;
        out.param = bound->param;
      } else {
        out.text = name;
      }
      auto args = evaluateCall(expr, out.text, lookup, diagnostics);
      if (!args) return std::nullopt;
      out.args = std::move(args->args);
      return out;
    }
    case ast::ExprKind::kUnary: {
      auto operand = evaluate(*expr.operands[0], lookup, diagnostics);
      if (!operand) return std::nullopt;
      if (!operand->isNumber()) {
        diagnostics.error(operand->range,
                          fmt::format("'{}' needs a number, found {}", expr.text, describeValue(*operand)));
        return std::nullopt;
      }
      if (expr.text == "-") operand->number = -operand->number;
      operand->range = expr.range;
      return operand;
    }
    case ast::ExprKind::kBinary: {
      auto lhs = evaluate(*expr.operands[0], lookup, diagnostics);
      if (!lhs) return std::nullopt;
      auto rhs = evaluate(*expr.operands[1], lookup, diagnostics);
      if (!rhs) return std::nullopt;
      return numberOp(expr, *lhs, *rhs, diagnostics);
    }
    case ast::ExprKind::kRange: return rangeOf(expr, lookup, diagnostics);
  }
  return std::nullopt;
}

}  // namespace nnspec::sema
