#pragma once
// AST -> checked spec: resolves names, checks argument types, sweep spaces, data
// splits and protocols, and infers the shapes of every sweep point's model.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/frontend/ast.h"
#include "compiler/sema/checked_spec.h"
#include "compiler/support/diagnostics.h"
#include "runtime/data/dataset.h"

namespace nnspec::sema {

// Probe results by source and paths, kept across checks of several specs (the CLI
// checking many files, tests checking many variants of one spec).
using ProbeCache = std::map<std::string, rt::DataResult<std::vector<rt::PartInfo>>>;

struct CheckOptions {
  rt::DataPaths data_paths;
  ProbeCache* probe_cache = nullptr;  // optional
  // Grid points whose models are instantiated one by one; larger grids are checked
  // at evenly spread points.
  int64_t max_checked_points = 4096;
  // Memory a run may use, in bytes; nullopt: the machine's (machineMemoryBytes()).
  std::optional<double> memory_limit_bytes;
  // Train blocks planned alone (a "single" plan named after each) even when a sweep names
  // them (`--train NAME`).
  std::vector<std::string> run_alone;
};

std::optional<CheckedSpec> checkSpec(const ast::Spec& spec, const CheckOptions& options,
                                     DiagnosticEngine& diagnostics);

// The value of one axis at a sampled point: a choice of a list param, a number of a
// distribution, or the numbers of an array param (`param units[n] in ...`).
struct AxisValue {
  std::string name;
  std::optional<size_t> choice;
  double number = 0;
  std::vector<double> numbers;
};

// Resolves sweep points chosen at run time (random and TPE search): the training
// configuration and model of a sweep at given axis values, checked as `check` does.
class PointResolver {
 public:
  PointResolver(const ast::Spec& spec, const CheckedSpec& checked, const CheckOptions& options,
                DiagnosticEngine& diagnostics);
  ~PointResolver();
  // nullopt when the values do not make a valid point (reported to the diagnostics).
  std::optional<Point> resolve(const std::string& sweep, const std::vector<AxisValue>& values);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// What `nnspec check` prints on success: datasets, the plan of every sweep and a
// summary of every distinct model.
std::string printPlan(const CheckedSpec& spec);

}  // namespace nnspec::sema
