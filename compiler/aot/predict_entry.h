#pragma once
// The exported functions of an ahead-of-time compiled model, emitted into the module that
// holds its forward entries (nnspec_forward, renamed per batch size):
//
//   size_t <prefix>_workspace_size(void);
//   int <prefix>_predict_with_workspace(const float* in, float* out, int64_t n, void* workspace);
//   int <prefix>_predict(const float* in, float* out, int64_t n);   // mallocs the workspace
//
// The trained tensors become private constant globals; the ABI arrays of
// runtime/abi/step_abi.h are filled on the stack per call (no mutable globals: the
// functions are thread-safe). n samples run as full batches of the compiled size, then a
// batch-1 forward entry per remaining sample. Classifiers' logits go through a softmax.
// A standardized model standardizes each batch into the workspace, after the entries'.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <llvm/IR/Module.h>

#include "runtime/exec/step_layout.h"

namespace nnspec::aot {

// Status codes of the exported functions (the C header names them).
enum PredictStatus : int32_t { kPredictOk = 0, kPredictBadArgument = 1, kPredictOutOfMemory = 2, kPredictKernelError = 3 };

// One compiled forward entry (an NnspecStepFn) and what its caller fills.
struct ForwardEntry {
  llvm::Function* function = nullptr;
  int64_t batch = 0;
  int64_t workspace_floats = 0;
  rt::StepLayout layout;
};

struct PredictModel {
  std::string prefix;
  int64_t features = 0;  // floats per input sample
  int64_t width = 0;     // floats per output sample
  bool classification = true;
  std::vector<std::span<const float>> parameters;  // the values of layout.parameters, in order
  std::vector<std::span<const float>> states;      // and of layout.states
  // A model trained on standardized data: each sample is standardized, (x - mean) /
  // stddev per feature, into the workspace before the forward entry reads it. Empty when
  // the data has no standardize.
  std::span<const float> standardize_mean;
  std::span<const float> standardize_stddev;
  ForwardEntry full;
  std::optional<ForwardEntry> tail;  // batch 1, when full.batch > 1
};

// Bytes of workspace one call needs (what <prefix>_workspace_size returns).
int64_t workspaceBytes(const PredictModel& model);

// Adds the weights and the three exported functions to `module` (whose data layout is
// the target's already).
void emitPredictEntries(llvm::Module& module, const PredictModel& model);

}  // namespace nnspec::aot
