#include "runtime/sweep/draw_history.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <map>

#include "runtime/sweep/ranking.h"

namespace nnspec::rt {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::optional<double> parseNumber(std::string_view text) {
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

std::string formatPairs(const Sample& sample, char separator) {
  std::string out;
  for (const auto& [name, value] : sample) {
    if (!out.empty()) out += separator;
    out += fmt::format("{}={:.17g}", name, value);
  }
  return out;
}

std::optional<Sample> parsePairs(std::string_view text, char separator) {
  Sample sample;
  if (text.empty()) return sample;
  for (std::string_view pair : split(text, separator)) {
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    auto value = parseNumber(pair.substr(equals + 1));
    if (!value) return std::nullopt;
    sample[std::string(pair.substr(0, equals))] = *value;
  }
  return sample;
}

const char* outcomeName(TrialOutcome outcome) {
  switch (outcome) {
    case TrialOutcome::kComplete:
      return "complete";
    case TrialOutcome::kPruned:
      return "pruned";
    case TrialOutcome::kRunning:
      return "running";
  }
  return "complete";
}

}  // namespace

std::string formatSample(const Sample& sample) { return formatPairs(sample, '\n'); }
std::optional<Sample> parseSample(std::string_view text) { return parsePairs(text, '\n'); }

std::string formatHistory(std::span<const FinishedTrial> history) {
  std::string out;
  for (const FinishedTrial& trial : history) {
    out += fmt::format("{}\t{}\t{:.17g}\t{}\t{}\n", trial.number, outcomeName(trial.outcome), trial.value,
                       trial.last_step, formatPairs(trial.params, ';'));
  }
  return out;
}

std::optional<std::vector<FinishedTrial>> parseHistory(std::string_view text) {
  std::vector<FinishedTrial> history;
  for (std::string_view line : split(text, '\n')) {
    if (line.empty()) continue;
    const auto fields = split(line, '\t');
    if (fields.size() != 5) return std::nullopt;
    FinishedTrial trial;
    auto number = parseNumber(fields[0]);
    auto value = parseNumber(fields[2]);
    auto step = parseNumber(fields[3]);
    auto params = parsePairs(fields[4], ';');
    if (!number || !value || !step || !params) return std::nullopt;
    if (fields[1] == "complete") {
      trial.outcome = TrialOutcome::kComplete;
    } else if (fields[1] == "pruned") {
      trial.outcome = TrialOutcome::kPruned;
    } else if (fields[1] == "running") {
      trial.outcome = TrialOutcome::kRunning;
    } else {
      return std::nullopt;
    }
    trial.number = static_cast<int64_t>(*number);
    trial.value = *value;
    trial.last_step = static_cast<int64_t>(*step);
    trial.params = std::move(*params);
    history.push_back(std::move(trial));
  }
  return history;
}

std::vector<FinishedTrial> historyOfDraws(const DrawContext& context, const std::string& objective,
                                          int64_t trials_per_point, int64_t running_from) {
  std::vector<FinishedTrial> history;
  for (const DrawRow& draw : context.draws) {
    auto params = parseSample(draw.params);
    if (!params) continue;
    FinishedTrial trial;
    trial.number = draw.number;
    trial.params = std::move(*params);
    if (draw.number >= running_from) {
      trial.outcome = TrialOutcome::kRunning;
      trial.value = 0;
      history.push_back(std::move(trial));
      continue;
    }
    std::vector<double> values;
    bool pruned = false, failed = false;
    int64_t ended = 0;
    for (const TrialRow& row : context.trials) {
      if (row.key.point_key != draw.point_key || row.key.fold < 0) continue;
      if (row.status != TrialStatus::kQueued && row.status != TrialStatus::kRunning) ++ended;
      if (row.status == TrialStatus::kPruned) {
        pruned = true;
        trial.last_step = -1;
        trial.value = std::nan("");
        const auto last = context.pruned_last_epochs.find(row.id);
        if (last != context.pruned_last_epochs.end()) {
          trial.last_step = last->second.epoch;
          const auto it = last->second.metrics.find(objective);
          trial.value = it != last->second.metrics.end() ? it->second : std::nan("");
        }
      } else if (row.status == TrialStatus::kFailed) {
        failed = true;
      } else if (row.status == TrialStatus::kFinished && row.final_metrics.count(objective) != 0) {
        values.push_back(row.final_metrics.at(objective));
      }
    }
    if (pruned) {
      trial.outcome = TrialOutcome::kPruned;
    } else if (static_cast<int64_t>(values.size()) == trials_per_point) {
      trial.outcome = TrialOutcome::kComplete;
      trial.value = meanOf(values);
    } else if (failed || ended >= trials_per_point) {
      continue;  // ended without a value: a failed point, left out as Optuna leaves failed trials
    } else {
      trial.outcome = TrialOutcome::kRunning;
      trial.value = 0;
    }
    history.push_back(std::move(trial));
  }
  return history;
}

}  // namespace nnspec::rt
