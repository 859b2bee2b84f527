#pragma once
// The library's entry points for tools: check a spec file and get back what to print
// and the exit status. The CLI is a thin layer over these.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/driver/overrides.h"
#include "runtime/data/dataset.h"

namespace nnspec::driver {

enum class DiagnosticsFormat { kText, kJson };
enum class Emit { kPlan, kTokens, kAst };

struct CheckRequest {
  std::string path;
  DiagnosticsFormat format = DiagnosticsFormat::kText;
  Emit emit = Emit::kPlan;
  rt::DataPaths data_paths;  // spec_dir is filled from `path`
  // The spec's text when it does not come from a file (an embedding tool's string);
  // `path` then only names it in diagnostics and locates relative data paths.
  std::optional<std::string> source;
  // As `nnspec run` takes them: the plan printed is the one the run would follow.
  std::vector<Override> overrides;
  std::vector<std::string> sweeps;  // only these sweeps (empty: all)
  // Train blocks to run alone, once each, even when a sweep names them (`--train NAME`);
  // with no --sweep, only these run.
  std::vector<std::string> trains;
  // Sweep fusion for every grid sweep (`--fuse N|auto|off`: N, 0 auto, 1 off); -1: each
  // sweep's own `fuse` option.
  int64_t fuse = -1;
};

struct Outcome {
  int exit_code = 0;  // 0 ok, 2 bad input, 3 internal error
  std::string out;    // for stdout
  std::string err;    // for stderr
};

// Reads, parses and checks one spec. Never throws; an unexpected failure becomes exit
// code 3 with "internal error: ...".
Outcome checkFile(const CheckRequest& request);

// Checks `bytes` as if read from request.path (on a thread with a large stack, like
// checkFile). `probe_cache`, when given, keeps data probes across calls.
using ProbeCache = std::map<std::string, rt::DataResult<std::vector<rt::PartInfo>>>;
Outcome checkSource(const CheckRequest& request, const std::string& bytes, ProbeCache* probe_cache = nullptr);

// Data paths from the environment and the build's defaults.
rt::DataPaths defaultDataPaths();

}  // namespace nnspec::driver
