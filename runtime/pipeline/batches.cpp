#include "runtime/pipeline/batches.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "runtime/pipeline/labels.h"
#include "runtime/pipeline/random.h"
#include "runtime/pipeline/selection.h"
#include "runtime/pipeline/transforms.h"

namespace nnspec::rt {

DataResult<BatchIterator> makeBatchIterator(const Dataset& data, std::vector<int64_t> indices,
                                            const BatchOptions& options) {
  if (options.batch < 1) return DataError{"", fmt::format("batch size must be at least 1, not {}", options.batch), ""};
  const int64_t features = featuresOf(data);
  if (inputValueCount(data) != data.count * features ||
      static_cast<int64_t>(data.y.size()) != data.count * data.target_width) {
    return DataError{"",
                     fmt::format("the data set holds {} inputs and {} targets, not {} samples of {} and {}",
                                 inputValueCount(data), data.y.size(), data.count, features, data.target_width),
                     ""};
  }
  for (const int64_t sample : indices) {
    if (sample < 0 || sample >= data.count) {
      return DataError{"", fmt::format("sample {} is outside the {} samples of this part", sample, data.count), ""};
    }
  }
  auto labels = labelsOf(data);
  if (!labels.ok()) return labels.error();
  BatchIterator iterator;
  iterator.data_ = &data;
  iterator.indices_ = std::move(indices);
  iterator.labels_ = std::move(labels.value().labels);
  iterator.batch_ = options.batch;
  iterator.features_ = features;
  iterator.shuffle_ = options.shuffle;
  iterator.seed_ = options.seed;
  if (bytesStored(data)) iterator.decoder_.emplace(data.byte_values);
  iterator.startEpoch(0);
  return iterator;
}

DataResult<BatchIterator> makeEvaluationIterator(const Dataset& data, std::vector<int64_t> indices, int64_t batch) {
  return makeBatchIterator(data, std::move(indices), BatchOptions{batch, false, 0});
}

void BatchIterator::startEpoch(int64_t epoch) {
  epoch_ = epoch;
  position_ = 0;
  last_samples_ = 0;
  order_ = indices_;  // reuses order_'s storage after the first epoch
  if (shuffle_) shuffleIndices(order_, deriveSeed(seed_, static_cast<uint64_t>(epoch)));
}

const float* BatchIterator::inputsInPlace() const {
  if (position_ + batch_ > size() || decoder_) return nullptr;
  const int64_t first = order_[static_cast<size_t>(position_)];
  for (int64_t row = 1; row < batch_; ++row) {
    if (order_[static_cast<size_t>(position_ + row)] != first + row) return nullptr;
  }
  return data_->x.data() + first * features_;
}

bool BatchIterator::fits(const BatchBuffers& buffers) const {
  const auto at_least = [&](size_t have, int64_t per_sample) {
    return have == 0 || static_cast<int64_t>(have) >= batch_ * per_sample;
  };
  if (!buffers.labels.empty() && data_->num_classes == 0) return false;
  return at_least(buffers.x.size(), features_) && at_least(buffers.labels.size(), 1) &&
         at_least(buffers.targets.size(), data_->target_width);
}

int64_t BatchIterator::nextBatch(const BatchBuffers& buffers) {
  if (!fits(buffers)) return kBuffersDoNotFit;
  const int64_t samples = std::min(batch_, size() - position_);
  if (samples <= 0) return 0;
  copyRows(buffers, position_, samples);
  position_ += samples;
  last_samples_ = samples;
  if (decoder_) prefetchNextBatch();
  return samples;
}

void BatchIterator::prefetchNextBatch() const {
  constexpr int64_t kLineBytes = 64;
  const int64_t rows = std::min(batch_, size() - position_);
  for (int64_t row = 0; row < rows; ++row) {
    const uint8_t* start = data_->x_bytes.data() + order_[static_cast<size_t>(position_ + row)] * features_;
    for (int64_t offset = 0; offset < features_; offset += kLineBytes) __builtin_prefetch(start + offset, 0, 3);
  }
}

int64_t BatchIterator::refillBatch(const BatchBuffers& buffers) const {
  if (!fits(buffers)) return kBuffersDoNotFit;
  copyRows(buffers, position_ - last_samples_, last_samples_);
  return last_samples_;
}

void BatchIterator::copyRows(const BatchBuffers& buffers, int64_t first, int64_t samples) const {
  const int64_t width = data_->target_width;
  for (int64_t row = 0; row < samples; ++row) {
    const int64_t sample = order_[static_cast<size_t>(first + row)];
    if (!buffers.x.empty() && decoder_) {
      decoder_->decode(data_->x_bytes.data() + sample * features_, features_, buffers.x.data() + row * features_);
    } else if (!buffers.x.empty()) {
      std::memcpy(buffers.x.data() + row * features_, data_->x.data() + sample * features_,
                  static_cast<size_t>(features_) * sizeof(float));
    }
    if (!buffers.labels.empty()) buffers.labels[static_cast<size_t>(row)] = labels_[static_cast<size_t>(sample)];
    if (!buffers.targets.empty()) {
      std::memcpy(buffers.targets.data() + row * width, data_->y.data() + sample * width,
                  static_cast<size_t>(width) * sizeof(float));
    }
  }
}

}  // namespace nnspec::rt
