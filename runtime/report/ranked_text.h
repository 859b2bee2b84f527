#pragma once
// The ranked table `nnspec run` prints after a sweep, laid out to fit a terminal: rank,
// point and trials on every line; the objective (per fold, then its mean ± std) and the
// other metrics in the order given, as many as fit `width` columns, and the ones left over
// in further blocks of the same points below (every column is shown, none is cut).

#include <functional>
#include <string>
#include <vector>

#include "runtime/sweep/ranking.h"

namespace nnspec::rt {

struct RankedTextLayout {
  std::vector<std::string> columns;  // metrics, the objective first
  int64_t folds = 0;                 // the objective per fold, for 2..10 folds (0: none)
  size_t width = 120;                // the widest line, in characters (a failure note may run on)
  // The text of a point for people (its key with float noise cut).
  std::function<std::string(const std::string&)> point_text = [](const std::string& key) { return key; };
};

// The table's lines, each ending in "\n" (no title, no "best:" line).
std::string formatRankedText(const SweepRanking& ranking, const RankedTextLayout& layout);

}  // namespace nnspec::rt
