// Runs the first STEPS train steps of one sweep point of a spec with nnspec's JIT — from
// nnspec's own initial parameters, in nnspec's own batch order, with nnspec's dropout
// masks — and writes what another framework needs to replay them (bench/compare_torch.py):
//
//   meta.json          the model's layers (as checked), parameter names and shapes, the
//                      optimizer, L1/L2 factors, batch, and the dropout seed of every step
//   params.bin         the initial parameters, f32, in the order of meta.json's "parameters"
//                      (nnspec's layouts: dense kernels [in, out], conv kernels [kh, kw, cin, cout])
//   x.bin, labels.bin  the STEPS batches as fed: f32 [steps, batch, features] (channels last),
//                      i32 [steps, batch]
//   indices.txt        per step, the positions of the batch's samples in the training data
//   nnspec_losses.txt  per step: step, data loss, total loss (with penalties), before the update
//
// The point is the sweep's first one, fold 0, replicate 0, with the trial seed `nnspec run`
// derives for it, initialized by the trainer's rt::initializeParameters. As a check that
// this replay follows the trainer's loop (init, batch order, dropout seeds, optimizer
// steps), the same steps also run through rt::runTrial itself and its per-batch losses
// must equal the ones written.
//
// Usage: nnspec_bench_train_steps SPEC SWEEP OUT_DIR [STEPS]   (STEPS defaults to 20)

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/pipeline/pipeline.h"
#include "compiler/jit/jit_compiler.h"
#include "runtime/exec/step_runner.h"
#include "compiler/lowering/lower_model.h"
#include "runtime/pipeline/batches.h"
#include "runtime/pipeline/random.h"
#include "runtime/train/trial.h"

using namespace nnspec;

namespace {

constexpr int64_t kDefaultSteps = 20;

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

std::string jsonNumber(double value) { return fmt::format("{:.17g}", value); }

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string jsonShape(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::string jsonValue(const sema::Value& value) {
  switch (value.kind) {
    case sema::ValueKind::kInt:
    case sema::ValueKind::kFloat:
    case sema::ValueKind::kDuration:
      return jsonNumber(value.number);
    case sema::ValueKind::kBool:
      return value.boolean ? "true" : "false";
    case sema::ValueKind::kList: {
      std::vector<std::string> items;
      for (const auto& item : value.items) items.push_back(jsonValue(item));
      return fmt::format("[{}]", fmt::join(items, ", "));
    }
    case sema::ValueKind::kString:
    case sema::ValueKind::kSymbol:
      return jsonString(value.text);
    case sema::ValueKind::kCall:
      return jsonString(sema::formatValue(value));
  }
  return "null";
}

// The checked layers, with every argument (given or defaulted) and the names the lowering
// gives their parameters (conv<k>.kernel, dense<k>.bias, ...) and dropout streams.
std::string jsonLayers(const sema::ModelInstance& model) {
  std::vector<std::string> layers;
  int conv_index = 0;
  int dense_index = 0;
  int dropout_index = 0;
  for (const sema::LayerInstance& layer : model.layers) {
    std::vector<std::string> args;
    for (const auto& [name, value] : layer.args.values)
      args.push_back(fmt::format("{}: {}", jsonString(name), jsonValue(value)));
    std::string extra;
    if (layer.kind == "conv2d" || layer.kind == "dense") {
      const std::string prefix =
          layer.kind == "conv2d" ? fmt::format("conv{}", ++conv_index) : fmt::format("dense{}", ++dense_index);
      extra = fmt::format(", \"kernel_param\": {}, \"bias_param\": {}", jsonString(prefix + ".kernel"),
                          jsonString(prefix + ".bias"));
    }
    if (layer.kind == "dropout") extra = fmt::format(", \"stream\": {}", ++dropout_index);
    layers.push_back(fmt::format(
        "    {{\"kind\": {}, \"activation\": {}, \"activation_alpha\": {}, \"input_shape\": {}, \"output_shape\": {}, "
        "\"args\": {{{}}}{}}}",
        jsonString(layer.kind), jsonString(layer.activation), jsonNumber(layer.activation_alpha),
        jsonShape(layer.input_shape), jsonShape(layer.output_shape), fmt::join(args, ", "), extra));
  }
  return fmt::format("[\n{}\n  ]", fmt::join(layers, ",\n"));
}

struct StepRecord {
  std::vector<int64_t> indices;
  uint64_t dropout_seed = 0;
  float data_loss = 0;
  float total_loss = 0;
};

// Stops rt::runTrial after the steps of interest (thrown from its batch callback).
struct EnoughSteps {};

// The per-step losses rt::runTrial itself reports (recovered from its running mean).
std::vector<double> trialLosses(const rt::CompiledModel& model, const rt::DataView& fit,
                                const rt::TrialSettings& settings, int64_t steps) {
  std::vector<double> losses;
  double previous_sum = 0;
  rt::TrialCallbacks callbacks;
  callbacks.on_batch = [&](int64_t, int64_t batch, int64_t, double running_mean) {
    const double sum = running_mean * static_cast<double>(batch * model.batch);
    losses.push_back((sum - previous_sum) / static_cast<double>(model.batch));
    previous_sum = sum;
    if (batch >= steps) throw EnoughSteps{};
  };
  try {
    rt::runTrial(model, fit, {}, {}, settings, callbacks);
  } catch (const EnoughSteps&) {
  }
  return losses;
}

template <class T>
bool writeBinary(const std::filesystem::path& path, const std::vector<T>& values) {
  std::ofstream stream(path, std::ios::binary);
  stream.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(T)));
  return stream.good();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: nnspec_bench_train_steps SPEC SWEEP OUT_DIR [STEPS]\n");
    return 2;
  }
  const std::string spec_path = argv[1];
  const std::string sweep = argv[2];
  const std::filesystem::path out_dir = argv[3];
  const int64_t steps = argc == 5 ? std::stoll(argv[4]) : kDefaultSteps;
  driver::CheckRequest request;
  request.path = spec_path;
  request.data_paths = driver::defaultDataPaths();
  driver::SpecSession session(request, {}, {sweep});
  if (!session.ok()) {
    std::fputs(session.finish(2).err.c_str(), stderr);
    return 2;
  }
  const sema::CheckedSpec& spec = session.spec().checked;
  const sema::SweepPlan& plan = spec.sweeps.at(0);
  const sema::Point& point = plan.checked.at(0);
  const sema::TrainConfig& config = point.config;
  if (plan.folds > 1) return fail("cross-validated sweeps are not supported here; pick a sweep without cv", 2);
  if (config.loss != "cross_entropy") return fail("only cross_entropy models are compared", 2);
  const uint64_t seed =
      rt::deriveSeed(spec.seed, fmt::format("sweep={};point={};fold=0;replicate=0", plan.name, point.describe()));

  driver::Materializer materializer(spec, session.spec().data_paths);
  auto views = materializer.split(config.split);
  if (!views.ok()) return fail(views.error().message, 2);
  const rt::DataView fit{views.value()->train_data, views.value()->train};
  const int64_t batch = std::min<int64_t>(config.batch, static_cast<int64_t>(fit.indices.size()));
  if (steps * batch > static_cast<int64_t>(fit.indices.size()))
    return fail("fewer than STEPS full batches in an epoch", 2);

  auto compiler = jit::JitCompiler::create();
  if (!compiler.ok()) return fail(compiler.error().message, 3);
  pipeline::Options options;
  options.jit = compiler.value().get();
  auto passes = pipeline::runPasses(config, batch, options);
  if (const auto* error = std::get_if<pipeline::PipelineError>(&passes)) return fail(error->message, error->internal ? 3 : 2);
  const pipeline::Artifacts& artifacts = std::get<pipeline::Artifacts>(passes);
  const lowering::LoweredStep& lowered = artifacts.step;

  rt::StepRunner runner(artifacts.compiled);
  rt::initializeParameters(runner, lowered.inits, seed);
  for (const auto& [name, value] : lowered.hyper_values) runner.setHyperparam(name, value);
  std::filesystem::create_directories(out_dir);
  std::vector<float> initial;
  for (size_t param_idx = 0; param_idx < runner.layout().parameters.size(); ++param_idx) {
    const auto& values = runner.parameter(param_idx);
    initial.insert(initial.end(), values.begin(), values.end());
  }
  if (!writeBinary(out_dir / "params.bin", initial)) return fail("cannot write params.bin", 2);

  // The trial's loop (runtime/train/trial.cpp), for the first `steps` batches of epoch 1.
  auto batches = rt::makeBatchIterator(*fit.data, fit.indices,
                                       rt::BatchOptions{batch, config.shuffle, rt::deriveSeed(seed, "batches")});
  if (!batches.ok()) return fail(batches.error().message, 2);
  rt::BatchIterator& iterator = batches.value();
  iterator.startEpoch(0);
  NnspecOptimizerParams optimizer = lowered.optimizer.abi();
  optimizer.lr = static_cast<float>(rt::scheduledLr(lowered.schedule, lowered.optimizer.lr, 0, config.epochs));
  const uint64_t dropout_seed = rt::deriveSeed(seed, "dropout");
  std::vector<float> x(static_cast<size_t>(batch * lowered.features));
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  std::vector<float> all_x;
  std::vector<int32_t> all_labels;
  std::vector<const void*> inputs;
  for (const auto& slot : runner.layout().inputs) {
    inputs.push_back(slot.name == "x" ? static_cast<const void*>(x.data()) : labels.data());
  }
  std::vector<StepRecord> records;
  for (int64_t step = 1; step <= steps; ++step) {
    const int64_t rows = iterator.nextBatch(rt::BatchBuffers{x, labels, {}});
    if (rows != batch) return fail(fmt::format("batch {} has {} rows, not {}", step, rows, batch), 3);
    StepRecord record;
    const auto order = iterator.epochOrder();
    record.indices.assign(order.begin() + (step - 1) * batch, order.begin() + step * batch);
    record.dropout_seed = rt::deriveSeed(dropout_seed, static_cast<uint64_t>(step));
    all_x.insert(all_x.end(), x.begin(), x.end());
    all_labels.insert(all_labels.end(), labels.begin(), labels.end());
    optimizer.step = static_cast<int32_t>(step);
    runner.setRngSeed(record.dropout_seed);
    const rt::StepResult result = runner.trainStep(inputs, optimizer);
    if (result.status != kNnspecOk) return fail(fmt::format("step {}: status {}", step, result.status), 3);
    record.data_loss = result.data_loss;
    record.total_loss = result.total_loss;
    records.push_back(std::move(record));
  }

  // The same steps through the trainer itself: same initial parameters and batches.
  rt::CompiledModel model = pipeline::trainableModel(lowered);
  model.full = artifacts.compiled;
  rt::TrialSettings settings;
  settings.epochs = config.epochs;
  settings.shuffle = config.shuffle;
  settings.seed = seed;
  settings.evaluate = false;
  const std::vector<double> trial = trialLosses(model, fit, settings, steps);
  if (static_cast<int64_t>(trial.size()) != steps) return fail("the trainer ran fewer steps than asked", 3);
  for (int64_t step = 0; step < steps; ++step) {
    const double written = records[static_cast<size_t>(step)].data_loss;
    if (std::abs(trial[static_cast<size_t>(step)] - written) > 1e-6 * std::abs(written)) {
      return fail(fmt::format("step {}: rt::runTrial's loss {} differs from this replay's {}: the init or batch order "
                              "here no longer follows runtime/train/trial.cpp",
                              step + 1, trial[static_cast<size_t>(step)], written),
                  3);
    }
  }

  if (!writeBinary(out_dir / "x.bin", all_x) || !writeBinary(out_dir / "labels.bin", all_labels)) {
    return fail("cannot write the batches", 2);
  }
  std::ofstream indices(out_dir / "indices.txt");
  std::ofstream losses(out_dir / "nnspec_losses.txt");
  std::vector<std::string> seeds;
  for (size_t step = 0; step < records.size(); ++step) {
    indices << fmt::format("{}\n", fmt::join(records[step].indices, " "));
    losses << fmt::format("{} {:.9g} {:.9g}\n", step + 1, records[step].data_loss, records[step].total_loss);
    seeds.push_back(jsonString(std::to_string(records[step].dropout_seed)));
  }
  std::vector<std::string> parameters;
  for (const auto& slot : runner.layout().parameters) {
    parameters.push_back(
        fmt::format("{{\"name\": {}, \"shape\": {}}}", jsonString(slot.name), jsonShape(slot.type.shape)));
  }
  std::vector<std::string> penalties;
  for (const auto& [name, value] : lowered.hyper_values) {
    penalties.push_back(fmt::format("{}: {}", jsonString(name), jsonNumber(value)));
  }
  const lowering::OptimizerValues& opt = lowered.optimizer;
  const sema::Split* split = spec.findSplit(config.split);
  std::string data = "null";
  if (split != nullptr && split->train) {
    const sema::DataSet* source = spec.findData(split->train->data);
    data = fmt::format("{{\"name\": {}, \"source\": {}, \"part\": {}}}", jsonString(split->train->data),
                       jsonString(source ? source->source : ""), jsonString(split->train->part));
  }
  std::ofstream meta(out_dir / "meta.json");
  meta << "{\n"
       << fmt::format("  \"spec\": {},\n  \"sweep\": {},\n  \"point\": {},\n  \"model\": {},\n", jsonString(spec_path),
                      jsonString(plan.name), jsonString(point.describe()), jsonString(config.model.name))
       << fmt::format("  \"trial_seed\": {},\n  \"data\": {},\n", jsonString(std::to_string(seed)), data)
       << fmt::format("  \"input_shape\": {},\n  \"features\": {},\n  \"classes\": {},\n",
                      jsonShape(config.model.input_shape), lowered.features, lowered.output_width)
       << fmt::format("  \"batch\": {},\n  \"steps\": {},\n  \"loss\": {},\n", batch, steps, jsonString(config.loss))
       << fmt::format(
              "  \"optimizer\": {{\"kind\": {}, \"lr\": {}, \"momentum\": {}, \"beta1\": {}, \"beta2\": {}, "
              "\"eps\": {}, \"weight_decay\": {}, \"nesterov\": {}, \"alpha\": {}, \"decoupled\": {}}},\n",
              jsonString(config.optimizer), jsonNumber(optimizer.lr), jsonNumber(opt.momentum), jsonNumber(opt.beta1),
              jsonNumber(opt.beta2), jsonNumber(opt.eps), jsonNumber(opt.weight_decay), opt.nesterov ? "true" : "false",
              jsonNumber(opt.alpha), opt.decoupled ? "true" : "false")
       << fmt::format("  \"penalties\": {{{}}},\n", fmt::join(penalties, ", "))
       << fmt::format("  \"parameters\": [{}],\n", fmt::join(parameters, ", "))
       << fmt::format("  \"dropout_seeds\": [{}],\n", fmt::join(seeds, ", "))
       << fmt::format("  \"layers\": {}\n", jsonLayers(config.model)) << "}\n";
  if (!meta.good() || !indices.good() || !losses.good()) return fail("cannot write the outputs", 2);
  std::printf("nnspec: %s sweep '%s' (model '%s'), %lld steps of batch %lld, trainer check ok, written to %s\n",
              spec_path.c_str(), plan.name.c_str(), config.model.name.c_str(), static_cast<long long>(steps),
              static_cast<long long>(batch), out_dir.string().c_str());
  return 0;
}
