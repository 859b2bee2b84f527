// The one ranking of a sweep's points (runtime/sweep/ranking.h) that the run's table, the
// scheduler's refit and ensemble, and the report share.

#include <catch2/catch.hpp>

#include "runtime/sweep/ranking.h"

namespace nnspec::rt {
namespace {

TrialRow row(const std::string& point, int fold, TrialStatus status, Metrics metrics = {},
             const std::string& sweep = "arch") {
  TrialRow out;
  out.key = TrialKey{sweep, point, fold, 0};
  out.status = status;
  out.final_metrics = std::move(metrics);
  return out;
}

}  // namespace

TEST_CASE("points rank by the mean objective over their folds, best first, refits apart", "[sweep]") {
  const std::vector<TrialRow> rows = {
      row("h=10", 0, TrialStatus::kFinished, {{"val.accuracy", 0.80}}),
      row("h=10", 1, TrialStatus::kFinished, {{"val.accuracy", 0.82}}),
      row("h=50", 0, TrialStatus::kFinished, {{"val.accuracy", 0.85}}),
      row("h=50", 1, TrialStatus::kFinished, {{"val.accuracy", 0.87}}),
      row("h=50", -1, TrialStatus::kFinished, {{"test.accuracy", 0.86}}),
      row("other", 0, TrialStatus::kFinished, {{"val.accuracy", 0.99}}, "another sweep"),
  };
  const SweepRanking ranking = rankSweep("arch", rows, "val.accuracy", true, {"h=10", "h=50", "h=99"});
  REQUIRE(ranking.points.size() == 3);
  CHECK(ranking.points[0].key == "h=50");
  CHECK(ranking.points[0].rank == 1);
  CHECK_THAT(ranking.points[0].mean("val.accuracy"), Catch::WithinAbs(0.86, 1e-12));
  CHECK(ranking.points[0].fold_values.at(1) == std::vector<double>{0.87});
  CHECK(ranking.points[1].key == "h=10");
  CHECK(ranking.points[2].key == "h=99");  // listed, no trial yet: unranked, last
  CHECK(ranking.points[2].rank == 0);
  REQUIRE(ranking.refit.has_value());
  CHECK(*ranking.refit == 4);
  CHECK(ranking.bestComplete() == &ranking.points[0]);
}

TEST_CASE("without an objective the first default metric present ranks, and losses are minimized", "[sweep]") {
  const std::vector<TrialRow> rows = {
      row("a", 0, TrialStatus::kFinished, {{"val.loss", 0.5}, {"train.loss", 0.1}}),
      row("b", 0, TrialStatus::kFinished, {{"val.loss", 0.3}, {"train.loss", 0.2}}),
  };
  const SweepRanking ranking = rankSweep("arch", rows, "", true);
  CHECK(ranking.metric == "val.loss");
  CHECK_FALSE(ranking.maximize);
  CHECK(ranking.points[0].key == "b");
}

TEST_CASE("without an objective or validation the points rank by a training figure, never by the test set",
          "[sweep]") {
  const std::vector<TrialRow> rows = {
      row("a", 0, TrialStatus::kFinished, {{"test.accuracy", 0.9}, {"test.loss", 0.2}, {"train.accuracy", 0.7},
                                           {"train.loss", 0.6}}),
      row("b", 0, TrialStatus::kFinished, {{"test.accuracy", 0.8}, {"test.loss", 0.3}, {"train.accuracy", 0.75},
                                           {"train.loss", 0.5}}),
  };
  const SweepRanking ranking = rankSweep("arch", rows, "", true);
  CHECK(ranking.metric == "train.accuracy");
  CHECK(ranking.maximize);
  CHECK(ranking.points[0].key == "b");  // worse on test, better on what it trained on
  const SweepRanking regression = rankSweep("arch", {row("a", 0, TrialStatus::kFinished, {{"test.loss", 0.2},
                                                                                           {"train.loss", 0.6}})},
                                            "", true);
  CHECK(regression.metric == "train.loss");
}

TEST_CASE("a point with a failed fold ranks by its finished folds but is not refit or ensembled", "[sweep]") {
  const std::vector<TrialRow> rows = {
      row("good", 0, TrialStatus::kFinished, {{"val.accuracy", 0.80}}),
      row("good", 1, TrialStatus::kFinished, {{"val.accuracy", 0.80}}),
      row("flaky", 0, TrialStatus::kFinished, {{"val.accuracy", 0.90}}),
      row("flaky", 1, TrialStatus::kFailed),
  };
  const SweepRanking ranking = rankSweep("arch", rows, "val.accuracy", true);
  CHECK(ranking.best()->key == "flaky");
  CHECK(ranking.points[0].failed == 1);
  REQUIRE(ranking.bestComplete() != nullptr);
  CHECK(ranking.bestComplete()->key == "good");
  CHECK_FALSE(ranking.refit.has_value());
}

TEST_CASE("readable numbers cut float noise only from long numbers", "[sweep]") {
  CHECK(readableNumbers("decay=0.0005005000000000001") == "decay=0.0005005");
  CHECK(readableNumbers("units_1=64, lr=0.1") == "units_1=64, lr=0.1");
}

}  // namespace nnspec::rt
