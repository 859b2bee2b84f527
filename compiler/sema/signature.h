#pragma once
// Argument lists of everything a spec can call (layers, optimizers, sources, ...):
// names, types with ranges, defaults. bindCall matches a call against one and reports
// unknown, missing, repeated or mistyped arguments precisely.

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/sema/value.h"
#include "compiler/support/diagnostics.h"

namespace nnspec::sema {

enum class TypeKind {
  kInt,         // integer in [min, max]
  kFloat,       // number in [min, max] (bounds may be exclusive)
  kBool,
  kString,
  kChoice,      // one of `choices`, written as a bare name
  kIntOrPair,   // 5 or [5, 3]
  kShape,       // [28, 28, 1]
  kDuration,    // 30m
  kMetric,      // val.accuracy
  kActivation,  // relu, leaky_relu(alpha: 0.1) ...
  kNames,       // a string or name, or a list of them
  kCountOrFraction,  // 5000 or 0.1
  kAny,
};

struct ArgType {
  TypeKind kind = TypeKind::kAny;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
  bool max_exclusive = false;
  std::vector<std::string> choices;

  static ArgType integer(double min = -std::numeric_limits<double>::infinity(),
                         double max = std::numeric_limits<double>::infinity());
  static ArgType positiveInt() { return integer(1); }
  static ArgType nonNegativeInt() { return integer(0); }
  static ArgType real(double min = -std::numeric_limits<double>::infinity(),
                      double max = std::numeric_limits<double>::infinity(), bool min_exclusive = false,
                      bool max_exclusive = false);
  static ArgType positiveReal() { return real(0, std::numeric_limits<double>::infinity(), true); }
  static ArgType nonNegativeReal() { return real(0); }
  static ArgType choice(std::vector<std::string> choices);
  // A number of `number`'s type, or one of `words` written as a bare name (`gamma: scale`).
  static ArgType numberOr(ArgType number, std::vector<std::string> words);
  static ArgType of(TypeKind kind);
  // 5 or [5, 3], each at most `max`.
  static ArgType intOrPair(double max);
  // [28, 28, 1], each extent at most `max`.
  static ArgType shape(double max);

  // True when `value` has the right form but is above the type's upper bound.
  bool aboveMax(const Value& value) const;

  // "a positive integer", "a number in [0, 1)", "one of 'valid' or 'same'"
  std::string describe() const;
};

struct ArgSpec {
  std::string name;
  ArgType type;
  bool required = false;
  std::optional<Value> default_value;
  bool positional = true;  // may be given without its name
};

struct Signature {
  Signature() = default;
  Signature(std::string name, std::string what, std::vector<ArgSpec> args, std::string description = "",
            std::string example = "", std::string usage = "")
      : name(std::move(name)),
        what(std::move(what)),
        args(std::move(args)),
        description(std::move(description)),
        example(std::move(example)),
        usage(std::move(usage)) {}

  std::string name;
  std::string what;  // "layer", "optimizer", ... for messages
  std::vector<ArgSpec> args;
  // For the language reference (docs/language.md, `nnspec help NAME`): one sentence,
  // a line of spec that uses it, and how it is written when that is not `name(args)`.
  std::string description;
  std::string example;
  std::string usage;
};

ArgSpec required(std::string name, ArgType type, bool positional = true);
ArgSpec optional(std::string name, ArgType type, Value default_value, bool positional = true);
ArgSpec optionalNoDefault(std::string name, ArgType type, bool positional = true);
Value defaultInt(int64_t value);
Value defaultFloat(double value);
Value defaultBool(bool value);
Value defaultSymbol(std::string value);
Value defaultString(std::string value);

struct BoundArgs {
  std::map<std::string, Value> values;          // given or defaulted
  std::map<std::string, SourceRange> given_at;  // where each given argument was written

  bool has(const std::string& name) const { return values.count(name) != 0; }
  const Value& at(const std::string& name) const { return values.at(name); }
  double number(const std::string& name) const { return values.at(name).number; }
  int64_t integer(const std::string& name) const { return values.at(name).asInt(); }
  std::string text(const std::string& name) const { return values.at(name).text; }
  SourceRange rangeOf(const std::string& name, SourceRange fallback) const;
};

// Checks one value against a type; on mismatch returns a phrase for the message
// ("must be a positive integer").
bool valueMatches(const Value& value, const ArgType& type);

// Reports a value that does not match `type`: at `use` (where the argument is written)
// with a note at the param's value when the value came from a param.
void reportMismatch(DiagnosticEngine& diagnostics, const Value& value, const ArgType& type,
                    const std::string& subject, SourceRange use);

// Matches `call` (a kCall value, or a bare symbol treated as a call without arguments)
// to `signature`. Returns nullopt after reporting if anything is wrong.
std::optional<BoundArgs> bindCall(const Value& call, const Signature& signature, DiagnosticEngine& diagnostics);

}  // namespace nnspec::sema
