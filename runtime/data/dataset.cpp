#include "runtime/data/dataset.h"

#include <cstdlib>

#include <fmt/format.h>

namespace nnspec::rt {

std::string defaultDataDir() {
  const char* from_env = std::getenv("NNSPEC_DATA_DIR");
  if (from_env != nullptr && from_env[0] != '\0') return from_env;
  return NNSPEC_DEFAULT_DATA_DIR;
}

DataError outOfMemory(const std::string& path, const std::string& what) {
  return DataError{path, fmt::format("not enough memory to load {}", what),
                   "load less data or free memory; `nnspec check` prints the memory a run needs"};
}

}  // namespace nnspec::rt
