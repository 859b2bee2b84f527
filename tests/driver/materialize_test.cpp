// The Materializer loads from Fashion-MNIST's IDX files only the rows the sweeps' splits
// read, and every view still reads exactly the values a whole load would give at the
// positions its selection chose.

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/driver/driver.h"
#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "runtime/data/sources.h"
#include "runtime/pipeline/labels.h"
#include "runtime/pipeline/selection.h"
#include "runtime/pipeline/transforms.h"

namespace {

namespace fs = std::filesystem;
using namespace nnspec;

// Two sweeps on two splits of the training images (a holdout among them); split `all`
// reads every training image but no sweep uses it.
const char* const kSpec = R"(experiment materialize_rows
seed 11
data fmnist = fashion_mnist() | scale(1/255)
split a: train = fmnist.train.shuffle().take(700), val = train.holdout(100), test = fmnist.test.shuffle().take(200)
split b: train = fmnist.train.shuffle(seed: 5).take(300, stratified: true), test = fmnist.test
split all: train = fmnist.train.shuffle().take(500), test = fmnist.train.shuffle().skip(500)
model mlp {
  input [28, 28]
  flatten
  dense(10)
}
train t { model mlp  split a  loss cross_entropy  optimizer sgd(lr: 0.1)  batch 50  epochs 1 }
sweep on_a = grid() using t
sweep on_b = grid() using t with split = b
)";

struct Whole {
  rt::Dataset data;
  rt::PartLabels labels;
};

Whole loadWhole(const std::string& part) {
  auto loaded = rt::loadFashionMnist(driver::defaultDataPaths().fashion_mnist_dir, part);
  REQUIRE(loaded.ok());
  Whole whole{std::move(loaded.value()), {}};
  rt::scaleInputs(whole.data, 1.0 / 255);
  auto labels = rt::labelsOf(whole.data);
  REQUIRE(labels.ok());
  whole.labels = std::move(labels.value());
  return whole;
}

// Row `loaded_row` of `loaded` equals row `whole_row` of `whole`, bit for bit. A run keeps
// the pixels as bytes: their values (as a report reads them) and their decoding (as a
// batch gathers them) are both the floats a whole load as floats, scaled, holds.
void checkRow(const rt::Dataset& loaded, int64_t loaded_row, const rt::Dataset& whole, int64_t whole_row) {
  const int64_t features = static_cast<int64_t>(whole.x.size()) / whole.count;
  REQUIRE(rt::bytesStored(loaded));
  REQUIRE(loaded.x.empty());
  REQUIRE(rt::inputValueCount(loaded) == loaded.count * features);
  REQUIRE(loaded_row < loaded.count);
  std::vector<float> values(static_cast<size_t>(features)), decoded(static_cast<size_t>(features));
  rt::copyInputValues(loaded, loaded_row * features, features, values.data());
  rt::ByteDecoder(loaded.byte_values).decode(loaded.x_bytes.data() + loaded_row * features, features, decoded.data());
  const float* expected = whole.x.data() + whole_row * features;
  CHECK(std::memcmp(values.data(), expected, values.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(decoded.data(), expected, decoded.size() * sizeof(float)) == 0);
  CHECK(loaded.y[static_cast<size_t>(loaded_row)] == whole.y[static_cast<size_t>(whole_row)]);
}

void checkView(const rt::Dataset* data, const std::vector<int64_t>& indices, const Whole& whole,
               const std::vector<int64_t>& chosen) {
  REQUIRE(data != nullptr);
  REQUIRE(indices.size() == chosen.size());
  for (size_t k = 0; k < chosen.size(); ++k) checkRow(*data, indices[k], whole.data, chosen[k]);
}

std::vector<rt::SelectOp> shuffleTake(uint64_t seed, int64_t n, bool stratified = false) {
  return {rt::SelectOp{rt::SelectKind::kShuffle, 0, seed}, rt::SelectOp{rt::SelectKind::kTake, n, 0, stratified}};
}

}  // namespace

TEST_CASE("materialize: from IDX files only the rows the sweeps' splits read are loaded, each where its view reads it",
          "[driver]") {
  driver::CheckRequest request;
  request.path = (fs::temp_directory_path() / "materialize_test.nnspec").string();
  request.source = kSpec;
  request.data_paths = driver::defaultDataPaths();
  driver::SpecSession session(request, std::vector<driver::Override>{}, std::vector<std::string>{});
  REQUIRE(session.ok());
  driver::Materializer materializer(session.spec().checked, session.spec().data_paths);
  auto a = materializer.split("a");
  REQUIRE(a.ok());
  auto b = materializer.split("b");
  REQUIRE(b.ok());

  const Whole train = loadWhole("train");
  const Whole test = loadWhole("test");
  // What the selections choose from the whole parts (the spec's seed 11 is every shuffle's
  // default; `train.holdout(100)` holds out the last 100 of a's 700).
  auto a_rows = rt::applySelection(train.labels, shuffleTake(11, 700));
  REQUIRE(a_rows.ok());
  const std::vector<int64_t> a_fit(a_rows.value().begin(), a_rows.value().end() - 100);
  const std::vector<int64_t> a_val(a_rows.value().end() - 100, a_rows.value().end());
  auto a_test = rt::applySelection(test.labels, shuffleTake(11, 200));
  REQUIRE(a_test.ok());
  auto b_rows = rt::applySelection(train.labels, shuffleTake(5, 300, true));
  REQUIRE(b_rows.ok());

  checkView(a.value()->train_data, a.value()->train, train, a_fit);
  checkView(a.value()->val_data, a.value()->val, train, a_val);
  checkView(a.value()->test_data, a.value()->test, test, a_test.value());
  checkView(b.value()->train_data, b.value()->train, train, b_rows.value());
  checkView(b.value()->test_data, b.value()->test, test, [] {
    std::vector<int64_t> all(10000);
    for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int64_t>(k);
    return all;
  }());

  // One loaded training part for both splits: the union of their rows, not split `all`'s.
  CHECK(a.value()->train_data == b.value()->train_data);
  std::set<int64_t> read(a_rows.value().begin(), a_rows.value().end());
  read.insert(b_rows.value().begin(), b_rows.value().end());
  CHECK(a.value()->train_data->count == static_cast<int64_t>(read.size()));
  CHECK(a.value()->train_data->count < 1000);
  CHECK(a.value()->train_data->num_classes == 10);
  // b reads the whole test part, so it is loaded whole.
  CHECK(b.value()->test_data->count == 10000);
}
