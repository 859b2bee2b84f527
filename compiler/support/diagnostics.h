#pragma once
// User errors are values: a Diagnostic says where (a source range), what (a lowercase
// message with names in quotes), related places (notes) and the fix (a hint). The
// engine collects them for one file, caps errors at 20 and renders them like clang:
//
//   specs/a.nnspec:3:5: error: unknown layer 'dense2'
//       3 |     dense2(10)
//         |     ^~~~~~
//   hint: did you mean 'dense'?

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/support/source_file.h"

namespace nnspec {

enum class Severity { kError, kWarning };

struct DiagnosticNote {
  SourceRange range;
  std::string message;
};

struct Diagnostic {
  Severity severity = Severity::kError;
  SourceRange range;
  std::string message;
  std::vector<DiagnosticNote> notes;
  std::string hint;  // "" when there is no fix to suggest
};

class DiagnosticEngine {
 public:
  static constexpr int kMaxErrors = 20;

  explicit DiagnosticEngine(const SourceFile& file) : file_(file) {}

  // Adds `diagnostic` unless an identical one (same range and message) is already
  // there; returns a pointer to the stored one so callers can add notes, or nullptr
  // when it was a duplicate or the error cap is reached.
  Diagnostic* report(Diagnostic diagnostic);
  Diagnostic* error(SourceRange range, std::string message, std::string hint = "");
  Diagnostic* warning(SourceRange range, std::string message, std::string hint = "");

  // Appends a note to the diagnostic at `index` of diagnostics().
  void addNote(size_t index, DiagnosticNote note) { diagnostics_.at(index).notes.push_back(std::move(note)); }

  bool hasErrors() const { return error_count_ > 0; }
  int errorCount() const { return error_count_; }
  bool capReached() const { return error_count_ >= kMaxErrors; }
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  const SourceFile& file() const { return file_; }

  // Diagnostics in source order; the text form ends with a summary line.
  std::string renderText() const;
  std::string renderJson() const;

 private:
  const SourceFile& file_;
  std::vector<Diagnostic> diagnostics_;
  int error_count_ = 0;
  bool truncated_ = false;
};

// The candidate closest to `name` by edit distance, if it is close enough to be a
// plausible typo ("dens" -> "dense"); used for "did you mean" hints.
std::optional<std::string> closestName(std::string_view name,
                                       const std::vector<std::string>& candidates);
// "did you mean 'dense'?" or "" when nothing is close.
std::string didYouMean(std::string_view name, const std::vector<std::string>& candidates);
// 'a', 'b' or 'c'
std::string quotedList(const std::vector<std::string>& names, std::string_view conjunction = "or");

}  // namespace nnspec
