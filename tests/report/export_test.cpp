// Reading a study back (ranking, v1 stores) and exporting it as CSV and JSON.

#include <sstream>

#include <catch2/catch.hpp>

#include "runtime/report/export.h"
#include "runtime/report/study_data.h"
#include "runtime/store/sqlite_db.h"
#include "tests/report/fixture.h"

namespace {

using namespace nnspec;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

std::vector<std::vector<std::string>> parseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (quoted) {
      if (c == '"' && at + 1 < text.size() && text[at + 1] == '"') field += '"', ++at;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field), field.clear();
    } else if (c == '\n') {
      row.push_back(field), field.clear();
      rows.push_back(row), row.clear();
    } else {
      field += c;
    }
  }
  return rows;
}

size_t column(const std::vector<std::string>& header, const std::string& name) {
  const auto it = std::find(header.begin(), header.end(), name);
  REQUIRE(it != header.end());
  return static_cast<size_t>(it - header.begin());
}

rt::StudyData loadFixture(test::TempDir& dir, bool with_info = true) {
  rt::Store store = test::require(rt::Store::open(dir.path("s.sqlite")));
  test::writeFixtureStudy(store, with_info);
  const rt::StudyRow study = test::require(rt::chooseStudy(store, ""));
  return test::require(rt::loadStudy(store, study));
}

}  // namespace

TEST_CASE("a study read back ranks its points by the mean objective", "[report]") {
  test::TempDir dir;
  const rt::StudyData study = loadFixture(dir);
  REQUIRE(study.sweeps.size() == 2);
  const rt::SweepData& rate = study.sweeps[0];
  CHECK(rate.rank_metric == "val.accuracy");
  REQUIRE(rate.points.size() == 3);
  CHECK(rate.points[0].key == "lr=0.1");
  CHECK(rate.points[0].rank == 1);
  CHECK(rate.points[2].key == "lr=0.001");
  CHECK_THAT(rate.points[0].mean("val.accuracy"), WithinAbs(0.705, 1e-12));
  CHECK_THAT(rate.points[0].stddev("val.accuracy"), WithinAbs(0.005, 1e-12));  // population std
  CHECK(study.counts.finished == 6);
  CHECK(study.counts.failed == 1);
  // The failed regression point has no rank.
  REQUIRE(study.sweeps[1].points.size() == 1);
  CHECK(study.sweeps[1].points[0].rank == 0);
  CHECK(study.sweeps[1].best() == nullptr);
}

TEST_CASE("the trials CSV holds params, per-trial and mean/std metrics, rank, status and timings", "[report]") {
  test::TempDir dir;
  const auto rows = parseCsv(rt::exportTrialsCsv(loadFixture(dir)));
  REQUIRE(rows.size() == 1 + 7);
  const auto& header = rows[0];
  for (const auto& row : rows) REQUIRE(row.size() == header.size());
  const size_t point = column(header, "point"), rank = column(header, "rank"), status = column(header, "status");
  const size_t lr = column(header, "param.lr"), accuracy = column(header, "val.accuracy");
  const size_t mean = column(header, "mean.val.accuracy"), spread = column(header, "std.val.accuracy");
  const size_t seconds = column(header, "seconds"), reason = column(header, "reason"), replicate = column(header, "replicate");
  const auto& first = rows[1];  // lr=0.001, replicate 0
  CHECK(first[point] == "lr=0.001");
  CHECK(first[lr] == "0.001");
  CHECK(first[rank] == "3");
  CHECK(first[status] == "finished");
  CHECK(first[replicate] == "0");
  CHECK_THAT(std::stod(first[accuracy]), WithinAbs(0.5, 1e-12));
  CHECK_THAT(std::stod(first[mean]), WithinAbs(0.505, 1e-12));
  CHECK_THAT(std::stod(first[spread]), WithinAbs(0.005, 1e-12));
  CHECK_THAT(std::stod(first[seconds]), WithinAbs(1.5, 1e-12));
  CHECK(column(header, "epochs") < header.size());
  const auto& failed = rows[7];
  CHECK(failed[status] == "failed");
  CHECK(failed[rank].empty());
  CHECK(failed[reason] == "loss became nan at epoch 1, batch 2");  // quoted: it has a comma
}

TEST_CASE("the epochs CSV has one row per trial and epoch, NaN written as nan", "[report]") {
  test::TempDir dir;
  const auto rows = parseCsv(rt::exportEpochsCsv(loadFixture(dir)));
  REQUIRE(rows.size() == 1 + 6 * 3 + 1);
  const auto& header = rows[0];
  const size_t epoch = column(header, "epoch"), loss = column(header, "train.loss"), val = column(header, "val.loss");
  CHECK(rows[3][epoch] == "3");
  CHECK_THAT(std::stod(rows[3][loss]), WithinAbs(1.0 / 3, 1e-12));
  CHECK(rows.back()[val] == "nan");
}

TEST_CASE("the JSON export holds the spec, the ranked points and every trial's epochs", "[report]") {
  test::TempDir dir;
  const std::string json = rt::exportJson(loadFixture(dir));
  CHECK_THAT(json, Contains(R"("name": "fixture")"));
  CHECK_THAT(json, Contains(R"("text": "experiment fixture\n# \u003cb>not html\u003c/b>\n")"));
  CHECK_THAT(json, Contains(R"("rank_metric": "val.accuracy")"));
  CHECK_THAT(json, Contains(R"("class_names": [)"));
  CHECK_THAT(json, Contains(R"("lr": 0.001)"));  // numbers stay numbers
  CHECK_THAT(json, Contains(R"("reason": "loss became nan at epoch 1, batch 2")"));
  CHECK_THAT(json, Contains(R"("val.loss": null)"));
  size_t epochs = 0;
  for (size_t at = json.find("\"epoch\":"); at != std::string::npos; at = json.find("\"epoch\":", at + 1)) ++epochs;
  CHECK(epochs == 6 * 3 + 1);
}

TEST_CASE("a version 1 store is migrated and read without its plan", "[report]") {
  test::TempDir dir;
  const std::string path = dir.path("old.sqlite");
  {
    rt::Store store = test::require(rt::Store::open(path));
    test::writeFixtureStudy(store, false);
  }
  {
    // Make it what an nnspec before schema version 2 wrote.
    auto db = rt::SqliteDb::open(path);
    REQUIRE(db.ok());
    test::requireOk(db.value()->exec("DROP TABLE worker; DROP TABLE trial_attempt; DROP TABLE sweep_draw; "
                                     "DROP INDEX trial_queue; ALTER TABLE trial DROP COLUMN position; "
                                     "ALTER TABLE trial DROP COLUMN worker_id; "
                                     "DROP TABLE trial_tensor; DROP TABLE trial_checkpoint; "
                                     "DROP TABLE study_spec; DROP TABLE study_report_item; DROP TABLE study_sweep; "
                                     "PRAGMA user_version = 1;"));
  }
  rt::Store store = test::require(rt::Store::open(path));
  const rt::StudyRow row = test::require(rt::chooseStudy(store, "fixture"));
  const rt::StudyData study = test::require(rt::loadStudy(store, row));
  CHECK_FALSE(study.info.has_value());
  REQUIRE(study.sweeps.size() == 2);
  CHECK(study.sweeps[0].planned == false);
  CHECK(study.sweeps[0].info.replicates == 2);
  CHECK(study.sweeps[0].rank_metric == "val.accuracy");  // the first default present
  CHECK(study.sweeps[0].points[0].key == "lr=0.1");
}

TEST_CASE("a study is chosen by name or id, and a wrong name lists the others", "[report]") {
  test::TempDir dir;
  rt::Store store = test::require(rt::Store::open(dir.path("s.sqlite")));
  CHECK_THAT(rt::chooseStudy(store, "").error().message, Contains("holds no study"));
  const int64_t id = test::writeFixtureStudy(store);
  CHECK(test::require(rt::chooseStudy(store, std::to_string(id))).name == "fixture");
  const auto missing = rt::chooseStudy(store, "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().hint, Contains("fixture (id 1)"));
}
