// CSV sources: column selection, the errors a spec author meets, and the shipped hw1 data.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/data/sources.h"

namespace {

using nnspec::rt::CsvColumns;
using nnspec::rt::DataError;

// One CSV file under the system temp dir, removed afterwards.
class TempCsv {
 public:
  explicit TempCsv(const std::string& text) {
    std::string pattern = (std::filesystem::temp_directory_path() / "nnspec_csv_XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    std::ofstream(path(), std::ios::binary) << text;
  }
  ~TempCsv() { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "table.csv").string(); }

 private:
  std::filesystem::path dir_;
};

const std::string kTable =
    "a, b ,label\n"
    "1, 2.5, 0\n"
    " 3 ,-4e1,2\n"
    "\n"
    "5,6,1\n";

DataError loadError(const std::string& path, const CsvColumns& columns) {
  auto result = nnspec::rt::loadCsv(path, columns);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().path == path);
  return result.error();
}

}  // namespace

TEST_CASE("csv: features by name keep the order given", "[runtime]") {
  TempCsv csv(kTable);
  auto result = nnspec::rt::loadCsv(csv.path(), {{"b", "a"}, "label"});
  REQUIRE(result.ok());
  const auto& dataset = result.value();
  CHECK(dataset.count == 3);
  CHECK(dataset.sample_shape == std::vector<int64_t>{2});
  CHECK(dataset.target_width == 1);
  REQUIRE(dataset.x.size() == 6);
  CHECK(dataset.x[0] == Approx(2.5));
  CHECK(dataset.x[1] == Approx(1));
  CHECK(dataset.x[2] == Approx(-40));
  CHECK(dataset.x[3] == Approx(3));
  REQUIRE(dataset.y.size() == 3);
  CHECK(dataset.y[1] == Approx(2));
  CHECK(dataset.num_classes == 3);
}

TEST_CASE("csv: columns by 0-based number", "[runtime]") {
  TempCsv csv(kTable);
  auto result = nnspec::rt::loadCsv(csv.path(), {{"1"}, "0"});
  REQUIRE(result.ok());
  const auto& dataset = result.value();
  CHECK(dataset.sample_shape == std::vector<int64_t>{1});
  REQUIRE(dataset.x.size() == 3);
  CHECK(dataset.x[1] == Approx(-40));
  CHECK(dataset.y[2] == Approx(5));
  CHECK(dataset.num_classes == 6);
}

TEST_CASE("csv: no features means every other column", "[runtime]") {
  TempCsv csv(kTable);
  auto probe = nnspec::rt::probeCsv(csv.path(), {{}, "b"});
  REQUIRE(probe.ok());
  const auto& info = probe.value()[0];
  CHECK(info.part == "all");
  CHECK(info.count == 3);
  CHECK(info.sample_shape == std::vector<int64_t>{2});
  CHECK_FALSE(info.integer_targets);  // 2.5 and -40 are not class labels
  CHECK(info.num_classes == 0);

  auto result = nnspec::rt::loadCsv(csv.path(), {{}, "b"});
  REQUIRE(result.ok());
  CHECK(result.value().x[2] == Approx(3));  // row 2 is (a, label) = (3, 2)
  CHECK(result.value().x[3] == Approx(2));
}

TEST_CASE("csv: quoted fields and CRLF line ends", "[runtime]") {
  TempCsv csv("\"size, cm\",\"say \"\"hi\"\"\",y\r\n\"1.5\", 2 ,1\r\n3,4,0\r\n");
  auto result = nnspec::rt::loadCsv(csv.path(), {{"size, cm", "say \"hi\""}, "y"});
  REQUIRE(result.ok());
  CHECK(result.value().count == 2);
  CHECK(result.value().x[0] == Approx(1.5));
  CHECK(result.value().x[3] == Approx(4));
}

TEST_CASE("csv: an unknown column suggests the nearest name", "[runtime]") {
  TempCsv csv(kTable);
  DataError error = loadError(csv.path(), {{"a"}, "lable"});
  CHECK(error.message == "unknown column 'lable' (columns: 'a', 'b', 'label')");
  CHECK(error.hint == "did you mean 'label'?");

  DataError far = loadError(csv.path(), {{"weight"}, "label"});
  CHECK_THAT(far.message, Catch::Contains("unknown column 'weight'"));
  CHECK_THAT(far.hint, !Catch::Contains("did you mean"));
}

TEST_CASE("csv: a column number out of range is an error", "[runtime]") {
  TempCsv csv(kTable);
  DataError error = loadError(csv.path(), {{"3"}, "label"});
  CHECK_THAT(error.message,
             Catch::Contains("column 3 is out of range") && Catch::Contains("3 columns (0..2)"));
}

TEST_CASE("csv: the target cannot also be a feature", "[runtime]") {
  TempCsv csv(kTable);
  DataError error = loadError(csv.path(), {{"a", "2"}, "label"});
  CHECK_THAT(error.message, Catch::Contains("'label' is both a feature and the target"));
}

TEST_CASE("csv: a non-numeric cell names its line and column", "[runtime]") {
  TempCsv csv("x,y\n1,2\n3,abc\n");
  DataError error = loadError(csv.path(), {{"x"}, "y"});
  CHECK(error.message == "line 3, column 'y': 'abc' is not a number");

  TempCsv empty_cell("x,y\n1,2\n,4\n");
  DataError empty = loadError(empty_cell.path(), {{"x"}, "y"});
  CHECK_THAT(empty.message, Catch::StartsWith("line 3, column 'x': empty cell"));
}

TEST_CASE("csv: a ragged row is reported", "[runtime]") {
  TempCsv csv("x,y\n1,2\n3,4\n5\n");
  DataError error = loadError(csv.path(), {{"x"}, "y"});
  CHECK(error.message == "ragged row: line 4 has 1 fields, but the header has 2");
}

TEST_CASE("csv: empty files and header-only files are reported", "[runtime]") {
  TempCsv empty("");
  CHECK_THAT(loadError(empty.path(), {{}, "y"}).message, Catch::StartsWith("empty file"));
  TempCsv header_only("x,y\n\n");
  CHECK_THAT(loadError(header_only.path(), {{}, "y"}).message, Catch::StartsWith("no data rows"));
}

TEST_CASE("csv: a missing file is reported", "[runtime]") {
  auto result = nnspec::rt::probeCsv("/nonexistent/table.csv", {{}, "y"});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().path == "/nonexistent/table.csv");
  CHECK(result.error().message == "cannot open: No such file or directory");
}

TEST_CASE("csv: the shipped hw1 data loads", "[runtime]") {
  for (const char* name : {"hw1_train.csv", "hw1_test.csv"}) {
    std::string path = std::string(NNSPEC_SOURCE_DIR) + "/specs/data/" + name;
    auto probe = nnspec::rt::probeCsv(path, {{"x"}, "y"});
    REQUIRE(probe.ok());
    CHECK(probe.value()[0].count == 100);
    CHECK(probe.value()[0].sample_shape == std::vector<int64_t>{1});
    CHECK_FALSE(probe.value()[0].integer_targets);

    auto result = nnspec::rt::loadCsv(path, {{}, "y"});
    REQUIRE(result.ok());
    const auto& dataset = result.value();
    CHECK(dataset.count == 100);
    CHECK(dataset.sample_shape == std::vector<int64_t>{1});
    REQUIRE(dataset.x.size() == 100);
    for (size_t row = 0; row < 100; ++row) {
      REQUIRE(dataset.x[row] >= -3.0f);
      REQUIRE(dataset.x[row] <= 3.0f);
    }
  }
  // The test file is noise-free: y = sin(2x) + 0.3x to the 6 printed decimals.
  auto test = nnspec::rt::loadCsv(std::string(NNSPEC_SOURCE_DIR) + "/specs/data/hw1_test.csv",
                                  {{"x"}, "y"});
  REQUIRE(test.ok());
  for (size_t row = 0; row < 100; ++row) {
    double x = test.value().x[row];
    CHECK(test.value().y[row] == Approx(std::sin(2 * x) + 0.3 * x).margin(1e-5));
  }
}
