#pragma once
// The history a draw of a random or TPE sweep saw, as the store keeps it, so that any
// draw can be replayed: the sampler is a pure function of (space, history, trial number).
//
// A sample is "name=value" per line; a history is one line per trial the sampler saw:
//   number <TAB> complete|pruned|running <TAB> value <TAB> last_step <TAB> name=value;...
// Values are written with 17 significant digits and read back bit for bit.

#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/store/store.h"
#include "runtime/sweep/tpe_sampler.h"

namespace nnspec::rt {

std::string formatSample(const Sample& sample);
std::optional<Sample> parseSample(std::string_view text);

std::string formatHistory(std::span<const FinishedTrial> history);
std::optional<std::vector<FinishedTrial>> parseHistory(std::string_view text);

// The sampler's history from a sweep's stored draws and trials: a point whose
// `trials_per_point` trials (folds x replicates) all finished is complete with the mean
// of its objective; one with a pruned trial is pruned at that trial's last epoch; one
// drawn but neither is running (another worker has it), counted as Optuna's constant
// liar does. A point with a failed trial is left out. Draws numbered `running_from` or
// later count as running whatever their state (see Scheduler::runSampled).
std::vector<FinishedTrial> historyOfDraws(const DrawContext& context, const std::string& objective,
                                          int64_t trials_per_point,
                                          int64_t running_from = std::numeric_limits<int64_t>::max());

}  // namespace nnspec::rt
