#pragma once
// Loads the data a checked spec names, applies its transforms, and turns each split's
// selections into index lists: what the trainer reads.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/sema/checked_spec.h"
#include "runtime/data/dataset.h"
#include "runtime/pipeline/transforms.h"

namespace nnspec::driver {

struct SplitViews {
  const rt::Dataset* train_data = nullptr;
  std::vector<int64_t> train;
  const rt::Dataset* val_data = nullptr;
  std::vector<int64_t> val;
  const rt::Dataset* test_data = nullptr;
  std::vector<int64_t> test;
};

// The transforms of `data` (scale, shift, reshape, one_hot) as the runtime applies them;
// an error for one `run` does not support.
rt::DataResult<std::vector<rt::TransformOp>> transformOps(const sema::DataSet& data);

class Materializer {
 public:
  Materializer(const sema::CheckedSpec& spec, rt::DataPaths paths) : spec_(spec), paths_(std::move(paths)) {}

  // The views of split `name`, loading what it needs the first time. On failure the
  // error names the data set or file.
  rt::DataResult<const SplitViews*> split(const std::string& name);

 private:
  rt::DataResult<const rt::Dataset*> part(const std::string& data, const std::string& part);
  rt::DataResult<std::vector<rt::Dataset>> load(const sema::DataSet& data, std::vector<std::string>* part_names);
  rt::DataResult<std::vector<rt::Dataset>> loadParts(const sema::DataSet& data, std::vector<std::string>* part_names);

  const sema::CheckedSpec& spec_;
  rt::DataPaths paths_;
  std::map<std::string, std::unique_ptr<rt::Dataset>> parts_;  // "data.part"
  std::map<std::string, std::unique_ptr<SplitViews>> splits_;
};

}  // namespace nnspec::driver
