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
  int32_t decoupled;   // Adam: nonzero for decoupled weight decay (AdamW): w -= lr*weight_decay*w
                       // before the update, and weight_decay is not added to g
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
  uint64_t rng_seed;          // the masks of dropout ops (nnspec_gradients, nnspec_train_step;
                              // nnspec_forward does not drop): see nnspec_dropout_bits
  float* const* states;       // one buffer per state leaf (StepLayout::states), read only
  float* const* exports;      // one buffer per export (StepLayout::exports), written by
                              // nnspec_gradients and nnspec_train_step when not null
  const uint64_t* point_seeds;  // a fused step (StepLayout::points > 1): each point's dropout
                                // seed, read in place of rng_seed; null otherwise
  const uint8_t* point_active;  // a fused train step: 0 for a point that left its group (its
                                // forward, backward and update are skipped; its outputs and
                                // prediction are not written); null: every point trains
} NnspecStepArgs;

// Dropout's mask, the one definition generated code follows: element `index` (flat,
// row-major) of the dropout op with stream `stream` is kept when
// nnspec_dropout_bits(seed, stream, index) >= nnspec_dropout_threshold(rate), i.e. with
// probability 1 - rate in steps of 2^-24. A counter-based hash (MurmurHash3's 64-bit
// finalizer), so a mask needs no state and the gradient redraws the forward's mask.
static inline uint32_t nnspec_dropout_bits(uint64_t seed, uint32_t stream, uint64_t index) {
  uint64_t z = seed + (uint64_t)stream * 0x9E3779B97F4A7C15ull + index * 0xD6E8FEB86659FD93ull;
  z ^= z >> 33;
  z *= 0xFF51AFD7ED558CCDull;
  z ^= z >> 33;
  z *= 0xC4CEB9FE1A85EC53ull;
  z ^= z >> 33;
  return (uint32_t)(z >> 40);
}

static inline uint32_t nnspec_dropout_threshold(float rate) {
  return (uint32_t)((double)rate * 16777216.0 + 0.5);
}

typedef int32_t (*NnspecStepFn)(const NnspecStepArgs* args);

#ifdef __cplusplus
}
#endif
