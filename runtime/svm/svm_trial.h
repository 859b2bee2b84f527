#pragma once
// One trial of an svm model: fits an SvmClassifier on the trial's training part and
// measures it on train, val and test with the metric names a network's trial uses
// (accuracy, error and the held-out classification metrics of runtime/train/metrics.h;
// an svm has no loss and no scores, so no loss, AUC or top-k). The result is a
// TrialResult of one epoch, so that the store, tables and reports take it as they take
// a network's. train.accuracy is the fitted model's on its whole training part (a
// network's is the running mean over its last epoch's batches).

#include <string>
#include <vector>

#include "runtime/svm/svm_classifier.h"
#include "runtime/train/trial.h"

namespace nnspec::rt {

struct SvmTrialSettings {
  SvmParams params;
  int64_t classes = 0;                      // the width of the kept predictions (one-hot rows)
  std::vector<std::string> extra_metrics;   // precision_macro, f1_macro, ... on val and test
  bool keep_test_predictions = false;       // one-hot rows of the predicted classes
  bool keep_val_predictions = false;
  int threads = 1;                          // for predicting (the numbers do not depend on it)
};

TrialResult runSvmTrial(const DataView& fit, const DataView& val, const DataView& test,
                        const SvmTrialSettings& settings);

}  // namespace nnspec::rt
