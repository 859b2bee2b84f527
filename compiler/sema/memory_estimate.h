#pragma once
// How much memory a run of a sweep needs at its peak, estimated from the checked plan:
// the data sets its split loads, the process itself (LLVM, the JIT and compiled code)
// and the buffers of one trial. `check` prints the estimate and rejects a plan whose
// peak exceeds the machine's memory.
//
// What a run holds (see compiler/driver/materialize.cpp, runtime/train/trial.cpp and
// compiler/jit/step_runner.cpp): every part of every data set a split selects from, as
// floats (from IDX files only the rows the run's splits read, other sources whole; the
// estimate counts the rows of the sweep's own split); per trial the weights,
// their gradients and optimizer slots, the step's workspace (activations, their
// gradients, convolution scratch), batch and prediction buffers, and index lists over
// the split's samples. Trials run in parallel jobs, each with its own buffers.

#include <cstdint>
#include <optional>
#include <string>

#include "compiler/sema/checked_spec.h"

namespace nnspec::sema {

struct MemoryEstimate {
  double data = 0;       // bytes of the data sets the split loads
  double runtime = 0;    // bytes of the process: code, LLVM, compiled steps
  double per_trial = 0;  // bytes of the largest trial's buffers
  size_t largest_point = 0;  // index into SweepPlan::checked of that trial

  // Peak bytes with `jobs` trials running at once.
  double peak(int64_t jobs = 1) const { return data + runtime + per_trial * static_cast<double>(jobs); }
};

// Bytes held by the data sets `split` selects from (all their parts, IDX files' parts
// only as far as the split's selections read them).
double dataBytes(const CheckedSpec& spec, const Split& split);

// Bytes one trial of `config` holds while it trains and evaluates on `split`.
double trialBytes(const TrainConfig& config, const Split& split);

MemoryEstimate estimateMemory(const CheckedSpec& spec, const SweepPlan& plan);

// The memory a run may use: $NNSPEC_MEMORY_LIMIT_BYTES when set (for tests), else the
// machine's physical memory or the cgroup's memory limit, whichever is lower.
// nullopt when neither can be read.
std::optional<double> machineMemoryBytes();

// "1.2 MiB", "310 MiB", "14.6 GiB"
std::string formatBytes(double bytes);

}  // namespace nnspec::sema
