#pragma once
// The largest size a spec may ask for, one constant per kind of size. Each is far above
// what the reference studies use (LeNet-5, 784-500-300-10, 60,000 samples) and small
// enough that products of them (parameters, values per sample, FLOPs) stay exact in
// int64 arithmetic; shapes are multiplied with overflow checks besides. Memory, which
// these bounds alone cannot keep in check, is estimated and checked per plan
// (memory_estimate.h).

#include <cstdint>

namespace nnspec::sema {

// Layers.
inline constexpr int64_t kMaxUnits = 1'000'000;         // dense(units)
inline constexpr int64_t kMaxFilters = 65'536;          // conv2d(filters, ...)
inline constexpr int64_t kMaxWindow = 1'024;            // conv2d kernel, pooling size (per side)
inline constexpr int64_t kMaxStride = 1'024;            // conv2d and pooling strides
inline constexpr int64_t kMaxPadding = 4'096;           // zeropad (per side)
inline constexpr int64_t kMaxShapeExtent = 100'000'000;  // one extent of `input`/`reshape` shapes
// Values of one sample at any layer, and parameters of one layer: one tensor of a
// sample (or one weight tensor) must stay below 2^31 floats (8 GiB).
inline constexpr int64_t kMaxTensorValues = 2'147'483'647;
inline constexpr int64_t kMaxModelLayers = 10'000;      // after unrolling `for` and `repeat`
inline constexpr int64_t kMaxRepeat = 1'000;            // repeat n { ... }
inline constexpr int64_t kMaxArrayLength = 1'000;       // `param units[n]`: the largest n
inline constexpr int64_t kMaxSvmDegree = 100;           // svm(kernel: poly, degree: n)
inline constexpr int64_t kSvmCacheMegabytes = 200;      // libsvm's kernel cache (scikit-learn SVC's cache_size)

// Training.
inline constexpr int64_t kMaxBatch = 1'000'000;
inline constexpr int64_t kMaxEpochs = 1'000'000;
inline constexpr int64_t kMaxPatience = 1'000'000;      // early stopping, pruner warmup/startup
inline constexpr int64_t kMaxScheduleEvery = 1'000'000;

// Data.
inline constexpr int64_t kMaxSyntheticSamples = 100'000'000;  // synthetic(n: ...)
inline constexpr int64_t kSyntheticCheckedSamples = 1'000'000;  // check evaluates y at these first
inline constexpr int64_t kMaxSelectCount = 1'000'000'000;     // take/skip/holdout counts

// Sweeps.
inline constexpr int64_t kMaxFolds = 1'000;
inline constexpr int64_t kMaxReplicates = 10'000;
inline constexpr int64_t kMaxTrials = 1'000'000;        // random/TPE trials
inline constexpr int64_t kMaxTpeCandidates = 100'000;   // EI candidates per TPE trial

}  // namespace nnspec::sema
