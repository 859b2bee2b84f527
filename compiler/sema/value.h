#pragma once
// Values of spec expressions after names are resolved for one sweep point: numbers,
// strings, symbols (words such as `relu` or `val.accuracy`), lists and calls.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compiler/frontend/ast.h"
#include "compiler/support/diagnostics.h"

namespace nnspec::sema {

enum class ValueKind { kInt, kFloat, kBool, kString, kSymbol, kList, kCall, kDuration };

struct Value;

struct CallArg {
  std::string key;  // "" for positional arguments
  SourceRange key_range;
  SourceRange range;
  std::unique_ptr<Value> value;
};

struct Value {
  ValueKind kind = ValueKind::kSymbol;
  double number = 0;     // kInt (exact), kFloat, kDuration (seconds)
  bool boolean = false;  // kBool
  std::string text;      // kString, kSymbol, kCall (callee name)
  std::vector<Value> items;  // kList
  std::vector<CallArg> args;  // kCall
  SourceRange range;         // where it was written
  std::string param;         // the param it came from ("" if written in place)

  Value() = default;
  Value(const Value& other);
  Value& operator=(const Value& other);
  Value(Value&&) = default;
  Value& operator=(Value&&) = default;

  bool isNumber() const { return kind == ValueKind::kInt || kind == ValueKind::kFloat; }
  int64_t asInt() const { return static_cast<int64_t>(number); }
};

Value makeInt(int64_t value, SourceRange range);
Value makeFloat(double value, SourceRange range);
Value makeSymbol(std::string name, SourceRange range);

// What a value is called in a message: "an integer", "a list", "'relu'"...
std::string describeValue(const Value& value);
// The value in spec syntax: `[50, 25]`, `sgd(lr: 0.1)`, `0.0001`.
std::string formatValue(const Value& value);

// Names visible while evaluating: loop variables and the params of one sweep point.
// `lookup` returns the value of a name, or nullopt when the name is not bound (it then
// evaluates to a symbol).
using NameLookup = std::function<std::optional<Value>(const ast::Ident& name, SourceRange use)>;

// Evaluates `expr`; reports type errors in arithmetic and ranges to `diagnostics` and
// returns nullopt for them.
std::optional<Value> evaluate(const ast::Expr& expr, const NameLookup& lookup, DiagnosticEngine& diagnostics);

// Evaluates the arguments of a call expression into a kCall value named `name`
// (for calls whose callee is not a plain name, such as `x.take(10)`).
std::optional<Value> evaluateCall(const ast::Expr& call, std::string name, const NameLookup& lookup,
                                  DiagnosticEngine& diagnostics);

// Dotted path of a name or member chain (`val.accuracy`), or "" for anything else.
std::string dottedName(const ast::Expr& expr);

}  // namespace nnspec::sema
