#pragma once
// `nnspec compile`: runs the compile pipeline (compiler/pipeline/pipeline.h) on every
// distinct graph of a spec's sweeps and prints what the pass named by --emit made: the
// IR, a verifier's verdict, the gradient graph, the fusion plan, the step layout, the LLVM
// module before or after optimization, or the compiled entry points.

#include <string>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/driver/overrides.h"
#include "compiler/pipeline/pipeline.h"

namespace nnspec::driver {

struct CompileRequest {
  CheckRequest check;
  pipeline::Pass emit = pipeline::Pass::kLower;
  std::vector<Override> overrides;
  std::vector<std::string> sweeps;
};

Outcome compileFile(const CompileRequest& request);

}  // namespace nnspec::driver
