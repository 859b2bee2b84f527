#include "compiler/api/data_paths.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>

#include "compiler/driver/driver.h"

namespace nnspec::api {
namespace {

// <prefix>/share/nnspec/data for the library at <prefix>/lib[/<arch>]/libnnspec.so.
std::filesystem::path installedDataDir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&apiDataPaths), &info) == 0 || info.dli_fname == nullptr) return {};
  std::error_code error;
  auto dir = std::filesystem::canonical(info.dli_fname, error).parent_path();
  if (error) return {};
  for (int up = 0; up < 2 && !dir.empty(); ++up, dir = dir.parent_path()) {
    const auto candidate = dir.parent_path() / "share" / "nnspec" / "data";
    if (std::filesystem::is_directory(candidate, error)) return candidate;
  }
  return {};
}

}  // namespace

rt::DataPaths apiDataPaths() {
  rt::DataPaths paths = driver::defaultDataPaths();
  const char* from_env = std::getenv("NNSPEC_DATA_DIR");
  if (from_env != nullptr && from_env[0] != '\0') return paths;
  std::error_code error;
  if (std::filesystem::is_directory(paths.data_dir, error)) return paths;
  const auto installed = installedDataDir();
  if (!installed.empty()) paths.data_dir = installed.string();
  return paths;
}

}  // namespace nnspec::api
