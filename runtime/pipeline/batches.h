#pragma once
// Minibatches over the selected samples of a data set, copied into buffers the caller
// owns (e.g. the JIT'd step's inputs), with no allocation per sample or per batch.
//
// Training order is reshuffled every epoch with Rng(deriveSeed(seed, epoch)), so epoch
// e's order depends only on (seed, e) — not on how many epochs ran before — and the same
// seed gives the same orders on every machine. With shuffle off (and for evaluation)
// the order is the index vector's. The last, partial batch is kept.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

// Caller-owned destinations of one batch. Leave a span empty to skip it.
struct BatchBuffers {
  std::span<float> x;         // at least batch * features floats, row-major
  std::span<int32_t> labels;  // classification: at least batch class numbers
  std::span<float> targets;   // the raw target rows: at least batch * target_width floats
};

struct BatchOptions {
  int64_t batch = 32;
  bool shuffle = true;  // reshuffle every epoch
  uint64_t seed = 0;    // the trial's seed
};

class BatchIterator {
 public:
  // nextBatch's answer when the buffers are too small, or labels are asked of
  // real-valued targets.
  static constexpr int64_t kBuffersDoNotFit = -1;

  // Samples per epoch, samples per full batch, batches per epoch (the last may be partial).
  int64_t size() const { return static_cast<int64_t>(indices_.size()); }
  int64_t batchSize() const { return batch_; }
  int64_t batchesPerEpoch() const { return (size() + batch_ - 1) / batch_; }
  int64_t features() const { return features_; }
  int64_t targetWidth() const { return data_->target_width; }
  int64_t epoch() const { return epoch_; }

  // Starts epoch `epoch` (0-based) from its first batch.
  void startEpoch(int64_t epoch);
  // Copies the next batch of the current epoch into `buffers`: its number of samples,
  // 0 when the epoch is over, kBuffersDoNotFit when `buffers` cannot take a full batch.
  int64_t nextBatch(const BatchBuffers& buffers);
  // Copies the batch nextBatch last returned into `buffers` once more (for a caller that
  // took only some of its parts, e.g. labels without x): its number of samples, 0 when
  // no batch was returned in this epoch yet, kBuffersDoNotFit as nextBatch.
  int64_t refillBatch(const BatchBuffers& buffers) const;
  // The next full batch's inputs where they lie in the data set, when its samples are
  // consecutive rows there (an evaluation pass over a contiguous range, such as a test
  // set or an unshuffled fold): its first row, which a step can read in place, so that
  // nextBatch need not copy them (leave BatchBuffers::x empty). Null otherwise, and for
  // the last, partial batch (a full-batch step would read past the data set's end), and
  // for inputs kept as bytes (they are converted as they are copied).
  const float* inputsInPlace() const;
  // Whether `buffers` can take a full batch of this iterator.
  bool fits(const BatchBuffers& buffers) const;
  // The current epoch's order: positions into the data set.
  std::span<const int64_t> epochOrder() const { return order_; }

 private:
  friend DataResult<BatchIterator> makeBatchIterator(const Dataset& data, std::vector<int64_t> indices,
                                                     const BatchOptions& options);
  BatchIterator() = default;
  // Copies the `samples` samples at order_[first...] into the parts `buffers` has.
  void copyRows(const BatchBuffers& buffers, int64_t first, int64_t samples) const;

  const Dataset* data_ = nullptr;
  std::vector<int64_t> indices_;  // as given
  // Byte inputs: the next batch's rows asked of memory while the step trains on this one.
  // Rows of 784 bytes in shuffled order are a few cache lines each, too short for the
  // hardware's prefetcher: q3's gather took 10.4-11.5 us a batch of 32 without, 6.2-6.4
  // with (nnspec_bench_train_epoch --breakdown), and its rate sweep 2.38-2.41 s against
  // 2.19-2.29 s (--jobs 1 --threads 1, 3 epochs). Float inputs gained nothing.
  void prefetchNextBatch() const;
  std::optional<ByteDecoder> decoder_;  // byte inputs: their conversion to floats
  std::vector<int64_t> order_;    // this epoch's order
  std::vector<int32_t> labels_;   // per sample of data_, when it has classes
  int64_t batch_ = 1;
  int64_t features_ = 0;
  bool shuffle_ = true;
  uint64_t seed_ = 0;
  int64_t epoch_ = 0;
  int64_t position_ = 0;  // next slot of order_
  int64_t last_samples_ = 0;  // of the batch nextBatch last returned (ending at position_)
};

// Training batches over `indices` (positions into `data`, which must outlive the
// iterator), positioned at the start of epoch 0.
DataResult<BatchIterator> makeBatchIterator(const Dataset& data, std::vector<int64_t> indices,
                                            const BatchOptions& options);

// A full pass in the order of `indices`, for evaluation.
DataResult<BatchIterator> makeEvaluationIterator(const Dataset& data, std::vector<int64_t> indices, int64_t batch);

}  // namespace nnspec::rt
