#include "compiler/driver/compile.h"

#include <set>

#include <fmt/format.h>

#include "compiler/codegen/emit_llvm.h"
#include "compiler/codegen/step_plan.h"
#include "compiler/driver/load.h"
#include "compiler/ir/printer.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/lowering/lower_model.h"

namespace nnspec::driver {

Outcome compileFile(const CompileRequest& request) {
  Outcome outcome;
  const std::string text = readSpecFile(request.check.path, &outcome.err);
  if (!outcome.err.empty()) {
    outcome.exit_code = 2;
    return outcome;
  }
  SourceFile file(request.check.path, text);
  DiagnosticEngine diagnostics(file);
  auto finish = [&](int code) {
    outcome.exit_code = code;
    outcome.err = diagnostics.renderText() + outcome.err;
    return outcome;
  };
  auto loaded = loadSpec(request.check, file, request.overrides, request.sweeps, diagnostics, &outcome.err);
  if (!loaded) return finish(2);
  std::unique_ptr<jit::JitCompiler> compiler;
  if (request.emit == CompileEmit::kLlvmOpt) {
    auto created = jit::JitCompiler::create();
    if (!created.ok()) {
      outcome.err = fmt::format("internal error: cannot start the JIT: {}\n", created.error().message);
      return finish(3);
    }
    compiler = std::move(created.value());
  }
  std::set<std::string> printed;
  for (const auto& plan : loaded->checked.sweeps) {
    for (const auto& point : plan.checked) {
      auto lowered = lowering::lowerTrainStep(point.config, point.config.batch);
      if (const auto* problem = std::get_if<lowering::Unsupported>(&lowered)) {
        diagnostics.error(problem->range, problem->message);
        continue;
      }
      const auto& step = std::get<lowering::LoweredStep>(lowered);
      if (!printed.insert(codegen::stepSignature(step.graph, step.config)).second) continue;
      outcome.out += fmt::format("; sweep '{}'{}, model '{}', batch {}\n", plan.name,
                                 point.params.empty() ? "" : " at " + point.describe(), point.config.model.name,
                                 point.config.batch);
      switch (request.emit) {
        case CompileEmit::kIr: outcome.out += ir::printGraph(step.forward); break;
        case CompileEmit::kGrad: outcome.out += transforms::printGradientGraph(step.graph); break;
        case CompileEmit::kFusion:
          outcome.out += codegen::printStepPlan(codegen::planStep(step.graph, step.config));
          break;
        case CompileEmit::kLlvm: {
          const auto module = codegen::emitLlvmText(step.graph, step.config);
          if (!module.error.empty()) {
            outcome.err = fmt::format("internal error: {}\n", module.error);
            return finish(3);
          }
          outcome.out += module.text;
          break;
        }
        case CompileEmit::kLlvmOpt: {
          auto module = compiler->optimizedLlvmText(step.graph, step.config);
          if (!module.ok()) {
            outcome.err = fmt::format("internal error: {}\n", module.error().message);
            return finish(3);
          }
          outcome.out += module.value();
          break;
        }
      }
      outcome.out += "\n";
    }
  }
  return finish(diagnostics.hasErrors() ? 2 : 0);
}

}  // namespace nnspec::driver
