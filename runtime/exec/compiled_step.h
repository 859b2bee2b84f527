#pragma once
// One compiled graph as the runtime sees it: its entry points (runtime/abi/step_abi.h) and
// the buffers a caller provides. Made by a compiler (compiler/jit), run by StepRunner.

#include <memory>

#include "runtime/abi/step_abi.h"
#include "runtime/exec/step_layout.h"

namespace nnspec::rt {

struct CompiledStep {
  StepLayout layout;
  NnspecStepFn forward = nullptr;
  NnspecStepFn gradients = nullptr;
  NnspecStepFn train_step = nullptr;
  // Whatever keeps the machine code alive (the JIT that made it); the entry points stay
  // valid as long as this step exists. Null when the code lives elsewhere (a test's or an
  // ahead-of-time compiled object's).
  std::shared_ptr<const void> code_owner;
};

}  // namespace nnspec::rt
