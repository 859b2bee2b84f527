#include <fmt/format.h>

#include "compiler/frontend/ast.h"

namespace nnspec::ast {
namespace {

std::string formatNumber(const Expr& expr) {
  if (expr.is_integer) return fmt::format("{}", static_cast<int64_t>(expr.number));
  return fmt::format("{}", expr.number);
}

std::string printArgs(const std::vector<Argument>& args) {
  std::string out = "(";
  for (size_t k = 0; k < args.size(); ++k) {
    if (k > 0) out += ", ";
    if (args[k].key) out += args[k].key->name + ": ";
    out += printExpr(*args[k].value);
  }
  return out + ")";
}

class Printer {
 public:
  std::string run(const Spec& spec) {
    for (const auto& s : spec.experiments) line(0, "experiment " + s.name.name);
    for (const auto& s : spec.seeds) line(0, "seed " + printExpr(*s.value));
    for (const auto& s : spec.keeps) line(0, "keep " + printExpr(*s.policy));
    for (const auto& s : spec.data) {
      std::string text = fmt::format("data {} = {}", s.name.name, printExpr(*s.source));
      for (const auto& transform : s.transforms) text += " | " + printExpr(*transform);
      line(0, text);
    }
    for (const auto& s : spec.splits) {
      line(0, "split" + (s.name ? " " + s.name->name : std::string()));
      for (const auto& role : s.roles) line(1, role.role.name + " = " + printExpr(*role.value));
    }
    for (const auto& s : spec.params) {
      std::string text = "param " + s.name.name;
      if (s.length) text += "[" + s.length->name + "]";
      line(0, text + (s.fixed ? " = " : " in ") + printExpr(*s.space));
    }
    for (const auto& s : spec.models) {
      line(0, "model " + s.name.name + (s.kind ? " = " + printExpr(*s.kind) : std::string()));
      for (const auto& layer : s.layers) printLayer(layer, 1);
    }
    for (const auto& s : spec.trains) {
      line(0, "train" + (s.name ? " " + s.name->name : std::string()));
      for (const auto& setting : s.settings) {
        std::string text = setting.key.name;
        for (size_t k = 0; k < setting.values.size(); ++k) {
          text += (k ? ", " : " ") + printExpr(*setting.values[k]);
        }
        if (setting.stop_when) text += " stop when " + printExpr(*setting.stop_when);
        line(1, text);
      }
    }
    for (const auto& s : spec.sweeps) {
      line(0, "sweep" + (s.name ? " " + s.name->name : std::string()) + " = " + printExpr(*s.method));
      for (const auto& clause : s.clauses) line(1, printClause(clause));
    }
    for (const auto& s : spec.reports) {
      std::string text = "report";
      for (size_t k = 0; k < s.items.size(); ++k) text += (k ? ", " : " ") + printExpr(*s.items[k]);
      line(0, text);
    }
    return out_;
  }

 private:
  void line(int depth, const std::string& text) { out_ += std::string(depth * 2, ' ') + text + "\n"; }

  void printLayer(const LayerStmt& layer, int depth) {
    switch (layer.kind) {
      case LayerKind::kInput: line(depth, "input " + printExpr(*layer.expr)); return;
      case LayerKind::kFor: line(depth, "for " + layer.name.name + " in " + printExpr(*layer.expr)); break;
      case LayerKind::kRepeat: line(depth, "repeat " + printExpr(*layer.expr)); break;
      case LayerKind::kCall:
        line(depth, layer.name.name + (layer.has_args ? printArgs(layer.args) : std::string()));
        return;
    }
    for (const auto& inner : layer.body) printLayer(inner, depth + 1);
  }

  std::string printClause(const SweepClause& clause) {
    switch (clause.kind) {
      case ClauseKind::kCv: return "cv " + printExpr(*clause.value) + (clause.stratified ? " stratified" : "");
      case ClauseKind::kReplicates: return "replicates " + printExpr(*clause.value);
      case ClauseKind::kTrials: return "trials " + printExpr(*clause.value);
      case ClauseKind::kTimeout: return "timeout " + printExpr(*clause.value);
      case ClauseKind::kFuse: return "fuse " + printExpr(*clause.value);
      case ClauseKind::kPrune: return "prune " + printExpr(*clause.value);
      case ClauseKind::kSelect: return "select " + clause.word.name + " " + printExpr(*clause.value);
      case ClauseKind::kEnsemble: return "ensemble " + printExpr(*clause.value);
      case ClauseKind::kRefit: return "refit";
      case ClauseKind::kUsing: return "using " + clause.word.name;
      case ClauseKind::kWith: {
        std::string text = "with";
        for (size_t k = 0; k < clause.fixes.size(); ++k) {
          text += (k ? ", " : " ") + clause.fixes[k].name.name + " = " + printExpr(*clause.fixes[k].value);
        }
        return text;
      }
    }
    return "";
  }

  std::string out_;
};

}  // namespace

std::string printExpr(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::kNumber: return formatNumber(expr);
    case ExprKind::kDuration: return formatNumber(expr) + expr.text;
    case ExprKind::kString: return fmt::format("\"{}\"", expr.text);
    case ExprKind::kBool: return expr.boolean ? "true" : "false";
    case ExprKind::kName: return expr.text;
    case ExprKind::kList: {
      std::string out = "[";
      for (size_t k = 0; k < expr.operands.size(); ++k) out += (k ? ", " : "") + printExpr(*expr.operands[k]);
      return out + "]";
    }
    case ExprKind::kCall: return printExpr(*expr.operands[0]) + printArgs(expr.args);
    case ExprKind::kMember: return printExpr(*expr.operands[0]) + "." + expr.member.name;
    case ExprKind::kUnary: return expr.text + printExpr(*expr.operands[0]);
    case ExprKind::kBinary:
      return "(" + printExpr(*expr.operands[0]) + " " + expr.text + " " + printExpr(*expr.operands[1]) + ")";
    case ExprKind::kRange: {
      std::string out = printExpr(*expr.operands[0]) + ".." + printExpr(*expr.operands[1]);
      if (expr.operands.size() > 2) out += " by " + printExpr(*expr.operands[2]);
      return out;
    }
  }
  return "";
}

std::string printAst(const Spec& spec) { return Printer().run(spec); }

}  // namespace nnspec::ast
