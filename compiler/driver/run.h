#pragma once
// `nnspec run`: checks a spec, compiles every sweep point's model, trains every trial,
// keeps each result in the store as it finishes, and prints a ranked table.

#include <cstdio>
#include <string>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/driver/overrides.h"
#include "compiler/lowering/lower_model.h"
#include "runtime/train/trial.h"

namespace nnspec::driver {

struct RunRequest {
  CheckRequest check;
  std::string store_path;  // "" = next to the spec
  std::vector<Override> overrides;
  std::vector<std::string> sweeps;  // run only these sweeps (names; empty = all)
  int64_t jobs = 1;        // trials run at once; results do not depend on it
  bool quiet = false;      // no progress lines
  bool live = false;       // redraw the progress display in place (a terminal)
  bool write_report = true;  // write the HTML report of the spec's `report` block after the run
  std::string report_path;   // "" = beside the store (x.store.sqlite -> x.report.html)
};

// A point key as the terminal shows it: decimals that carry float noise from arithmetic
// (linspace's 0.0005005000000000001) shortened to 6 significant digits. Keys in the store
// keep their full text (they identify trials on resume).
std::string displayPoint(const std::string& key);

// What the trainer needs to know of a lowered step besides its compiled code (sizes,
// inits, L1/L2 factors, optimizer numbers, schedule, moving statistics); the caller sets
// `full` (and `remainder`) from the compiled steps.
rt::CompiledModel trainableModel(const lowering::LoweredStep& step);

// Writes progress and the final table to `out` as it goes; diagnostics and errors come
// back in Outcome::err. Exit code 0 when every trial finished, 1 when some failed, 2 for
// bad input (spec, data, flags), 3 for internal errors.
Outcome runFile(const RunRequest& request, std::FILE* out);

}  // namespace nnspec::driver
