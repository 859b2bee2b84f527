#pragma once
// Every word a spec can use with its arguments: layers, activations, losses,
// optimizers, schedules, weight inits, data sources and transforms, split methods,
// pruners, stop conditions, ensembles and report items. One table each. Every entry
// carries a description and an example: docs/language.md and `nnspec help` print them.

#include <string>
#include <vector>

#include "compiler/sema/signature.h"

namespace nnspec::sema {

struct Catalog {
  std::vector<Signature> model_kinds;  // `model NAME = KIND(...)`: models that are not layer stacks
  std::vector<Signature> layers;
  std::vector<Signature> activations;
  std::vector<Signature> losses;
  std::vector<Signature> optimizers;
  std::vector<Signature> schedules;
  std::vector<Signature> inits;
  std::vector<Signature> sources;
  std::vector<Signature> transforms;
  std::vector<Signature> split_methods;
  std::vector<Signature> pruners;
  std::vector<Signature> stop_conditions;
  std::vector<Signature> ensembles;
  std::vector<Signature> report_items;
  std::vector<Signature> distributions;
  std::vector<Signature> sweep_options;  // keyword options of grid/random/tpe, by method
  // Described for the language reference; the checker names these words in its own
  // code and tests keep the names equal: sweep clauses (grammar's sweepClause), metrics
  // (kMetricNames), train settings (kTrainKeys).
  std::vector<Signature> sweep_clauses;
  std::vector<Signature> metrics;
  std::vector<Signature> train_settings;

  // The signature called `name` in `table`, or nullptr.
  static const Signature* find(const std::vector<Signature>& table, const std::string& name);
  static std::vector<std::string> names(const std::vector<Signature>& table);
};

// The catalog is built once per check; it holds no state.
Catalog makeCatalog();

// Metric names and the parts of the data they can be measured on.
inline const std::vector<std::string> kMetricNames = {"loss", "accuracy", "error", "mse", "mae"};
inline const std::vector<std::string> kMetricParts = {"train", "val", "test"};
// Metrics measured on held-out data only (val, test; runtime/train/metrics.h), besides
// topK_accuracy (k from 2): classifiers' averages and AUC, and R² for regressions.
inline const std::vector<std::string> kHeldOutMetricNames = {
    "precision_macro", "precision_weighted", "recall_macro", "recall_weighted", "f1_macro", "f1_weighted",
    "auc_ovr",         "r2"};
// Whether `metric` (no part) is top<k>_accuracy with k >= 2.
bool isTopKAccuracy(const std::string& metric);
inline const std::vector<std::string> kSweepMethods = {"grid", "random", "tpe"};
// `keep POLICY`: whose trained tensors a run leaves in the store (KeepPolicy, in order).
inline const std::vector<std::string> kKeepPolicies = {"all", "best", "none"};
inline const std::vector<std::string> kTrainKeys = {"model",   "split",  "loss",    "optimizer", "l1",
                                                    "l2",      "batch",  "epochs",  "metrics",   "schedule",
                                                    "init",    "shuffle", "trial_timeout"};

}  // namespace nnspec::sema
