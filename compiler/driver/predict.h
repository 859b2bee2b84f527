#pragma once
// `nnspec predict STORE [--trial N | --best [SWEEP]] --data FILE [-o OUT.csv]`: runs a
// stored model's JIT'd forward pass on the samples of a CSV or IDX(.gz) file, read and
// transformed as the spec's data, and writes per sample the predicted class and class
// probabilities (or the regression outputs) as CSV; with labels or targets in the file,
// prints accuracy and loss (classification) or MSE (regression).

#include <cstdio>
#include <string>

#include "compiler/driver/driver.h"
#include "compiler/driver/stored_model.h"

namespace nnspec::driver {

struct PredictRequest {
  std::string store_path;
  ModelSelector selector;
  std::string data_path;
  std::string out_path;  // "" = the CSV goes to `out`, the summary to Outcome::err
  rt::DataPaths data_paths;
};

// Exit code 0, 2 for bad input (store, trial, data file), 3 for internal errors.
Outcome predictFile(const PredictRequest& request, std::FILE* out);

}  // namespace nnspec::driver
