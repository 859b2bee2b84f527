#include <catch2/catch.hpp>

#include "tests/sema/check_text.h"

using namespace nnspec;

TEST_CASE("a minimal synthetic regression spec checks", "[sema]") {
  const std::string text = R"(experiment e
data d = synthetic(y: sin(3 * x), n: 200, noise: 0.1)
split train = d.all.shuffle().take(150), test = d.all.shuffle().skip(150)
model m { dense(16, tanh) dense(1) }
train { model m loss mse optimizer adam epochs 3 }
)";
  const testing::CheckedText checked = testing::checkSpecText(text);
  INFO(checked.diagnostics);
  REQUIRE(checked.spec.has_value());
  REQUIRE(checked.spec->sweeps.size() == 1);
  CHECK(checked.spec->sweeps[0].checked[0].config.model.totalParams() == 16 * 1 + 16 + 16 + 1);
}
