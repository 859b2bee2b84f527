// --set NAME=VALUE: one value in spec syntax, applied to a param or a train setting.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "compiler/driver/overrides.h"
#include "compiler/frontend/parse.h"
#include "compiler/support/diagnostics.h"

namespace {

const char* const kSpec =
    "experiment e\n"
    "param lr in [0.01, 0.1]\n"
    "train t { model m loss mse optimizer sgd(lr: lr) epochs 3 }\n";

const char* const kSweeps =
    "experiment e\n"
    "seed 7\n"
    "param lr in [0.01, 0.1]\n"
    "train t { model m loss mse optimizer sgd(lr: lr) epochs 3 }\n"
    "sweep a = grid(lr) using t replicates 2\n"
    "sweep b = grid(lr) using t cv 3\n";

std::string apply(const std::string& flag, const char* text = kSpec, nnspec::ast::Spec* applied = nullptr) {
  nnspec::SourceFile file("spec.nnspec", text);
  nnspec::DiagnosticEngine diagnostics(file);
  auto spec = nnspec::frontend::parseSpec(file, diagnostics);
  REQUIRE(spec);
  nnspec::driver::Override override;
  REQUIRE(nnspec::driver::parseOverride(flag, &override));
  const std::string error = nnspec::driver::applyOverrides(*spec, {override});
  if (error.empty()) CHECK(spec->trains.size() == 1);
  if (applied != nullptr) *applied = std::move(*spec);
  return error;
}

}  // namespace

TEST_CASE("a set override takes one value: text after it is an error, not a new statement", "[driver]") {
  CHECK(apply("lr=0.1") == "");
  CHECK(apply("epochs=5") == "");
  CHECK(apply("lr=0.1 train t2 { model m loss mse optimizer adam epochs 1 }") ==
        "--set lr=0.1 train t2 { model m loss mse optimizer adam epochs 1 }: text after the value; --set takes one "
        "value in spec syntax, e.g. --set lr=0.1");
  CHECK_THAT(apply("lr=0.1\nseed 4"), Catch::Contains("text after the value"));
  CHECK_THAT(apply("lr=sgd(("), Catch::Contains("is not a value in spec syntax"));
  CHECK_THAT(apply("lrr=0.1"), Catch::Contains("not a param or a train setting of this spec"));
}

TEST_CASE("set overrides reach the seed line and every sweep's replicates", "[driver]") {
  nnspec::ast::Spec spec;
  REQUIRE(apply("seed=42", kSpec, &spec) == "");  // no seed line: one is added
  REQUIRE(spec.seeds.size() == 1);
  CHECK(nnspec::ast::printExpr(*spec.seeds[0].value) == "42");
  REQUIRE(apply("seed=43", kSweeps, &spec) == "");  // the spec's own line is replaced
  REQUIRE(spec.seeds.size() == 1);
  CHECK(nnspec::ast::printExpr(*spec.seeds[0].value) == "43");
  REQUIRE(apply("replicates=4", kSweeps, &spec) == "");
  for (const auto& sweep : spec.sweeps) {
    int replicates = 0;
    for (const auto& clause : sweep.clauses) {
      if (clause.kind != nnspec::ast::ClauseKind::kReplicates) continue;
      ++replicates;
      CHECK(nnspec::ast::printExpr(*clause.value) == "4");
    }
    CHECK(replicates == 1);  // replaced in sweep a, added to sweep b
  }
  CHECK_THAT(apply("replicates=3", kSpec), Catch::Contains("--set replicates: the spec has no sweep to replicate"));
}
