#include "compiler/driver/report_outputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "compiler/pipeline/pipeline.h"
#include "runtime/data/dataset.h"
#include "runtime/exec/step_runner.h"
#include "runtime/pipeline/transforms.h"
#include "runtime/report/outputs.h"

namespace nnspec::driver {
namespace {

namespace outputs = rt::outputs;

// Fashion-MNIST's labels, as its README names them.
const std::vector<std::string> kFashionClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
constexpr int64_t kMaxWeightUnits = 100;  // rows of a dense layer's weights kept for images
constexpr int64_t kHistogramBins = 30;
constexpr int64_t kFeatureMapSamples = 4;

const rt::KeptParameter* findParameter(const rt::TrialResult& result, const std::string& name) {
  for (const auto& parameter : result.parameters) {
    if (parameter.name == name) return &parameter;
  }
  return nullptr;
}

rt::TrialOutput outputOf(std::string name, int64_t rows, int64_t width, std::vector<float> values) {
  return rt::TrialOutput{std::move(name), rows, width, std::move(values)};
}

int64_t labelOf(const rt::Dataset& data, int64_t index) {
  return static_cast<int64_t>(data.y[static_cast<size_t>(index * data.target_width)]);
}

int64_t argmax(const float* row, int64_t width) { return static_cast<int64_t>(std::max_element(row, row + width) - row); }

// Softmax probability of class `k` from logits.
double probability(const float* row, int64_t width, int64_t k) {
  const double top = *std::max_element(row, row + width);
  double sum = 0;
  for (int64_t c = 0; c < width; ++c) sum += std::exp(static_cast<double>(row[c]) - top);
  return std::exp(static_cast<double>(row[k]) - top) / sum;
}

// The outputs of conv layer `layer` (after its activation) on `samples` rows of `x`
// ([samples, features]), by the model's own compiled forward pass: the pipeline lowers it
// with that output as a tap, which nnspec_forward copies out. Empty when it cannot run.
std::vector<float> convOutputs(const sema::TrainConfig& config, const rt::TrialResult& result, jit::JitCompiler& jit,
                               int layer, const std::vector<float>& x, int64_t samples) {
  pipeline::Options options;
  options.jit = &jit;
  options.lower.conv_outputs = {layer};
  auto passes = pipeline::runPasses(config, samples, options);
  if (!std::holds_alternative<pipeline::Artifacts>(passes)) return {};
  const pipeline::Artifacts& artifacts = std::get<pipeline::Artifacts>(passes);
  rt::StepRunner runner(artifacts.compiled);
  for (const auto& parameter : result.parameters) runner.parameter(parameter.name) = parameter.values;
  for (const auto& state : result.states) runner.state(state.name) = state.values;
  for (const auto& [name, value] : artifacts.step.hyper_values) runner.setHyperparam(name, value);
  std::vector<std::vector<float>> buffers;  // labels or targets: zeros (int32 0 and float 0 share bits)
  std::vector<const void*> inputs;
  for (const auto& slot : runner.layout().inputs) {
    buffers.push_back(slot.name == "x" ? x : std::vector<float>(static_cast<size_t>(slot.type.numElements()), 0.0f));
    if (static_cast<int64_t>(buffers.back().size()) != slot.type.numElements()) return {};
  }
  for (const auto& buffer : buffers) inputs.push_back(buffer.data());
  if (runner.forward(inputs).status != kNnspecOk) return {};
  return runner.exported(fmt::format("conv{}.output", layer));
}

void addConfusion(std::vector<rt::TrialOutput>& out, const std::string& split, const rt::DataView& view,
                  const std::vector<float>& predictions, int64_t width) {
  if (view.empty() || predictions.size() != view.indices.size() * static_cast<size_t>(width)) return;
  std::vector<float> counts(static_cast<size_t>(width * width), 0.0f);
  for (size_t sample = 0; sample < view.indices.size(); ++sample) {
    const int64_t truth = labelOf(*view.data, view.indices[sample]);
    const int64_t predicted = argmax(predictions.data() + sample * width, width);
    if (truth >= 0 && truth < width) counts[static_cast<size_t>(truth * width + predicted)] += 1;
  }
  out.push_back(outputOf(outputs::confusion(split), width, width, std::move(counts)));
}

void addMisclassified(std::vector<rt::TrialOutput>& out, const std::string& split, const rt::DataView& view,
                      const std::vector<float>& predictions, int64_t width, int64_t count) {
  if (view.empty() || predictions.size() != view.indices.size() * static_cast<size_t>(width)) return;
  struct Mistake {
    size_t position;
    int64_t truth;
    int64_t predicted;
    double confidence;
  };
  std::vector<Mistake> mistakes;
  for (size_t sample = 0; sample < view.indices.size(); ++sample) {
    const float* row = predictions.data() + sample * width;
    const int64_t truth = labelOf(*view.data, view.indices[sample]);
    const int64_t predicted = argmax(row, width);
    if (predicted != truth) mistakes.push_back({sample, truth, predicted, probability(row, width, predicted)});
  }
  // The most confident mistakes first; ties in sample order.
  std::stable_sort(mistakes.begin(), mistakes.end(),
                   [](const Mistake& a, const Mistake& b) { return a.confidence > b.confidence; });
  if (static_cast<int64_t>(mistakes.size()) > count) mistakes.resize(static_cast<size_t>(count));
  const int64_t features = rt::featuresOf(*view.data);
  std::vector<float> images;
  std::vector<float> labels;
  for (const auto& mistake : mistakes) {
    images.resize(images.size() + static_cast<size_t>(features));
    rt::copyInputValues(*view.data, view.indices[mistake.position] * features, features,
                        images.data() + images.size() - static_cast<size_t>(features));
    labels.insert(labels.end(), {static_cast<float>(mistake.position), static_cast<float>(mistake.truth),
                                 static_cast<float>(mistake.predicted), static_cast<float>(mistake.confidence)});
  }
  const auto rows = static_cast<int64_t>(mistakes.size());
  out.push_back(outputOf(outputs::misclassifiedImages(split), rows, features, std::move(images)));
  out.push_back(outputOf(outputs::misclassifiedLabels(split), rows, 4, std::move(labels)));
}

void addDenseWeights(std::vector<rt::TrialOutput>& out, const rt::TrialResult& result, int layer) {
  const auto* kernel = findParameter(result, fmt::format("dense{}.kernel", layer));
  if (kernel == nullptr || kernel->shape.size() != 2) return;
  const int64_t inputs = kernel->shape[0];
  const int64_t units = std::min(kernel->shape[1], kMaxWeightUnits);
  std::vector<float> rows(static_cast<size_t>(units * inputs));
  for (int64_t unit = 0; unit < units; ++unit) {
    for (int64_t input = 0; input < inputs; ++input) {
      rows[static_cast<size_t>(unit * inputs + input)] = kernel->values[static_cast<size_t>(input * kernel->shape[1] + unit)];
    }
  }
  out.push_back(outputOf(outputs::denseWeights(layer), units, inputs, std::move(rows)));
}

void addConvFilters(std::vector<rt::TrialOutput>& out, const rt::TrialResult& result, int layer) {
  const auto* kernel = findParameter(result, fmt::format("conv{}.kernel", layer));
  if (kernel == nullptr || kernel->shape.size() != 4) return;
  const int64_t taps = kernel->shape[0] * kernel->shape[1] * kernel->shape[2];  // kh * kw * in_channels
  const int64_t filters = kernel->shape[3];
  std::vector<float> rows(static_cast<size_t>(filters * taps));
  for (int64_t filter = 0; filter < filters; ++filter) {
    for (int64_t tap = 0; tap < taps; ++tap) {
      rows[static_cast<size_t>(filter * taps + tap)] = kernel->values[static_cast<size_t>(tap * filters + filter)];
    }
  }
  out.push_back(outputOf(outputs::convFilters(layer), filters, taps, std::move(rows)));
  out.push_back(outputOf(outputs::convFiltersShape(layer), 1, 3,
                         {static_cast<float>(kernel->shape[0]), static_cast<float>(kernel->shape[1]),
                          static_cast<float>(kernel->shape[2])}));
}

void addFeatureMaps(std::vector<rt::TrialOutput>& out, const sema::TrainConfig& config, const rt::TrialResult& result,
                    jit::JitCompiler& jit, const rt::DataView& view, int layer, int64_t channels) {
  if (view.empty()) return;
  const int64_t features = rt::featuresOf(*view.data);
  const int64_t samples = std::min<int64_t>(kFeatureMapSamples, static_cast<int64_t>(view.indices.size()));
  const sema::LayerInstance* conv = nullptr;
  int conv_index = 0;
  for (const auto& candidate : config.model.layers) {
    if (candidate.kind == "conv2d" && ++conv_index == layer) conv = &candidate;
  }
  if (conv == nullptr) return;
  const int64_t height = conv->output_shape[0];
  const int64_t width = conv->output_shape[1];
  const int64_t filters = conv->output_shape[2];
  const int64_t shown = std::min(channels, filters);
  std::vector<float> inputs;
  inputs.resize(static_cast<size_t>(samples * features));
  for (int64_t sample = 0; sample < samples; ++sample) {
    rt::copyInputValues(*view.data, view.indices[static_cast<size_t>(sample)] * features, features,
                        inputs.data() + sample * features);
  }
  const std::vector<float> output = convOutputs(config, result, jit, layer, inputs, samples);
  if (output.size() != static_cast<size_t>(samples * height * width * filters)) return;
  std::vector<float> maps;
  for (int64_t sample = 0; sample < samples; ++sample) {
    const float* image = output.data() + sample * height * width * filters;
    for (int64_t channel = 0; channel < shown; ++channel) {
      for (int64_t pixel = 0; pixel < height * width; ++pixel) maps.push_back(image[pixel * filters + channel]);
    }
  }
  out.push_back(outputOf(outputs::featureMaps(layer), samples * shown, height * width, std::move(maps)));
  out.push_back(outputOf(outputs::featureMapsShape(layer), 1, 4,
                         {static_cast<float>(samples), static_cast<float>(shown), static_cast<float>(height),
                          static_cast<float>(width)}));
  out.push_back(outputOf(outputs::featureMapsInputs(layer), samples, features, std::move(inputs)));
}

void addHistograms(std::vector<rt::TrialOutput>& out, const rt::TrialResult& result) {
  for (const auto& parameter : result.parameters) {
    if (parameter.values.empty() || parameter.name.size() < 7 ||
        parameter.name.compare(parameter.name.size() - 7, 7, ".kernel") != 0) {
      continue;
    }
    const auto [lo_it, hi_it] = std::minmax_element(parameter.values.begin(), parameter.values.end());
    const double lo = *lo_it;
    const double hi = *hi_it > *lo_it ? *hi_it : *lo_it + 1e-6;
    const double step = (hi - lo) / kHistogramBins;
    std::vector<float> bins(static_cast<size_t>(kHistogramBins * 3), 0.0f);
    for (int64_t bin = 0; bin < kHistogramBins; ++bin) {
      bins[static_cast<size_t>(bin * 3)] = static_cast<float>(lo + step * static_cast<double>(bin));
      bins[static_cast<size_t>(bin * 3 + 1)] = static_cast<float>(lo + step * static_cast<double>(bin + 1));
    }
    for (float value : parameter.values) {
      const auto bin = std::clamp<int64_t>(static_cast<int64_t>((value - lo) / step), 0, kHistogramBins - 1);
      bins[static_cast<size_t>(bin * 3 + 2)] += 1;
    }
    out.push_back(outputOf(outputs::histogram(parameter.name), kHistogramBins, 3, std::move(bins)));
  }
}

}  // namespace

bool ReportNeeds::predictionsOn(const std::string& split) const {
  return confusion_on.count(split) != 0 || (misclassified > 0 && misclassified_on == split);
}

ReportNeeds reportNeeds(const sema::CheckedSpec& spec) {
  ReportNeeds needs;
  for (const auto& item : spec.reports) {
    if (item.name == "confusion") {
      needs.confusion_on.insert(item.args.text("on"));
    } else if (item.name == "misclassified") {
      needs.misclassified = std::max(needs.misclassified, item.args.integer("n"));
      needs.misclassified_on = item.args.text("on");
    } else if (item.name == "weights") {
      needs.dense_weights.push_back(static_cast<int>(item.args.integer("layer")));
    } else if (item.name == "filters") {
      needs.conv_filters.push_back(static_cast<int>(item.args.integer("layer")));
    } else if (item.name == "feature_maps") {
      needs.feature_maps.emplace_back(static_cast<int>(item.args.integer("layer")), item.args.integer("n"));
    } else if (item.name == "histograms") {
      needs.histograms = true;
    }
  }
  return needs;
}

namespace {

// Whether metric `name` (split-qualified, or bare for every split) is one of `split`'s.
bool metricOfSplit(const std::string& name, const std::string& split) {
  if (name.find('.') == std::string::npos) return true;
  return name.rfind(split + ".", 0) == 0;
}

}  // namespace

bool evaluatedEachEpoch(const sema::CheckedSpec& spec, const sema::SweepPlan& plan, const sema::TrainConfig& config,
                        const std::string& split) {
  if (config.stop && metricOfSplit(config.stop->metric, split)) return true;
  if (!plan.pruner.empty() && metricOfSplit(plan.select_metric, split)) return true;
  // A trial that times out keeps its finished epochs: they carry the objective.
  if (config.trial_timeout_seconds > 0 && metricOfSplit(plan.select_metric, split)) return true;
  for (const auto& item : spec.reports) {
    if (item.name != "curves") continue;
    const sema::Value& y = item.args.at("y");
    if (y.kind == sema::ValueKind::kList) {
      for (const auto& entry : y.items)
        if (metricOfSplit(entry.text, split)) return true;
    } else if (metricOfSplit(y.text, split)) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> classNames(const sema::CheckedSpec& spec, const std::string& split_name) {
  const sema::Split* split = spec.findSplit(split_name);
  if (split == nullptr || split->num_classes <= 0) return {};
  std::string source;
  if (split->train) {
    if (const sema::DataSet* data = spec.findData(split->train->data)) source = data->source;
  }
  if (source == "fashion_mnist" && split->num_classes == static_cast<int64_t>(kFashionClasses.size())) return kFashionClasses;
  std::vector<std::string> names;
  for (int64_t k = 0; k < split->num_classes; ++k) names.push_back(std::to_string(k));
  return names;
}

rt::StudyInfo studyInfo(const sema::CheckedSpec& spec, const std::string& spec_path, const std::string& spec_text,
                        const std::vector<Override>& overrides) {
  rt::StudyInfo info;
  info.spec_path = spec_path;
  info.spec_text = spec_text;
  for (const auto& override : overrides) info.overrides.push_back(override.name + "=" + override.value);
  for (const auto& item : spec.reports) {
    rt::ReportItemRow row{item.name, {}};
    for (const auto& [name, value] : item.args.values) row.args.push_back({name, sema::formatValue(value)});
    info.report.push_back(std::move(row));
  }
  for (const auto& plan : spec.sweeps) {
    rt::SweepRow row;
    row.name = plan.name;
    row.method = plan.method;
    row.axes = plan.axes;
    row.objective = plan.select_metric;
    row.maximize = plan.maximize;
    row.folds = plan.folds;
    row.replicates = plan.replicates;
    row.trials = plan.trials() + (plan.refit ? 1 : 0);
    if (!plan.checked.empty()) {
      row.model = plan.checked[0].config.model.name;
      row.class_names = classNames(spec, plan.checked[0].config.split);
    }
    info.sweeps.push_back(std::move(row));
  }
  return info;
}

std::vector<rt::TrialOutput> reportOutputs(const ReportNeeds& needs, const sema::TrainConfig& config,
                                           jit::JitCompiler& jit, const rt::TrialResult& result,
                                           const rt::DataView& val, const rt::DataView& test, int64_t output_width,
                                           bool figures) {
  const sema::ModelInstance& model = config.model;
  std::vector<rt::TrialOutput> out;
  for (const auto& split : needs.confusion_on) {
    addConfusion(out, split, split == "val" ? val : test, split == "val" ? result.val_predictions : result.test_predictions,
                 output_width);
  }
  if (!figures) return out;
  const bool val_misclassified = needs.misclassified_on == "val";
  if (needs.misclassified > 0) {
    addMisclassified(out, needs.misclassified_on, val_misclassified ? val : test,
                     val_misclassified ? result.val_predictions : result.test_predictions, output_width,
                     needs.misclassified);
  }
  for (int layer : needs.dense_weights) addDenseWeights(out, result, layer);
  for (int layer : needs.conv_filters) addConvFilters(out, result, layer);
  for (const auto& [layer, channels] : needs.feature_maps) {
    addFeatureMaps(out, config, result, jit, test.empty() ? val : test, layer, channels);
  }
  if (needs.histograms) addHistograms(out, result);
  if (needs.misclassified > 0 || !needs.dense_weights.empty() || !needs.feature_maps.empty()) {
    std::vector<float> shape;
    for (int64_t dim : model.input_shape) shape.push_back(static_cast<float>(dim));
    const auto rank = static_cast<int64_t>(shape.size());
    out.push_back(outputOf(outputs::kSampleShape, 1, rank, std::move(shape)));
  }
  return out;
}

}  // namespace nnspec::driver
