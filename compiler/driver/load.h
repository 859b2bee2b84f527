#pragma once
// Shared by the commands that need a checked spec (run, compile): read the file, parse
// it, apply --set overrides, check it, and keep only the sweeps asked for.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/driver/overrides.h"
#include "compiler/frontend/ast.h"
#include "compiler/sema/checked_spec.h"
#include "compiler/support/diagnostics.h"

namespace nnspec::driver {

// The file's bytes, or "" with `error` set ("error: 'x': cannot open: ...").
std::string readSpecFile(const std::string& path, std::string* error);

struct LoadedSpec {
  ast::Spec ast;  // kept alive: the checked spec points into it
  sema::CheckedSpec checked;
  rt::DataPaths data_paths;  // with spec_dir set
};

// Parses and checks `file` with the overrides; keeps only `sweeps` (all when empty).
// Reports to `diagnostics`; an error that is not about a place in the file (a bad
// override or sweep name) goes to `error`.
std::optional<LoadedSpec> loadSpec(const CheckRequest& request, const SourceFile& file,
                                   const std::vector<Override>& overrides, const std::vector<std::string>& sweeps,
                                   DiagnosticEngine& diagnostics, std::string* error);

// The start every command over a checked spec shares: read the file, parse and check
// it with the overrides, and render what was reported when the command ends.
// Keeps only the named sweeps of `checked` (all when `sweeps` is empty); false, with
// the message in `error`, for a name no sweep has.
bool selectSweeps(sema::CheckedSpec& checked, const std::vector<std::string>& sweeps, std::string* error);

// `--train NAME`: each name must be a train block of `spec` (else false, the message in
// `error`); then only the named sweeps and these blocks' own plans are kept.
// `--fuse`: every sweep's fuse option set to `fuse` (N, 0 auto, 1 off); -1 leaves them.
void applyFuse(sema::CheckedSpec& spec, int64_t fuse);

bool checkTrainNames(const ast::Spec& spec, const std::vector<std::string>& trains, std::string* error);
bool selectPlans(sema::CheckedSpec& checked, const std::vector<std::string>& sweeps,
                 const std::vector<std::string>& trains, std::string* error);

class SpecSession {
 public:
  SpecSession(const CheckRequest& request, const std::vector<Override>& overrides,
              const std::vector<std::string>& sweeps);
  SpecSession(const SpecSession&) = delete;
  SpecSession& operator=(const SpecSession&) = delete;

  // Whether the spec was read and checked; when not, finish(2) says why.
  bool ok() const { return loaded_.has_value(); }
  LoadedSpec& spec() { return *loaded_; }
  const std::string& text() const { return text_; }
  DiagnosticEngine& diagnostics() { return *diagnostics_; }

  // The command's outcome: `code`, `out`, then on stderr the diagnostics, the session's
  // own error and `error`.
  Outcome finish(int code, std::string out = "", const std::string& error = "");

 private:
  std::string error_;  // before text_: reading the file fills it
  std::string text_;
  std::unique_ptr<SourceFile> file_;
  std::unique_ptr<DiagnosticEngine> diagnostics_;
  std::optional<LoadedSpec> loaded_;
};

}  // namespace nnspec::driver
