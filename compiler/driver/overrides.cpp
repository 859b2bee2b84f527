#include "compiler/driver/overrides.h"

#include <algorithm>

#include <fmt/format.h>

#include "compiler/frontend/parse.h"
#include "compiler/sema/catalog.h"
#include "compiler/support/diagnostics.h"

namespace nnspec::driver {
namespace {

void setRanges(ast::Expr& expr, SourceRange range) {
  expr.range = range;
  expr.member.range = range;
  for (auto& operand : expr.operands) setRanges(*operand, range);
  for (auto& arg : expr.args) {
    arg.range = range;
    if (arg.key) arg.key->range = range;
    setRanges(*arg.value, range);
  }
}

// Parses VALUE as an expression; "" error on success.
std::string parseValue(const Override& override, ast::ExprPtr* out) {
  const std::string text = "experiment set param value = " + override.value + "\n";
  SourceFile file("--set " + override.name, text);
  DiagnosticEngine diagnostics(file);
  auto spec = frontend::parseSpec(file, diagnostics);
  if (!spec || spec->params.size() != 1 || !spec->params[0].fixed) {
    return fmt::format("--set {}={}: '{}' is not a value in spec syntax", override.name, override.value,
                       override.value);
  }
  // One value and nothing after it: `--set "lr=0.1 train t { ... }"` must not add a block.
  if (spec->experiments.size() != 1 || !spec->seeds.empty() || !spec->keeps.empty() || !spec->data.empty() ||
      !spec->splits.empty() || !spec->models.empty() || !spec->trains.empty() || !spec->sweeps.empty() ||
      !spec->reports.empty()) {
    return fmt::format("--set {}={}: text after the value; --set takes one value in spec syntax, e.g. --set {}=0.1",
                       override.name, override.value, override.name);
  }
  *out = std::move(spec->params[0].space);
  return "";
}

}  // namespace

bool parseOverride(const std::string& text, Override* out) {
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0) return false;
  out->name = text.substr(0, equals);
  out->value = text.substr(equals + 1);
  return !out->value.empty();
}

namespace {

// Whether `train` trains a model kind (`model svc = svm(...)`, named by its `model`
// setting): such a block takes only `model`, `split` and `metrics`, so a `--set` of
// another setting for every train block (`--set epochs=3`) leaves it alone.
bool trainsModelKind(const ast::Spec& spec, const ast::TrainStmt& train) {
  for (const auto& setting : train.settings) {
    if (setting.key.name != "model" || setting.values.size() != 1) continue;
    const ast::Expr& value = *setting.values[0];
    if (value.kind != ast::ExprKind::kName) return false;
    for (const auto& model : spec.models) {
      if (model.name.name == value.text) return model.kind != nullptr;
    }
  }
  return false;
}

bool takenByModelKinds(const std::string& key) { return key == "model" || key == "split" || key == "metrics"; }

// `--set SWEEP.NAME=VALUE`: NAME (a param, a train setting or `replicates`) for that sweep
// only, as its `with NAME = VALUE` (or its replicates clause) would set it.
std::string applyScoped(ast::Spec& spec, const Override& override, const std::string& sweep_name,
                        const std::string& name) {
  ast::SweepStmt* sweep = nullptr;
  std::vector<std::string> names;
  for (auto& candidate : spec.sweeps) {
    if (!candidate.name) continue;
    names.push_back(candidate.name->name);
    if (candidate.name->name == sweep_name) sweep = &candidate;
  }
  if (sweep == nullptr) {
    const std::string hint = didYouMean(sweep_name, names);
    return fmt::format("--set {}: no sweep named '{}'{}", override.name, sweep_name,
                       !hint.empty() ? "; " + hint
                       : names.empty() ? std::string("; the spec's sweeps have no names")
                                       : "; its sweeps are " + quotedList(names));
  }
  ast::ExprPtr value;
  if (std::string error = parseValue(override, &value); !error.empty()) return error;
  if (name == "replicates") {
    ast::SweepClause* target = nullptr;
    for (auto& clause : sweep->clauses) {
      if (clause.kind == ast::ClauseKind::kReplicates) target = &clause;
    }
    if (target == nullptr) {
      ast::SweepClause clause;
      clause.kind = ast::ClauseKind::kReplicates;
      clause.keyword = clause.range = sweep->range;
      sweep->clauses.push_back(std::move(clause));
      target = &sweep->clauses.back();
    }
    setRanges(*value, target->range);
    target->value = std::move(value);
    return "";
  }
  const bool is_param = std::any_of(spec.params.begin(), spec.params.end(),
                                    [&](const ast::ParamStmt& param) { return param.name.name == name; });
  const auto& keys = sema::kTrainKeys;
  if (!is_param && std::find(keys.begin(), keys.end(), name) == keys.end()) {
    std::vector<std::string> known(keys.begin(), keys.end());
    for (const auto& param : spec.params) known.push_back(param.name.name);
    known.push_back("replicates");
    const std::string hint = didYouMean(name, known);
    return fmt::format("--set {}: '{}' is not a param or a train setting of this spec{}", override.name, name,
                       hint.empty() ? "" : "; " + hint);
  }
  // Its `with` fix of that name, or a new one.
  for (auto& clause : sweep->clauses) {
    for (auto& fix : clause.fixes) {
      if (fix.name.name != name) continue;
      setRanges(*value, fix.range);
      fix.value = std::move(value);
      return "";
    }
  }
  ast::SweepClause clause;
  clause.kind = ast::ClauseKind::kWith;
  clause.keyword = clause.range = sweep->range;
  setRanges(*value, sweep->range);
  clause.fixes.push_back(ast::Assignment{ast::Ident{name, sweep->range}, std::move(value), sweep->range});
  sweep->clauses.push_back(std::move(clause));
  return "";
}

}  // namespace

std::string applyOverrides(ast::Spec& spec, const std::vector<Override>& overrides) {
  for (const auto& override : overrides) {
    if (const auto dot = override.name.find('.'); dot != std::string::npos) {
      const std::string scoped = applyScoped(spec, override, override.name.substr(0, dot), override.name.substr(dot + 1));
      if (!scoped.empty()) return scoped;
      continue;
    }
    ast::ExprPtr value;
    if (std::string error = parseValue(override, &value); !error.empty()) return error;
    if (override.name == "seed") {
      // The spec's `seed` line, or one added: the checker types it as any seed line.
      if (spec.seeds.empty()) {
        const SourceRange where = spec.experiments.empty() ? SourceRange{0, 0} : spec.experiments[0].range;
        spec.seeds.push_back({nullptr, where});
      }
      setRanges(*value, spec.seeds[0].range);
      spec.seeds[0].value = std::move(value);
      continue;
    }
    if (override.name == "replicates") {
      // Every sweep's replicate count, set or added; a spec without sweeps has none to set.
      if (spec.sweeps.empty()) {
        return fmt::format("--set replicates: the spec has no sweep to replicate; add `sweep NAME = grid() using "
                           "TRAIN replicates {}`",
                           override.value);
      }
      for (auto& sweep : spec.sweeps) {
        ast::SweepClause* target = nullptr;
        for (auto& clause : sweep.clauses) {
          if (clause.kind == ast::ClauseKind::kReplicates) target = &clause;
        }
        if (target == nullptr) {
          ast::SweepClause clause;
          clause.kind = ast::ClauseKind::kReplicates;
          clause.keyword = sweep.range;
          clause.range = sweep.range;
          sweep.clauses.push_back(std::move(clause));
          target = &sweep.clauses.back();
        }
        ast::ExprPtr copy;
        parseValue(override, &copy);
        setRanges(*copy, target->range);
        target->value = std::move(copy);
      }
      continue;
    }
    bool applied = false;
    for (auto& param : spec.params) {
      if (param.name.name != override.name) continue;
      setRanges(*value, param.range);
      param.fixed = true;
      param.overridden = true;
      param.length.reset();
      param.space = std::move(value);
      applied = true;
      break;
    }
    // A sweep's `with` of the same name would win over the new value: set it there too.
    for (auto& sweep : spec.sweeps) {
      for (auto& clause : sweep.clauses) {
        for (auto& fix : clause.fixes) {
          if (fix.name.name != override.name) continue;
          ast::ExprPtr copy;
          parseValue(override, &copy);
          setRanges(*copy, fix.range);
          fix.value = std::move(copy);
          applied = true;
        }
      }
    }
    const bool is_param = std::any_of(spec.params.begin(), spec.params.end(),
                                      [&](const ast::ParamStmt& param) { return param.name.name == override.name; });
    if (is_param) continue;
    const auto& keys = sema::kTrainKeys;
    if (std::find(keys.begin(), keys.end(), override.name) == keys.end()) {
      if (applied) continue;
      std::vector<std::string> names(keys.begin(), keys.end());
      for (const auto& param : spec.params) names.push_back(param.name.name);
      const std::string hint = didYouMean(override.name, names);
      return fmt::format("--set {}: not a param or a train setting of this spec{}", override.name,
                         hint.empty() ? "" : "; " + hint);
    }
    for (auto& train : spec.trains) {
      if (trainsModelKind(spec, train) && !takenByModelKinds(override.name)) continue;
      ast::ExprPtr copy;
      parseValue(override, &copy);
      ast::Setting* target = nullptr;
      for (auto& setting : train.settings) {
        if (setting.key.name == override.name) target = &setting;
      }
      if (target == nullptr) {
        train.settings.push_back({{override.name, train.range}, {}, nullptr, train.range});
        target = &train.settings.back();
      }
      setRanges(*copy, target->range);
      target->values.clear();
      target->values.push_back(std::move(copy));
    }
  }
  return "";
}

std::string overridesNote(const std::vector<Override>& overrides) {
  if (overrides.empty()) return "";
  std::string list;
  for (const auto& override : overrides) list += fmt::format("{}--set {}={}", list.empty() ? "" : ", ", override.name, override.value);
  return fmt::format("note: the spec was checked with {}; an error at a value they replace comes from them\n", list);
}

}  // namespace nnspec::driver
