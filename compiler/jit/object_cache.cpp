#include "compiler/jit/object_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <system_error>
#include <vector>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/SHA256.h>
#include <llvm/Support/xxhash.h>

namespace nnspec::jit {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'N', 'N', 'S', 'P', 'E', 'C', 'O', 'C'};
constexpr uint32_t kFormatVersion = 1;
constexpr std::string_view kEntrySuffix = ".nnobj";
constexpr std::string_view kTemporaryMarker = ".tmp.";
// A temporary file this old belongs to a writer that died; eviction removes it.
constexpr auto kAbandonedTemporaryAge = std::chrono::minutes(10);

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t key_bytes;
  uint64_t payload_bytes;
  uint64_t checksum;
};
static_assert(sizeof(Header) == 32);

uint64_t checksumOf(std::string_view key, std::string_view payload) {
  std::string both;
  both.reserve(key.size() + payload.size());
  both.append(key).append(payload);
  return llvm::xxh3_64bits(llvm::StringRef(both));
}

std::string hexOf(const std::array<uint8_t, 32>& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t byte : digest) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 15];
  }
  return hex;
}

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// NNSPEC_CACHE_DIR, else $XDG_CACHE_HOME/nnspec, else $HOME/.cache/nnspec; nothing when
// none is set.
std::optional<std::string> defaultDirectory() {
  if (auto dir = environment("NNSPEC_CACHE_DIR")) return dir;
  if (auto xdg = environment("XDG_CACHE_HOME")) return (fs::path(*xdg) / "nnspec").string();
  if (auto home = environment("HOME")) return (fs::path(*home) / ".cache" / "nnspec").string();
  return std::nullopt;
}

// NNSPEC_CACHE_MAX_MB as bytes; the default (after a warning) when it is not a positive
// whole number.
uint64_t defaultMaxBytes(const std::function<void(const std::string&)>& warn) {
  const auto text = environment("NNSPEC_CACHE_MAX_MB");
  if (!text) return kDefaultCacheMaxBytes;
  uint64_t mebibytes = 0;
  const char* end = text->data() + text->size();
  const auto [stop, error] = std::from_chars(text->data(), end, mebibytes);
  if (error != std::errc() || stop != end || mebibytes == 0 || mebibytes > (uint64_t{1} << 40)) {
    warn("warning: NNSPEC_CACHE_MAX_MB='" + *text +
         "' is not a size in MiB; the compile cache keeps its default of " +
         std::to_string(kDefaultCacheMaxBytes >> 20) +
         " MiB (set a whole number such as 1024, or unset it)\n");
    return kDefaultCacheMaxBytes;
  }
  return mebibytes << 20;
}

bool isEntry(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.ends_with(kEntrySuffix) && name.find(kTemporaryMarker) == std::string::npos;
}

bool isTemporary(const fs::path& path) {
  return path.filename().string().find(kTemporaryMarker) != std::string::npos;
}

// A name no other writer (process or thread) uses at the same time.
std::string temporarySuffix() {
  std::random_device random;
  const uint64_t nonce = (uint64_t{random()} << 32) ^ random();
  return std::string(kTemporaryMarker) + std::to_string(::getpid()) + "." + std::to_string(nonce);
}

}  // namespace

std::string ObjectKey::text() const {
  return "nnspec step object\nnnspec " + nnspec_version + "\nllvm " + llvm_version + "\ncodegen " + codegen_identity +
         "\ntriple " + triple + "\ncpu " + cpu + "\nfeatures " + features + "\nopt " + std::to_string(opt_level) +
         "\nentries " + entries + "\n" + signature;
}

std::unique_ptr<ObjectCache> ObjectCache::open(const ObjectCacheOptions& options) {
  std::function<void(const std::string&)> warn = options.warn;
  if (!warn) warn = [](const std::string& message) { std::fputs(message.c_str(), stderr); };
  const std::optional<std::string> directory = options.directory ? options.directory : defaultDirectory();
  if (!directory || *directory == "off") return nullptr;
  const uint64_t max_bytes = options.max_bytes ? *options.max_bytes : defaultMaxBytes(warn);
  std::error_code error;
  fs::create_directories(*directory, error);
  if (error || !fs::is_directory(*directory, error)) {
    warn("warning: the compile cache directory '" + *directory + "' cannot be made (" +
         (error ? error.message() : std::string("not a directory")) +
         "); compiling without it (set NNSPEC_CACHE_DIR to a writable directory, or to 'off')\n");
    return nullptr;
  }
  return std::make_unique<ObjectCache>(fs::path(*directory), max_bytes, std::move(warn));
}

ObjectCache::ObjectCache(fs::path directory, uint64_t max_bytes, std::function<void(const std::string&)> warn)
    : directory_(std::move(directory)), max_bytes_(max_bytes), warn_(std::move(warn)) {}

fs::path ObjectCache::entryPath(const std::string& key) const {
  return directory_ / (hexOf(llvm::SHA256::hash(llvm::arrayRefFromStringRef(key))) + std::string(kEntrySuffix));
}

void ObjectCache::warnOnce(const std::string& message) {
  if (warned_) return;
  warned_ = true;
  if (warn_) warn_(message);
}

std::optional<std::string> ObjectCache::load(const std::string& key) {
  const fs::path path = entryPath(key);
  std::error_code error;
  const uint64_t size = fs::is_regular_file(path, error) ? fs::file_size(path, error) : 0;
  std::ifstream in;
  if (!error && fs::is_regular_file(path, error)) in.open(path, std::ios::binary);
  if (!in.is_open()) {
    ++counters_.misses;
    return std::nullopt;
  }
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  bytes.resize(static_cast<size_t>(in.gcount()));
  Header header{};
  const bool valid = [&] {
    if (bytes.size() < sizeof(Header)) return false;
    std::memcpy(&header, bytes.data(), sizeof(Header));
    if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0 || header.version != kFormatVersion) return false;
    if (bytes.size() != sizeof(Header) + uint64_t{header.key_bytes} + header.payload_bytes) return false;
    const std::string_view stored_key(bytes.data() + sizeof(Header), header.key_bytes);
    const std::string_view payload(bytes.data() + sizeof(Header) + header.key_bytes, header.payload_bytes);
    return stored_key == key && checksumOf(stored_key, payload) == header.checksum;
  }();
  if (!valid) {
    ++counters_.rejected;
    return std::nullopt;
  }
  // The entry was used: it is the most recent for eviction. Failing to touch is harmless.
  fs::last_write_time(path, fs::file_time_type::clock::now(), error);
  ++counters_.hits;
  return bytes.substr(sizeof(Header) + header.key_bytes);
}

void ObjectCache::store(const std::string& key, std::string_view object) {
  if (!writable_) return;
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.version = kFormatVersion;
  header.key_bytes = static_cast<uint32_t>(key.size());
  header.payload_bytes = object.size();
  header.checksum = checksumOf(key, object);
  const fs::path path = entryPath(key);
  const fs::path temporary = fs::path(path.string() + temporarySuffix());
  std::string problem;
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (out) {
      out.write(reinterpret_cast<const char*>(&header), sizeof(header));
      out.write(key.data(), static_cast<std::streamsize>(key.size()));
      out.write(object.data(), static_cast<std::streamsize>(object.size()));
      out.close();
    }
    if (!out) problem = std::strerror(errno);
  }
  std::error_code error;
  if (problem.empty()) {
    fs::rename(temporary, path, error);
    if (error) problem = error.message();
  }
  if (!problem.empty()) {
    fs::remove(temporary, error);
    writable_ = false;
    warnOnce("warning: the compile cache directory '" + directory_.string() + "' is not writable (" + problem +
             "); compiled code is not kept for the next run (set NNSPEC_CACHE_DIR to a writable directory, or "
             "to 'off')\n");
    return;
  }
  ++counters_.stored;
  evict();
}

void ObjectCache::evict() {
  struct Entry {
    fs::path path;
    fs::file_time_type used;
    uint64_t bytes;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code error;
  const auto now = fs::file_time_type::clock::now();
  for (const fs::directory_entry& file : fs::directory_iterator(directory_, error)) {
    std::error_code file_error;
    const auto used = file.last_write_time(file_error);
    if (file_error) continue;  // gone meanwhile (another process evicted or renamed it)
    if (isTemporary(file.path())) {
      if (now - used > kAbandonedTemporaryAge) fs::remove(file.path(), file_error);
      continue;
    }
    if (!isEntry(file.path())) continue;
    const uint64_t bytes = file.file_size(file_error);
    if (file_error) continue;
    entries.push_back({file.path(), used, bytes});
    total += bytes;
  }
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
  for (const Entry& entry : entries) {
    if (total <= max_bytes_) break;
    std::error_code remove_error;
    if (fs::remove(entry.path, remove_error)) ++counters_.evicted;
    total -= entry.bytes;  // gone either way: removed here, or by another process
  }
}

}  // namespace nnspec::jit
