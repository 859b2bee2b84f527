#include <string>
#include <string_view>

#include "compiler/driver/driver.h"
#include "tests/fuzz/fuzz_targets.h"

namespace nnspec::fuzz {

std::string checkSpecText(std::string_view bytes, const std::string& fixtures_dir, driver::ProbeCache* probe_cache,
                          bool* planned) {
  driver::CheckRequest request;
  request.path = fixtures_dir + "/fuzz.nnspec";
  request.data_paths.fashion_mnist_dir = fixtures_dir + "/fashion-mnist";
  request.data_paths.data_dir = fixtures_dir;
  const driver::Outcome outcome = driver::checkSource(request, std::string(bytes), probe_cache);
  if (planned != nullptr) *planned = outcome.exit_code == 0;
  if (outcome.exit_code == 0) {
    if (outcome.out.rfind("experiment ", 0) != 0) return "exit 0 without a plan:\n" + outcome.out;
    return "";
  }
  if (outcome.exit_code != 2) return "exit " + std::to_string(outcome.exit_code) + ":\n" + outcome.err;
  if (outcome.err.find("error: ") == std::string::npos) return "exit 2 without an error:\n" + outcome.err;
  return "";
}

}  // namespace nnspec::fuzz
