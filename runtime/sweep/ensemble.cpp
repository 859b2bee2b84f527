#include "runtime/sweep/ensemble.h"

#include <algorithm>

namespace nnspec::rt {
namespace {

int64_t argmax(const float* row, int64_t width) {
  return static_cast<int64_t>(std::max_element(row, row + width) - row);
}

}  // namespace

int64_t ensembleClass(const std::vector<EnsembleMember>& members, size_t sample, int64_t width, EnsembleKind kind) {
  std::vector<int64_t> votes(static_cast<size_t>(width), 0);
  std::vector<float> sum(static_cast<size_t>(width), 0.0f);
  for (const auto& member : members) {
    const float* row = member.outputs.data() + sample * width;
    ++votes[static_cast<size_t>(argmax(row, width))];
    for (int64_t k = 0; k < width; ++k) sum[static_cast<size_t>(k)] += row[k];
  }
  if (kind == EnsembleKind::kMean) return argmax(sum.data(), width);
  const int64_t best_class = argmax(members[0].outputs.data() + sample * width, width);
  const int64_t top = *std::max_element(votes.begin(), votes.end());
  if (votes[static_cast<size_t>(best_class)] == top) return best_class;
  return static_cast<int64_t>(std::find(votes.begin(), votes.end(), top) - votes.begin());
}

EnsembleOutcome combineMembers(std::vector<EnsembleMember> members, int64_t width, const Dataset& data,
                               const std::vector<int64_t>& test, bool classification, EnsembleKind kind) {
  std::stable_sort(members.begin(), members.end(),
                   [](const EnsembleMember& a, const EnsembleMember& b) { return a.score > b.score; });
  EnsembleOutcome outcome;
  outcome.members = members.size();
  outcome.metric = classification ? "test.accuracy" : "test.mse";
  for (size_t sample = 0; sample < test.size(); ++sample) {
    const int64_t index = test[sample];
    if (classification) {
      const auto label = static_cast<int64_t>(data.y[static_cast<size_t>(index * data.target_width)]);
      outcome.value += ensembleClass(members, sample, width, kind) == label ? 1 : 0;
      outcome.best_single += argmax(members[0].outputs.data() + sample * width, width) == label ? 1 : 0;
      continue;
    }
    for (int64_t k = 0; k < width; ++k) {
      const double target = data.y[static_cast<size_t>(index * data.target_width + k)];
      double mean_output = 0;
      for (const auto& member : members) mean_output += member.outputs[sample * width + k];
      mean_output /= static_cast<double>(members.size());
      outcome.value += (mean_output - target) * (mean_output - target) / static_cast<double>(width);
      const double single = members[0].outputs[sample * width + k] - target;
      outcome.best_single += single * single / static_cast<double>(width);
    }
  }
  const double count = static_cast<double>(std::max<size_t>(test.size(), 1));
  outcome.value /= count;
  outcome.best_single /= count;
  return outcome;
}

}  // namespace nnspec::rt
