#include <catch2/catch.hpp>

#include "compiler/frontend/parse.h"

using namespace nnspec;

namespace {

std::optional<ast::Spec> parse(const std::string& text, std::string* rendered = nullptr) {
  SourceFile file("t.nnspec", text);
  DiagnosticEngine diagnostics(file);
  auto spec = frontend::parseSpec(file, diagnostics);
  if (rendered != nullptr) *rendered = diagnostics.renderText();
  return spec;
}

}  // namespace

TEST_CASE("a spec with every statement kind parses into the AST", "[frontend]") {
  const std::string text = R"(experiment e
seed 7
data d = fashion_mnist() | scale(1/255)
split s: train = d.train.shuffle().take(100), test = d.test
param h in [[10], [20, 5]]
param units[n] in int(128, 256)
param lr = 0.1
model m { input [28, 28]  flatten  for x in h { dense(x, relu) }  repeat 2 { dropout(0.5) }  dense(10) }
train t { model m  loss cross_entropy  optimizer sgd(lr: lr)  epochs 5 stop when no_improvement(val.loss) }
sweep a = grid(h) using t cv 5 stratified replicates 3 select max val.accuracy with lr = 0.2, epochs = 3
report table, errorbar(x: h, y: val.accuracy)
)";
  std::string rendered;
  auto spec = parse(text, &rendered);
  INFO(rendered);
  REQUIRE(spec.has_value());
  CHECK(spec->experiments.at(0).name.name == "e");
  CHECK(spec->data.at(0).transforms.size() == 1);
  CHECK(spec->splits.at(0).name->name == "s");
  CHECK(spec->splits.at(0).roles.size() == 2);
  REQUIRE(spec->params.size() == 3);
  CHECK(spec->params[1].length->name == "n");
  CHECK(spec->params[2].fixed);
  const auto& layers = spec->models.at(0).layers;
  REQUIRE(layers.size() == 5);
  CHECK(layers[0].kind == ast::LayerKind::kInput);
  CHECK(layers[1].name.name == "flatten");
  CHECK_FALSE(layers[1].has_args);
  CHECK(layers[2].kind == ast::LayerKind::kFor);
  CHECK(layers[3].kind == ast::LayerKind::kRepeat);
  CHECK(spec->trains.at(0).settings.size() == 4);
  CHECK(spec->trains[0].settings[3].stop_when != nullptr);
  const auto& sweep = spec->sweeps.at(0);
  CHECK(sweep.clauses.size() == 5);
  CHECK(sweep.clauses[1].stratified);
  CHECK(sweep.clauses[4].fixes.size() == 2);
  CHECK(spec->reports.at(0).items.size() == 2);
}

TEST_CASE("operators bind as in arithmetic", "[frontend]") {
  auto spec = parse("experiment e seed 1 param p = -2 ^ 2 + 3 * 4 / 2 - 1");
  REQUIRE(spec.has_value());
  CHECK(ast::printExpr(*spec->params[0].space) == "((-(2 ^ 2) + ((3 * 4) / 2)) - 1)");
  auto range = parse("experiment e param p in 1..9 by 2");
  REQUIRE(range.has_value());
  CHECK(ast::printExpr(*range->params[0].space) == "1..9 by 2");
}

TEST_CASE("numbers, durations and strings keep their values", "[frontend]") {
  auto spec = parse(R"(experiment e param a = 1e-4 param b = 30m param c = "x\"y" param d = 42)");
  REQUIRE(spec.has_value());
  CHECK(spec->params[0].space->number == Approx(1e-4));
  CHECK_FALSE(spec->params[0].space->is_integer);
  CHECK(spec->params[1].space->kind == ast::ExprKind::kDuration);
  CHECK(spec->params[1].space->text == "m");
  CHECK(spec->params[2].space->text == "x\"y");
  CHECK(spec->params[3].space->is_integer);
}

TEST_CASE("syntax errors are all reported, with line and column", "[frontend]") {
  std::string rendered;
  auto spec = parse("experiment e\nmodle m {}\nparam x in [1, 2\nseed 3\n", &rendered);
  CHECK_FALSE(spec.has_value());
  CHECK_THAT(rendered, Catch::Contains("t.nnspec:2:1: error: unknown statement 'modle'"));
  CHECK_THAT(rendered, Catch::Contains("hint: did you mean 'model'?"));
  CHECK_THAT(rendered, Catch::Contains("t.nnspec:4:1:"));
}

TEST_CASE("deep nesting is rejected before the parser recurses", "[frontend]") {
  std::string rendered;
  auto spec = parse("experiment e param p = " + std::string(100000, '(') + "1", &rendered);
  CHECK_FALSE(spec.has_value());
  CHECK_THAT(rendered, Catch::Contains("nested more than 64 levels"));
}
