#pragma once
// Loads the data a checked spec names, applies its transforms, and turns each split's
// selections into index lists: what the trainer reads. From IDX files (fashion_mnist,
// idx) only the rows the sweeps' splits read are loaded: the selections are made on the
// labels first, and the split's indices point into the compact part.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "compiler/sema/checked_spec.h"
#include "runtime/data/dataset.h"
#include "runtime/pipeline/labels.h"
#include "runtime/pipeline/transforms.h"
#include "runtime/train/trial.h"

namespace nnspec::driver {

struct SplitViews {
  const rt::Dataset* train_data = nullptr;
  std::vector<int64_t> train;
  const rt::Dataset* val_data = nullptr;
  std::vector<int64_t> val;
  const rt::Dataset* test_data = nullptr;
  std::vector<int64_t> test;
};

// The rows one trial reads, with the transforms fitted to its training rows (standardize
// and what follows it) applied: compact copies of only those rows.
struct FittedData {
  std::vector<rt::Dataset> parts;
  rt::FeatureStats stats;  // what standardize fitted; a kept model carries it
  // Per non-empty view (fit, then val and test when they have rows): its part and indices.
  std::vector<size_t> view_parts;
  std::vector<std::vector<int64_t>> view_indices;
};

// Names of the state tensors a standardized trial's model keeps its statistics in.
inline constexpr const char* kStandardizeMean = rt::kStandardizeMeanTensor;
inline constexpr const char* kStandardizeStddev = rt::kStandardizeStddevTensor;

// The transforms of `data` as the runtime applies them.
rt::DataResult<std::vector<rt::TransformOp>> transformOps(const sema::DataSet& data);

class Materializer {
 public:
  Materializer(const sema::CheckedSpec& spec, rt::DataPaths paths) : spec_(spec), paths_(std::move(paths)) {}

  // The views of split `name`, loading what it needs the first time. On failure the
  // error names the data set or file.
  rt::DataResult<const SplitViews*> split(const std::string& name);

  // For data whose transforms include standardize: fits it on fit's rows and re-points
  // fit, val and test at standardized copies of the rows they read. nullptr when no view
  // reads such data. `key` names the rows (split, folds, fold): trials with one key share
  // one fitting while any of them holds it. Safe to call from several threads once the
  // splits are loaded.
  rt::DataResult<std::shared_ptr<const FittedData>> fitTrial(const std::string& key, rt::DataView& fit,
                                                              rt::DataView& val, rt::DataView& test);

 private:
  // A part loaded with only the rows some split reads: the labels of the whole part (what
  // selections choose from) and, ascending, the positions in it of the rows loaded.
  struct Compacted {
    rt::PartLabels labels;
    std::vector<int64_t> rows;
  };
  using PartRows = std::map<std::string, Compacted>;  // by part name

  rt::DataResult<const rt::Dataset*> part(const std::string& data, const std::string& part);
  rt::DataResult<std::vector<rt::Dataset>> load(const sema::DataSet& data, const PartRows& rows,
                                                std::vector<std::string>* part_names);
  rt::DataResult<std::vector<rt::Dataset>> loadParts(const sema::DataSet& data, const PartRows& rows,
                                                     std::vector<std::string>* part_names);
  PartRows rowsRead(const sema::DataSet& data) const;
  rt::DataResult<rt::PartLabels> labelsOf(const rt::Dataset* data) const;
  // Positions into the whole part -> into the part as loaded.
  rt::DataResult<std::vector<int64_t>> loadedPositions(const rt::Dataset* data, std::vector<int64_t> positions) const;
  const std::vector<rt::TransformOp>* pendingOf(const rt::Dataset* data) const;

  const sema::CheckedSpec& spec_;
  rt::DataPaths paths_;
  std::map<std::string, std::unique_ptr<rt::Dataset>> parts_;  // "data.part"
  std::map<std::string, std::unique_ptr<SplitViews>> splits_;
  // Per loaded part: its data set's name, and the transforms left for each trial to fit
  // (from standardize on; absent when there is none).
  std::map<const rt::Dataset*, std::string> owners_;
  std::map<const rt::Dataset*, std::vector<rt::TransformOp>> pending_;
  std::map<const rt::Dataset*, Compacted> compacted_;  // parts loaded with some rows only
  std::vector<rt::TransformOp> pending_loaded_;  // loadParts -> part()
  std::mutex fitted_mutex_;
  std::map<std::string, std::weak_ptr<const FittedData>> fitted_;
};

}  // namespace nnspec::driver
