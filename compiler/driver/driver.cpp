#include "compiler/driver/driver.h"

#include "compiler/driver/load.h"

#include <pthread.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "compiler/frontend/parse.h"
#include "compiler/sema/check.h"
#include "compiler/support/diagnostics.h"
#include "compiler/support/source_file.h"

namespace nnspec::driver {
namespace {

constexpr std::uintmax_t kMaxSpecBytes = 64u << 20;
// The parser and the tree walkers recurse; this stack is ample for the parser's limits.
constexpr size_t kCheckStackBytes = size_t{1} << 30;

// Bytes of stack left below this frame on the calling thread (0 when unknown).
size_t stackLeft() {
  pthread_attr_t attributes;
  if (pthread_getattr_np(pthread_self(), &attributes) != 0) return 0;
  void* low = nullptr;
  size_t size = 0;
  const int status = pthread_attr_getstack(&attributes, &low, &size);
  pthread_attr_destroy(&attributes);
  if (status != 0) return 0;
  // The frame, not a local's address: ASan may keep locals on a fake stack elsewhere.
  const auto top = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const auto bottom = reinterpret_cast<uintptr_t>(low);
  return top > bottom && top - bottom <= size ? top - bottom : 0;
}

// Runs `work` on a thread with a large stack and waits for it; on the calling thread when
// its own stack has that much left (a caller checking many specs, like the fuzzer under
// `ulimit -s`, then starts no thread per spec).
void runWithLargeStack(const std::function<void()>& work) {
  if (stackLeft() >= kCheckStackBytes) {
    work();
    return;
  }
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, kCheckStackBytes);
  pthread_t thread;
  auto trampoline = [](void* argument) -> void* {
    (*static_cast<const std::function<void()>*>(argument))();
    return nullptr;
  };
  if (pthread_create(&thread, &attributes, trampoline, const_cast<std::function<void()>*>(&work)) != 0) {
    pthread_attr_destroy(&attributes);
    work();
    return;
  }
  pthread_attr_destroy(&attributes);
  pthread_join(thread, nullptr);
}

Outcome badInput(const std::string& message, const std::string& hint = "") {
  Outcome outcome;
  outcome.exit_code = 2;
  outcome.err = fmt::format("error: {}\n", message);
  if (!hint.empty()) outcome.err += fmt::format("hint: {}\n", hint);
  return outcome;
}

Outcome checkText(const CheckRequest& request, const std::string& bytes, sema::ProbeCache* probe_cache) {
  Outcome outcome;
  SourceFile file(request.path, bytes);
  DiagnosticEngine diagnostics(file);
  auto finish = [&](int code) {
    outcome.exit_code = code;
    outcome.err += request.format == DiagnosticsFormat::kJson ? diagnostics.renderJson() : diagnostics.renderText();
    if (request.format == DiagnosticsFormat::kText && diagnostics.hasErrors()) outcome.err += overridesNote(request.overrides);
    return outcome;
  };
  if (request.emit == Emit::kTokens) {
    outcome.out = frontend::printTokens(file);
    return outcome;
  }
  auto spec = frontend::parseSpec(file, diagnostics);
  if (!spec) return finish(2);
  if (std::string problem = applyOverrides(*spec, request.overrides); !problem.empty()) {
    outcome.err = "error: " + problem + "\n";
    return finish(2);
  }
  if (request.emit == Emit::kAst) {
    outcome.out = ast::printAst(*spec);
    return finish(0);
  }
  std::string unknown;
  if (!checkTrainNames(*spec, request.trains, &unknown)) {
    outcome.err = unknown;
    return finish(2);
  }
  sema::CheckOptions options;
  options.data_paths = request.data_paths;
  options.probe_cache = probe_cache;
  options.run_alone = request.trains;
  auto checked = sema::checkSpec(*spec, options, diagnostics);
  if (!checked) return finish(2);
  applyFuse(*checked, request.fuse);
  if (!selectPlans(*checked, request.sweeps, request.trains, &unknown)) {
    outcome.err = unknown;
    return finish(2);
  }
  outcome.out = sema::printPlan(*checked);
  return finish(0);
}

}  // namespace

rt::DataPaths defaultDataPaths() {
  rt::DataPaths paths;
  paths.data_dir = rt::defaultDataDir();
  if (const char* dir = std::getenv("NNSPEC_FASHION_MNIST_DIR"); dir != nullptr && *dir != '\0') {
    paths.fashion_mnist_dir = dir;
  }
  return paths;
}

Outcome checkFile(const CheckRequest& request) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path path(request.path);
  if (!fs::exists(path, error)) return badInput(fmt::format("'{}': no such file", request.path));
  if (fs::is_directory(path, error)) {
    return badInput(fmt::format("'{}' is a directory", request.path), "pass a .nnspec file");
  }
  const auto size = fs::file_size(path, error);
  if (!error && size > kMaxSpecBytes) {
    return badInput(fmt::format("'{}' is {} bytes; specs are at most {} bytes", request.path, size, kMaxSpecBytes));
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return badInput(fmt::format("'{}': cannot open: {}", request.path, std::strerror(errno)));
  std::stringstream buffer;
  buffer << stream.rdbuf();
  if (stream.bad()) return badInput(fmt::format("'{}': read error", request.path));

  return checkSource(request, buffer.str());
}

Outcome checkSource(const CheckRequest& request, const std::string& bytes, sema::ProbeCache* probe_cache) {
  const std::filesystem::path path(request.path);
  CheckRequest resolved = request;
  resolved.data_paths.spec_dir = path.has_parent_path() ? path.parent_path().string() : ".";
  Outcome outcome;
  runWithLargeStack([&] {
    try {
      outcome = checkText(resolved, bytes, probe_cache);
    } catch (const std::exception& exception) {
      outcome = Outcome{3, "", fmt::format("internal error: {} (while checking {})\n", exception.what(), request.path)};
    }
  });
  return outcome;
}

}  // namespace nnspec::driver
