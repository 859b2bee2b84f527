#pragma once
// `nnspec compile`: lowers every distinct graph of a spec's sweeps and prints a stage:
// the IR, the gradient graph, the fusion plan, or the LLVM module before or after the
// optimization pipeline.

#include <string>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/driver/overrides.h"

namespace nnspec::driver {

enum class CompileEmit { kIr, kGrad, kFusion, kLlvm, kLlvmOpt };

struct CompileRequest {
  CheckRequest check;
  CompileEmit emit = CompileEmit::kIr;
  std::vector<Override> overrides;
  std::vector<std::string> sweeps;
};

Outcome compileFile(const CompileRequest& request);

}  // namespace nnspec::driver
