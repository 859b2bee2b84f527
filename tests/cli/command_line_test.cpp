// The nnspec command line (cli/main.cpp) run as a program: every value flag takes
// `--flag VALUE` and `--flag=VALUE` alike, -h prints each command's usage, and a bad
// command line (unknown or misplaced flag, missing or bad value) exits 2 with one error
// line naming the flag, never a parser's own message.

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/store/temp_dir.h"

namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

struct Result {
  int status = -1;
  std::string out;  // stdout, then stderr
  std::string err;
};

std::string quoted(const std::string& word) {
  std::string text = "'";
  for (char c : word) text += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return text + "'";
}

std::string readFile(const std::string& path) {
  std::string text;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return text;
  char buffer[4096];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, read);
  std::fclose(file);
  return text;
}

// Runs `nnspec ARGS...` in `folder` (the temp folder when empty).
Result runNnspec(const std::vector<std::string>& args, const std::string& folder = "") {
  nnspec::test::TempDir scratch;
  std::string command = "cd " + quoted(folder.empty() ? scratch.path("") : folder) + " && " +
                        quoted(std::string(NNSPEC_BINARY_DIR) + "/nnspec");
  for (const std::string& arg : args) command += " " + quoted(arg);
  command += " > " + quoted(scratch.path("out")) + " 2> " + quoted(scratch.path("err"));
  const int status = std::system(command.c_str());
  Result result;
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = readFile(scratch.path("out"));
  result.err = readFile(scratch.path("err"));
  return result;
}

std::string source(const std::string& path) { return std::string(NNSPEC_SOURCE_DIR) + "/" + path; }

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// `args` with FLAG VALUE appended as two words, or as FLAG=VALUE.
std::vector<std::string> withFlag(std::vector<std::string> args, const std::string& flag, const std::string& value,
                                  bool one_word) {
  if (one_word) {
    args.push_back(flag + "=" + value);
  } else {
    args.push_back(flag);
    args.push_back(value);
  }
  return args;
}

const std::string kLab3 = source("specs/lab3_fashion_mlp.nnspec");

}  // namespace

TEST_CASE("check: each value flag gives the same plan as --flag VALUE and --flag=VALUE, and changes it", "[cli]") {
  struct Row {
    std::vector<std::string> args;  // check's arguments before the flag
    std::string flag;
    std::string value;
  };
  const std::vector<Row> rows = {
      {{kLab3}, "--set", "epochs=3"},
      {{kLab3, "--sweep", "arch"}, "--set", "arch.lr=0.2"},
      {{kLab3}, "--sweep", "batch"},
      {{kLab3, "--set", "hidden=[50]", "--set", "lr=0.1", "--set", "batch_size=200"}, "--train", "sgd_mlp"},
      {{source("bench/specs/fusion_lab3_rate.nnspec")}, "--fuse", "4"},
      {{source("bench/specs/fusion_lab3_rate.nnspec")}, "--fuse", "off"},
      {{source("tests/golden/diagnostics/type_missing_argument.nnspec")}, "--diagnostics", "json"},
      {{kLab3}, "--emit", "tokens"},
      {{kLab3}, "--emit", "ast"},
  };
  for (const Row& row : rows) {
    std::vector<std::string> base = {"check"};
    base.insert(base.end(), row.args.begin(), row.args.end());
    const Result without = runNnspec(base);
    const Result two_words = runNnspec(withFlag(base, row.flag, row.value, false));
    const Result one_word = runNnspec(withFlag(base, row.flag, row.value, true));
    INFO(row.flag << " " << row.value << "\n" << two_words.out << two_words.err);
    CHECK(two_words.status == one_word.status);
    CHECK(two_words.out == one_word.out);
    CHECK(two_words.err == one_word.err);
    CHECK(two_words.out + two_words.err != without.out + without.err);  // the value reached the check
    CHECK_THAT(two_words.err, !Contains("usage:"));                     // the command line was fine
  }
}

namespace {

// Every value flag of every command, with a value it accepts, after arguments that stop
// the command early (a spec or store that does not exist).
struct ValueFlag {
  std::vector<std::string> args;
  std::string flag;
  std::string value;
};

std::vector<ValueFlag> valueFlags() {
  const std::vector<std::string> run = {"run", "missing.nnspec"};
  const std::vector<std::string> compile = {"compile", "missing.nnspec"};
  const std::vector<std::string> model = {"export", "missing.sqlite", "--model", "--format", "npz", "-o", "m.npz"};
  const std::vector<std::string> predict = {"predict", "missing.sqlite", "--data", "d.csv"};
  return {
      {{"check", "missing.nnspec"}, "--set", "lr=0.1"},
      {{"check", "missing.nnspec"}, "--sweep", "a"},
      {{"check", "missing.nnspec"}, "--train", "t"},
      {{"check", "missing.nnspec"}, "--fuse", "auto"},
      {{"check", "missing.nnspec"}, "--diagnostics", "text"},
      {{"check", "missing.nnspec"}, "--emit", "plan"},
      {compile, "--emit", "ir"},
      {compile, "--set", "lr=0.1"},
      {compile, "--sweep", "a"},
      {run, "--store", "s.sqlite"},
      {run, "--set", "epochs=1"},
      {run, "--sweep", "a"},
      {run, "--train", "t"},
      {run, "--jobs", "2"},
      {run, "--fuse", "8"},
      {run, "--threads", "2"},
      {run, "--report", "r.html"},
      {run, "--checkpoint-every", "0"},
      {run, "--worker", "w"},
      {run, "--lease-timeout", "5"},
      {run, "--max-attempts", "2"},
      {run, "--release-on", "USR1"},
      {{"report", "missing.sqlite"}, "-o", "r.html"},
      {{"report", "missing.sqlite"}, "--output", "r.html"},
      {{"report", "missing.sqlite"}, "--study", "s"},
      {{"export", "missing.sqlite"}, "--format", "csv"},
      {{"export", "missing.sqlite", "--format", "csv"}, "--output", "e.csv"},
      {{"export", "missing.sqlite", "--format", "csv"}, "--study", "s"},
      {{"export", "missing.sqlite", "--model", "-o", "m.npz", "--best"}, "--format", "npz"},
      {{"export", "missing.sqlite", "--model", "--format", "npz"}, "--output", "m.npz"},
      {{"export", "missing.sqlite", "--model", "--format", "npz", "--output", "m.npz"}, "--trial", "3"},
      {{"export", "missing.sqlite", "--model", "--format", "npz", "--output", "m.npz"}, "--best", "sweep"},
      {{"export", "missing.sqlite", "--model", "--format", "object", "-o", "m.o"}, "--prefix", "p"},
      {{"export", "missing.sqlite", "--model", "--format", "object", "-o", "m.o"}, "--cpu", "host"},
      {model, "--study", "s"},
      {{"status", "missing.sqlite"}, "--study", "s"},
      {{"replay", "missing.nnspec"}, "--store", "s.sqlite"},
      {predict, "--trial", "2"},
      {predict, "--best", "sweep"},
      {{"predict", "missing.sqlite"}, "--data", "d.csv"},
      {predict, "-o", "p.csv"},
      {predict, "--study", "s"},
  };
}

}  // namespace

TEST_CASE("every value flag of every command takes --flag VALUE and --flag=VALUE alike", "[cli]") {
  for (const ValueFlag& row : valueFlags()) {
    const Result two_words = runNnspec(withFlag(row.args, row.flag, row.value, false));
    const Result one_word = runNnspec(withFlag(row.args, row.flag, row.value, true));
    INFO(joined(row.args) << " " << row.flag << " " << row.value << "\n" << two_words.out << two_words.err);
    CHECK(two_words.status == 2);  // the missing file
    CHECK(one_word.status == 2);
    CHECK(two_words.out == one_word.out);
    CHECK(two_words.err == one_word.err);
    CHECK_THAT(two_words.err, StartsWith("error: "));
    CHECK_THAT(two_words.err, Contains("missing"));  // the file named, not the command line
    CHECK_THAT(two_words.err, !Contains("usage:"));
  }
}

TEST_CASE("-h and --help print each command's usage, which lists every flag, and exit 0", "[cli]") {
  for (const char* command : {"check", "compile", "run", "report", "export", "status", "replay", "predict", "help"}) {
    const Result short_flag = runNnspec({command, "-h"});
    const Result long_flag = runNnspec({command, "--help"});
    const Result with_file = runNnspec({command, "some.file", "--help"});
    INFO(command << "\n" << short_flag.out << short_flag.err);
    CHECK(short_flag.status == 0);
    CHECK_THAT(short_flag.out, StartsWith(std::string("usage: nnspec ") + command));
    CHECK(short_flag.err.empty());
    CHECK(long_flag.status == 0);
    CHECK(long_flag.out == short_flag.out);
    CHECK(with_file.out == short_flag.out);
    for (const ValueFlag& row : valueFlags()) {
      if (row.args[0] == command) CHECK_THAT(short_flag.out, Contains(row.flag));
    }
  }
  const Result top = runNnspec({"--help"});
  CHECK(top.status == 0);
  CHECK_THAT(top.out, StartsWith("usage: nnspec <command>"));
  CHECK_THAT(top.out, Contains("`--jobs 2` or `--jobs=2`"));
  CHECK(runNnspec({"-h"}).out == top.out);
}

TEST_CASE("bad command lines exit 2 with one error line that names the flag and the fix", "[cli]") {
  struct Row {
    std::vector<std::string> args;
    std::string error;  // the first line of stderr holds this
  };
  const std::vector<Row> rows = {
      {{"run", "x.nnspec", "--jbos", "3"}, "error: unknown option '--jbos' for run; did you mean '--jobs'?"},
      {{"check", "x.nnspec", "--sweeep=a"}, "error: unknown option '--sweeep' for check; did you mean '--sweep'?"},
      {{"run", "x.nnspec", "--bogus"}, "error: unknown option '--bogus' for run"},
      {{"run", "x.nnspec", "--quiet=yes"}, "error: --quiet takes no value, found 'yes'"},
      {{"check", "x.nnspec", "--jobs", "2"}, "error: check does not take --jobs; run does"},
      {{"check", "x.nnspec", "--study=s"}, "error: check does not take --study; report, export, status and predict do"},
      {{"--jobs", "2", "run", "x.nnspec"}, "error: --jobs goes after the command: nnspec run ... --jobs"},
      {{"chek", "x.nnspec"}, "error: unknown command 'chek'; did you mean 'check'?"},
      {{"--jobs"}, "error: unknown option '--jobs'"},
      {{}, "error: no command given"},
      {{"run", "x.nnspec", "--jobs"}, "error: --jobs needs a value: --jobs N or --jobs=N"},
      {{"check", "x.nnspec", "--set"}, "error: --set needs a value: --set NAME=VALUE or --set=NAME=VALUE"},
      {{"predict", "s.sqlite", "--data"}, "error: --data needs a value: --data FILE or --data=FILE"},
      {{"run", "x.nnspec", "--jobs", "x"}, "error: --jobs needs a number of trials from 1 to 256, not 'x'"},
      {{"run", "x.nnspec", "--jobs=0"}, "error: --jobs needs a number of trials from 1 to 256, not '0'"},
      {{"run", "x.nnspec", "--jobs", "2.5"}, "error: --jobs needs a number of trials from 1 to 256, not '2.5'"},
      {{"run", "x.nnspec", "--threads=lots"}, "error: --threads needs a number of CPUs from 1 to 1024, not 'lots'"},
      {{"run", "x.nnspec", "--lease-timeout", "0"}, "error: --lease-timeout needs a number of seconds from 1 to 86400"},
      {{"run", "x.nnspec", "--checkpoint-every=-1"}, "error: --checkpoint-every needs a number of seconds from 0"},
      {{"run", "x.nnspec", "--max-attempts", "101"}, "error: --max-attempts needs a number from 1 to 100, not '101'"},
      {{"run", "x.nnspec", "--release-on=NOPE"}, "error: --release-on needs a signal name such as USR1"},
      {{"run", "x.nnspec", "--fuse", "0"},
       "error: --fuse needs a number of trials from 1 to 64, 'auto' or 'off', not '0'"},
      {{"check", "x.nnspec", "--fuse=many"}, "error: --fuse needs a number of trials from 1 to 64, 'auto' or 'off'"},
      {{"run", "x.nnspec", "--store", ""}, "error: --store needs a path or a postgresql:// URL"},
      {{"run", "x.nnspec", "--store="}, "error: --store needs a path or a postgresql:// URL"},
      {{"replay", "x.nnspec", "--store="}, "error: --store needs a store"},
      {{"run", "x.nnspec", "--worker", ""}, "error: --worker needs a name"},
      {{"check", "x.nnspec", "--sweep="}, "error: --sweep needs a name"},
      {{"run", "x.nnspec", "--set", "lr"}, "error: --set needs NAME=VALUE, found 'lr'"},
      {{"check", "x.nnspec", "--diagnostics", "xml"}, "error: --diagnostics needs text or json, not 'xml'"},
      {{"check", "x.nnspec", "--emit=sema"}, "error: --emit needs plan, tokens or ast, not 'sema'"},
      {{"compile", "x.nnspec", "--emit", "nope"}, "error: --emit needs a pass ('ir', "},
      {{"predict", "s.sqlite", "--trial", "first", "--data", "d.csv"},
       "error: --trial needs a trial id (a positive number), not 'first'"},
      {{"predict", "s.sqlite", "--trial=2", "--best", "--data", "d.csv"}, "error: give --trial or --best, not both"},
      {{"predict", "s.sqlite"}, "error: predict needs --data FILE"},
      {{"export", "s.sqlite", "--format", "xml"}, "error: unknown format 'xml': use --format csv or --format json"},
      {{"export", "s.sqlite"}, "error: export needs --format csv or --format json"},
      {{"export", "s.sqlite", "--format=csv", "--trial", "2"}, "error: --trial is for export --model"},
      {{"export", "s.sqlite", "--model", "--format", "npz"}, "error: --model needs -o PATH"},
      {{"run", "a.nnspec", "b.nnspec"}, "error: run takes one spec file"},
      {{"check"}, "error: no spec file given"},
      {{"help", "--markdown", "layers"}, "error: help --markdown prints the whole reference; give it no topic"},
  };
  for (const Row& row : rows) {
    const Result result = runNnspec(row.args);
    INFO("nnspec " << joined(row.args) << "\n" << result.err);
    CHECK(result.status == 2);
    CHECK(result.out.empty());
    CHECK_THAT(result.err.substr(0, result.err.find('\n')), StartsWith(row.error));
    CHECK_THAT(result.err, Contains("\nusage: nnspec "));
    // One error, and none of the parser's own words.
    CHECK(result.err.find("error:", 1) == std::string::npos);
    CHECK_THAT(result.err, !Contains("required") && !Contains("were not expected") && !Contains("internal error:"));
  }
}

TEST_CASE("a --set with statements after its value is an error naming the --set", "[cli]") {
  const std::string setting = "lr=0.1 train t2 { model m loss mse optimizer adam epochs 1 }";
  for (const bool one_word : {false, true}) {
    const Result result = runNnspec(withFlag({"check", kLab3}, "--set", setting, one_word));
    INFO(result.err);
    CHECK(result.status == 2);
    CHECK_THAT(result.err, Contains("--set " + setting + ": text after the value; --set takes one"));
  }
}

TEST_CASE("run takes its values in either form: both give the same table and the store and worker they name", "[cli]") {
  const std::string spec = source("tests/e2e/specs/synthetic_regression.nnspec");
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--store", "s.sqlite"}, {"--set", "epochs=1"},       {"--jobs", "2"},         {"--threads", "1"},
      {"--fuse", "off"},       {"--checkpoint-every", "0"}, {"--worker", "w-named"}, {"--lease-timeout", "30"},
      {"--max-attempts", "2"}, {"--release-on", "USR1"},
  };
  std::vector<Result> runs;
  std::vector<Result> statuses;
  std::vector<std::unique_ptr<nnspec::test::TempDir>> folders;
  for (const bool one_word : {false, true}) {
    folders.push_back(std::make_unique<nnspec::test::TempDir>());
    std::vector<std::string> args = {"run", spec, "--quiet", "--no-report"};
    for (const auto& [flag, value] : flags) args = withFlag(args, flag, value, one_word);
    runs.push_back(runNnspec(args, folders.back()->path("")));
    statuses.push_back(runNnspec({"status", folders.back()->path("s.sqlite")}));
  }
  INFO(runs[0].out << runs[0].err << runs[1].out << runs[1].err);
  CHECK(runs[0].status == 0);
  CHECK(runs[1].status == 0);
  CHECK(runs[0].out == runs[1].out);
  CHECK_THAT(runs[0].out, Contains("best: "));
  for (const Result& status : statuses) {
    CHECK(status.status == 0);
    CHECK_THAT(status.out, Contains("8 finished"));
    CHECK_THAT(status.out, Contains("w-named"));
  }
  // A short flag's value in one word, `-o=PATH`, names PATH as `-o PATH` does.
  const std::string store = folders[0]->path("s.sqlite");
  for (const bool one_word : {false, true}) {
    const std::string page = folders[0]->path(one_word ? "one.html" : "two.html");
    const Result report = runNnspec(withFlag({"report", store}, "-o", page, one_word));
    INFO(report.out << report.err);
    CHECK(report.status == 0);
    CHECK(std::filesystem::is_regular_file(page));
  }
  CHECK_FALSE(std::filesystem::exists(folders[0]->path("=one.html")));
}
