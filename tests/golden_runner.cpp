// Runs one golden file: its first line says what to run (`# RUN: nnspec check
// [flags]`), and NAME.expected beside it holds the exit status, stdout and stderr.
// Environment variables written before `nnspec` on that line are set for the run.
// Usage: nnspec_golden FILE [--update]   (run from the repo root)
// With --update (or NNSPEC_UPDATE_GOLDEN=1) the expected file is rewritten.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/driver/compile.h"
#include "compiler/driver/driver.h"

namespace {

std::string readFile(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  std::stringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

std::vector<std::string> splitWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream stream(text);
  std::string word;
  while (stream >> word) words.push_back(word);
  return words;
}

// `# RUN: NAME=VALUE nnspec check`: sets NAME for this run and returns the line
// without the assignments.
std::string withEnvironment(const std::string& line) {
  const std::string prefix = "# RUN: ";
  if (line.rfind(prefix, 0) != 0) return line;
  std::string rest = line.substr(prefix.size());
  for (;;) {
    const size_t space = rest.find(' ');
    const std::string word = rest.substr(0, space);
    const size_t equals = word.find('=');
    if (space == std::string::npos || equals == std::string::npos) break;
    setenv(word.substr(0, equals).c_str(), word.substr(equals + 1).c_str(), 1);
    rest = rest.substr(space + 1);
  }
  return prefix + rest;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: nnspec_golden FILE [--update]\n");
    return 2;
  }
  const std::string path = argv[1];
  const char* env_update = std::getenv("NNSPEC_UPDATE_GOLDEN");
  const bool update = (argc > 2 && std::string(argv[2]) == "--update") || (env_update != nullptr && *env_update == '1');
  // Under CI an update would rewrite every expected file and pass: a leaked variable must
  // not turn the golden tests into passes.
  const char* ci = std::getenv("CI");
  if (update && ci != nullptr && *ci != '\0') {
    std::fprintf(stderr,
                 "%s: refusing to update the expected file while CI is set (CI=%s)\n"
                 "hint: unset NNSPEC_UPDATE_GOLDEN (and drop --update) in CI; update golden files locally\n",
                 path.c_str(), ci);
    return 2;
  }
  const std::string text = readFile(path);
  const std::string first_line = withEnvironment(text.substr(0, text.find('\n')));
  const std::string check_marker = "# RUN: nnspec check";
  const std::string compile_marker = "# RUN: nnspec compile";
  const bool is_check = first_line.rfind(check_marker, 0) == 0;
  const bool is_compile = first_line.rfind(compile_marker, 0) == 0;
  if (!is_check && !is_compile) {
    std::fprintf(stderr, "%s: first line must start with '%s' or '%s'\n", path.c_str(), check_marker.c_str(),
                 compile_marker.c_str());
    return 2;
  }
  nnspec::driver::CheckRequest request;
  request.path = path;
  request.data_paths = nnspec::driver::defaultDataPaths();
  nnspec::driver::CompileRequest compile;
  const auto flags = splitWords(first_line.substr((is_check ? check_marker : compile_marker).size()));
  for (const auto& flag : flags) {
    if (is_check && flag == "--diagnostics=json") {
      request.format = nnspec::driver::DiagnosticsFormat::kJson;
    } else if (is_check && flag == "--emit=ast") {
      request.emit = nnspec::driver::Emit::kAst;
    } else if (is_check && flag == "--emit=tokens") {
      request.emit = nnspec::driver::Emit::kTokens;
    } else if (is_compile && flag.rfind("--emit=", 0) == 0 && nnspec::pipeline::passNamed(flag.substr(7))) {
      compile.emit = *nnspec::pipeline::passNamed(flag.substr(7));
    } else {
      std::fprintf(stderr, "%s: unknown flag '%s' on the RUN line\n", path.c_str(), flag.c_str());
      return 2;
    }
  }
  compile.check = request;
  const auto outcome = is_check ? nnspec::driver::checkFile(request) : nnspec::driver::compileFile(compile);
  const std::string actual =
      "exit: " + std::to_string(outcome.exit_code) + "\n--- stdout\n" + outcome.out + "--- stderr\n" + outcome.err;
  const std::string expected_path = path.substr(0, path.rfind('.')) + ".expected";
  if (update) {
    std::ofstream(expected_path, std::ios::binary) << actual;
    std::printf("updated %s\n", expected_path.c_str());
    return 0;
  }
  const std::string expected = readFile(expected_path);
  if (expected == actual) return 0;
  std::printf("golden mismatch for %s\n=== expected (%s)\n%s=== actual\n%s", path.c_str(), expected_path.c_str(),
              expected.c_str(), actual.c_str());
  return 1;
}
