#pragma once
// A spec's text checked as `nnspec check` checks a file, for the sema tests.

#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "compiler/frontend/parse.h"
#include "compiler/sema/check.h"

namespace nnspec::testing {

struct CheckedText {
  std::optional<sema::CheckedSpec> spec;  // nullopt when the check found errors
  std::string diagnostics;                // rendered, for INFO
};

// `text` must parse; the memory limit is none unless given.
inline CheckedText checkSpecText(const std::string& text, std::optional<double> memory_limit = std::nullopt) {
  SourceFile file("t.nnspec", text);
  DiagnosticEngine diagnostics(file);
  auto spec = frontend::parseSpec(file, diagnostics);
  INFO(diagnostics.renderText());
  REQUIRE(spec.has_value());
  sema::CheckOptions options;
  options.memory_limit_bytes = memory_limit.value_or(1e15);
  CheckedText out;
  out.spec = sema::checkSpec(*spec, options, diagnostics);
  out.diagnostics = diagnostics.renderText();
  return out;
}

}  // namespace nnspec::testing
