// Links every runtime library and nothing of the compiler: the layering test runs `ldd`
// on this program and `nm` on it to show that the runtime needs no LLVM. Each call below
// pulls one library's code into the link.

#include <cstdio>

#include "runtime/exec/step_runner.h"
#include "runtime/pipeline/random.h"
#include "runtime/report/json.h"
#include "runtime/store/store.h"
#include "runtime/sweep/random_sampler.h"
#include "runtime/sweep/tpe_sampler.h"
#include "runtime/train/trial.h"

int main(int argc, char** argv) {
  if (argc > 1) {  // never taken in the test; keeps the references alive
    auto store = nnspec::rt::Store::open(argv[1]);
    nnspec::rt::Rng rng = nnspec::rt::makeTrialRng(1, 2);
    auto sample = nnspec::rt::sampleRandom({}, rng);
    nnspec::rt::CompiledModel model;
    auto result = nnspec::rt::runTrial(model, {}, {}, {}, {});
    std::printf("%d %zu %d %s\n", store.ok() ? 1 : 0, sample.size(), static_cast<int>(result.end),
                nnspec::rt::quoteJson(argv[1]).c_str());
  }
  std::puts("runtime only");
  return 0;
}
