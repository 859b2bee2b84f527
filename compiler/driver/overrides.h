#pragma once
// `--set NAME=VALUE` on the command line: replaces a param's values or a train
// setting in every train block, before the spec is checked.

#include <string>
#include <utility>
#include <vector>

#include "compiler/frontend/ast.h"

namespace nnspec::driver {

struct Override {
  std::string name;
  std::string value;  // spec syntax: 2, 1e-3, [50, 25], adam(lr: 1e-3)
};

// Parses "NAME=VALUE"; returns false when there is no '=' or no name.
bool parseOverride(const std::string& text, Override* out);

// Applies the overrides to `spec`. A param gets the single value; a train setting is
// set in every train block. Returns "" or an error message naming the bad override.
// The new expressions carry the source range of what they replace, so later
// diagnostics point into the spec.
std::string applyOverrides(ast::Spec& spec, const std::vector<Override>& overrides);

// After errors in a spec checked with overrides: a note naming them (they replaced what
// the errors point at), or "" without overrides.
std::string overridesNote(const std::vector<Override>& overrides);

}  // namespace nnspec::driver
