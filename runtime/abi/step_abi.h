#pragma once
// The C ABI between JIT-generated step functions and the C++ runtime. Plain C structs:
// codegen reads their fields at the offsets the C++ compiler gives them (offsetof), so
// this header is the one description of the layout.
//
// A compiled graph exports three functions of type NnspecStepFn:
//   nnspec_forward      losses only
//   nnspec_gradients    losses, and every parameter gradient copied into `grads`
//   nnspec_train_step   losses, then the optimizer update of params and opt_state
// Each also copies the model output into `predictions` when the graph marks one and the
// pointer is not null (train_step: the output before the update); only a call that
// returns kNnspecOk writes it.
// They return an NnspecStatus and never throw.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum NnspecStatus {
  kNnspecOk = 0,
  kNnspecBadLabel = 1,     // a label outside [0, classes) reached softmax_cross_entropy
  kNnspecKernelError = 2,  // a runtime kernel returned an error
} NnspecStatus;

// Optimizer hyperparameters: runtime values, not part of the compiled graph.
typedef struct NnspecOptimizerParams {
  float lr;
  float momentum;      // SGD: v = momentum*v + g (PyTorch, dampening 0); with 0 there is
                       // no velocity and opt_state is neither read nor written.
                       // RMSprop: buf = momentum*buf + g/(sqrt(v)+eps); with 0 no buf
  float beta1;         // Adam
  float beta2;         // Adam
  float eps;           // Adam, RMSprop, Adagrad: added to the denominator's sqrt
  float weight_decay;  // g += weight_decay*w before the update (PyTorch weight_decay)
  int32_t nesterov;    // SGD: nonzero for Nesterov momentum
  int32_t step;        // 1-based number of this update (Adam bias correction)
  float alpha;         // RMSprop: v = alpha*v + (1-alpha)*g^2 (added last: offsets above kept)
} NnspecOptimizerParams;

typedef struct NnspecStepArgs {
  float* const* params;       // one buffer per parameter, in graph order
  float* const* opt_state;    // opt_state[slot*num_params + param]; SGD 1 slot, Adam 2 (m, v),
                              // RMSprop 2 (v, buf), Adagrad 1 (sum)
  float* const* grads;        // written by nnspec_gradients only
  const void* const* inputs;  // one buffer per input (float or int32_t), in graph order
  const float* hyper;         // one scalar per hyperparam leaf (L1/L2 factors), graph order
  const NnspecOptimizerParams* opt;
  float* outputs;             // [0] data loss, [1] total loss (with penalties)
  float* workspace;           // temporaries; size given by the compiled step, 64-byte aligned
  float* predictions;         // null, or the model output: rows*width floats, row-major
                              // (StepLayout::prediction_rows, prediction_width)
} NnspecStepArgs;

typedef int32_t (*NnspecStepFn)(const NnspecStepArgs* args);

#ifdef __cplusplus
}
#endif
