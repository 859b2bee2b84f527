#pragma once
// A spec's text as code points, with line starts, so every position the front-end
// reports is a 1-based line and a code-point column (STYLE: columns count code points).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nnspec {

// Half-open range of code-point offsets [begin, end) into a SourceFile.
struct SourceRange {
  int64_t begin = 0;
  int64_t end = 0;
  bool valid() const { return end >= begin && begin >= 0; }
};

struct LineCol {
  int64_t line = 1;    // 1-based
  int64_t column = 1;  // 1-based, in code points
};

// An invalid UTF-8 byte found while decoding; it becomes U+FFFD in the text.
struct InvalidByte {
  int64_t offset = 0;  // code-point offset of the replacement
  unsigned char byte = 0;
};

class SourceFile {
 public:
  // Decodes `bytes` as UTF-8; each invalid byte becomes one U+FFFD code point.
  SourceFile(std::string path, std::string_view bytes);

  const std::string& path() const { return path_; }
  const std::u32string& text() const { return text_; }
  // The decoded text re-encoded as valid UTF-8 (what the lexer reads).
  const std::string& utf8() const { return utf8_; }
  const std::vector<InvalidByte>& invalidBytes() const { return invalid_bytes_; }

  LineCol lineCol(int64_t offset) const;
  int64_t lineCount() const { return static_cast<int64_t>(line_starts_.size()); }
  // Code points of line `line` (1-based), without its line break.
  std::u32string_view lineText(int64_t line) const;
  // UTF-8 of the code points in `range`.
  std::string slice(SourceRange range) const;

 private:
  std::string path_;
  std::u32string text_;
  std::string utf8_;
  std::vector<int64_t> line_starts_;
  std::vector<InvalidByte> invalid_bytes_;
};

std::string encodeUtf8(std::u32string_view text);

// Length of the UTF-8 sequence starting at bytes[pos] and its code point, or 0 if the
// bytes there do not form a valid, shortest-form sequence.
int decodeUtf8(std::string_view bytes, size_t pos, char32_t* out);

// `text` as valid UTF-8 with no control characters but newlines and tabs: any other
// control character or byte that is not UTF-8 is written as \0 or \xNN. What a message
// quotes from a file (a binary file read as text) can then be printed and put in JSON.
std::string printableText(std::string_view text);

}  // namespace nnspec
