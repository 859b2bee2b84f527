// Times one training epoch of a spec's first point with nnspec: JIT compile time, then
// the epoch (shuffle, batch assembly, the compiled step, the optimizer) single-threaded.
// SWEEP picks a sweep, or a train block no sweep names (as `nnspec run --sweep`); by
// default the spec's first sweep.
// Prints: `nnspec samples_per_s=<float> seconds=<float> compile_ms=<float> loss=<float>
// host=<cpu> jit=<compiled|loaded> emit_ms= optimize_ms= codegen_ms= link_ms=
// compile_cpu_ms=`: the JIT's share of compile_ms by phase, summed over the threads that
// compile the entry points at once (a step loaded from the disk cache has only link_ms),
// the CPU time of the whole compile, and epoch_cpu_s: the training thread's CPU seconds
// per epoch (the mean; wall times on a shared machine include other processes' turns).
// With --epochs N, N epochs run and samples_per_s and seconds are the median epoch's
// (`epochs=N` ends the line); the loss is the last epoch's.
// --breakdown: where an epoch's time goes instead (a table, not the line above): the
// runTrial epoch against the same loop written out here with a timer around each part
// (shuffle, batch gather, the step, the train.accuracy argmax and loss sums, the partial
// last batch), the step's entry points alone on one batch (forward; gradients =
// forward + backward; the optimizer update as trainStep - gradients), and for dense-only
// models the step's GEMMs alone at the same shapes through nnspec_rt_sgemm, with GFLOP/s
// and the share of the measured FMA peak (bench/fma_peak.h); and an evaluation pass
// (evaluateModel) over the training rows in order, as a study's val or test pass.
// Usage: nnspec_bench_train_epoch [--threads N] [--epochs N] [--breakdown] SPEC [SWEEP]
//        --threads N: the trial's kernels use N threads (runtime/kernels/thread_team.h)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/fma_peak.h"
#include "compiler/driver/driver.h"
#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/lowering/lower_model.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "runtime/kernels/sgemm.h"
#include "runtime/pipeline/batches.h"
#include "runtime/pipeline/random.h"
#include "runtime/train/schedule.h"
#include "runtime/train/trial.h"

using namespace nnspec;

namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The CPU time of the whole process (every thread), in ms: the compile's work, which a
// loaded machine inflates less than its wall time.
double processCpuMilliseconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

// The CPU time of the calling thread, in seconds: an epoch's work without the time another
// process held the core (a shared machine inflates wall times; this much less).
double threadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

struct Args {
  int threads = 1;
  int epochs = 1;
  bool breakdown = false;
  std::vector<std::string> positional;  // SPEC [SWEEP]
};

// A flag's positive count, or an error naming the flag.
bool parseCount(const std::string& flag, const char* text, int& count) {
  char* end = nullptr;
  const long value = text == nullptr ? 0 : std::strtol(text, &end, 10);
  if (text == nullptr || *end != '\0' || value < 1 || value > 1000000) {
    std::fprintf(stderr, "error: %s needs a positive whole number, not '%s' (e.g. %s 3)\n", flag.c_str(),
                 text == nullptr ? "" : text, flag.c_str());
    return false;
  }
  count = static_cast<int>(value);
  return true;
}

bool parseArgs(int argc, char** argv, Args& args) {
  for (int index = 1; index < argc; ++index) {
    const std::string arg = argv[index];
    const char* next = index + 1 < argc ? argv[index + 1] : nullptr;
    if (arg == "--threads" || arg == "--epochs") {
      if (!parseCount(arg, next, arg == "--threads" ? args.threads : args.epochs)) return false;
      ++index;
    } else if (arg == "--breakdown") {
      args.breakdown = true;
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "error: unknown option '%s'\n", arg.c_str());
      return false;
    } else {
      args.positional.push_back(arg);
    }
  }
  if (args.positional.empty() || args.positional.size() > 2) {
    std::fprintf(stderr, "usage: nnspec_bench_train_epoch [--threads N] [--epochs N] [--breakdown] SPEC [SWEEP]\n");
    return false;
  }
  return true;
}

// ---- --breakdown --------------------------------------------------------------------

// The dense layers [in, out] of a step, in layout order; empty when the model has a
// parameter of rank above 2 (a convolution), whose GEMMs the breakdown does not model.
struct DenseLayer {
  int64_t in = 0;
  int64_t out = 0;
};

std::vector<DenseLayer> denseLayers(const rt::StepLayout& layout) {
  std::vector<DenseLayer> layers;
  for (const rt::LeafSlot& slot : layout.parameters) {
    const auto& shape = slot.type.shape;
    if (shape.size() > 2) return {};
    if (shape.size() == 2) layers.push_back({shape[0], shape[1]});
  }
  return layers;
}

// bench/flops.py's count: forward, weight gradients and input gradients but the first
// layer's, 2 FLOPs a multiply-add.
double trainingFlopsPerSample(const std::vector<DenseLayer>& layers) {
  double macs = 0.0;
  for (const DenseLayer& layer : layers) macs += static_cast<double>(layer.in * layer.out);
  if (layers.empty()) return 0.0;
  return 2.0 * (macs + macs + macs - static_cast<double>(layers[0].in * layers[0].out));
}

// The inputs of a step in its layout's order: x, then labels or target rows.
std::vector<const void*> inputPointers(const rt::StepLayout& layout, const std::vector<float>& x,
                                       const std::vector<int32_t>& labels, const std::vector<float>& targets) {
  std::vector<const void*> inputs;
  for (const auto& slot : layout.inputs) {
    if (slot.name == "x") {
      inputs.push_back(x.data());
    } else if (slot.name == "labels") {
      inputs.push_back(labels.data());
    } else {
      inputs.push_back(targets.data());
    }
  }
  return inputs;
}

void copyState(rt::StepRunner& from, rt::StepRunner& to) {
  for (size_t index = 0; index < from.layout().parameters.size(); ++index) {
    to.parameter(index) = from.parameter(index);
    for (int slot = 0; slot < from.layout().state_slots; ++slot)
      to.optimizerState(slot, index) = from.optimizerState(slot, index);
  }
}

// Milliseconds per epoch of each part of runTrial's loop, written out with timers.
struct EpochParts {
  double shuffle = 0, gather = 0, step = 0, metrics = 0, tail = 0, total = 0;
};

// The epochs of runTrial's training loop (no callbacks, no moving statistics), each part
// timed apart; the step counts and numbers are runTrial's.
std::vector<EpochParts> timeEpochParts(const rt::CompiledModel& model, const rt::DataView& fit, uint64_t seed,
                                       int epochs) {
  rt::StepRunner runner(model.full);
  rt::initializeParameters(runner, model.inits, seed);
  std::optional<rt::StepRunner> tail;
  if (model.remainder) tail.emplace(model.remainder);
  for (const auto& [name, value] : model.hyper_values) {
    runner.setHyperparam(name, value);
    if (tail) tail->setHyperparam(name, value);
  }
  auto batches = rt::makeBatchIterator(*fit.data, fit.indices,
                                       rt::BatchOptions{model.batch, true, rt::deriveSeed(seed, "batches")});
  if (!batches.ok()) return {};
  rt::BatchIterator& iterator = batches.value();
  std::vector<float> x(static_cast<size_t>(model.batch * model.features));
  std::vector<int32_t> labels(static_cast<size_t>(model.batch));
  std::vector<float> targets(static_cast<size_t>(model.batch * fit.data->target_width));
  const rt::BatchBuffers spans = model.classification ? rt::BatchBuffers{x, labels, {}} : rt::BatchBuffers{x, {}, targets};
  const auto inputs = inputPointers(runner.layout(), x, labels, targets);
  std::vector<const void*> tail_inputs;
  if (tail) tail_inputs = inputPointers(tail->layout(), x, labels, targets);
  std::vector<float> predictions(model.classification ? static_cast<size_t>(model.batch * model.output_width) : 0);
  float* kept = predictions.empty() ? nullptr : predictions.data();
  const uint64_t dropout_seed = rt::deriveSeed(seed, "dropout");
  NnspecOptimizerParams optimizer = model.optimizer;
  int64_t step = 0;
  std::vector<EpochParts> all;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    EpochParts parts;
    const auto epoch_start = Clock::now();
    auto start = epoch_start;
    iterator.startEpoch(epoch);
    optimizer.lr = static_cast<float>(rt::scheduledLr(model.schedule, model.optimizer.lr, epoch, epochs));
    parts.shuffle += millisecondsSince(start);
    double loss_sum = 0;
    int64_t correct = 0;
    for (;;) {
      start = Clock::now();
      const int64_t rows = iterator.nextBatch(spans);
      parts.gather += millisecondsSince(start);
      if (rows <= 0) break;
      optimizer.step = static_cast<int32_t>(++step);
      start = Clock::now();
      rt::StepResult result;
      if (rows == model.batch) {
        runner.setRngSeed(rt::deriveSeed(dropout_seed, static_cast<uint64_t>(step)));
        result = runner.trainStep(inputs, optimizer, kept);
        parts.step += millisecondsSince(start);
      } else {
        copyState(runner, *tail);
        tail->setRngSeed(rt::deriveSeed(dropout_seed, static_cast<uint64_t>(step)));
        result = tail->trainStep(tail_inputs, optimizer, kept);
        copyState(*tail, runner);
        parts.tail += millisecondsSince(start);
      }
      start = Clock::now();
      loss_sum += static_cast<double>(result.data_loss) * static_cast<double>(rows);
      for (int64_t row = 0; kept != nullptr && row < rows; ++row) {
        const float* out = kept + row * model.output_width;
        int64_t arg = 0;
        for (int64_t k = 1; k < model.output_width; ++k)
          if (out[k] > out[arg]) arg = k;
        correct += arg == labels[static_cast<size_t>(row)] ? 1 : 0;
      }
      parts.metrics += millisecondsSince(start);
    }
    parts.total = millisecondsSince(epoch_start);
    all.push_back(parts);
    if (loss_sum == 12345.0 && correct < 0) std::puts("");  // keeps the sums alive
  }
  return all;
}

// Milliseconds for `calls` calls of `call`, the best of 3 rounds.
template <class Call>
double bestRoundMilliseconds(int64_t calls, Call&& call) {
  double best = 1e30;
  for (int round = 0; round < 3; ++round) {
    const auto start = Clock::now();
    for (int64_t index = 0; index < calls; ++index) call();
    best = std::min(best, millisecondsSince(start));
  }
  return best;
}

struct EntryTimes {
  double forward = 0, gradients = 0, train_step = 0;  // ms for one epoch's full batches
};

// The step's entry points alone, each called `calls` times on the epoch's first batch.
EntryTimes timeEntries(const rt::CompiledModel& model, const rt::DataView& fit, uint64_t seed, int64_t calls) {
  rt::StepRunner runner(model.full);
  rt::initializeParameters(runner, model.inits, seed);
  for (const auto& [name, value] : model.hyper_values) runner.setHyperparam(name, value);
  auto batches = rt::makeBatchIterator(*fit.data, fit.indices, rt::BatchOptions{model.batch, true, seed});
  std::vector<float> x(static_cast<size_t>(model.batch * model.features));
  std::vector<int32_t> labels(static_cast<size_t>(model.batch));
  std::vector<float> targets(static_cast<size_t>(model.batch * fit.data->target_width));
  if (!batches.ok()) return {};
  batches.value().nextBatch(model.classification ? rt::BatchBuffers{x, labels, {}} : rt::BatchBuffers{x, {}, targets});
  const auto inputs = inputPointers(runner.layout(), x, labels, targets);
  std::vector<float> predictions(model.classification ? static_cast<size_t>(model.batch * model.output_width) : 0);
  float* kept = predictions.empty() ? nullptr : predictions.data();
  NnspecOptimizerParams optimizer = model.optimizer;
  EntryTimes times;
  times.forward = bestRoundMilliseconds(calls, [&] { runner.forward(inputs, kept); });
  times.gradients = bestRoundMilliseconds(calls, [&] { runner.gradients(inputs, kept); });
  int32_t step = 0;
  times.train_step = bestRoundMilliseconds(calls, [&] {
    optimizer.step = ++step;
    runner.trainStep(inputs, optimizer, kept);
  });
  return times;
}

struct AlignedFree {
  void operator()(float* pointer) const { std::free(pointer); }
};

std::unique_ptr<float[], AlignedFree> alignedBuffer(int64_t count, std::mt19937& rng) {
  const size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
  std::unique_ptr<float[], AlignedFree> buffer(static_cast<float*>(std::aligned_alloc(64, bytes)));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int64_t index = 0; index < count; ++index) buffer[index] = value(rng);
  return buffer;
}

// The GEMMs of `calls` train steps of a dense chain at `batch` (the shapes of
// bench/gemm_shapes.cpp: forward x w, weight gradient x^T dy, input gradient dy w^T but
// the first layer's), alone, through the runtime ABI's nnspec_rt_sgemm: ms.
double timeStepGemms(const std::vector<DenseLayer>& layers, int64_t batch, int64_t calls) {
  std::mt19937 rng(7);
  auto scratch = alignedBuffer(kNnspecSgemmScratchFloats, rng);
  struct LayerBuffers {
    std::unique_ptr<float[], AlignedFree> x, w, y, dy, dw, dx;
  };
  std::vector<LayerBuffers> buffers;
  for (const DenseLayer& layer : layers) {
    buffers.push_back({alignedBuffer(batch * layer.in, rng), alignedBuffer(layer.in * layer.out, rng),
                       alignedBuffer(batch * layer.out, rng), alignedBuffer(batch * layer.out, rng),
                       alignedBuffer(layer.in * layer.out, rng), alignedBuffer(batch * layer.in, rng)});
  }
  return bestRoundMilliseconds(calls, [&] {
    for (size_t index = 0; index < layers.size(); ++index) {
      const DenseLayer& layer = layers[index];
      nnspec_rt_sgemm(batch, layer.out, layer.in, 1.0f, buffers[index].x.get(), 0, buffers[index].w.get(), 0, 0.0f,
                      buffers[index].y.get(), scratch.get());
    }
    for (size_t index = layers.size(); index-- > 0;) {
      const DenseLayer& layer = layers[index];
      nnspec_rt_sgemm(layer.in, layer.out, batch, 1.0f, buffers[index].x.get(), 1, buffers[index].dy.get(), 0, 0.0f,
                      buffers[index].dw.get(), scratch.get());
      if (index > 0)
        nnspec_rt_sgemm(batch, layer.in, layer.out, 1.0f, buffers[index].dy.get(), 0, buffers[index].w.get(), 1, 0.0f,
                        buffers[index].dx.get(), scratch.get());
    }
  });
}

int printBreakdown(const rt::CompiledModel& model, const rt::DataView& fit, int epochs, const std::string& label) {
  const int64_t count = static_cast<int64_t>(fit.indices.size());
  const int64_t full_steps = count / model.batch;
  const int64_t partial = count % model.batch;
  const std::vector<DenseLayer> layers = denseLayers(model.full->layout);
  const double flops_per_sample = trainingFlopsPerSample(layers);
  const bench::FmaPeak peak = bench::measureFmaPeak(nnspec_rt_cpu_best_level());

  // runTrial itself, then the same loop written out.
  rt::TrialSettings settings;
  settings.epochs = epochs;
  settings.seed = 1;
  settings.evaluate = false;
  const auto outcome = rt::runTrial(model, fit, {}, {}, settings);
  if (outcome.end != rt::TrialEnd::kFinished) {
    std::fprintf(stderr, "error: %s\n", outcome.reason.c_str());
    return 1;
  }
  std::vector<double> trial_ms;
  for (const auto& record : outcome.epochs) trial_ms.push_back(record.seconds * 1e3);
  const std::vector<EpochParts> parts = timeEpochParts(model, fit, settings.seed, epochs);
  auto partMedian = [&](double EpochParts::*member) {
    std::vector<double> values;
    for (const EpochParts& epoch : parts) values.push_back(epoch.*member);
    return median(values);
  };
  const double trial = median(trial_ms);
  const EntryTimes entries = timeEntries(model, fit, settings.seed, full_steps);
  const double gemms = layers.empty() ? 0.0 : timeStepGemms(layers, model.batch, full_steps);
  // An evaluation pass (val or test every epoch in a study) over the same rows, in order.
  std::vector<double> evaluation_ms;
  {
    rt::StepRunner runner(model.full);
    rt::initializeParameters(runner, model.inits, settings.seed);
    for (const auto& [name, value] : model.hyper_values) runner.setHyperparam(name, value);
    for (int round = 0; round < 3; ++round) {
      const auto start = Clock::now();
      rt::evaluateModel(model, runner, fit, "train");
      evaluation_ms.push_back(millisecondsSince(start));
    }
  }

  const double per_step = 1e3 / static_cast<double>(full_steps);  // ms per epoch -> us per step
  const auto gflops = [&](double ms, int64_t samples) { return flops_per_sample * samples / (ms * 1e-3) / 1e9; };
  std::printf("%s: batch %lld, %lld samples, %lld full steps + %s; %d epochs, medians; measured FMA peak %.1f GFLOP/s"
              " (avx512 %.1f, avx2 %.1f)\n",
              label.c_str(), static_cast<long long>(model.batch), static_cast<long long>(count),
              static_cast<long long>(full_steps),
              partial > 0 ? fmt::format("1 of {}", partial).c_str() : "no partial batch", epochs, peak.best(),
              peak.avx512, peak.avx2);
  if (flops_per_sample > 0) std::printf("training FLOPs: %.4f MFLOP a sample (bench/flops.py's count)\n", flops_per_sample / 1e6);
  std::printf("%-52s %9s %8s %7s %8s %6s\n", "part", "ms/epoch", "us/step", "share", "GFLOP/s", "%peak");
  const auto row = [&](const char* name, double ms, int64_t samples) {
    std::printf("%-52s %9.2f %8.2f %6.1f%%", name, ms, ms * per_step, 100.0 * ms / trial);
    if (samples > 0 && flops_per_sample > 0) {
      const double rate = gflops(ms, samples);
      std::printf(" %8.1f %5.1f%%", rate, 100.0 * rate / peak.best());
    }
    std::printf("\n");
  };
  const int64_t full_samples = full_steps * model.batch;
  row("runTrial epoch", trial, count);
  row("  the loop written out (sum of its parts below)", partMedian(&EpochParts::total), count);
  row("    shuffle (BatchIterator::startEpoch)", partMedian(&EpochParts::shuffle), 0);
  row("    batch gather (BatchIterator::nextBatch)", partMedian(&EpochParts::gather), 0);
  row("    train steps, full batches (StepRunner::trainStep)", partMedian(&EpochParts::step), full_samples);
  if (partial > 0) row("    partial last batch (state copies + its step)", partMedian(&EpochParts::tail), 0);
  row("    loss sum + train.accuracy argmax", partMedian(&EpochParts::metrics), 0);
  row("  runTrial - the loop written out (bookkeeping)", trial - partMedian(&EpochParts::total), 0);
  std::printf("the step's entry points alone, on one batch, %lld calls each (best of 3):\n",
              static_cast<long long>(full_steps));
  row("  trainStep (forward + backward + update)", entries.train_step, full_samples);
  row("    forward entry", entries.forward, 0);
  row("    backward (gradients entry - forward entry)", entries.gradients - entries.forward, 0);
  row("    optimizer update (trainStep - gradients entry)", entries.train_step - entries.gradients, 0);
  row("an evaluation pass over the same rows in order (evaluateModel, median of 3)", median(evaluation_ms), 0);
  if (!layers.empty()) {
    row("  the step's GEMMs alone (nnspec_rt_sgemm, same shapes)", gemms, full_samples);
    row("  the rest of the step (element-wise loops, loss, update, call)", entries.train_step - gemms, 0);
  } else {
    std::printf("  (the GEMMs alone: only for dense-only models)\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parseArgs(argc, argv, args)) return 2;
  driver::CheckRequest request;
  request.path = args.positional[0];
  request.data_paths = driver::defaultDataPaths();
  std::vector<std::string> sweeps;
  if (args.positional.size() == 2) sweeps.push_back(args.positional[1]);
  driver::SpecSession session(request, {}, sweeps);
  if (!session.ok()) {
    std::fputs(session.finish(2).err.c_str(), stderr);
    return 2;
  }
  const sema::CheckedSpec& checked = session.spec().checked;
  const sema::TrainConfig& config = checked.sweeps.at(0).checked.at(0).config;
  driver::Materializer materializer(checked, session.spec().data_paths);
  auto views = materializer.split(config.split);
  if (!views.ok()) {
    std::fprintf(stderr, "error: %s\n", views.error().message.c_str());
    return 2;
  }
  auto compiler = jit::JitCompiler::create();
  if (!compiler.ok()) return 3;
  const int64_t count = static_cast<int64_t>(views.value()->train.size());
  // The full-batch step alone is timed (the figure the other benches compare), then the
  // whole model as run compiles it; the JIT's cache makes the second compile of the full
  // step free.
  const auto compile_start = Clock::now();
  const double compile_cpu_start = processCpuMilliseconds();
  pipeline::Options options;
  options.jit = compiler.value().get();
  auto timed = pipeline::runPasses(config, std::min(config.batch, count), options);
  const double compile_ms = millisecondsSince(compile_start);
  const double compile_cpu_ms = processCpuMilliseconds() - compile_cpu_start;
  const jit::JitStats timed_jit = compiler.value()->stats();
  auto compiled = pipeline::compileTrainable(config, count, *compiler.value());
  for (const auto* error : {std::get_if<pipeline::PipelineError>(&timed), std::get_if<pipeline::PipelineError>(&compiled)}) {
    if (error == nullptr) continue;
    std::fprintf(stderr, "error: %s\n", error->message.c_str());
    return error->internal ? 3 : 2;
  }
  const rt::CompiledModel& model = std::get<rt::CompiledModel>(compiled);
  const rt::DataView fit{views.value()->train_data, views.value()->train};
  if (args.breakdown) {
    const std::string label = args.positional.size() == 2 ? args.positional[1] : std::string("the first sweep");
    return printBreakdown(model, fit, args.epochs, label);
  }
  rt::TrialSettings settings;
  settings.epochs = args.epochs;
  settings.seed = 1;
  settings.evaluate = false;
  const int threads = args.threads;
  settings.kernel_threads = [threads] { return threads; };
  const double cpu_start = threadCpuSeconds();
  const auto outcome = rt::runTrial(model, fit, {}, {}, settings);
  const double cpu_seconds = threadCpuSeconds() - cpu_start;
  if (outcome.end != rt::TrialEnd::kFinished) {
    std::fprintf(stderr, "error: %s\n", outcome.reason.c_str());
    return 1;
  }
  std::vector<double> epoch_seconds;
  for (const auto& record : outcome.epochs) epoch_seconds.push_back(record.seconds);
  const double seconds = median(epoch_seconds);
  std::printf(
      "nnspec samples_per_s=%.1f seconds=%.3f compile_ms=%.1f loss=%.4f host=%s jit=%s emit_ms=%.1f optimize_ms=%.1f "
      "codegen_ms=%.1f link_ms=%.1f compile_cpu_ms=%.1f epoch_cpu_s=%.3f%s\n",
      static_cast<double>(count) / seconds, seconds, compile_ms, outcome.epochs.back().metrics.at("train.loss"),
      compiler.value()->hostCpu().c_str(), timed_jit.loaded > 0 ? "loaded" : "compiled", timed_jit.emit_seconds * 1000,
      timed_jit.optimize_seconds * 1000, timed_jit.codegen_seconds * 1000, timed_jit.link_seconds * 1000, compile_cpu_ms,
      cpu_seconds / args.epochs,
      args.epochs > 1 ? fmt::format(" epochs={}", args.epochs).c_str() : "");
  return 0;
}
