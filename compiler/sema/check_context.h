#pragma once
// State shared by the parts of the checker (one file per part: data, params, sweeps).

#include <map>
#include <set>
#include <string>

#include "compiler/frontend/ast.h"
#include "compiler/sema/catalog.h"
#include "compiler/sema/check.h"
#include "compiler/sema/checked_spec.h"

namespace nnspec::sema {

struct CheckContext {
  const ast::Spec& spec;
  const CheckOptions& options;
  DiagnosticEngine& diagnostics;
  Catalog catalog;
  CheckedSpec out;
  std::map<std::string, const ast::ParamStmt*> param_stmts;
  std::map<std::string, const ast::ModelStmt*> models;
  std::map<std::string, const ast::TrainStmt*> trains;  // "" for the unnamed one
  std::set<std::string> failed_data;  // data statements already reported as wrong

  const ParamDef* findParam(const std::string& name) const {
    for (const auto& param : out.params) {
      if (param.name == name) return &param;
    }
    return nullptr;
  }
};

void checkData(CheckContext& context);
void checkSplits(CheckContext& context);
void checkParams(CheckContext& context);
void checkSweeps(CheckContext& context);
// Sweeps whose estimated peak memory exceeds the machine's memory.
void checkMemory(CheckContext& context);

// Names used anywhere inside `expr` (names and the first word of member chains).
void collectNames(const ast::Expr& expr, std::set<std::string>& names);

}  // namespace nnspec::sema
