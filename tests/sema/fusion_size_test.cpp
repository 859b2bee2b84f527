// `fuse auto`'s group size: as many trials as a core's share of its cache holds.

#include <cstdlib>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "compiler/sema/fusion_size.h"
#include "tests/sema/check_text.h"

using namespace nnspec;

namespace {

// Sets $NNSPEC_CACHE_BYTES while in scope (unset: the machine's own cache).
class CacheBytes {
 public:
  explicit CacheBytes(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("NNSPEC_CACHE_BYTES")) old_ = old;
    if (value) setenv("NNSPEC_CACHE_BYTES", value->c_str(), 1);
    else unsetenv("NNSPEC_CACHE_BYTES");
  }
  ~CacheBytes() {
    if (old_) setenv("NNSPEC_CACHE_BYTES", old_->c_str(), 1);
    else unsetenv("NNSPEC_CACHE_BYTES");
  }
  CacheBytes(const CacheBytes&) = delete;
  CacheBytes& operator=(const CacheBytes&) = delete;

 private:
  std::optional<std::string> old_;
};

// A 1-64-64-1 regression MLP trained by `optimizer` at batch 50.
sema::TrainConfig config(const std::string& optimizer) {
  const std::string text = "experiment e\n"
                           "data d = synthetic(y: sin(x), n: 200)\n"
                           "split train = d.all.shuffle().take(150), test = d.all.shuffle().skip(150)\n"
                           "model m { dense(64, relu) dense(64, relu) dense(1) }\n"
                           "train { model m loss mse optimizer " + optimizer + " batch 50 epochs 2 }\n";
  const testing::CheckedText checked = testing::checkSpecText(text);
  INFO(checked.diagnostics);
  REQUIRE(checked.spec.has_value());
  return checked.spec->sweeps.at(0).checked.at(0).config;
}

}  // namespace

TEST_CASE("a fused point's working set is its weights, gradients, optimizer state and a batch's activations",
          "[sema][fusion]") {
  const double params = 1 * 64 + 64 + 64 * 64 + 64 + 64 * 1 + 1;
  const double activations = 1 + 64 + 64 + 1;  // the input and each layer's output, a sample
  CHECK(sema::fusedPointBytes(config("adam(lr: 0.01)")) == 4 * (params * 4 + 2 * 50 * activations));
  CHECK(sema::fusedPointBytes(config("sgd(lr: 0.1)")) == 4 * (params * 3 + 2 * 50 * activations));
}

TEST_CASE("fuse auto takes as many trials as the cache share holds, at most 8, none when two do not fit",
          "[sema][fusion]") {
  const sema::TrainConfig adam = config("adam(lr: 0.01)");
  const double point = sema::fusedPointBytes(adam);
  {
    const CacheBytes cache(std::to_string(static_cast<int64_t>(5.5 * point)));
    const sema::FusionSize size = sema::fusionSize(adam, 0);
    CHECK(size.limit == 5);
    CHECK(size.why.rfind("auto: 5 trials' steps (", 0) == 0);
    CHECK(size.why.find("($NNSPEC_CACHE_BYTES)") != std::string::npos);
  }
  {
    const CacheBytes cache(std::to_string(static_cast<int64_t>(1.9 * point)));
    const sema::FusionSize size = sema::fusionSize(adam, 0);
    CHECK(size.limit == 1);
    CHECK(size.why.rfind("auto: off, two trials' steps (", 0) == 0);
  }
  {
    const CacheBytes cache(std::to_string(static_cast<int64_t>(100 * point)));
    CHECK(sema::fusionSize(adam, 0).limit == sema::kMaxAutoFusion);
    // An explicit size and off hold whatever the cache.
    CHECK(sema::fusionSize(adam, 3).limit == 3);
    CHECK(sema::fusionSize(adam, 3).why == "fuse 3");
    CHECK(sema::fusionSize(adam, 1).limit == 1);
  }
  {
    const CacheBytes cache(std::string("2M"));
    CHECK(sema::cacheShare().bytes == 2.0 * 1024 * 1024);
  }
}

TEST_CASE("without an override the cache share is this machine's largest cache over the cores sharing it",
          "[sema][fusion]") {
  const CacheBytes cache(std::nullopt);
  const sema::CacheShare share = sema::cacheShare();
  CHECK(share.bytes >= 32 * 1024.0);
  CHECK(share.text.find("cache") != std::string::npos);
  INFO(share.text);
  CHECK(sema::cpuListSize("0-1") == 2);
  CHECK(sema::cpuListSize("3") == 1);
  CHECK(sema::cpuListSize("0-7,16-23") == 16);
  CHECK(sema::cpuListSize("0,2,4") == 3);
  CHECK(sema::cpuListSize("") == 0);
  CHECK(sema::cpuListSize("x") == 0);
  CHECK(sema::cpuListSize("3-1") == 0);
}
