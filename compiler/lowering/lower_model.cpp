#include "compiler/lowering/lower_model.h"

#include <algorithm>

#include <fmt/format.h>

#include "compiler/sema/shapes.h"

namespace nnspec::lowering {
namespace {

Unsupported unsupported(SourceRange range, std::string message) { return {range, std::move(message)}; }

rt::InitKind initKind(const std::string& name) {
  if (name == "he_normal") return rt::InitKind::kHeNormal;
  if (name == "he_uniform") return rt::InitKind::kHeUniform;
  return rt::InitKind::kGlorotUniform;
}

// Applies an activation to `value`; returns false for one the op set lacks here.
bool applyActivation(ir::Graph& graph, const std::string& activation, float alpha, ir::ValueId& value) {
  if (activation == "linear") return true;
  if (activation == "relu") value = graph.unary(ir::OpKind::Relu, value);
  else if (activation == "sigmoid") value = graph.unary(ir::OpKind::Sigmoid, value);
  else if (activation == "tanh") value = graph.unary(ir::OpKind::Tanh, value);
  else if (activation == "leaky_relu") value = graph.unary(ir::OpKind::LeakyRelu, value, alpha);
  else if (activation == "elu") value = graph.unary(ir::OpKind::Elu, value, alpha);
  else if (activation == "softmax") value = graph.softmax(value);  // over the last axis
  else return false;
  return true;
}

}  // namespace

NnspecOptimizerParams OptimizerValues::abi() const {
  NnspecOptimizerParams params{};
  params.lr = lr;
  params.momentum = momentum;
  params.beta1 = beta1;
  params.beta2 = beta2;
  params.eps = eps;
  params.weight_decay = weight_decay;
  params.nesterov = nesterov ? 1 : 0;
  params.step = 0;
  params.alpha = alpha;
  params.decoupled = decoupled ? 1 : 0;
  return params;
}

std::variant<LoweredStep, Unsupported> lowerModel(const sema::TrainConfig& config, int64_t batch,
                                                  const LowerOptions& options) {
  if (config.model.isSvm()) {
    return unsupported({}, fmt::format("model '{}' is an svm: libsvm fits it, so it has no graph to compile or export",
                                       config.model.name));
  }
  LoweredStep out;
  out.batch = batch;
  out.features = sema::shapeElements(config.model.input_shape);
  out.classification = config.loss == "cross_entropy";
  ir::Graph graph;
  ir::ValueId value = graph.input("x", ir::f32({batch, out.features}));
  std::vector<transforms::Penalty>& penalties = out.penalties;
  // Samples arrive flat; image models see them as [batch, height, width, channels]
  // (row-major, channels last, as the data is stored).
  sema::Shape shape = config.model.input_shape;
  if (shape.size() == 3) value = graph.reshape(value, {batch, shape[0], shape[1], shape[2]});
  int64_t width = shape.size() == 1 ? shape[0] : out.features;
  const auto& layers = config.model.layers;
  int dense_index = 0;
  int conv_index = 0;
  int dropout_index = 0;
  int batchnorm_index = 0;
  std::vector<std::pair<std::string, ir::ValueId>>& exports = out.exports;
  auto addPenalties = [&](ir::ValueId weight, const sema::LayerInstance& layer, const std::string& prefix) {
    for (const char* kind : {"l1", "l2"}) {
      const double factor = layer.args.number(kind);
      if (factor <= 0) continue;
      const std::string name = fmt::format("{}.{}", prefix, kind);
      penalties.push_back({weight, std::string(kind) == "l1" ? transforms::PenaltyKind::L1 : transforms::PenaltyKind::L2,
                           name});
      out.hyper_values.emplace_back(name, static_cast<float>(factor));
    }
  };
  auto pairOf = [](const sema::Value& value) -> std::pair<int64_t, int64_t> {
    if (value.kind == sema::ValueKind::kList) return {value.items[0].asInt(), value.items[1].asInt()};
    return {value.asInt(), value.asInt()};
  };
  auto windowOf = [&](const sema::LayerInstance& layer, const char* size_key) {
    const auto [rows, cols] = pairOf(layer.args.at(size_key));
    const auto [stride_rows, stride_cols] = pairOf(layer.args.at("stride"));
    ir::Window window;
    window.height = rows;
    window.width = cols;
    window.stride_h = stride_rows;
    window.stride_w = stride_cols;
    window.padding = layer.args.text("padding") == "same" ? ir::Padding::Same : ir::Padding::Valid;
    return window;
  };
  for (size_t k = 0; k < layers.size(); ++k) {
    const sema::LayerInstance& layer = layers[k];
    const bool last = k + 1 == layers.size();
    if (layer.kind == "flatten" || layer.kind == "reshape") {
      const sema::Shape& to = layer.output_shape;
      std::vector<int64_t> target = {batch};
      target.insert(target.end(), to.begin(), to.end());
      if (graph.type(value).shape != target) value = graph.reshape(value, target);
      width = to.size() == 1 ? to[0] : width;
      continue;
    }
    if (layer.kind == "conv2d") {
      ++conv_index;
      const auto [rows, cols] = pairOf(layer.args.at("kernel"));
      const int64_t channels = layer.input_shape[2];
      const int64_t filters = layer.args.integer("filters");
      const std::string w_name = fmt::format("conv{}.kernel", conv_index);
      const ir::ValueId w = graph.parameter(w_name, {rows, cols, channels, filters});
      // Keras' fans for a convolution kernel.
      out.inits.push_back({w_name, initKind(layer.args.text("init")), rows * cols * channels, rows * cols * filters,
                           rows * cols * channels * filters});
      value = graph.conv2d(value, w, windowOf(layer, "kernel"));
      if (layer.args.at("bias").boolean) {
        const std::string b_name = fmt::format("conv{}.bias", conv_index);
        const ir::ValueId b = graph.parameter(b_name, {filters});
        out.inits.push_back({b_name, rt::InitKind::kZeros, rows * cols * channels, filters, filters});
        value = graph.add(value, b);
      }
      addPenalties(w, layer, fmt::format("conv{}", conv_index));
      if (!applyActivation(graph, layer.activation, static_cast<float>(layer.activation_alpha), value)) {
        return unsupported(layer.range, fmt::format("activation '{}' is not supported after conv2d", layer.activation));
      }
      const auto& taps = options.conv_outputs;
      if (std::find(taps.begin(), taps.end(), conv_index) != taps.end()) {
        out.taps.emplace_back(fmt::format("conv{}.output", conv_index), value);
      }
      continue;
    }
    if (layer.kind == "maxpool" || layer.kind == "avgpool") {
      const ir::Window window = windowOf(layer, "size");
      value = layer.kind == "maxpool" ? graph.maxPool(value, window) : graph.avgPool(value, window);
      continue;
    }
    if (layer.kind == "dropout") {
      // Each dropout layer draws its own mask (stream), so two layers never drop alike.
      ++dropout_index;
      const double rate = layer.args.number("rate");
      if (rate > 0) value = graph.dropout(value, static_cast<float>(rate), dropout_index);
      continue;
    }
    if (layer.kind == "batchnorm") {
      // Over the last axis (channels), statistics over every other axis (Keras' axis=-1).
      ++batchnorm_index;
      const std::string prefix = fmt::format("batchnorm{}", batchnorm_index);
      const ir::Shape full = graph.type(value).shape;
      const int64_t channels = full.back();
      const int64_t rows = graph.type(value).numElements() / channels;
      const ir::ValueId x = full.size() == 2 ? value : graph.reshape(value, {rows, channels});
      const ir::ValueId gamma = graph.parameter(prefix + ".gamma", {channels});
      const ir::ValueId beta = graph.parameter(prefix + ".beta", {channels});
      out.inits.push_back({prefix + ".gamma", rt::InitKind::kOnes, channels, channels, channels});
      out.inits.push_back({prefix + ".beta", rt::InitKind::kZeros, channels, channels, channels});
      const ir::ValueId moving_mean = graph.state(prefix + ".moving_mean", {channels});
      const ir::ValueId moving_variance = graph.state(prefix + ".moving_variance", {channels});
      const ir::ValueId epsilon = graph.constant(static_cast<float>(layer.args.number("epsilon")));
      // Training: the batch's mean and (biased) variance.
      const ir::ValueId mean = graph.reduceMean(x, 0);
      const ir::ValueId centered = graph.sub(x, mean);
      const ir::ValueId variance = graph.reduceMean(graph.mul(centered, centered), 0);
      const ir::ValueId batch_hat = graph.div(centered, graph.unary(ir::OpKind::Sqrt, graph.add(variance, epsilon)));
      // Evaluation: the moving statistics.
      const ir::ValueId moving_hat = graph.div(graph.sub(x, moving_mean),
                                               graph.unary(ir::OpKind::Sqrt, graph.add(moving_variance, epsilon)));
      ir::ValueId normalized = graph.add(graph.mul(graph.trainSelect(batch_hat, moving_hat), gamma), beta);
      if (full.size() != 2) normalized = graph.reshape(normalized, full);
      value = normalized;
      exports.emplace_back(prefix + ".batch_mean", mean);
      exports.emplace_back(prefix + ".batch_variance", variance);
      out.moving_stats.push_back({prefix + ".moving_mean", prefix + ".moving_variance", prefix + ".batch_mean",
                                  prefix + ".batch_variance", layer.args.number("momentum")});
      continue;
    }
    if (layer.kind == "zeropad") {
      const auto [rows, cols] = pairOf(layer.args.at("padding"));
      value = graph.pad2d(value, ir::Pads{rows, rows, cols, cols});
      continue;
    }
    if (layer.kind == "dense") {
      ++dense_index;
      const int64_t units = layer.args.integer("units");
      const std::string w_name = fmt::format("dense{}.kernel", dense_index);
      const std::string b_name = fmt::format("dense{}.bias", dense_index);
      const ir::ValueId w = graph.parameter(w_name, {width, units});
      out.inits.push_back({w_name, initKind(layer.args.text("init")), width, units, width * units});
      value = graph.matmul(value, w);
      if (layer.args.at("bias").boolean) {
        const ir::ValueId b = graph.parameter(b_name, {units});
        out.inits.push_back({b_name, rt::InitKind::kZeros, width, units, units});
        value = graph.add(value, b);
      }
      addPenalties(w, layer, fmt::format("dense{}", dense_index));
      width = units;
      // A final softmax under cross-entropy is folded into the loss (logits in, as Keras
      // does for from_logits=False with a softmax output); anywhere else it is an op.
      if (last && layer.activation == "softmax" && out.classification) continue;
      if (!applyActivation(graph, layer.activation, static_cast<float>(layer.activation_alpha), value)) {
        return unsupported(layer.range, fmt::format("activation '{}' is not supported after dense", layer.activation));
      }
      continue;
    }
    if (layer.kind == "relu" || layer.kind == "sigmoid" || layer.kind == "tanh" || layer.kind == "leaky_relu" ||
        layer.kind == "elu" || layer.kind == "linear" || layer.kind == "softmax") {
      if (last && layer.kind == "softmax" && out.classification) continue;
      if (!applyActivation(graph, layer.activation, static_cast<float>(layer.activation_alpha), value)) {
        return unsupported(layer.range, fmt::format("a standalone '{}' layer is not supported by this back-end yet",
                                                    layer.kind));
      }
      continue;
    }
    return unsupported(layer.range, fmt::format("layer '{}' is not supported by this back-end yet", layer.kind));
  }
  out.output_width = width;
  out.prediction = value;
  ir::ValueId loss = 0;
  if (out.classification) {
    const ir::ValueId labels = graph.input("labels", ir::i32({batch}));
    loss = graph.softmaxCrossEntropy(value, labels);
  } else {
    const ir::ValueId targets = graph.input("targets", ir::f32({batch, width}));
    loss = graph.mse(value, targets);
  }
  const sema::BoundArgs& opt = config.optimizer_args;
  if (config.optimizer == "sgd") {
    out.config.optimizer = codegen::OptimizerKind::Sgd;
    out.optimizer.momentum = static_cast<float>(opt.number("momentum"));
    out.optimizer.nesterov = opt.at("nesterov").boolean;
  } else if (config.optimizer == "adam") {
    out.optimizer.decoupled = opt.at("decoupled").boolean;
    out.config.optimizer = codegen::OptimizerKind::Adam;
    out.optimizer.beta1 = static_cast<float>(opt.number("beta1"));
    out.optimizer.beta2 = static_cast<float>(opt.number("beta2"));
    out.optimizer.eps = static_cast<float>(opt.number("eps"));
  } else if (config.optimizer == "rmsprop") {
    out.config.optimizer = codegen::OptimizerKind::RmsProp;
    out.optimizer.alpha = static_cast<float>(opt.number("alpha"));
    out.optimizer.eps = static_cast<float>(opt.number("eps"));
    out.optimizer.momentum = static_cast<float>(opt.number("momentum"));
  } else if (config.optimizer == "adagrad") {
    out.config.optimizer = codegen::OptimizerKind::Adagrad;
    out.optimizer.eps = static_cast<float>(opt.number("eps"));
  } else {
    return unsupported(config.optimizer_range,
                       fmt::format("optimizer '{}' is not supported by this back-end yet (sgd, adam, rmsprop and "
                                   "adagrad are)",
                                   config.optimizer));
  }
  out.optimizer.lr = static_cast<float>(opt.number("lr"));
  out.optimizer.weight_decay = static_cast<float>(opt.number("weight_decay"));
  // Schedules set the learning rate per epoch, as PyTorch's schedulers stepped once an epoch.
  const sema::BoundArgs& schedule = config.schedule_args;
  if (config.schedule == "step") {
    out.schedule.kind = rt::LrSchedule::Kind::kStep;
    out.schedule.every = schedule.integer("every");
    out.schedule.gamma = schedule.number("gamma");
  } else if (config.schedule == "exponential") {
    out.schedule.kind = rt::LrSchedule::Kind::kExponential;
    out.schedule.gamma = schedule.number("gamma");
  } else if (config.schedule == "cosine") {
    out.schedule.kind = rt::LrSchedule::Kind::kCosine;
    out.schedule.min_lr = schedule.number("min_lr");
  } else if (config.schedule != "constant") {
    return unsupported(config.schedule_range,
                       fmt::format("learning-rate schedule '{}' is not supported yet", config.schedule));
  }
  out.loss = loss;
  out.forward = std::move(graph);
  return out;
}

}  // namespace nnspec::lowering
