// Search spaces: what checkSearchSpace rejects and when a conditional parameter exists.
#include "runtime/sweep/search_space.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace {

namespace rt = nnspec::rt;

std::vector<std::string> messagesOf(const rt::SearchSpace& space) {
  std::vector<std::string> messages;
  for (const rt::SpaceError& error : rt::checkSearchSpace(space))
    messages.push_back(error.param + ": " + error.message);
  return messages;
}

}  // namespace

TEST_CASE("search space: a valid space with a conditional parameter passes", "[runtime]") {
  const rt::SearchSpace space = {rt::makeIntParam("n_layers", 1, 3),
                                 rt::makeConditional(rt::makeIntParam("units_1", 16, 256, 16), "n_layers", 1),
                                 rt::makeFloatParam("lr", 1e-4, 1e-1, true), rt::makeCategoricalParam("act", 3)};
  CHECK(rt::checkSearchSpace(space).empty());
}

TEST_CASE("search space: bad bounds steps and log scales are reported", "[runtime]") {
  CHECK(messagesOf({rt::makeFloatParam("lr", 0.0, 1.0, true)}) ==
        std::vector<std::string>{"lr: log scale needs low > 0, got 0"});
  CHECK(messagesOf({rt::makeIntParam("units", 10, 5)}) == std::vector<std::string>{"units: low 10 is above high 5"});
  CHECK(messagesOf({rt::makeIntParam("units", 0, 10, 1, true)}) ==
        std::vector<std::string>{"units: log scale needs low >= 1, got 0"});
  CHECK(messagesOf({rt::makeIntParam("units", 1, 9, 2, true)}) ==
        std::vector<std::string>{"units: log scale needs step 1, got 2"});
  const auto errors = rt::checkSearchSpace({rt::makeIntParam("units", 16, 100, 16)});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].hint == "use high 96 or 112");
  CHECK(messagesOf({rt::makeCategoricalParam("act", 0)}) ==
        std::vector<std::string>{"act: a categorical needs at least one choice"});
  CHECK(messagesOf({rt::makeFloatParam("x", 0, 1), rt::makeFloatParam("x", 0, 1)}) ==
        std::vector<std::string>{"x: 'x' is declared twice"});
}

TEST_CASE("search space: a condition needs an earlier int or categorical parent", "[runtime]") {
  const auto later = rt::checkSearchSpace(
      {rt::makeConditional(rt::makeIntParam("units_1", 1, 8), "n_layers", 1), rt::makeIntParam("n_layers", 1, 3)});
  REQUIRE(later.size() == 1);
  CHECK(later[0].message == "condition on unknown parameter 'n_layers'");
  CHECK(later[0].hint == "declare 'n_layers' before 'units_1'");
  CHECK(messagesOf({rt::makeFloatParam("lr", 0, 1), rt::makeConditional(rt::makeIntParam("units", 1, 8), "lr", 0.5)}) ==
        std::vector<std::string>{"units: condition on float parameter 'lr'"});
}

TEST_CASE("search space: a conditional parameter is active only when its parent exceeds the threshold", "[runtime]") {
  const rt::ParamSpec units_2 = rt::makeConditional(rt::makeIntParam("units_2", 1, 8), "n_layers", 2);
  CHECK_FALSE(rt::isParamActive(units_2, {{"n_layers", 2}}));
  CHECK(rt::isParamActive(units_2, {{"n_layers", 3}}));
  CHECK_FALSE(rt::isParamActive(units_2, {}));
  CHECK(rt::isParamActive(rt::makeIntParam("n_layers", 1, 3), {}));
}
