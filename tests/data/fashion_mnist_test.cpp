// Fashion-MNIST from Debian's dataset-fashion-mnist, installed by scripts/setup.sh.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "runtime/data/sources.h"

namespace {

constexpr const char* kFashionDir = "/usr/share/datasets/fashion-mnist";
constexpr int kClasses = 10;

}  // namespace

TEST_CASE("fashion_mnist: probe gives both parts", "[runtime]") {
  auto result = nnspec::rt::probeFashionMnist(kFashionDir);
  REQUIRE(result.ok());
  const auto& parts = result.value();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].part == "train");
  CHECK(parts[0].count == 60000);
  CHECK(parts[1].part == "test");
  CHECK(parts[1].count == 10000);
  for (const auto& part : parts) {
    CHECK(part.sample_shape == std::vector<int64_t>{28, 28});
    CHECK(part.target_width == 1);
    CHECK(part.integer_targets);
    CHECK(part.num_classes == kClasses);
  }
}

TEST_CASE("fashion_mnist: the test part has 1000 images per class", "[runtime]") {
  auto result = nnspec::rt::loadFashionMnist(kFashionDir, "test");
  REQUIRE(result.ok());
  const nnspec::rt::Dataset& dataset = result.value();
  CHECK(dataset.count == 10000);
  CHECK(dataset.sample_shape == std::vector<int64_t>{28, 28});
  CHECK(dataset.num_classes == kClasses);
  REQUIRE(dataset.x.size() == size_t{10000} * 28 * 28);
  REQUIRE(dataset.y.size() == size_t{10000});

  std::array<int, kClasses> histogram{};
  for (float label : dataset.y) {
    REQUIRE(label >= 0);
    REQUIRE(label < kClasses);
    REQUIRE(label == std::floor(label));
    ++histogram[static_cast<size_t>(label)];
  }
  for (int count : histogram) CHECK(count == 1000);

  auto [min_pixel, max_pixel] = std::minmax_element(dataset.x.begin(), dataset.x.end());
  CHECK(*min_pixel == Approx(0.0));
  CHECK(*max_pixel == Approx(255.0));
  bool all_whole = std::all_of(dataset.x.begin(), dataset.x.end(),
                               [](float pixel) { return pixel == std::floor(pixel); });
  CHECK(all_whole);
}

TEST_CASE("fashion_mnist: a missing folder names the package to install", "[runtime]") {
  auto result = nnspec::rt::probeFashionMnist("/nonexistent/fashion-mnist");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().path == "/nonexistent/fashion-mnist");
  CHECK(result.error().message == "cannot open: No such file or directory");
  CHECK_THAT(result.error().hint, Catch::Contains("dataset-fashion-mnist"));
}

TEST_CASE("fashion_mnist: a missing file is named", "[runtime]") {
  std::string pattern = (std::filesystem::temp_directory_path() / "nnspec_fashion_XXXXXX").string();
  std::filesystem::path empty_dir = mkdtemp(pattern.data());
  auto result = nnspec::rt::loadFashionMnist(empty_dir.string(), "train");
  std::filesystem::remove_all(empty_dir);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().path == (empty_dir / "train-images-idx3-ubyte.gz").string());
  CHECK_THAT(result.error().hint, Catch::Contains("dataset-fashion-mnist"));
}

TEST_CASE("fashion_mnist: an unknown part is an error", "[runtime]") {
  auto result = nnspec::rt::loadFashionMnist(kFashionDir, "validation");
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("no part 'validation'"));
}
