// The disk cache of compiled step objects (compiler/jit/object_cache.h) and the JIT's use
// of it: a second JIT loads instead of compiling, with bit-identical results; bad entries
// are recompiled; any key component changing misses; the size bound holds; concurrent
// writers leave only whole entries; an unusable directory warns once and costs nothing.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "compiler/jit/codegen_identity.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/jit/object_cache.h"
#include "runtime/exec/step_runner.h"
#include "tests/jit/mlp_builder.h"

namespace nnspec::jit {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kBatch = 8;
const std::vector<int64_t> kWidths = {6, 16, 3};

// An empty directory of the build tree, its own per test and process.
fs::path freshDirectory(const std::string& name) {
  const fs::path path = fs::path(NNSPEC_BINARY_DIR) / "test-tmp" / (name + "." + std::to_string(::getpid()));
  fs::remove_all(path);
  fs::create_directories(path);
  return path;
}

struct Warnings {
  std::vector<std::string> messages;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& message) { messages.push_back(message); };
  }
};

std::unique_ptr<JitCompiler> newJit(const fs::path& directory, Warnings* warnings = nullptr) {
  JitOptions options;
  options.disk_cache.directory = directory.string();
  if (warnings != nullptr) options.disk_cache.warn = warnings->sink();
  auto created = JitCompiler::create(options);
  if (!created) FAIL(created.error().message);
  return std::move(created.value());
}

transforms::GradientGraph mlp(int64_t hidden = 16) {
  return testing::buildMlp(kBatch, {kWidths[0], hidden, kWidths[2]});
}

// One SGD step and a forward pass from fixed parameters and inputs: the parameters after
// the step, then the loss (as bits, to compare exactly).
std::vector<float> trainOnce(const std::shared_ptr<const rt::CompiledStep>& step) {
  rt::StepRunner runner(step);
  const std::vector<std::vector<float>> params = testing::randomMlpParameters(kWidths, 7);
  for (size_t param_idx = 0; param_idx < params.size(); ++param_idx) runner.parameter(param_idx) = params[param_idx];
  std::vector<float> x(kBatch * kWidths[0]);
  for (size_t element = 0; element < x.size(); ++element) x[element] = static_cast<float>(element % 5) * 0.3f - 0.6f;
  std::vector<int32_t> labels = {0, 1, 2, 1, 0, 2, 2, 1};
  const void* inputs[] = {x.data(), labels.data()};
  NnspecOptimizerParams opt{};
  opt.lr = 0.1f;
  opt.step = 1;
  std::vector<float> out;
  out.push_back(runner.trainStep(inputs, opt).total_loss);
  for (size_t param_idx = 0; param_idx < params.size(); ++param_idx)
    out.insert(out.end(), runner.parameter(param_idx).begin(), runner.parameter(param_idx).end());
  out.push_back(runner.forward(inputs).total_loss);
  return out;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

uint64_t entryBytes(const fs::path& directory) {
  uint64_t total = 0;
  for (const auto& file : fs::directory_iterator(directory)) total += file.file_size();
  return total;
}

// Sets (and on destruction restores) an environment variable; nullopt unsets it.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value->c_str(), 1) : ::unsetenv(name);
  }
  ~ScopedVariable() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_CASE("a second JIT loads the step from the disk cache, with bit-identical results", "[jit]") {
  const fs::path directory = freshDirectory("second_jit");
  auto first = newJit(directory);
  auto compiled = first->compile(mlp(), {});
  REQUIRE(compiled.ok());
  CHECK(first->stats().compiled == 1);
  CHECK(first->stats().loaded == 0);
  CHECK(first->stats().disk.stored == 1);

  auto second = newJit(directory);
  auto loaded = second->compile(mlp(), {});
  REQUIRE(loaded.ok());
  const JitStats stats = second->stats();
  CHECK(stats.compiled == 0);  // no IR was emitted, optimized or compiled
  CHECK(stats.loaded == 1);
  CHECK(stats.emit_seconds == 0);
  CHECK(stats.codegen_seconds == 0);
  CHECK(stats.disk.hits == 1);
  CHECK(second->compilationCount() == 1);
  CHECK(loaded.value()->layout.workspace_floats == compiled.value()->layout.workspace_floats);
  CHECK(loaded.value()->layout.parameters.size() == compiled.value()->layout.parameters.size());

  const std::vector<float> fresh = trainOnce(compiled.value());
  const std::vector<float> cached = trainOnce(loaded.value());
  REQUIRE(fresh.size() == cached.size());
  CHECK(std::memcmp(fresh.data(), cached.data(), fresh.size() * sizeof(float)) == 0);
  CHECK(std::isfinite(fresh.front()));

  // Another graph is a miss, then a hit for the next JIT.
  REQUIRE(second->compile(mlp(17), {}).ok());
  CHECK(second->stats().compiled == 1);
}

TEST_CASE("the disk cache keeps the entry points compiled at once under a key of their own", "[jit]") {
  const fs::path directory = freshDirectory("entries");
  const codegen::EntrySet trains{codegen::EntryPoint::TrainStep};
  auto first = newJit(directory);
  REQUIRE(first->compile(mlp(), {}, trains).ok());
  CHECK(first->stats().disk.stored == 1);
  const ObjectCache reader(directory, kDefaultCacheMaxBytes, {});
  CHECK(fs::exists(reader.entryPath(first->objectKey(mlp(), {}, trains).text())));
  CHECK_FALSE(fs::exists(reader.entryPath(first->objectKey(mlp(), {}).text())));
  // The forward and gradients added later: compiled, stored under their own key.
  auto whole = first->compile(mlp(), {});
  REQUIRE(whole.ok());
  CHECK(first->stats().compiled == 2);
  CHECK(first->stats().disk.stored == 2);
  const codegen::EntrySet rest{codegen::EntryPoint::Forward, codegen::EntryPoint::Gradients};
  CHECK(fs::exists(reader.entryPath(first->objectKey(mlp(), {}, rest).text())));

  // A second JIT asking for the same loads them, and trains as the first did.
  auto second = newJit(directory);
  auto loaded = second->compile(mlp(), {}, trains);
  REQUIRE(loaded.ok());
  CHECK(second->stats().loaded == 1);
  CHECK(second->stats().compiled == 0);
  CHECK(loaded.value()->forward == nullptr);
  auto loaded_whole = second->compile(mlp(), {});
  REQUIRE(loaded_whole.ok());
  CHECK(second->stats().loaded == 2);
  CHECK(second->stats().compiled == 0);
  CHECK(loaded_whole.value()->train_step == loaded.value()->train_step);
  CHECK(trainOnce(loaded_whole.value()) == trainOnce(whole.value()));
}

TEST_CASE("a truncated or corrupt cache entry is recompiled and rewritten", "[jit]") {
  const fs::path directory = freshDirectory("corrupt");
  auto first = newJit(directory);
  REQUIRE(first->compile(mlp(), {}).ok());
  const ObjectCache reader(directory, kDefaultCacheMaxBytes, {});
  const fs::path entry = reader.entryPath(first->objectKey(mlp(), {}).text());
  const std::string whole = readFile(entry);
  REQUIRE(whole.size() > 64);

  std::string flipped = whole;
  flipped[flipped.size() - 100] ^= 0x5a;
  for (const std::string& damaged : {whole.substr(0, whole.size() / 2), flipped, std::string(), whole.substr(0, 20)}) {
    writeFile(entry, damaged);
    auto jit = newJit(directory);
    auto step = jit->compile(mlp(), {});
    REQUIRE(step.ok());
    CHECK(jit->stats().compiled == 1);
    CHECK(jit->stats().loaded == 0);
    CHECK(jit->stats().disk.rejected == 1);
    CHECK(readFile(entry) == whole);  // rewritten whole
    CHECK(trainOnce(step.value()) == trainOnce(newJit(directory)->compile(mlp(), {}).value()));
  }
}

TEST_CASE("an entry whose checks pass but whose objects do not link is recompiled", "[jit]") {
  const fs::path directory = freshDirectory("unlinkable");
  auto jit = newJit(directory);
  const std::string key = jit->objectKey(mlp(), {}).text();
  ObjectCache cache(directory, kDefaultCacheMaxBytes, {});
  // Well framed (one object of 16 bytes, the size first), but not an object file; and a
  // payload that does not split into objects at all.
  const uint64_t size = 16;
  const std::string unlinkable = std::string(reinterpret_cast<const char*>(&size), sizeof(size)) + std::string(16, 'z');
  for (const std::string& payload : {unlinkable, std::string("not framed")}) {
    cache.store(key, payload);
    auto fresh = newJit(directory);
    auto step = fresh->compile(mlp(), {});
    REQUIRE(step.ok());
    CHECK(fresh->stats().compiled == 1);
    CHECK(fresh->stats().loaded == 0);
    CHECK(std::isfinite(trainOnce(step.value()).front()));
    auto after = newJit(directory);  // the entry was replaced by the compiled objects
    REQUIRE(after->compile(mlp(), {}).ok());
    CHECK(after->stats().loaded == 1);
  }
}

TEST_CASE("any component of the cache key changing is a miss", "[jit]") {
  const fs::path directory = freshDirectory("key");
  auto jit = newJit(directory);
  const ObjectKey key = jit->objectKey(mlp(), {});
  // The JIT's key names this build's code generator and the target it compiles for, and
  // the JIT stores its object under exactly that key.
  CHECK(key.codegen_identity == codegenIdentity());
  CHECK(key.codegen_identity.size() == 64);
  CHECK(key.cpu == jit->hostCpu());
  CHECK_FALSE(key.features.empty());
  CHECK_FALSE(key.llvm_version.empty());
  CHECK(key.signature.find("optimizer sgd") != std::string::npos);
  CHECK(jit->objectKey(mlp(), {codegen::OptimizerKind::Adam}).text() != key.text());
  REQUIRE(jit->compile(mlp(), {}).ok());
  CHECK(fs::exists(ObjectCache(directory, kDefaultCacheMaxBytes, {}).entryPath(key.text())));

  ObjectCache cache(freshDirectory("key_raw"), kDefaultCacheMaxBytes, {});
  cache.store(key.text(), "object bytes");
  REQUIRE(cache.load(key.text()) == std::optional<std::string>("object bytes"));
  std::vector<ObjectKey> others(9, key);
  others[0].features += ",-avx512f";
  others[1].codegen_identity[0] = others[1].codegen_identity[0] == '0' ? '1' : '0';
  others[2].cpu = "x86-64-v2";
  others[3].opt_level = 2;
  others[4].llvm_version = "20.1.0";
  others[5].nnspec_version = "9.9.9";
  others[6].triple = "aarch64-unknown-linux-gnu";
  others[7].signature += " ";
  others[8].entries = codegen::EntrySet{codegen::EntryPoint::TrainStep}.text();
  for (const ObjectKey& other : others) {
    INFO(other.text());
    CHECK(cache.entryPath(other.text()) != cache.entryPath(key.text()));
    CHECK_FALSE(cache.load(other.text()).has_value());
  }
  CHECK(cache.counters().misses == static_cast<int>(others.size()));

  // An entry of another key under this key's name (a hash collision, a copied file) is
  // rejected: the whole key is compared.
  fs::copy_file(cache.entryPath(key.text()), cache.entryPath(others[1].text()));
  CHECK_FALSE(cache.load(others[1].text()).has_value());
  CHECK(cache.counters().rejected == 1);

}

TEST_CASE("the cache evicts the least recently used entries to stay under its bound", "[jit]") {
  const fs::path directory = freshDirectory("evict");
  constexpr uint64_t kBound = 10 * 1024;
  ObjectCache cache(directory, kBound, {});
  const std::string payload(3000, 'x');
  const auto long_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
  auto keyOf = [](int entry_idx) { return "entry " + std::to_string(entry_idx); };
  for (int entry_idx = 0; entry_idx < 10; ++entry_idx) {
    if (entry_idx == 2) REQUIRE(cache.load(keyOf(0)).has_value());  // entry 0 is used again
    cache.store(keyOf(entry_idx), payload);
    if (fs::exists(cache.entryPath(keyOf(entry_idx))))
      fs::last_write_time(cache.entryPath(keyOf(entry_idx)), long_ago + std::chrono::seconds(entry_idx));
    CHECK(entryBytes(directory) <= kBound);
  }
  CHECK(cache.counters().stored == 10);
  CHECK(cache.counters().evicted == 7);
  // Three entries fit: the two stored last and the one used again; the others went,
  // oldest first.
  for (int entry_idx : {0, 8, 9}) CHECK(cache.load(keyOf(entry_idx)).has_value());
  for (int entry_idx = 1; entry_idx <= 7; ++entry_idx) CHECK_FALSE(cache.load(keyOf(entry_idx)).has_value());
}

TEST_CASE("a hit makes its entry the most recently used", "[jit]") {
  const fs::path directory = freshDirectory("touch");
  ObjectCache cache(directory, 7 * 1024, {});
  const std::string payload(3000, 'y');
  cache.store("old", payload);
  cache.store("newer", payload);
  const auto long_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
  fs::last_write_time(cache.entryPath("old"), long_ago);
  fs::last_write_time(cache.entryPath("newer"), long_ago + std::chrono::seconds(1));
  REQUIRE(cache.load("old").has_value());  // touched: now the most recent
  cache.store("third", payload);           // over the bound: one entry goes
  CHECK(cache.load("old").has_value());
  CHECK_FALSE(cache.load("newer").has_value());
  CHECK(cache.load("third").has_value());
}

TEST_CASE("JITs on several threads filling one cache directory leave only whole entries", "[jit]") {
  const fs::path directory = freshDirectory("concurrent");
  constexpr int kThreads = 4;
  const std::vector<int64_t> hiddens = {10, 11, 12, 13};
  struct Outcome {
    std::string error;
    std::vector<std::vector<float>> results;
  };
  std::array<Outcome, kThreads> outcomes;
  auto work = [&](int thread_idx) {
    Outcome& outcome = outcomes[static_cast<size_t>(thread_idx)];
    JitOptions options;
    options.disk_cache.directory = directory.string();
    auto jit = JitCompiler::create(options);
    if (!jit) {
      outcome.error = jit.error().message;
      return;
    }
    for (size_t graph_idx = 0; graph_idx < hiddens.size(); ++graph_idx) {
      const int64_t hidden = hiddens[(graph_idx + static_cast<size_t>(thread_idx)) % hiddens.size()];
      auto step = jit.value()->compile(mlp(hidden), {});
      if (!step) {
        outcome.error = step.error().message;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int thread_idx = 1; thread_idx < kThreads; ++thread_idx) threads.emplace_back(work, thread_idx);
  work(0);
  for (std::thread& thread : threads) thread.join();
  for (const Outcome& outcome : outcomes) REQUIRE(outcome.error.empty());

  int entries = 0;
  for (const auto& file : fs::directory_iterator(directory)) {
    INFO(file.path().string());
    CHECK(file.path().extension() == ".nnobj");  // no temporary file left behind
    ++entries;
  }
  CHECK(entries == static_cast<int>(hiddens.size()));
  auto reader = newJit(directory);
  for (int64_t hidden : hiddens) REQUIRE(reader->compile(mlp(hidden), {}).ok());
  CHECK(reader->stats().loaded == static_cast<int>(hiddens.size()));
  CHECK(reader->stats().disk.rejected == 0);
}

TEST_CASE("a cache directory that cannot be made warns once and the JIT still compiles", "[jit]") {
  const fs::path directory = freshDirectory("unusable");
  writeFile(directory / "a_file", "not a directory");
  Warnings warnings;
  auto jit = newJit(directory / "a_file" / "cache", &warnings);
  REQUIRE(jit->compile(mlp(), {}).ok());
  REQUIRE(jit->compile(mlp(17), {}).ok());
  CHECK(jit->stats().compiled == 2);
  CHECK(jit->diskCacheDirectory().empty());
  REQUIRE(warnings.messages.size() == 1);
  CHECK_THAT(warnings.messages[0], Catch::Contains("a_file/cache") && Catch::Contains("NNSPEC_CACHE_DIR"));
}

TEST_CASE("a cache entry that cannot be written warns once and the JIT still compiles", "[jit]") {
  const fs::path directory = freshDirectory("unwritable");
  Warnings warnings;
  auto jit = newJit(directory, &warnings);
  // A directory where the entry should go: the rename fails (for root too, which may
  // write to read-only directories).
  const ObjectCache reader(directory, kDefaultCacheMaxBytes, {});
  fs::create_directories(reader.entryPath(jit->objectKey(mlp(), {}).text()) / "in_the_way");
  REQUIRE(jit->compile(mlp(), {}).ok());
  REQUIRE(jit->compile(mlp(17), {}).ok());
  CHECK(jit->stats().compiled == 2);
  CHECK(jit->stats().disk.stored == 0);  // after the failure, the cache stops writing
  REQUIRE(warnings.messages.size() == 1);
  CHECK_THAT(warnings.messages[0], Catch::Contains("not writable") && Catch::Contains("NNSPEC_CACHE_DIR"));
  for (const auto& file : fs::directory_iterator(directory))
    CHECK(file.path().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("the cache directory and bound come from the environment; NNSPEC_CACHE_DIR=off turns it off", "[jit]") {
  const fs::path directory = freshDirectory("environment");
  {
    ScopedVariable dir("NNSPEC_CACHE_DIR", "off");
    CHECK(ObjectCache::open({}) == nullptr);
  }
  {
    ScopedVariable dir("NNSPEC_CACHE_DIR", (directory / "explicit").string());
    ScopedVariable bound("NNSPEC_CACHE_MAX_MB", "64");
    auto cache = ObjectCache::open({});
    REQUIRE(cache != nullptr);
    CHECK(cache->directory() == directory / "explicit");
    CHECK(cache->maxBytes() == uint64_t{64} << 20);
  }
  {
    ScopedVariable dir("NNSPEC_CACHE_DIR", std::nullopt);
    ScopedVariable xdg("XDG_CACHE_HOME", (directory / "xdg").string());
    auto cache = ObjectCache::open({});
    REQUIRE(cache != nullptr);
    CHECK(cache->directory() == directory / "xdg" / "nnspec");
    CHECK(cache->maxBytes() == kDefaultCacheMaxBytes);
  }
  {
    ScopedVariable dir("NNSPEC_CACHE_DIR", std::nullopt);
    ScopedVariable xdg("XDG_CACHE_HOME", std::nullopt);
    ScopedVariable home("HOME", (directory / "home").string());
    auto cache = ObjectCache::open({});
    REQUIRE(cache != nullptr);
    CHECK(cache->directory() == directory / "home" / ".cache" / "nnspec");
  }
  {
    ScopedVariable dir("NNSPEC_CACHE_DIR", (directory / "explicit").string());
    ScopedVariable bound("NNSPEC_CACHE_MAX_MB", "lots");
    Warnings warnings;
    ObjectCacheOptions options;
    options.warn = warnings.sink();
    auto cache = ObjectCache::open(options);
    REQUIRE(cache != nullptr);
    CHECK(cache->maxBytes() == kDefaultCacheMaxBytes);
    REQUIRE(warnings.messages.size() == 1);
    CHECK_THAT(warnings.messages[0], Catch::Contains("NNSPEC_CACHE_MAX_MB='lots'"));
  }
}

}  // namespace
}  // namespace nnspec::jit
