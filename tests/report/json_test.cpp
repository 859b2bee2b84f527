// The JSON writer reports use for Vega-Lite specs and exports.

#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "runtime/report/json.h"

using nnspec::rt::Json;

TEST_CASE("json writes objects in insertion order and numbers exactly", "[report]") {
  Json value = Json::object({{"b", 1}, {"a", 0.1}, {"list", Json::array({true, nullptr, "x"})}});
  value.set("b", 2);
  CHECK(value.dump() == R"({"b":2,"a":0.1,"list":[true,null,"x"]})");
  CHECK(Json(1e-6).dump() == "1e-06");
  CHECK(Json(12345678901.0).dump() == "12345678901");
  CHECK(Json(-0.25).dump() == "-0.25");
}

TEST_CASE("json writes NaN and infinities as null", "[report]") {
  CHECK(Json(std::nan("")).dump() == "null");
  CHECK(Json(std::numeric_limits<double>::infinity()).dump() == "null");
}

TEST_CASE("json escapes strings, and nothing in them can close an HTML script", "[report]") {
  CHECK(Json("a\"b\\c\n\t").dump() == R"("a\"b\\c\n\t")");
  CHECK(Json(std::string("\x01", 1)).dump() == R"("\u0001")");
  CHECK(Json("</script>").dump() == R"("\u003c/script>")");
}

TEST_CASE("json pretty-prints with an indent", "[report]") {
  const Json value = Json::object({{"a", Json::array({1, 2})}});
  CHECK(value.dump(1) == "{\n \"a\": [\n  1,\n  2\n ]\n}");
  CHECK(Json::array().dump(1) == "[]");
}
