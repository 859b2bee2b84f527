#include "compiler/sema/shapes.h"

#include <limits>
#include <map>

#include <fmt/format.h>

#include "compiler/sema/limits.h"

namespace nnspec::sema {
namespace {

struct Pair {
  int64_t rows = 1;
  int64_t cols = 1;
};

Pair pairOf(const Value& value) {
  if (value.kind == ValueKind::kList) return {value.items[0].asInt(), value.items[1].asInt()};
  return {value.asInt(), value.asInt()};
}

std::string formatPair(Pair pair) { return fmt::format("{}x{}", pair.rows, pair.cols); }

std::string shapeList(const Shape& shape) {
  std::string out = "[";
  for (size_t k = 0; k < shape.size(); ++k) out += (k ? ", " : "") + std::to_string(shape[k]);
  return out + "]";
}

class ModelBuilder {
 public:
  ModelBuilder(const ast::ModelStmt& model, const NameLookup& params, const ModelDefaults& defaults,
               const Catalog& catalog, DiagnosticEngine& diagnostics)
      : model_(model), params_(params), defaults_(defaults), catalog_(catalog), diagnostics_(diagnostics) {}

  std::optional<ModelInstance> run(const Shape& data_shape) {
    instance_.name = model_.name.name;
    instance_.input_shape = data_shape;
    shape_ = data_shape;
    if (shapeElements(data_shape) > kMaxTensorValues) {
      diagnostics_.error(model_.name.range,
                         fmt::format("the samples of model '{}' have more than {} values ({})", model_.name.name,
                                     kMaxTensorValues, formatBatchShape(data_shape)),
                         "reshape or select fewer features");
      return std::nullopt;
    }
    for (size_t k = 0; k < model_.layers.size() && ok_; ++k) {
      const auto& layer = model_.layers[k];
      if (layer.kind == ast::LayerKind::kInput) {
        if (k != 0) {
          error(layer.range, "'input' must be the first line of a model", "");
          continue;
        }
        checkInput(layer, data_shape);
        continue;
      }
      walk(layer);
    }
    if (!ok_) return std::nullopt;
    if (instance_.layers.empty()) {
      diagnostics_.error(model_.name.range, fmt::format("model '{}' has no layers", model_.name.name),
                         "add layers such as dense(10)");
      return std::nullopt;
    }
    return std::move(instance_);
  }

 private:
  void error(SourceRange range, std::string message, std::string hint) {
    diagnostics_.error(range, std::move(message), std::move(hint));
    ok_ = false;
  }

  NameLookup lookup() const {
    return [this](const ast::Ident& name, SourceRange use) -> std::optional<Value> {
      for (auto it = loop_vars_.rbegin(); it != loop_vars_.rend(); ++it) {
        if (it->first == name.name) {
          Value value = it->second;
          return value;
        }
      }
      return params_(name, use);
    };
  }

  void checkInput(const ast::LayerStmt& layer, const Shape& data_shape) {
    auto value = evaluate(*layer.expr, lookup(), diagnostics_);
    if (!value) {
      ok_ = false;
      return;
    }
    const ArgType shape_type = ArgType::shape(kMaxShapeExtent);
    if (!valueMatches(*value, shape_type)) {
      reportMismatch(diagnostics_, *value, shape_type, "the model input", layer.expr->range);
      ok_ = false;
      return;
    }
    Shape declared;
    for (const auto& item : value->items) declared.push_back(item.asInt());
    if (declared != data_shape) {
      const bool same_size = shapeElements(declared) == shapeElements(data_shape);
      error(layer.expr->range,
            fmt::format("model input {} does not match the data, whose samples are {}", shapeList(declared),
                        shapeList(data_shape)),
            same_size ? fmt::format("add `reshape({})` to the data's transforms, or write `input {}`",
                                    shapeList(declared), shapeList(data_shape))
                      : fmt::format("write `input {}`", shapeList(data_shape)));
    }
  }

  void walk(const ast::LayerStmt& layer) {
    if (!ok_) return;
    switch (layer.kind) {
      case ast::LayerKind::kInput: error(layer.range, "'input' must be the first line of a model", ""); return;
      case ast::LayerKind::kFor: walkFor(layer); return;
      case ast::LayerKind::kRepeat: walkRepeat(layer); return;
      case ast::LayerKind::kCall: addLayer(layer); return;
    }
  }

  void walkFor(const ast::LayerStmt& layer) {
    auto iterable = evaluate(*layer.expr, lookup(), diagnostics_);
    if (!iterable) {
      ok_ = false;
      return;
    }
    if (iterable->kind != ValueKind::kList) {
      std::string hint = iterable->kind == ValueKind::kInt ? "to repeat layers n times write `repeat n { ... }`" : "";
      Diagnostic* diagnostic = diagnostics_.error(
          layer.expr->range, fmt::format("'for' needs a list, found {}", describeValue(*iterable)), hint);
      if (diagnostic != nullptr && !iterable->param.empty()) {
        diagnostic->notes.push_back({iterable->range, fmt::format("this value comes from param '{}'", iterable->param)});
      }
      ok_ = false;
      return;
    }
    for (const auto& item : iterable->items) {
      Value bound = item;
      if (bound.param.empty()) bound.param = iterable->param;
      loop_vars_.emplace_back(layer.name.name, std::move(bound));
      for (const auto& inner : layer.body) walk(inner);
      loop_vars_.pop_back();
      if (!ok_) return;
    }
  }

  void walkRepeat(const ast::LayerStmt& layer) {
    auto count = evaluate(*layer.expr, lookup(), diagnostics_);
    if (!count) {
      ok_ = false;
      return;
    }
    const ArgType type = ArgType::integer(0, kMaxRepeat);
    if (!valueMatches(*count, type)) {
      reportMismatch(diagnostics_, *count, type, "the repeat count", layer.expr->range);
      ok_ = false;
      return;
    }
    for (int64_t k = 0; k < count->asInt() && ok_; ++k) {
      for (const auto& inner : layer.body) walk(inner);
    }
  }

  std::optional<Value> callValue(const ast::LayerStmt& layer) {
    Value call;
    call.kind = ValueKind::kCall;
    call.text = layer.name.name;
    call.range = layer.range;
    for (const auto& arg : layer.args) {
      auto value = evaluate(*arg.value, lookup(), diagnostics_);
      if (!value) return std::nullopt;
      call.args.push_back({arg.key ? arg.key->name : "", arg.key ? arg.key->range : SourceRange{}, arg.range,
                           std::make_unique<Value>(std::move(*value))});
    }
    return call;
  }

  void addLayer(const ast::LayerStmt& layer) {
    const Signature* signature = Catalog::find(catalog_.layers, layer.name.name);
    if (signature == nullptr) {
      reportUnknownLayer(diagnostics_, catalog_, layer.name);
      ok_ = false;
      return;
    }
    auto call = callValue(layer);
    if (!call) {
      ok_ = false;
      return;
    }
    auto args = bindCall(*call, *signature, diagnostics_);
    if (!args) {
      ok_ = false;
      return;
    }
    if (static_cast<int64_t>(instance_.layers.size()) >= kMaxModelLayers) {
      error(layer.name.range,
            fmt::format("model '{}' has more than {} layers", model_.name.name, kMaxModelLayers),
            "use fewer or shorter 'repeat' and 'for' loops");
      return;
    }
    LayerInstance instance;
    instance.kind = signature->name;
    instance.args = std::move(*args);
    instance.range = layer.range;
    instance.input_shape = shape_;
    if (!inferLayer(layer, instance) || !withinLimits(layer, instance)) {
      ok_ = false;
      return;
    }
    shape_ = instance.output_shape;
    instance_.layers.push_back(std::move(instance));
  }

  bool bindActivation(LayerInstance& instance) {
    if (!instance.args.has("activation")) return true;
    const Value& value = instance.args.at("activation");
    const Signature* signature = Catalog::find(catalog_.activations, value.text);
    if (signature == nullptr) {
      std::string hint = didYouMean(value.text, Catalog::names(catalog_.activations));
      if (hint.empty()) hint = "activations are " + quotedList(Catalog::names(catalog_.activations));
      Diagnostic* diagnostic =
          diagnostics_.error(value.param.empty() ? value.range : instance.args.rangeOf("activation", value.range),
                             fmt::format("unknown activation '{}'", value.text), hint);
      if (diagnostic != nullptr && !value.param.empty()) {
        diagnostic->notes.push_back({value.range, fmt::format("this value comes from param '{}'", value.param)});
      }
      return false;
    }
    auto bound = bindCall(value, *signature, diagnostics_);
    if (!bound) return false;
    instance.activation = signature->name;
    if (bound->has("alpha")) instance.activation_alpha = bound->number("alpha");
    return true;
  }

  // Image layers take [height, width, channels].
  bool needImage(const ast::LayerStmt& layer, const LayerInstance& instance) {
    if (instance.input_shape.size() == 3) return true;
    std::string hint;
    if (instance.input_shape.size() == 2) {
      hint = fmt::format("add `reshape([{}, {}, 1])` before it, or to the data's transforms", instance.input_shape[0],
                         instance.input_shape[1]);
    } else if (instance.input_shape.size() == 1) {
      hint = "image layers cannot follow a flatten or dense layer";
    }
    error(layer.name.range,
          fmt::format("'{}' needs an image input [height, width, channels], but its input is {}", instance.kind,
                      formatBatchShape(instance.input_shape)),
          hint);
    return false;
  }

  void setRegularization(LayerInstance& instance) {
    if (!instance.args.given_at.count("l1")) instance.args.values["l1"] = makeFloat(defaults_.l1, {});
    if (!instance.args.given_at.count("l2")) instance.args.values["l2"] = makeFloat(defaults_.l2, {});
    if (!instance.args.has("init")) instance.args.values["init"] = makeSymbol(defaults_.init, {});
  }

  // One sample's values after the layer and the layer's parameters are each one tensor;
  // both must stay below kMaxTensorValues.
  bool withinLimits(const ast::LayerStmt& layer, const LayerInstance& instance) {
    const int64_t values = shapeElements(instance.output_shape);
    if (values > kMaxTensorValues) {
      error(layer.range,
            fmt::format("'{}' makes an output of {} values per sample ({}), more than the limit of {}", instance.kind,
                        values == kShapeOverflow ? "too many" : std::to_string(values),
                        formatBatchShape(instance.output_shape), kMaxTensorValues),
            "use fewer filters, less padding or smaller layers");
      return false;
    }
    if (instance.trainable_params > kMaxTensorValues) {
      error(layer.range,
            fmt::format("'{}' has {} parameters, more than the limit of {} for one layer", instance.kind,
                        instance.trainable_params == kShapeOverflow ? "too many"
                                                                    : std::to_string(instance.trainable_params),
                        kMaxTensorValues),
            "use fewer units or filters, or a smaller input (pooling or a stride before it)");
      return false;
    }
    return true;
  }

  bool inferLayer(const ast::LayerStmt& layer, LayerInstance& instance) {
    const Shape& in = instance.input_shape;
    const std::string& kind = instance.kind;
    Shape& out = instance.output_shape;
    if (kind == "dense") {
      if (!bindActivation(instance)) return false;
      if (in.size() != 1) {
        error(layer.name.range,
              fmt::format("'dense' needs a flat input, but its input is {}", formatBatchShape(in)),
              "add `flatten` before it");
        return false;
      }
      const int64_t units = instance.args.integer("units");
      const bool bias = instance.args.at("bias").boolean;
      out = {units};
      instance.trainable_params = checkedProduct({in[0] + (bias ? 1 : 0), units});
      instance.forward_flops = 2.0 * static_cast<double>(in[0]) * static_cast<double>(units);
      setRegularization(instance);
      return true;
    }
    if (kind == "conv2d") {
      if (!bindActivation(instance) || !needImage(layer, instance)) return false;
      const Pair kernel = pairOf(instance.args.at("kernel"));
      const Pair stride = pairOf(instance.args.at("stride"));
      const bool same = instance.args.text("padding") == "same";
      const int64_t filters = instance.args.integer("filters");
      if (!same && (kernel.rows > in[0] || kernel.cols > in[1])) {
        error(instance.args.rangeOf("kernel", layer.range),
              fmt::format("kernel {} is larger than the {}x{} input of this conv2d ({})", formatPair(kernel), in[0],
                          in[1], formatBatchShape(in)),
              "use padding: same, a smaller kernel, or less pooling before it");
        return false;
      }
      const int64_t rows = same ? (in[0] + stride.rows - 1) / stride.rows : (in[0] - kernel.rows) / stride.rows + 1;
      const int64_t cols = same ? (in[1] + stride.cols - 1) / stride.cols : (in[1] - kernel.cols) / stride.cols + 1;
      out = {rows, cols, filters};
      const bool bias = instance.args.at("bias").boolean;
      // Factors are bounded (window, filters, and in[2] by the previous layer's limit): no overflow.
      instance.trainable_params = checkedProduct({kernel.rows * kernel.cols * in[2] + (bias ? 1 : 0), filters});
      instance.forward_flops = 2.0 * static_cast<double>(kernel.rows * kernel.cols) * static_cast<double>(in[2]) *
                               static_cast<double>(filters) * static_cast<double>(rows) * static_cast<double>(cols);
      setRegularization(instance);
      return true;
    }
    if (kind == "maxpool" || kind == "avgpool") {
      if (!needImage(layer, instance)) return false;
      const Pair size = pairOf(instance.args.at("size"));
      if (!instance.args.has("stride")) instance.args.values["stride"] = instance.args.at("size");
      const Pair stride = pairOf(instance.args.at("stride"));
      const bool same = instance.args.text("padding") == "same";
      if (!same && (size.rows > in[0] || size.cols > in[1])) {
        error(instance.args.rangeOf("size", layer.range),
              fmt::format("pooling window {} is larger than its {}x{} input ({}): it leaves no pixel",
                          formatPair(size), in[0], in[1], formatBatchShape(in)),
              "use a smaller window, padding: same, or less downsampling before it");
        return false;
      }
      const int64_t rows = same ? (in[0] + stride.rows - 1) / stride.rows : (in[0] - size.rows) / stride.rows + 1;
      const int64_t cols = same ? (in[1] + stride.cols - 1) / stride.cols : (in[1] - size.cols) / stride.cols + 1;
      out = {rows, cols, in[2]};
      instance.forward_flops = static_cast<double>(size.rows * size.cols) * static_cast<double>(rows) *
                               static_cast<double>(cols) * static_cast<double>(in[2]);
      return true;
    }
    if (kind == "zeropad") {
      if (!needImage(layer, instance)) return false;
      const Pair pad = pairOf(instance.args.at("padding"));
      out = {in[0] + 2 * pad.rows, in[1] + 2 * pad.cols, in[2]};
      return true;
    }
    if (kind == "flatten") {
      out = {shapeElements(in)};
      return true;
    }
    if (kind == "reshape") {
      for (const auto& item : instance.args.at("shape").items) out.push_back(item.asInt());
      if (shapeElements(out) != shapeElements(in)) {
        error(instance.args.rangeOf("shape", layer.range),
              fmt::format("cannot reshape {} ({} values) to {} ({} values)", formatBatchShape(in), shapeElements(in),
                          shapeList(out), shapeElements(out)),
              "");
        return false;
      }
      return true;
    }
    if (kind == "batchnorm") {
      const int64_t channels = in.back();
      out = in;
      instance.trainable_params = 2 * channels;
      instance.other_params = 2 * channels;
      instance.forward_flops = 4.0 * static_cast<double>(shapeElements(in));
      return true;
    }
    // dropout and standalone activations keep the shape.
    out = in;
    instance.forward_flops = static_cast<double>(shapeElements(in));
    if (kind != "dropout") {
      instance.activation = kind;
      if (instance.args.has("alpha")) instance.activation_alpha = instance.args.number("alpha");
    }
    return true;
  }

  const ast::ModelStmt& model_;
  const NameLookup& params_;
  const ModelDefaults& defaults_;
  const Catalog& catalog_;
  DiagnosticEngine& diagnostics_;
  std::vector<std::pair<std::string, Value>> loop_vars_;
  ModelInstance instance_;
  Shape shape_;
  bool ok_ = true;
};

}  // namespace

int64_t checkedProduct(std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t factor : factors) {
    if (factor < 0 || __builtin_mul_overflow(product, factor, &product)) return kShapeOverflow;
  }
  return product;
}

int64_t shapeElements(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) {
    if (extent < 0 || __builtin_mul_overflow(count, extent, &count)) return kShapeOverflow;
  }
  return count;
}

std::string formatBatchShape(const Shape& shape) {
  std::string out = "f32[?";
  for (int64_t extent : shape) out += "," + std::to_string(extent);
  return out + "]";
}

namespace {

std::string kindHint(const ast::ModelStmt& model) {
  return fmt::format("write `model {} = svm(kernel: rbf, C: 1)`, or `model {} {{ LAYER ... }}` for a network",
                     model.name.name, model.name.name);
}

}  // namespace

void reportUnknownModelKind(DiagnosticEngine& diagnostics, const Catalog& catalog, const ast::ModelStmt& model,
                            const std::string& kind) {
  std::string hint = didYouMean(kind, Catalog::names(catalog.model_kinds));
  if (hint.empty()) hint = kindHint(model);
  diagnostics.error(model.kind->range, fmt::format("unknown model kind '{}'", kind), hint);
}

namespace {

// `model NAME = svm(...)`: the kind's arguments for one sweep point.
std::optional<ModelInstance> instantiateKind(const ast::ModelStmt& model, const Shape& data_shape,
                                             const NameLookup& params, const Catalog& catalog,
                                             DiagnosticEngine& diagnostics) {
  auto value = evaluate(*model.kind, params, diagnostics);
  if (!value) return std::nullopt;
  const bool callable = value->kind == ValueKind::kSymbol || value->kind == ValueKind::kCall;
  const Signature* signature = callable ? Catalog::find(catalog.model_kinds, value->text) : nullptr;
  if (signature == nullptr) {
    if (callable) {
      reportUnknownModelKind(diagnostics, catalog, model, value->text);
    } else {
      diagnostics.error(model.kind->range,
                        fmt::format("a model kind must be a call such as svm(...), found {}", describeValue(*value)),
                        kindHint(model));
    }
    return std::nullopt;
  }
  auto args = bindCall(*value, *signature, diagnostics);
  if (!args) return std::nullopt;
  ModelInstance instance;
  instance.name = model.name.name;
  instance.input_shape = data_shape;
  SvmSpec svm;
  svm.kernel = args->text("kernel");
  svm.c = args->number("C");
  if (args->at("gamma").kind == ValueKind::kSymbol) {
    svm.gamma_rule = args->text("gamma");
  } else {
    svm.gamma = args->number("gamma");
  }
  svm.degree = args->integer("degree");
  svm.coef0 = args->number("coef0");
  svm.tol = args->number("tol");
  instance.svm = svm;
  return instance;
}

}  // namespace

std::optional<ModelInstance> instantiateModel(const ast::ModelStmt& model, const Shape& data_shape,
                                              const NameLookup& params, const ModelDefaults& defaults,
                                              const Catalog& catalog, DiagnosticEngine& diagnostics) {
  if (model.kind) return instantiateKind(model, data_shape, params, catalog, diagnostics);
  return ModelBuilder(model, params, defaults, catalog, diagnostics).run(data_shape);
}

std::string SvmSpec::describe() const {
  std::string out = fmt::format("svm(kernel: {}, C: {}", kernel, c);
  if (kernel != "linear") out += gamma_rule.empty() ? fmt::format(", gamma: {}", gamma) : ", gamma: " + gamma_rule;
  if (kernel == "poly") out += fmt::format(", degree: {}", degree);
  if (kernel == "poly" || kernel == "sigmoid") out += fmt::format(", coef0: {}", coef0);
  return out + fmt::format(", tol: {})", tol);
}

int64_t ModelInstance::trainableParams() const {
  int64_t total = 0;
  for (const auto& layer : layers) total += layer.trainable_params;
  return total;
}

int64_t ModelInstance::totalParams() const {
  int64_t total = trainableParams();
  for (const auto& layer : layers) total += layer.other_params;
  return total;
}

std::string ModelInstance::signature() const {
  std::string out = formatBatchShape(input_shape);
  if (svm) return out + ";" + svm->describe();
  for (const auto& layer : layers) {
    out += ";" + layer.kind + ":" + formatBatchShape(layer.output_shape) + ":" + layer.activation;
    for (const char* key : {"kernel", "stride", "padding", "size", "bias"}) {
      if (layer.args.has(key)) out += fmt::format(":{}={}", key, formatValue(layer.args.at(key)));
    }
  }
  return out;
}

void reportUnknownLayer(DiagnosticEngine& diagnostics, const Catalog& catalog, const ast::Ident& name) {
  std::string hint = didYouMean(name.name, Catalog::names(catalog.layers));
  if (hint.empty()) hint = "layers are " + quotedList(Catalog::names(catalog.layers));
  diagnostics.error(name.range, fmt::format("unknown layer '{}'", name.name), hint);
}

}  // namespace nnspec::sema
