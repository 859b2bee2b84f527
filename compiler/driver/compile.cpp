#include "compiler/driver/compile.h"

#include <set>

#include <fmt/format.h>

#include "compiler/codegen/step_plan.h"
#include "compiler/driver/load.h"
#include "compiler/ir/printer.h"
#include "compiler/jit/jit_compiler.h"

namespace nnspec::driver {

Outcome compileFile(const CompileRequest& request) {
  SpecSession session(request.check, request.overrides, request.sweeps);
  if (!session.ok()) return session.finish(2);
  DiagnosticEngine& diagnostics = session.diagnostics();
  const LoadedSpec* loaded = &session.spec();
  std::string out;
  pipeline::Options options;
  options.stop_after = request.emit;
  std::unique_ptr<jit::JitCompiler> compiler;
  if (request.emit == pipeline::Pass::kOptimize || request.emit == pipeline::Pass::kJit) {
    auto created = jit::JitCompiler::create();
    if (!created.ok()) {
      return session.finish(3, out, fmt::format("internal error: cannot start the JIT: {}\n", created.error().message));
    }
    compiler = std::move(created.value());
    options.jit = compiler.get();
  }
  std::set<std::string> printed;
  for (const auto& plan : loaded->checked.sweeps) {
    for (const auto& point : plan.checked) {
      if (point.config.model.isSvm()) {
        // libsvm fits it: no graph (printed once per model and arguments).
        if (!printed.insert(point.config.model.signature()).second) continue;
        out += fmt::format("; sweep '{}'{}, model '{}': {}, fitted by libsvm; no graph\n\n", plan.name,
                           point.params.empty() ? "" : " at " + point.describe(), point.config.model.name,
                           point.config.model.svm->describe());
        continue;
      }
      // Up to the gradient first: the graph signature says which points share a graph.
      pipeline::Options graphs = options;
      graphs.stop_after = std::min(request.emit, pipeline::Pass::kVerifyGradient);
      auto passes = pipeline::runPasses(point.config, point.config.batch, graphs);
      if (const auto* error = std::get_if<pipeline::PipelineError>(&passes)) {
        if (error->internal) return session.finish(3, out, fmt::format("internal error: {}\n", error->message));
        diagnostics.error(error->range, error->message);
        continue;
      }
      const auto& step = std::get<pipeline::Artifacts>(passes).step;
      const std::string signature = request.emit <= pipeline::Pass::kVerifyLowered
                                        ? ir::printGraph(step.forward)
                                        : codegen::stepSignature(step.graph, step.config);
      if (!printed.insert(signature).second) continue;
      if (request.emit > pipeline::Pass::kVerifyGradient) passes = pipeline::runPasses(point.config, point.config.batch, options);
      if (const auto* error = std::get_if<pipeline::PipelineError>(&passes)) {
        return session.finish(3, out, fmt::format("internal error: {}\n", error->message));
      }
      out += fmt::format("; sweep '{}'{}, model '{}', batch {}\n", plan.name,
                         point.params.empty() ? "" : " at " + point.describe(), point.config.model.name,
                         point.config.batch);
      out += pipeline::printArtifacts(std::get<pipeline::Artifacts>(passes), request.emit);
      out += "\n";
    }
  }
  return session.finish(diagnostics.hasErrors() ? 2 : 0, out);
}

}  // namespace nnspec::driver
