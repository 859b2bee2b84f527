#include "runtime/data/quote.h"

#include <fmt/format.h>

namespace nnspec::rt {
namespace {

// The length of the valid UTF-8 sequence starting at text[at] (2-4 bytes), or 0.
size_t utf8Sequence(std::string_view text, size_t at) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(at);
  size_t length = 0;
  uint32_t code = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(at + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(at + k) & 0x3F);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not valid.
  if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10FFFF)) ||
      (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

}  // namespace

std::string quotableText(std::string_view text, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  size_t at = 0;
  while (at < text.size() && chars < max_chars) {
    const unsigned char c = static_cast<unsigned char>(text[at]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++at;
    } else if (const size_t length = c >= 0x80 ? utf8Sequence(text, at) : 0; length > 0) {
      out.append(text.substr(at, length));
      at += length;
    } else {
      out += c == '\0' ? std::string("\\0") : c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t")
             : c == '\r' ? std::string("\\r") : fmt::format("\\x{:02x}", c);
      ++at;
    }
    ++chars;
  }
  if (at < text.size()) out += fmt::format("... ({} bytes in all)", text.size());
  return out;
}

}  // namespace nnspec::rt
