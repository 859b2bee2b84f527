#pragma once
// Text -> AST. The only place that sees ANTLR's generated parser: syntax errors become
// our diagnostics here, and a successful parse is turned into the plain AST.

#include <optional>
#include <string>

#include "compiler/frontend/ast.h"
#include "compiler/support/diagnostics.h"
#include "compiler/support/source_file.h"

namespace nnspec::frontend {

// Parses `file`; on syntax errors reports every one (up to the cap) to `diagnostics`
// and returns nullopt.
std::optional<ast::Spec> parseSpec(const SourceFile& file, DiagnosticEngine& diagnostics);

// The token stream, one token a line (`--emit=tokens`).
std::string printTokens(const SourceFile& file);

}  // namespace nnspec::frontend
