#include "compiler/support/source_file.h"

#include <algorithm>

namespace nnspec {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

}  // namespace

int decodeUtf8(std::string_view bytes, size_t pos, char32_t* out) {
  const auto b0 = static_cast<unsigned char>(bytes[pos]);
  if (b0 < 0x80) {
    *out = b0;
    return 1;
  }
  int length = 0;
  char32_t value = 0;
  char32_t min_value = 0;
  if ((b0 & 0xE0) == 0xC0) {
    length = 2, value = b0 & 0x1F, min_value = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, value = b0 & 0x0F, min_value = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, value = b0 & 0x07, min_value = 0x10000;
  } else {
    return 0;
  }
  if (pos + length > bytes.size()) return 0;
  for (int k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(bytes[pos + k]);
    if ((b & 0xC0) != 0x80) return 0;
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *out = value;
  return length;
}

std::string printableText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    char32_t c = 0;
    const int length = decodeUtf8(text, pos, &c);
    if (length > 0 && (c >= 0x20 || c == '\n' || c == '\t') && c != 0x7F) {
      out.append(text.substr(pos, static_cast<size_t>(length)));
      pos += static_cast<size_t>(length);
      continue;
    }
    const auto byte = static_cast<unsigned char>(text[pos]);
    out += byte == 0 ? std::string("\\0") : "\\x" + std::string(1, "0123456789abcdef"[byte >> 4]) +
                                                 std::string(1, "0123456789abcdef"[byte & 15]);
    ++pos;
  }
  return out;
}

std::string encodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

SourceFile::SourceFile(std::string path, std::string_view bytes) : path_(std::move(path)) {
  text_.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    char32_t c = 0;
    const int length = decodeUtf8(bytes, pos, &c);
    if (length == 0) {
      invalid_bytes_.push_back({static_cast<int64_t>(text_.size()),
                                static_cast<unsigned char>(bytes[pos])});
      text_ += kReplacement;
      ++pos;
      continue;
    }
    text_ += c;
    pos += length;
  }
  utf8_ = encodeUtf8(text_);
  line_starts_.push_back(0);
  for (size_t offset = 0; offset < text_.size(); ++offset) {
    if (text_[offset] == U'\n') line_starts_.push_back(static_cast<int64_t>(offset + 1));
  }
}

LineCol SourceFile::lineCol(int64_t offset) const {
  offset = std::clamp<int64_t>(offset, 0, static_cast<int64_t>(text_.size()));
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const int64_t line_index = (it - line_starts_.begin()) - 1;
  return {line_index + 1, offset - line_starts_[line_index] + 1};
}

std::u32string_view SourceFile::lineText(int64_t line) const {
  if (line < 1 || line > lineCount()) return {};
  const int64_t begin = line_starts_[line - 1];
  int64_t end = line < lineCount() ? line_starts_[line] - 1 : static_cast<int64_t>(text_.size());
  if (end > begin && text_[end - 1] == U'\r') --end;
  return std::u32string_view(text_).substr(begin, end - begin);
}

std::string SourceFile::slice(SourceRange range) const {
  const int64_t size = static_cast<int64_t>(text_.size());
  const int64_t begin = std::clamp<int64_t>(range.begin, 0, size);
  const int64_t end = std::clamp<int64_t>(range.end, begin, size);
  return encodeUtf8(std::u32string_view(text_).substr(begin, end - begin));
}

}  // namespace nnspec
