#pragma once
// Lowers one checked sweep point (its training configuration and model) to the graph IR
// the JIT compiles: an input batch, the layers as matmul/add/activation ops, the loss,
// and L1/L2 penalties whose factors are runtime hyperparameters. Layers become ops here;
// the op set does not grow for them.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "compiler/codegen/step_plan.h"
#include "compiler/sema/checked_spec.h"
#include "compiler/transforms/autodiff.h"
#include "runtime/abi/step_abi.h"
#include "runtime/train/moving_stats.h"
#include "runtime/train/param_init.h"
#include "runtime/train/schedule.h"

namespace nnspec::lowering {

// The optimizer's runtime numbers for this point (PyTorch semantics).
struct OptimizerValues {
  float lr = 0.01f;
  float momentum = 0;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0;
  bool nesterov = false;
  float alpha = 0.99f;    // RMSprop's smoothing constant
  bool decoupled = false; // Adam: AdamW's decoupled weight decay

  // The ABI struct (step 0: the trial counts steps).
  NnspecOptimizerParams abi() const;
};

struct LoweredStep {
  ir::Graph forward;                 // the model and loss, before differentiation
  ir::ValueId loss = 0;              // the data loss, f32[]
  std::vector<transforms::Penalty> penalties;  // L1/L2 terms (factors: hyperparameters)
  // Forward values the training entries export (batch normalization's batch statistics).
  std::vector<std::pair<std::string, ir::ValueId>> exports;
  // Forward values every entry copies out ("conv1.output": a conv layer's feature maps
  // after its activation), as LowerOptions asks.
  std::vector<std::pair<std::string, ir::ValueId>> taps;
  // The forward graph with its gradient: filled by the pipeline's differentiate pass
  // (compiler/pipeline/pipeline.h), empty after lowerModel.
  transforms::GradientGraph graph;
  ir::ValueId prediction = 0;  // the model output: logits or regression values [batch, width]
  codegen::StepConfig config;
  std::vector<rt::ParamInit> inits;                        // by parameter name
  std::vector<std::pair<std::string, float>> hyper_values; // L1/L2 factors of this point
  OptimizerValues optimizer;
  rt::LrSchedule schedule;   // the learning rate per epoch
  std::vector<rt::MovingStats> moving_stats;  // one per batchnorm layer
  int64_t batch = 0;
  int64_t features = 0;      // flattened sample size
  int64_t output_width = 0;
  bool classification = true;
};

// A feature the checker accepts but this back-end cannot run yet.
struct Unsupported {
  SourceRange range;
  std::string message;
};

// The pipeline's first pass: the forward graph and everything the trainer needs besides
// compiled code. Differentiation is the next pass (compiler/pipeline/pipeline.h).
struct LowerOptions {
  std::vector<int> conv_outputs;  // 1-based conv layers whose outputs become taps
};

std::variant<LoweredStep, Unsupported> lowerModel(const sema::TrainConfig& config, int64_t batch,
                                                  const LowerOptions& options = {});

}  // namespace nnspec::lowering
