#include "compiler/sema/signature.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace nnspec::sema {
namespace {

std::string formatBound(double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (std::floor(value) == value && std::fabs(value) < 9e15) return fmt::format("{}", static_cast<int64_t>(value));
  return fmt::format("{}", value);
}

bool inBounds(double value, const ArgType& type) {
  if (type.min_exclusive ? value <= type.min : value < type.min) return false;
  if (type.max_exclusive ? value >= type.max : value > type.max) return false;
  return true;
}

bool isInt(const Value& value) { return value.kind == ValueKind::kInt; }

bool isName(const Value& value) { return value.kind == ValueKind::kSymbol || value.kind == ValueKind::kString; }

}  // namespace

ArgType ArgType::integer(double min, double max) {
  ArgType type;
  type.kind = TypeKind::kInt;
  type.min = min;
  type.max = max;
  return type;
}

ArgType ArgType::real(double min, double max, bool min_exclusive, bool max_exclusive) {
  ArgType type;
  type.kind = TypeKind::kFloat;
  type.min = min;
  type.max = max;
  type.min_exclusive = min_exclusive;
  type.max_exclusive = max_exclusive;
  return type;
}

ArgType ArgType::choice(std::vector<std::string> choices) {
  ArgType type;
  type.kind = TypeKind::kChoice;
  type.choices = std::move(choices);
  return type;
}

ArgType ArgType::numberOr(ArgType number, std::vector<std::string> words) {
  number.choices = std::move(words);
  return number;
}

ArgType ArgType::of(TypeKind kind) {
  ArgType type;
  type.kind = kind;
  return type;
}

ArgType ArgType::intOrPair(double max) {
  ArgType type = of(TypeKind::kIntOrPair);
  type.max = max;
  return type;
}

ArgType ArgType::shape(double max) {
  ArgType type = of(TypeKind::kShape);
  type.max = max;
  return type;
}

bool ArgType::aboveMax(const Value& value) const {
  if (std::isinf(max)) return false;
  const auto above = [&](const Value& item) { return isInt(item) && item.number > max; };
  switch (kind) {
    case TypeKind::kInt: return above(value);
    case TypeKind::kIntOrPair:
    case TypeKind::kShape:
      if (value.kind != ValueKind::kList) return above(value);
      return std::any_of(value.items.begin(), value.items.end(), above);
    default: return false;
  }
}

std::string ArgType::describe() const {
  if (kind == TypeKind::kFloat && !choices.empty()) {
    ArgType number = *this;
    number.choices.clear();
    return number.describe() + ", " + quotedList(choices, "or");
  }
  const bool has_min = !std::isinf(min);
  const bool has_max = !std::isinf(max);
  switch (kind) {
    case TypeKind::kInt:
      if (has_min && !has_max && min == 1) return "a positive integer";
      if (has_min && !has_max && min == 0) return "a non-negative integer";
      if (has_min && !has_max) return fmt::format("an integer >= {}", formatBound(min));
      if (has_min && has_max) return fmt::format("an integer from {} to {}", formatBound(min), formatBound(max));
      return "an integer";
    case TypeKind::kFloat:
      if (has_min && !has_max && min == 0) return min_exclusive ? "a positive number" : "a non-negative number";
      if (has_min && has_max) {
        return fmt::format("a number in {}{}, {}{}", min_exclusive ? "(" : "[", formatBound(min), formatBound(max),
                           max_exclusive ? ")" : "]");
      }
      if (has_min) return fmt::format("a number {} {}", min_exclusive ? ">" : ">=", formatBound(min));
      return "a number";
    case TypeKind::kBool: return "true or false";
    case TypeKind::kString: return "a string";
    case TypeKind::kChoice: return "one of " + quotedList(choices);
    case TypeKind::kIntOrPair:
      if (has_max) return fmt::format("an integer from 1 to {} or a pair [rows, cols] of them", formatBound(max));
      return "a positive integer or a pair [rows, cols]";
    case TypeKind::kShape:
      if (has_max) return fmt::format("a shape such as [28, 28, 1] with extents from 1 to {}", formatBound(max));
      return "a shape such as [28, 28, 1]";
    case TypeKind::kDuration: return "a duration above zero such as 30m";
    case TypeKind::kMetric: return "a metric such as val.accuracy";
    case TypeKind::kActivation: return "an activation such as relu";
    case TypeKind::kNames: return "a column name or a list of names";
    case TypeKind::kCountOrFraction: return "a count (an integer >= 1) or a fraction in (0, 1)";
    case TypeKind::kAny: return "a value";
  }
  return "a value";
}

ArgSpec required(std::string name, ArgType type, bool positional) {
  return {std::move(name), std::move(type), true, std::nullopt, positional};
}

ArgSpec optional(std::string name, ArgType type, Value default_value, bool positional) {
  return {std::move(name), std::move(type), false, std::move(default_value), positional};
}

ArgSpec optionalNoDefault(std::string name, ArgType type, bool positional) {
  return {std::move(name), std::move(type), false, std::nullopt, positional};
}

Value defaultInt(int64_t value) { return makeInt(value, {}); }
Value defaultFloat(double value) { return makeFloat(value, {}); }
Value defaultBool(bool value) {
  Value out;
  out.kind = ValueKind::kBool;
  out.boolean = value;
  return out;
}
Value defaultSymbol(std::string value) { return makeSymbol(std::move(value), {}); }
Value defaultString(std::string value) {
  Value out;
  out.kind = ValueKind::kString;
  out.text = std::move(value);
  return out;
}

SourceRange BoundArgs::rangeOf(const std::string& name, SourceRange fallback) const {
  const auto it = given_at.find(name);
  return it == given_at.end() ? fallback : it->second;
}

bool valueMatches(const Value& value, const ArgType& type) {
  switch (type.kind) {
    case TypeKind::kInt: return isInt(value) && inBounds(value.number, type);
    case TypeKind::kFloat:
      if (value.kind == ValueKind::kSymbol) {
        return std::find(type.choices.begin(), type.choices.end(), value.text) != type.choices.end();
      }
      return value.isNumber() && inBounds(value.number, type);
    case TypeKind::kBool: return value.kind == ValueKind::kBool;
    case TypeKind::kString: return value.kind == ValueKind::kString;
    case TypeKind::kChoice:
      return value.kind == ValueKind::kSymbol &&
             std::find(type.choices.begin(), type.choices.end(), value.text) != type.choices.end();
    case TypeKind::kIntOrPair:
      if (isInt(value)) return value.number >= 1 && value.number <= type.max;
      return value.kind == ValueKind::kList && value.items.size() == 2 && isInt(value.items[0]) &&
             isInt(value.items[1]) && value.items[0].number >= 1 && value.items[1].number >= 1 &&
             value.items[0].number <= type.max && value.items[1].number <= type.max;
    case TypeKind::kShape:
      if (value.kind != ValueKind::kList || value.items.empty()) return false;
      for (const auto& item : value.items) {
        if (!isInt(item) || item.number < 1 || item.number > type.max) return false;
      }
      return true;
    case TypeKind::kDuration: return value.kind == ValueKind::kDuration && value.number > 0;
    case TypeKind::kMetric: return value.kind == ValueKind::kSymbol;
    case TypeKind::kActivation: return value.kind == ValueKind::kSymbol || value.kind == ValueKind::kCall;
    case TypeKind::kNames:
      if (isName(value)) return true;
      if (value.kind != ValueKind::kList) return false;
      for (const auto& item : value.items) {
        if (!isName(item) && !isInt(item)) return false;
      }
      return true;
    case TypeKind::kCountOrFraction:
      if (isInt(value)) return value.number >= 1;
      return value.kind == ValueKind::kFloat && value.number > 0 && value.number < 1;
    case TypeKind::kAny: return true;
  }
  return false;
}

void reportMismatch(DiagnosticEngine& diagnostics, const Value& value, const ArgType& type,
                    const std::string& subject, SourceRange use) {
  std::string hint;
  if ((type.kind == TypeKind::kChoice || !type.choices.empty()) && value.kind == ValueKind::kSymbol) {
    hint = didYouMean(value.text, type.choices);
  }
  if (type.kind == TypeKind::kChoice && hint.empty()) hint = "use " + type.describe();
  if (type.aboveMax(value)) {
    hint = fmt::format("use at most {}; nnspec bounds every size a spec can ask for", formatBound(type.max));
  }
  const bool from_param = !value.param.empty();
  Diagnostic* diagnostic = diagnostics.error(
      from_param ? use : value.range,
      fmt::format("{} must be {}, found {}", subject, type.describe(), describeValue(value)), hint);
  if (diagnostic != nullptr && from_param) {
    diagnostic->notes.push_back({value.range, fmt::format("this value comes from param '{}'", value.param)});
  }
}

std::optional<BoundArgs> bindCall(const Value& call, const Signature& signature, DiagnosticEngine& diagnostics) {
  BoundArgs bound;
  bool ok = true;
  size_t positional_index = 0;
  std::vector<std::string> names;
  for (const auto& spec : signature.args) names.push_back(spec.name);
  for (const auto& arg : call.args) {
    const ArgSpec* spec = nullptr;
    if (arg.key.empty()) {
      while (positional_index < signature.args.size() && !signature.args[positional_index].positional) {
        ++positional_index;
      }
      if (positional_index >= signature.args.size()) {
        std::vector<std::string> positional;
        for (const auto& candidate : signature.args) {
          if (candidate.positional) positional.push_back(candidate.name);
        }
        diagnostics.error(arg.range,
                          fmt::format("too many arguments for {} '{}': it takes {} positional argument{}{}",
                                      signature.what, signature.name, positional.size(),
                                      positional.size() == 1 ? "" : "s",
                                      positional.empty() ? "" : " (" + quotedList(positional, "and") + ")"));
        ok = false;
        continue;
      }
      spec = &signature.args[positional_index++];
    } else {
      for (const auto& candidate : signature.args) {
        if (candidate.name == arg.key) spec = &candidate;
      }
      if (spec == nullptr) {
        std::string hint = didYouMean(arg.key, names);
        if (hint.empty()) {
          hint = names.empty() ? fmt::format("'{}' takes no arguments", signature.name)
                               : fmt::format("'{}' takes {}", signature.name, quotedList(names));
        }
        diagnostics.error(arg.key_range, fmt::format("{} '{}' has no argument '{}'", signature.what, signature.name,
                                                     arg.key),
                          hint);
        ok = false;
        continue;
      }
    }
    if (bound.given_at.count(spec->name) != 0) {
      Diagnostic* diagnostic = diagnostics.error(arg.range, fmt::format("argument '{}' is given twice", spec->name));
      if (diagnostic != nullptr) diagnostic->notes.push_back({bound.given_at[spec->name], "first given here"});
      ok = false;
      continue;
    }
    bound.given_at[spec->name] = arg.range;
    if (!valueMatches(*arg.value, spec->type)) {
      reportMismatch(diagnostics, *arg.value, spec->type,
                     fmt::format("argument '{}' of '{}'", spec->name, signature.name), arg.range);
      ok = false;
      continue;
    }
    bound.values[spec->name] = *arg.value;
  }
  for (const auto& spec : signature.args) {
    if (bound.given_at.count(spec.name) != 0) continue;
    if (spec.required) {
      diagnostics.error(call.range, fmt::format("{} '{}' needs argument '{}' ({})", signature.what, signature.name,
                                                spec.name, spec.type.describe()));
      ok = false;
    } else if (spec.default_value) {
      bound.values[spec.name] = *spec.default_value;
    }
  }
  if (!ok) return std::nullopt;
  return bound;
}

}  // namespace nnspec::sema
