// Times one training epoch of a spec's first point with nnspec: JIT compile time, then
// the epoch (shuffle, batch assembly, the compiled step, the optimizer) single-threaded.
// SWEEP picks a sweep, or a train block no sweep names (as `nnspec run --sweep`); by
// default the spec's first sweep.
// Prints: `nnspec samples_per_s=<float> seconds=<float> compile_ms=<float> loss=<float>`.
// Usage: nnspec_bench_train_epoch SPEC [SWEEP]

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "compiler/driver/driver.h"
#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/driver/run.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/lowering/lower_model.h"
#include "runtime/train/trial.h"

using namespace nnspec;

namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::optional<std::shared_ptr<const jit::CompiledStep>> compileStep(jit::JitCompiler& compiler,
                                                                     const sema::TrainConfig& config, int64_t batch,
                                                                     lowering::LoweredStep* lowered_out) {
  auto lowered = lowering::lowerTrainStep(config, batch);
  if (auto* problem = std::get_if<lowering::Unsupported>(&lowered)) {
    std::fprintf(stderr, "error: %s\n", problem->message.c_str());
    return std::nullopt;
  }
  *lowered_out = std::move(std::get<lowering::LoweredStep>(lowered));
  auto step = compiler.compile(lowered_out->graph, lowered_out->config);
  if (!step.ok()) {
    std::fprintf(stderr, "error: %s\n", step.error().message.c_str());
    return std::nullopt;
  }
  return step.value();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: nnspec_bench_train_epoch SPEC [SWEEP]\n");
    return 2;
  }
  driver::CheckRequest request;
  request.path = argv[1];
  request.data_paths = driver::defaultDataPaths();
  std::vector<std::string> sweeps;
  if (argc == 3) sweeps.push_back(argv[2]);
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
  lowering::LoweredStep full;
  const auto compile_start = Clock::now();
  auto full_step = compileStep(*compiler.value(), config, config.batch, &full);
  const double compile_ms = millisecondsSince(compile_start);
  if (!full_step) return 3;
  rt::CompiledModel model = driver::trainableModel(full);
  model.full = *full_step;
  if (count % config.batch != 0) {
    lowering::LoweredStep tail;
    auto tail_step = compileStep(*compiler.value(), config, count % config.batch, &tail);
    if (!tail_step) return 3;
    model.remainder = *tail_step;
    model.remainder_batch = count % config.batch;
  }
  rt::TrialSettings settings;
  settings.epochs = 1;
  settings.seed = 1;
  settings.evaluate = false;
  const rt::DataView fit{views.value()->train_data, views.value()->train};
  const auto outcome = rt::runTrial(model, fit, {}, {}, settings);
  if (outcome.end != rt::TrialEnd::kFinished) {
    std::fprintf(stderr, "error: %s\n", outcome.reason.c_str());
    return 1;
  }
  const double seconds = outcome.epochs.at(0).seconds;
  std::printf("nnspec samples_per_s=%.1f seconds=%.3f compile_ms=%.1f loss=%.4f host=%s\n",
              static_cast<double>(count) / seconds, seconds, compile_ms,
              outcome.epochs.at(0).metrics.at("train.loss"), compiler.value()->hostCpu().c_str());
  return 0;
}
