#include "compiler/support/diagnostics.h"

#include <algorithm>

#include <fmt/format.h>

namespace nnspec {
namespace {

// Lines longer than this are shown as a window around the caret.
constexpr int64_t kMaxShownColumns = 120;
constexpr int64_t kWindowBefore = 50;

const char* severityName(Severity severity) {
  return severity == Severity::kError ? "error" : "warning";
}

// Printable form of one code point of a source line: control characters and the
// replacement character become '?', tabs stay tabs (the caret line copies them).
char32_t shown(char32_t c) {
  if (c == U'\t') return c;
  if (c < 0x20 || c == 0x7F || c == 0xFFFD) return U'?';
  return c;
}

// Renders the source line of `range` and a caret line under it.
std::string renderSnippet(const SourceFile& file, SourceRange range) {
  const LineCol start = file.lineCol(range.begin);
  const std::u32string_view line = file.lineText(start.line);
  const int64_t line_length = static_cast<int64_t>(line.size());
  int64_t caret_begin = std::min(start.column - 1, line_length);
  int64_t caret_end = range.end > range.begin ? caret_begin + (range.end - range.begin) : caret_begin + 1;
  caret_end = std::max(caret_begin + 1, std::min(caret_end, std::max(line_length, caret_begin + 1)));

  int64_t window_begin = 0;
  int64_t window_end = line_length;
  if (line_length > kMaxShownColumns) {
    window_begin = std::max<int64_t>(0, caret_begin - kWindowBefore);
    window_end = std::min(line_length, window_begin + kMaxShownColumns);
    caret_end = std::min(caret_end, window_end + 1);
  }
  std::u32string text;
  std::u32string marks;
  if (window_begin > 0) {
    text += U"...";
    marks += U"   ";
  }
  for (int64_t col = window_begin; col < std::max(window_end, caret_end); ++col) {
    const char32_t c = col < line_length ? shown(line[col]) : U' ';
    if (col < window_end) text += c;
    if (col < caret_begin) {
      marks += c == U'\t' ? U'\t' : U' ';
    } else if (col < caret_end) {
      marks += col == caret_begin ? U'^' : U'~';
    }
  }
  if (window_end < line_length) text += U"...";
  while (!text.empty() && text.back() == U' ') text.pop_back();
  const std::string number = std::to_string(start.line);
  const std::string gutter(number.size(), ' ');
  return fmt::format("  {} | {}\n  {} | {}\n", number, encodeUtf8(text), gutter, encodeUtf8(marks));
}

// A JSON string's contents: quotes, backslashes and control characters escaped, and any
// byte that is not UTF-8 replaced by U+FFFD, so the document is always valid.
std::string jsonEscape(std::string_view text) {
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    char32_t code = 0;
    const int length = decodeUtf8(text, pos, &code);
    if (length == 0) {
      out += "\\ufffd";
      ++pos;
      continue;
    }
    if (length > 1) {
      out.append(text.substr(pos, static_cast<size_t>(length)));
      pos += static_cast<size_t>(length);
      continue;
    }
    const auto c = static_cast<unsigned char>(text[pos++]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string jsonLocation(const SourceFile& file, SourceRange range) {
  const LineCol begin = file.lineCol(range.begin);
  const LineCol end = file.lineCol(range.end);
  return fmt::format(R"("line": {}, "column": {}, "end_line": {}, "end_column": {})", begin.line,
                     begin.column, end.line, end.column);
}

// Damerau-Levenshtein distance (optimal string alignment), case-insensitive.
int editDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  const size_t m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

Diagnostic* DiagnosticEngine::report(Diagnostic diagnostic) {
  diagnostic.message = printableText(diagnostic.message);
  diagnostic.hint = printableText(diagnostic.hint);
  for (auto& existing : diagnostics_) {
    if (existing.range.begin == diagnostic.range.begin && existing.range.end == diagnostic.range.end &&
        existing.message == diagnostic.message) {
      return nullptr;
    }
  }
  if (diagnostic.severity == Severity::kError) {
    if (error_count_ >= kMaxErrors) {
      truncated_ = true;
      return nullptr;
    }
    ++error_count_;
  }
  diagnostics_.push_back(std::move(diagnostic));
  return &diagnostics_.back();
}

Diagnostic* DiagnosticEngine::error(SourceRange range, std::string message, std::string hint) {
  return report({Severity::kError, range, std::move(message), {}, std::move(hint)});
}

Diagnostic* DiagnosticEngine::warning(SourceRange range, std::string message, std::string hint) {
  return report({Severity::kWarning, range, std::move(message), {}, std::move(hint)});
}

std::string DiagnosticEngine::renderText() const {
  std::vector<const Diagnostic*> ordered;
  for (const auto& diagnostic : diagnostics_) ordered.push_back(&diagnostic);
  std::stable_sort(ordered.begin(), ordered.end(), [](const Diagnostic* a, const Diagnostic* b) {
    return a->range.begin < b->range.begin;
  });
  std::string out;
  int warnings = 0;
  for (const Diagnostic* diagnostic : ordered) {
    if (diagnostic->severity == Severity::kWarning) ++warnings;
    const LineCol at = file_.lineCol(diagnostic->range.begin);
    out += fmt::format("{}:{}:{}: {}: {}\n", file_.path(), at.line, at.column,
                       severityName(diagnostic->severity), diagnostic->message);
    out += renderSnippet(file_, diagnostic->range);
    for (const auto& note : diagnostic->notes) {
      const LineCol note_at = file_.lineCol(note.range.begin);
      out += fmt::format("{}:{}:{}: note: {}\n", file_.path(), note_at.line, note_at.column, note.message);
      out += renderSnippet(file_, note.range);
    }
    if (!diagnostic->hint.empty()) out += fmt::format("hint: {}\n", diagnostic->hint);
  }
  if (truncated_) {
    out += fmt::format("{}: too many errors; stopped after {}\n", file_.path(), kMaxErrors);
  }
  if (error_count_ > 0 || warnings > 0) {
    out += fmt::format("{} error{}, {} warning{} in {}\n", error_count_, error_count_ == 1 ? "" : "s",
                       warnings, warnings == 1 ? "" : "s", file_.path());
  }
  return out;
}

std::string DiagnosticEngine::renderJson() const {
  std::string out = "[";
  bool first = true;
  for (const auto& diagnostic : diagnostics_) {
    out += first ? "\n" : ",\n";
    first = false;
    out += fmt::format(R"(  {{"file": "{}", "severity": "{}", {}, "message": "{}", "hint": "{}", "notes": [)",
                       jsonEscape(file_.path()), severityName(diagnostic.severity),
                       jsonLocation(file_, diagnostic.range), jsonEscape(diagnostic.message),
                       jsonEscape(diagnostic.hint));
    for (size_t k = 0; k < diagnostic.notes.size(); ++k) {
      out += fmt::format(R"({}{{{}, "message": "{}"}})", k ? ", " : "",
                         jsonLocation(file_, diagnostic.notes[k].range),
                         jsonEscape(diagnostic.notes[k].message));
    }
    out += "]}";
  }
  out += first ? "]\n" : "\n]\n";
  return out;
}

std::optional<std::string> closestName(std::string_view name, const std::vector<std::string>& candidates) {
  if (name.empty() || name.size() > 64) return std::nullopt;
  const int limit = std::max<int>(1, static_cast<int>(name.size()) / 3);
  std::optional<std::string> best;
  int best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    if (candidate == name) continue;
    const int distance = editDistance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string didYouMean(std::string_view name, const std::vector<std::string>& candidates) {
  const auto best = closestName(name, candidates);
  return best ? fmt::format("did you mean '{}'?", *best) : "";
}

std::string quotedList(const std::vector<std::string>& names, std::string_view conjunction) {
  std::string out;
  for (size_t k = 0; k < names.size(); ++k) {
    if (k > 0) out += k + 1 == names.size() ? fmt::format(" {} ", conjunction) : ", ";
    out += "'" + names[k] + "'";
  }
  return out;
}

}  // namespace nnspec
