#pragma once
// Compiled step objects kept on disk between runs, so a rerun loads machine code instead
// of emitting, optimizing and compiling LLVM IR again. One file per key, named by the
// SHA-256 of the key text; the key text itself (graph signature, target, versions, the
// code generator's identity) is stored in the entry and compared on load.
//
// Entry layout (native byte order; the key names the target, so an entry never meets
// another machine's reader):
//   magic "NNSPECOC", u32 format version, u32 key bytes, u64 payload bytes,
//   u64 xxh3 of key and payload, then the key, then the payload (the object file).
//
// Processes share a directory safely: a writer fills a temporary file of its own and
// renames it over the entry (atomic), a reader checks everything in the header and treats
// a short, corrupt or foreign entry as a miss (the compiled object then replaces it).
// The directory is kept under a size bound: after a store, the least recently used
// entries go (by modification time; a hit touches its entry). A directory that cannot be
// made or written gives one warning and the run goes on without the cache.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace nnspec::jit {

inline constexpr uint64_t kDefaultCacheMaxBytes = uint64_t{512} << 20;

struct ObjectCacheOptions {
  // The directory; unset: $NNSPEC_CACHE_DIR, else $XDG_CACHE_HOME/nnspec, else
  // $HOME/.cache/nnspec. "off" (here or in NNSPEC_CACHE_DIR) turns the cache off.
  std::optional<std::string> directory;
  // The size bound; unset: $NNSPEC_CACHE_MAX_MB MiB, else kDefaultCacheMaxBytes.
  std::optional<uint64_t> max_bytes;
  // Where warnings go (an unusable directory, a bad variable); unset: stderr.
  std::function<void(const std::string&)> warn;
};

// Everything a compiled object depends on; its text is the cache's key.
struct ObjectKey {
  std::string signature;  // codegen::stepSignature: the graph and the optimizer kind
  std::string triple;
  std::string cpu;       // a forced CPU level has entries of its own
  std::string features;  // the target feature string
  int opt_level = 3;
  std::string nnspec_version;
  std::string llvm_version;
  std::string codegen_identity;  // compiler/jit/codegen_identity.h
  std::string entries;  // the entry points whose objects the entry holds (codegen::EntrySet::text)

  std::string text() const;
};

// What the cache did, for tests and the run summary.
struct ObjectCacheCounters {
  int hits = 0;
  int misses = 0;    // no entry
  int rejected = 0;  // an entry that was short, corrupt or for another key
  int stored = 0;
  int evicted = 0;
};

class ObjectCache {
 public:
  // The cache the options (or the environment) ask for; null when it is off or its
  // directory cannot be made (after one warning).
  static std::unique_ptr<ObjectCache> open(const ObjectCacheOptions& options);

  ObjectCache(std::filesystem::path directory, uint64_t max_bytes,
              std::function<void(const std::string&)> warn);

  // The object stored under `key`, or nothing.
  std::optional<std::string> load(const std::string& key);
  // Stores `object` under `key`, then evicts down to the bound. Failures warn (once) and
  // are otherwise ignored: the cache is an optimization.
  void store(const std::string& key, std::string_view object);

  const std::filesystem::path& directory() const { return directory_; }
  uint64_t maxBytes() const { return max_bytes_; }
  const ObjectCacheCounters& counters() const { return counters_; }
  // The entry file of `key` (for tests).
  std::filesystem::path entryPath(const std::string& key) const;

 private:
  void warnOnce(const std::string& message);
  void evict();

  std::filesystem::path directory_;
  uint64_t max_bytes_;
  std::function<void(const std::string&)> warn_;
  bool warned_ = false;
  bool writable_ = true;  // false after a failed store: later stores are skipped
  ObjectCacheCounters counters_;
};

}  // namespace nnspec::jit
