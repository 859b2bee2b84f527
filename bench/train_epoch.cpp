// Times one training epoch of a spec's first point with nnspec: JIT compile time, then
// the epoch (shuffle, batch assembly, the compiled step, the optimizer) single-threaded.
// SWEEP picks a sweep, or a train block no sweep names (as `nnspec run --sweep`); by
// default the spec's first sweep.
// Prints: `nnspec samples_per_s=<float> seconds=<float> compile_ms=<float> loss=<float>
// host=<cpu> jit=<compiled|loaded> emit_ms= optimize_ms= codegen_ms= link_ms=
// compile_cpu_ms=`: the JIT's share of compile_ms by phase, summed over the threads that
// compile the entry points at once (a step loaded from the disk cache has only link_ms),
// and the CPU time of the whole compile.
// Usage: nnspec_bench_train_epoch [--threads N] SPEC [SWEEP]
//        --threads N: the trial's kernels use N threads (runtime/kernels/thread_team.h)

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "compiler/driver/driver.h"
#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/pipeline/pipeline.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/lowering/lower_model.h"
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

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "--threads") {
    threads = std::atoi(args[1].c_str());
    args.erase(args.begin(), args.begin() + 2);
  }
  if ((args.size() != 1 && args.size() != 2) || threads < 1) {
    std::fprintf(stderr, "usage: nnspec_bench_train_epoch [--threads N] SPEC [SWEEP]\n");
    return 2;
  }
  driver::CheckRequest request;
  request.path = args[0];
  request.data_paths = driver::defaultDataPaths();
  std::vector<std::string> sweeps;
  if (args.size() == 2) sweeps.push_back(args[1]);
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
  rt::TrialSettings settings;
  settings.epochs = 1;
  settings.seed = 1;
  settings.evaluate = false;
  settings.kernel_threads = [threads] { return threads; };
  const rt::DataView fit{views.value()->train_data, views.value()->train};
  const auto outcome = rt::runTrial(model, fit, {}, {}, settings);
  if (outcome.end != rt::TrialEnd::kFinished) {
    std::fprintf(stderr, "error: %s\n", outcome.reason.c_str());
    return 1;
  }
  const double seconds = outcome.epochs.at(0).seconds;
  std::printf(
      "nnspec samples_per_s=%.1f seconds=%.3f compile_ms=%.1f loss=%.4f host=%s jit=%s emit_ms=%.1f optimize_ms=%.1f "
      "codegen_ms=%.1f link_ms=%.1f compile_cpu_ms=%.1f\n",
      static_cast<double>(count) / seconds, seconds, compile_ms, outcome.epochs.at(0).metrics.at("train.loss"),
      compiler.value()->hostCpu().c_str(), timed_jit.loaded > 0 ? "loaded" : "compiled", timed_jit.emit_seconds * 1000,
      timed_jit.optimize_seconds * 1000, timed_jit.codegen_seconds * 1000, timed_jit.link_seconds * 1000, compile_cpu_ms);
  return 0;
}
