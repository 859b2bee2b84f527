#include "compiler/driver/predict.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>

#include "compiler/driver/materialize.h"
#include "runtime/data/idx.h"
#include "runtime/data/sources.h"
#include "runtime/pipeline/transforms.h"

namespace nnspec::driver {
namespace {

Outcome badInput(std::string message, const std::string& hint = "") {
  return Outcome{2, "", "error: " + std::move(message) + "\n" + (hint.empty() ? "" : "hint: " + hint + "\n")};
}

Outcome dataFailure(const rt::DataError& error) {
  return badInput(fmt::format("{}{}", error.path.empty() ? "" : "'" + error.path + "': ", error.message), error.hint);
}

std::string formatShape(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// The labels file beside an IDX images file: t10k-images-idx3-ubyte.gz -> t10k-labels-idx1-ubyte.gz.
std::string labelsBeside(const std::string& images_path) {
  std::filesystem::path path(images_path);
  std::string name = path.filename().string();
  for (const auto& [from, to] : {std::pair{"images", "labels"}, std::pair{"idx3", "idx1"}}) {
    const auto at = name.find(from);
    if (at != std::string::npos) name.replace(at, std::string(from).size(), to);
  }
  const std::filesystem::path labels = path.parent_path() / name;
  return name != path.filename().string() && std::filesystem::exists(labels) ? labels.string() : "";
}

std::vector<std::string> columnNames(const sema::Value& value) {
  std::vector<std::string> out;
  const auto add = [&](const sema::Value& item) {
    out.push_back(item.kind == sema::ValueKind::kInt ? std::to_string(item.asInt()) : item.text);
  };
  if (value.kind != sema::ValueKind::kList) add(value);
  for (const auto& item : value.items) add(item);
  return out;
}

// The samples of `path`, read as the spec's data source reads its files: a CSV with the
// spec's columns, or an IDX images file with its labels file when one lies beside it.
rt::DataResult<rt::Dataset> readSamples(const sema::DataSet& data, const std::string& path) {
  if (data.source == "csv") {
    rt::CsvColumns columns;
    if (data.source_args.has("features")) columns.features = columnNames(data.source_args.at("features"));
    columns.target = columnNames(data.source_args.at("target"))[0];
    columns.target_optional = true;  // new samples to predict need no target column
    return rt::loadCsv(path, columns);
  }
  if (data.source == "synthetic") {
    return rt::DataError{"", fmt::format("data '{}' is synthetic; there is no file format to read", data.name),
                         "predict from the C API (nnspec_model_predict) with your own rows"};
  }
  const std::string labels = labelsBeside(path);
  return labels.empty() ? rt::loadIdxImages(path) : rt::loadIdx(path, labels);
}

// The spec's transforms of `data` applied to the file's samples.
std::optional<rt::DataError> transform(const sema::DataSet& data, rt::Dataset& samples) {
  auto ops = transformOps(data);
  if (!ops.ok()) return ops.error();
  std::vector<rt::TransformOp> applied;
  for (const auto& op : ops.value()) {
    // The model standardizes the rows itself, with its training rows' statistics.
    if (op.kind == rt::TransformKind::kStandardize) continue;
    if (op.kind != rt::TransformKind::kOneHot || samples.target_width > 0) applied.push_back(op);
  }
  return rt::applyTransforms(std::span<rt::Dataset>(&samples, 1), applied, 0, {});
}

// What the file holds fits the model: sample width, class labels, target columns.
std::optional<Outcome> checkFits(const StoredModel& model, const rt::Dataset& samples, const std::string& path) {
  const TrainedModel& trained = model.predictor->model();
  const int64_t features = rt::featuresOf(samples);
  if (features != trained.inputWidth()) {
    return badInput(fmt::format("'{}': its samples have {} values (shape {}); the model takes {} ({})", path, features,
                                formatShape(samples.sample_shape), trained.inputWidth(),
                                formatShape(model.point.config.model.input_shape)),
                    samples.target_width == 0 && model.data->source == "csv"
                        ? fmt::format("the file has no column '{}', so every column was read as a feature; give "
                                      "the columns data '{}' reads",
                                      columnNames(model.data->source_args.at("target"))[0], model.data->name)
                        : fmt::format("give a file of the kind data '{}' reads ({})", model.data->name,
                                      model.data->source));
  }
  const int64_t width = trained.outputWidth();
  if (samples.target_width == 0) return std::nullopt;
  if (trained.classifier() && samples.target_width == 1) {
    const float top = samples.y.empty() ? 0.0f : *std::max_element(samples.y.begin(), samples.y.end());
    if (static_cast<int64_t>(top) >= width) {
      return badInput(fmt::format("'{}': its labels go up to {}; the model has {} classes (0 to {})", path,
                                  static_cast<int64_t>(top), width, width - 1));
    }
    return std::nullopt;
  }
  if (samples.target_width != width) {
    return badInput(
        fmt::format("'{}': its targets have {} columns; the model has {} outputs", path, samples.target_width, width));
  }
  return std::nullopt;
}

struct Scores {
  double accuracy = 0;
  int64_t correct = 0;
  double loss = 0;  // cross-entropy (not of votes) or MSE
  double mae = 0;
};

int64_t labelOf(const rt::Dataset& samples, int64_t row) {
  const float* target = samples.y.data() + row * samples.target_width;
  if (samples.target_width == 1) return static_cast<int64_t>(target[0]);
  return static_cast<int64_t>(std::max_element(target, target + samples.target_width) - target);
}

Scores score(const rt::Dataset& samples, const std::vector<float>& out, const std::vector<int64_t>& classes,
             int64_t width, bool classifier) {
  Scores scores;
  const double rows = static_cast<double>(samples.count);
  for (int64_t row = 0; row < samples.count; ++row) {
    if (classifier) {
      const int64_t label = labelOf(samples, row);
      scores.correct += classes[static_cast<size_t>(row)] == label ? 1 : 0;
      scores.loss -= std::log(std::max(static_cast<double>(out[static_cast<size_t>(row * width + label)]), 1e-30));
      continue;
    }
    double squared = 0;
    double absolute = 0;
    for (int64_t k = 0; k < width; ++k) {
      const double difference = static_cast<double>(out[static_cast<size_t>(row * width + k)]) -
                                samples.y[static_cast<size_t>(row * width + k)];
      squared += difference * difference;
      absolute += std::fabs(difference);
    }
    scores.loss += squared / static_cast<double>(width);
    scores.mae += absolute / static_cast<double>(width);
  }
  scores.accuracy = static_cast<double>(scores.correct) / rows;
  scores.loss /= rows;
  scores.mae /= rows;
  return scores;
}

// One line per sample: [label,] predicted class and probabilities, or outputs.
void writeCsv(std::FILE* file, const rt::Dataset& samples, const std::vector<float>& out,
              const std::vector<int64_t>& classes, int64_t width, bool classifier) {
  const bool labelled = samples.target_width > 0;
  std::string header = labelled ? (classifier ? "label," : "") : "";
  if (classifier) {
    header += "predicted";
    for (int64_t k = 0; k < width; ++k) header += fmt::format(",p{}", k);
  } else {
    for (int64_t k = 0; k < width; ++k) header += fmt::format("{}target{},output{}", k ? "," : "", k, k);
  }
  fmt::print(file, "{}\n", header);
  for (int64_t row = 0; row < samples.count; ++row) {
    std::string line;
    if (classifier) {
      if (labelled) line += fmt::format("{},", labelOf(samples, row));
      line += fmt::format("{}", classes[static_cast<size_t>(row)]);
      for (int64_t k = 0; k < width; ++k) line += fmt::format(",{:.9g}", out[static_cast<size_t>(row * width + k)]);
    } else {
      for (int64_t k = 0; k < width; ++k) {
        const std::string target =
            labelled ? fmt::format("{:.7g}", samples.y[static_cast<size_t>(row * width + k)]) : "";
        line += fmt::format("{}{},{:.7g}", k ? "," : "", target, out[static_cast<size_t>(row * width + k)]);
      }
    }
    fmt::print(file, "{}\n", line);
  }
}

// "accuracy 0.8712 (8712 of 10000), loss 0.3561" and what the run measured.
std::string summary(const StoredModel& model, const rt::Dataset& samples, const Scores& scores,
                    const std::string& path) {
  const TrainedModel& trained = model.predictor->model();
  std::string text = fmt::format("model: {}\n", model.description);
  const bool single = model.predictor->ensemble() == rt::EnsembleKind::kNone;
  if (single) {
    std::string stored;
    for (const char* name : {"test.accuracy", "test.loss", "test.mse"}) {
      const auto it = trained.metrics().find(name);
      if (it != trained.metrics().end())
        stored += fmt::format("{}{} {:.4f}", stored.empty() ? "" : ", ", name, it->second);
    }
    if (!stored.empty()) text += fmt::format("  the run measured {}\n", stored);
  }
  text += fmt::format("{} samples of '{}'", samples.count, path);
  if (samples.target_width == 0) return text + " (no labels or targets beside them)\n";
  if (!trained.classifier()) return text + fmt::format(": mse {:.4f}, mae {:.4f}\n", scores.loss, scores.mae);
  text += fmt::format(": accuracy {:.4f} ({} of {})", scores.accuracy, scores.correct, samples.count);
  if (model.predictor->ensemble() != rt::EnsembleKind::kVote) text += fmt::format(", loss {:.4f}", scores.loss);
  return text + "\n";
}

Outcome predictLoaded(const PredictRequest& request, std::FILE* out) {
  auto loaded = loadStoredModel(request.store_path, request.selector, request.data_paths);
  if (const auto* problem = std::get_if<LoadFailure>(&loaded)) return Outcome{problem->exit_code, "", problem->message};
  StoredModel& model = std::get<StoredModel>(loaded);
  if (model.data == nullptr) return badInput("the model's training split names no data set");
  auto samples = rt::loadWithinMemory<rt::Dataset>(request.data_path, "the samples to predict",
                                                   [&] { return readSamples(*model.data, request.data_path); });
  if (!samples.ok()) return dataFailure(samples.error());
  rt::Dataset& data = samples.value();
  if (auto problem = transform(*model.data, data)) return dataFailure(*problem);
  if (auto problem = checkFits(model, data, request.data_path)) return *problem;
  const TrainedModel& trained = model.predictor->model();
  const int64_t width = trained.outputWidth();
  std::vector<float> outputs(static_cast<size_t>(data.count * width));
  std::vector<int64_t> classes(static_cast<size_t>(data.count));
  const std::string failed = model.predictor->predict(data.x.data(), data.count, outputs.data(), classes.data());
  if (!failed.empty()) return Outcome{3, "", "internal error: " + failed + "\n"};
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, &std::fclose);
  if (!request.out_path.empty()) {
    file.reset(std::fopen(request.out_path.c_str(), "w"));
    if (!file) return badInput(fmt::format("cannot write '{}': {}", request.out_path, std::strerror(errno)));
  }
  writeCsv(file ? file.get() : out, data, outputs, classes, width, trained.classifier());
  const Scores scores = data.target_width > 0 ? score(data, outputs, classes, width, trained.classifier()) : Scores{};
  const std::string text = summary(model, data, scores, request.data_path);
  if (request.out_path.empty()) return Outcome{0, "", text};
  return Outcome{0, text + fmt::format("predictions: {}\n", request.out_path), ""};
}

}  // namespace

Outcome predictFile(const PredictRequest& request, std::FILE* out) {
  try {
    return predictLoaded(request, out);
  } catch (const std::exception& error) {
    return Outcome{3, "", fmt::format("internal error: {} (predict)\n", error.what())};
  }
}

}  // namespace nnspec::driver
