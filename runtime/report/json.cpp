#include "runtime/report/json.h"

#include <fmt/format.h>

#include <cmath>

namespace nnspec::rt {

Json Json::array(std::vector<Json> items) {
  Json json;
  json.kind_ = Kind::kArray;
  json.items_ = std::move(items);
  return json;
}

Json Json::object(Members members) {
  Json json;
  json.kind_ = Kind::kObject;
  json.members_ = std::move(members);
  return json;
}

Json& Json::push(Json value) {
  kind_ = Kind::kArray;
  items_.push_back(std::move(value));
  return *this;
}

Json& Json::set(const std::string& key, Json value) {
  kind_ = Kind::kObject;
  for (auto& [name, member] : members_) {
    if (name == key) {
      member = std::move(value);
      return *this;
    }
  }
  members_.emplace_back(key, std::move(value));
  return *this;
}

std::string quoteJson(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      // "</script>" inside a JSON text that sits in an HTML <script> would end it.
      case '<': out += "\\u003c"; break;
      default:
        if (byte < 0x20) {
          out += fmt::format("\\u{:04x}", byte);
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string Json::dump(int indent) const {
  std::string out;
  write(out, indent, 0);
  return out;
}

void Json::write(std::string& out, int indent, int depth) const {
  const auto newline = [&](int level) {
    if (indent <= 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * level), ' ');
  };
  switch (kind_) {
    case Kind::kNull: out += "null"; return;
    case Kind::kBool: out += bool_ ? "true" : "false"; return;
    case Kind::kNumber:
      if (!std::isfinite(number_)) {
        out += "null";
      } else if (number_ == std::floor(number_) && std::fabs(number_) < 1e15) {
        out += fmt::format("{}", static_cast<int64_t>(number_));
      } else {
        out += fmt::format("{}", number_);  // shortest text that reads back the same
      }
      return;
    case Kind::kString: out += quoteJson(text_); return;
    case Kind::kArray:
      out += '[';
      for (size_t k = 0; k < items_.size(); ++k) {
        if (k > 0) out += ',';
        newline(depth + 1);
        items_[k].write(out, indent, depth + 1);
      }
      if (!items_.empty()) newline(depth);
      out += ']';
      return;
    case Kind::kObject:
      out += '{';
      for (size_t k = 0; k < members_.size(); ++k) {
        if (k > 0) out += ',';
        newline(depth + 1);
        out += quoteJson(members_[k].first);
        out += indent > 0 ? ": " : ":";
        members_[k].second.write(out, indent, depth + 1);
      }
      if (!members_.empty()) newline(depth);
      out += '}';
      return;
  }
}

}  // namespace nnspec::rt
