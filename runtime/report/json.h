#pragma once
// A small JSON value for what reports write: Vega-Lite specs, exports and the data
// embedded in HTML. Objects keep their members in insertion order; NaN and infinities
// are written as null (JSON has no such numbers).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nnspec::rt {

class Json {
 public:
  using Members = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool value) : kind_(Kind::kBool), bool_(value) {}
  Json(int value) : kind_(Kind::kNumber), number_(value) {}
  Json(long value) : kind_(Kind::kNumber), number_(static_cast<double>(value)) {}
  Json(long long value) : kind_(Kind::kNumber), number_(static_cast<double>(value)) {}
  Json(double value) : kind_(Kind::kNumber), number_(value) {}
  Json(const char* value) : kind_(Kind::kString), text_(value) {}
  Json(std::string value) : kind_(Kind::kString), text_(std::move(value)) {}

  static Json array(std::vector<Json> items = {});
  static Json object(Members members = {});

  // Appends to an array; sets (or replaces) an object's member. Return *this.
  Json& push(Json value);
  Json& set(const std::string& key, Json value);

  bool isNull() const { return kind_ == Kind::kNull; }
  bool isArray() const { return kind_ == Kind::kArray; }
  size_t size() const { return kind_ == Kind::kArray ? items_.size() : members_.size(); }

  // Compact text; `indent` > 0 pretty-prints with that many spaces per level.
  std::string dump(int indent = 0) const;

 private:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  void write(std::string& out, int indent, int depth) const;

  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string text_;
  std::vector<Json> items_;
  Members members_;
};

// `text` as a JSON string literal, quotes included.
std::string quoteJson(const std::string& text);

}  // namespace nnspec::rt
