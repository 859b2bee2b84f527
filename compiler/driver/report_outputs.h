#pragma once
// What `nnspec run` records for the spec's `report` block, beside the metrics: the
// study's plan (spec text, report items, sweeps, class names) and, per trial, the
// outputs the report items need (confusion matrices, misclassified samples, first-layer
// weights, conv filters, feature maps, weight histograms). Only what the report asks
// for is recorded; images are kept for one trial per point (the first fold and
// replicate, and refits), confusion matrices for every trial (they are small).

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "compiler/driver/overrides.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/sema/checked_spec.h"
#include "runtime/store/store.h"
#include "runtime/train/trial.h"

namespace nnspec::driver {

struct ReportNeeds {
  std::set<std::string> confusion_on;  // "val" and/or "test"
  int64_t misclassified = 0;           // how many samples to keep (0: none)
  std::string misclassified_on = "test";
  std::vector<int> dense_weights;      // weights(layer: k): the k-th dense layer
  std::vector<int> conv_filters;       // filters(layer: k): the k-th conv2d layer
  std::vector<std::pair<int, int64_t>> feature_maps;  // (k-th conv2d layer, channels)
  bool histograms = false;

  bool predictionsOn(const std::string& split) const;
  bool parameters() const { return !dense_weights.empty() || !conv_filters.empty() || !feature_maps.empty() || histograms; }
  bool any() const { return !confusion_on.empty() || misclassified > 0 || parameters(); }
};

ReportNeeds reportNeeds(const sema::CheckedSpec& spec);

// Whether a trial of `plan` must evaluate `split` ("val" or "test") after every epoch,
// not only at the end: a report curve plots one of its metrics (curves' y names a metric
// such as val.accuracy, or a bare one such as loss, which means every split's), the
// plan's pruner judges its objective on it, or the stop rule watches it.
bool evaluatedEachEpoch(const sema::CheckedSpec& spec, const sema::SweepPlan& plan, const sema::TrainConfig& config,
                        const std::string& split);

// The names of a split's classes: Fashion-MNIST's ten, MNIST's digits, else the class
// numbers; empty for regressions.
std::vector<std::string> classNames(const sema::CheckedSpec& spec, const std::string& split);

// The plan of the study for the store (runtime/store's StudyInfo).
rt::StudyInfo studyInfo(const sema::CheckedSpec& spec, const std::string& spec_path, const std::string& spec_text,
                        const std::vector<Override>& overrides);

// The outputs of a finished trial for the report. `figures`: also the images and
// histograms (else only confusion matrices).
// Feature maps come from the model's own compiled forward pass (compiled by `jit`).
std::vector<rt::TrialOutput> reportOutputs(const ReportNeeds& needs, const sema::TrainConfig& config,
                                           jit::JitCompiler& jit, const rt::TrialResult& result,
                                           const rt::DataView& val, const rt::DataView& test, int64_t output_width,
                                           bool figures);

}  // namespace nnspec::driver
