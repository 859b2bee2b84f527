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
  SpecSession session(request.check, request.overrides, request.sweeps);
  if (!session.ok()) return session.finish(2);
  DiagnosticEngine& diagnostics = session.diagnostics();
  const LoadedSpec* loaded = &session.spec();
  std::string out;
  std::unique_ptr<jit::JitCompiler> compiler;
  if (request.emit == CompileEmit::kLlvmOpt) {
    auto created = jit::JitCompiler::create();
    if (!created.ok()) {
      return session.finish(3, out, fmt::format("internal error: cannot start the JIT: {}\n", created.error().message));
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
      out += fmt::format("; sweep '{}'{}, model '{}', batch {}\n", plan.name,
                                 point.params.empty() ? "" : " at " + point.describe(), point.config.model.name,
                                 point.config.batch);
      switch (request.emit) {
        case CompileEmit::kIr: out += ir::printGraph(step.forward); break;
        case CompileEmit::kGrad: out += transforms::printGradientGraph(step.graph); break;
        case CompileEmit::kFusion:
          out += codegen::printStepPlan(codegen::planStep(step.graph, step.config));
          break;
        case CompileEmit::kLlvm: {
          const auto module = codegen::emitLlvmText(step.graph, step.config);
          if (!module.error.empty()) {
            return session.finish(3, out, fmt::format("internal error: {}\n", module.error));
          }
          out += module.text;
          break;
        }
        case CompileEmit::kLlvmOpt: {
          auto module = compiler->optimizedLlvmText(step.graph, step.config);
          if (!module.ok()) {
            return session.finish(3, out, fmt::format("internal error: {}\n", module.error().message));
          }
          out += module.value();
          break;
        }
      }
      out += "\n";
    }
  }
  return session.finish(diagnostics.hasErrors() ? 2 : 0, out);
}

}  // namespace nnspec::driver
