#include "runtime/data/dataset.h"

#include <cstdlib>

namespace nnspec::rt {

std::string defaultDataDir() {
  const char* from_env = std::getenv("NNSPEC_DATA_DIR");
  if (from_env != nullptr && from_env[0] != '\0') return from_env;
  return NNSPEC_DEFAULT_DATA_DIR;
}

}  // namespace nnspec::rt
