#pragma once
// A small study written into a store by hand, as `nnspec run` would write it: a grid
// sweep "rate" over lr (3 values x 2 replicates) of a 4-class image classifier with
// epochs, confusion matrices, misclassified samples, weights, filters, feature maps and
// histograms; and a regression sweep "curve" with one point. A second study, "shape",
// varies two params (hidden x lr, 2 replicates) and records many metrics, for the
// report's layout. Plus helpers for temp dirs.

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/report/outputs.h"
#include "runtime/store/store.h"
#include "tests/store/temp_dir.h"

namespace nnspec::test {

template <class T>
T require(rt::StoreResult<T> result) {
  if (!result.ok()) FAIL(result.error().message);
  return std::move(result.value());
}

inline void requireOk(const rt::StoreResult<void>& result) {
  if (!result.ok()) FAIL(result.error().message);
}

inline const std::vector<std::string> kFixtureClasses = {"cat", "dog", "bird", "fish"};

inline rt::StudyInfo fixtureInfo() {
  rt::StudyInfo info;
  info.spec_path = "specs/fixture.nnspec";
  info.spec_text = "experiment fixture\n# <b>not html</b>\n";
  info.overrides = {"epochs=3"};
  info.report = {{"table", {}},
                 {"best", {}},
                 {"summary", {}},
                 {"curves", {{"y", "[loss, accuracy]"}, {"by", "lr"}}},
                 {"errorbar", {{"x", "lr"}, {"y", "val.accuracy"}}},
                 {"confusion", {{"on", "test"}}},
                 {"misclassified", {{"n", "4"}, {"on", "test"}}},
                 {"weights", {{"layer", "1"}}},
                 {"filters", {{"layer", "1"}}},
                 {"feature_maps", {{"layer", "1"}, {"n", "2"}}},
                 {"histograms", {}},
                 {"history", {}},
                 {"importance", {}},
                 {"timings", {}}};
  info.sweeps = {{"rate", "grid", {"lr"}, "val.accuracy", true, 1, 2, 6, "net", kFixtureClasses},
                 {"curve", "grid", {}, "", true, 1, 1, 1, "regressor", {}}};
  return info;
}

// Writes the fixture study; returns its id. `with_info`: also the plan (schema v2).
inline int64_t writeFixtureStudy(rt::Store& store, bool with_info = true) {
  const rt::Study study = require(store.openStudy("fixture", "hash1"));
  if (with_info) requireOk(store.saveStudyInfo(study.id, fixtureInfo()));
  const std::vector<std::string> rates = {"0.001", "0.01", "0.1"};
  for (size_t point = 0; point < rates.size(); ++point) {
    for (int replicate = 0; replicate < 2; ++replicate) {
      const rt::TrialKey key{"rate", "lr=" + rates[point], 0, replicate};
      const auto start = require(store.beginTrial(study.id, key, {{"lr", rates[point]}}, 7 + point));
      const double quality = 0.5 + 0.1 * static_cast<double>(point) + 0.01 * replicate;
      for (int epoch = 1; epoch <= 3; ++epoch) {
        requireOk(store.recordEpoch(start.handle, epoch,
                                    {{"train.loss", 1.0 / epoch}, {"val.loss", 1.2 / epoch},
                                     {"train.accuracy", quality - 0.1 / epoch}, {"val.accuracy", quality - 0.12 / epoch}},
                                    0.5));
      }
      // Rows true class, columns predicted: 10 samples per class.
      std::vector<float> confusion(16, 0.0f);
      for (int k = 0; k < 4; ++k) confusion[static_cast<size_t>(k * 4 + k)] = 8, confusion[static_cast<size_t>(k * 4 + (k + 1) % 4)] = 2;
      requireOk(store.saveOutput(start.handle, {rt::outputs::confusion("test"), 4, 4, confusion}));
      if (replicate == 0) {
        requireOk(store.saveOutput(start.handle, {rt::outputs::kSampleShape, 1, 3, {4, 4, 1}}));
        std::vector<float> images(2 * 16);
        for (size_t k = 0; k < images.size(); ++k) images[k] = static_cast<float>(k % 16) / 15.0f;
        requireOk(store.saveOutput(start.handle, {rt::outputs::misclassifiedImages("test"), 2, 16, images}));
        requireOk(store.saveOutput(start.handle, {rt::outputs::misclassifiedLabels("test"), 2, 4, {3, 0, 1, 0.9f, 5, 2, 3, 0.6f}}));
        std::vector<float> weights(3 * 16);
        for (size_t k = 0; k < weights.size(); ++k) weights[k] = std::sin(static_cast<float>(k));
        requireOk(store.saveOutput(start.handle, {rt::outputs::denseWeights(1), 3, 16, weights}));
        requireOk(store.saveOutput(start.handle, {rt::outputs::convFilters(1), 2, 9, std::vector<float>(weights.begin(), weights.begin() + 18)}));
        requireOk(store.saveOutput(start.handle, {rt::outputs::convFiltersShape(1), 1, 3, {3, 3, 1}}));
        requireOk(store.saveOutput(start.handle, {rt::outputs::featureMaps(1), 2, 4, {0, 1, 2, 3, 3, 2, 1, 0}}));
        requireOk(store.saveOutput(start.handle, {rt::outputs::featureMapsShape(1), 1, 4, {1, 2, 2, 2}}));
        requireOk(store.saveOutput(start.handle, {rt::outputs::featureMapsInputs(1), 1, 16, std::vector<float>(images.begin(), images.begin() + 16)}));
        requireOk(store.saveOutput(start.handle, {rt::outputs::histogram("dense1.kernel"), 2, 3, {-1, 0, 5, 0, 1, 7}}));
      }
      requireOk(store.finishTrial(start.handle,
                                  {{"val.accuracy", quality}, {"val.loss", 0.4}, {"test.accuracy", quality - 0.02}},
                                  1.5 + static_cast<double>(point)));
    }
  }
  const auto curve = require(store.beginTrial(study.id, {"curve", "", 0, 0}, {}, 99));
  requireOk(store.recordEpoch(curve.handle, 1, {{"train.loss", 0.3}, {"val.loss", std::nan("")}}, 0.1));
  requireOk(store.failTrial(curve.handle, 1, "loss became nan at epoch 1, batch 2", 0.1));
  return study.id;
}

inline const std::vector<std::string> kShapeMetrics = {"accuracy", "loss", "f1_macro", "precision_weighted",
                                                       "recall_weighted", "top2_accuracy", "auc_ovr"};

// The "shape" study: grid(hidden, lr) over [16], [32] and 0.001, 0.01, 2 replicates, 4
// epochs, the metrics of kShapeMetrics on val and test; the best point is hidden=[32],
// lr=0.01. Returns its id.
inline int64_t writeShapeStudy(rt::Store& store) {
  const rt::Study study = require(store.openStudy("shape", "hash2"));
  rt::StudyInfo info;
  info.spec_path = "specs/shape.nnspec";
  info.spec_text = "experiment shape\n";
  info.report = {{"table", {}}, {"best", {}}, {"curves", {{"y", "[loss, accuracy]"}, {"by", "lr"}}}, {"slices", {}}};
  info.sweeps = {{"shape", "grid", {"hidden", "lr"}, "val.accuracy", true, 1, 2, 8, "mlp", kFixtureClasses}};
  requireOk(store.saveStudyInfo(study.id, info));
  const std::vector<std::string> hiddens = {"[16]", "[32]"};
  const std::vector<std::string> rates = {"0.001", "0.01"};
  for (size_t width = 0; width < hiddens.size(); ++width) {
    for (size_t rate = 0; rate < rates.size(); ++rate) {
      for (int replicate = 0; replicate < 2; ++replicate) {
        const std::string point = "hidden=" + hiddens[width] + ", lr=" + rates[rate];
        const auto start = require(store.beginTrial(study.id, {"shape", point, 0, replicate},
                                                    {{"hidden", hiddens[width]}, {"lr", rates[rate]}}, 20 + replicate));
        const double quality = 0.6 + 0.1 * static_cast<double>(width) + 0.05 * static_cast<double>(rate) + 0.01 * replicate;
        for (int epoch = 1; epoch <= 4; ++epoch) {
          requireOk(store.recordEpoch(start.handle, epoch,
                                      {{"train.loss", (1.5 - quality) / epoch}, {"val.loss", (1.6 - quality) / epoch},
                                       {"train.accuracy", quality - 0.2 / epoch}, {"val.accuracy", quality - 0.25 / epoch}},
                                      0.2));
        }
        rt::Metrics final_metrics;
        for (const char* split : {"val.", "test."}) {
          for (const auto& metric : kShapeMetrics) {
            final_metrics[split + metric] = metric == "loss" ? 1.6 - quality : quality - (split[0] == 't' ? 0.02 : 0.0);
          }
        }
        final_metrics["train.loss"] = 1.5 - quality;
        requireOk(store.finishTrial(start.handle, final_metrics, 0.8));
      }
    }
  }
  return study.id;
}

}  // namespace nnspec::test
