#pragma once
// The spec as written: plain data, a source range on every node. Built from the parse
// tree by ast_builder.cpp; meaning (names, types, shapes) is sema's job.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/support/source_file.h"

namespace nnspec::ast {

struct Ident {
  std::string name;
  SourceRange range;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Argument {
  std::optional<Ident> key;  // set for `key: value`
  ExprPtr value;
  SourceRange range;
};

enum class ExprKind {
  kNumber,    // 3, 1e-4          number, is_integer
  kDuration,  // 30m              number, text = unit
  kString,    // "a.csv"          text (unescaped)
  kBool,      // true             boolean
  kName,      // relu, lr         text
  kList,      // [a, b]           operands
  kCall,      // f(a, k: b)       operands[0] = callee, args
  kMember,    // a.b              operands[0] = target, member
  kUnary,     // -a               text = op, operands[0]
  kBinary,    // a * b, a ^ b     text = op, operands[0..1]
  kRange,     // a..b by c        operands = lo, hi[, step]
};

struct Expr {
  ExprKind kind = ExprKind::kName;
  SourceRange range;
  double number = 0;
  bool is_integer = false;
  bool boolean = false;
  std::string text;
  Ident member;
  std::vector<ExprPtr> operands;
  std::vector<Argument> args;
};

struct DataStmt {
  Ident name;
  ExprPtr source;
  std::vector<ExprPtr> transforms;
  SourceRange range;
};

struct SplitRole {
  Ident role;
  ExprPtr value;
  SourceRange range;
};

struct SplitStmt {
  std::optional<Ident> name;
  std::vector<SplitRole> roles;
  SourceRange range;
};

struct ParamStmt {
  Ident name;
  std::optional<Ident> length;  // `param units[n_layers] in ...`
  bool fixed = false;           // `param x = v` (one value) vs `param x in space`
  bool overridden = false;      // fixed by `--set` on the command line
  ExprPtr space;                // the space, or the value when fixed
  SourceRange range;
};

enum class LayerKind { kInput, kFor, kRepeat, kCall };

struct LayerStmt {
  LayerKind kind = LayerKind::kCall;
  Ident name;                   // layer name (call) or loop variable (for)
  ExprPtr expr;                 // input shape, for iterable, repeat count
  bool has_args = false;        // `dense(...)` vs `flatten`
  std::vector<Argument> args;
  SourceRange args_range;
  std::vector<LayerStmt> body;  // for/repeat
  SourceRange range;
};

// `model NAME { layers }`, or `model NAME = svm(...)`: a model kind that is not a
// network (kind set, no layers).
struct ModelStmt {
  Ident name;
  std::vector<LayerStmt> layers;
  SourceRange range;
  ExprPtr kind;
};

struct Setting {
  Ident key;
  std::vector<ExprPtr> values;
  ExprPtr stop_when;  // `epochs 100 stop when no_improvement(...)`
  SourceRange range;
};

struct TrainStmt {
  std::optional<Ident> name;
  std::vector<Setting> settings;
  SourceRange range;
};

struct Assignment {
  Ident name;
  ExprPtr value;
  SourceRange range;
};

enum class ClauseKind { kCv, kReplicates, kTrials, kTimeout, kPrune, kSelect, kEnsemble, kRefit, kUsing, kWith, kFuse };

struct SweepClause {
  ClauseKind kind = ClauseKind::kCv;
  SourceRange keyword;          // the clause's first word
  ExprPtr value;                // folds, count, limit, pruner, metric, ensemble kind
  bool stratified = false;      // cv K stratified
  Ident word;                   // select direction (max/min), using TRAIN
  std::vector<Assignment> fixes;  // with a = 1, b = 2
  SourceRange range;
};

struct SweepStmt {
  std::optional<Ident> name;
  ExprPtr method;
  std::vector<SweepClause> clauses;
  SourceRange range;
};

struct ReportStmt {
  std::vector<ExprPtr> items;
  SourceRange range;
};

struct ExperimentStmt {
  Ident name;
  SourceRange range;
};

struct SeedStmt {
  ExprPtr value;
  SourceRange range;
};

// `keep best`: which trials' trained tensors stay in the store after a run.
struct KeepStmt {
  ExprPtr policy;
  SourceRange range;
};

// Statements by kind, each list in source order.
struct Spec {
  std::vector<ExperimentStmt> experiments;
  std::vector<SeedStmt> seeds;
  std::vector<KeepStmt> keeps;
  std::vector<DataStmt> data;
  std::vector<SplitStmt> splits;
  std::vector<ParamStmt> params;
  std::vector<ModelStmt> models;
  std::vector<TrainStmt> trains;
  std::vector<SweepStmt> sweeps;
  std::vector<ReportStmt> reports;
};

// Source text of an expression in canonical form, e.g. `sgd(lr: 0.1)`.
std::string printExpr(const Expr& expr);
// The whole AST as indented text (`--emit=ast`).
std::string printAst(const Spec& spec);

}  // namespace nnspec::ast
