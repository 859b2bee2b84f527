// libFuzzer entry: the whole `nnspec check` path on each input (tests/fuzz/run.sh).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Probes depend only on the fixture files, which do not change: kept across inputs so
  // that specs on the (large) fixtures check fast. The data fuzzer covers the readers.
  static nnspec::driver::ProbeCache probe_cache;
  const std::string problem =
      nnspec::fuzz::checkSpecText(std::string_view(reinterpret_cast<const char*>(data), size),
                                  NNSPEC_SOURCE_DIR "/tests/fuzz/fixtures", &probe_cache);
  if (!problem.empty()) {
    std::fprintf(stderr, "check fuzzer: unclean outcome: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
