#include "runtime/report/ranked_text.h"

#include <fmt/format.h>

#include <algorithm>

namespace nnspec::rt {
namespace {

constexpr size_t kRankWidth = 4;
constexpr size_t kTrialsWidth = 6;
constexpr size_t kMinPointWidth = 20;
constexpr size_t kMaxPointWidth = 60;
constexpr size_t kGap = 2;

// Characters as a terminal shows them: UTF-8 continuation bytes ("±") take no column.
size_t displayWidth(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string padLeft(const std::string& text, size_t width) {
  const size_t shown = displayWidth(text);
  return std::string(width > shown ? width - shown : 0, ' ') + text;
}

std::string padRight(const std::string& text, size_t width) {
  const size_t shown = displayWidth(text);
  return text + std::string(width > shown ? width - shown : 0, ' ');
}

std::string formatMetric(const std::vector<double>& values) {
  if (values.empty()) return "-";
  if (values.size() == 1) return fmt::format("{:.4f}", values[0]);
  return fmt::format("{:.4f} ± {:.4f}", meanOf(values), stddevOf(values));
}

struct Column {
  std::string header;
  std::vector<std::string> cells;  // one a point
  size_t width = 0;
};

}  // namespace

std::string formatRankedText(const SweepRanking& ranking, const RankedTextLayout& layout) {
  std::vector<std::string> labels;
  size_t point_width = kMinPointWidth;
  for (const auto& point : ranking.points) {
    labels.push_back(point.key.empty() ? "(one point)" : layout.point_text(point.key));
    point_width = std::max(point_width, displayWidth(labels.back()));
  }
  // Longer points (random and TPE points with many params) are cut with "..."; the run
  // spells the best one out below the table.
  point_width = std::min(point_width, kMaxPointWidth);
  for (auto& label : labels) {
    if (displayWidth(label) > point_width) label = label.substr(0, point_width - 3) + "...";
  }

  std::vector<Column> columns;
  for (int64_t fold = 0; fold < layout.folds; ++fold) {
    Column column{fmt::format("fold{}", fold + 1), {}, 0};
    for (const auto& point : ranking.points) {
      const auto it = point.fold_values.find(static_cast<int>(fold));
      column.cells.push_back(it == point.fold_values.end() ? "-" : fmt::format("{:.4f}", meanOf(it->second)));
    }
    columns.push_back(std::move(column));
  }
  for (const auto& name : layout.columns) {
    Column column{name, {}, 0};
    for (const auto& point : ranking.points) {
      const auto it = point.values.find(name);
      column.cells.push_back(it == point.values.end() ? "-" : formatMetric(it->second));
    }
    columns.push_back(std::move(column));
  }
  for (auto& column : columns) {
    column.width = displayWidth(column.header);
    for (const auto& cell : column.cells) column.width = std::max(column.width, displayWidth(cell));
  }

  // Blocks of columns: each as many as fit beside rank and point (the first also trials).
  const size_t fixed = kGap + kRankWidth + kGap + point_width;
  std::vector<std::vector<const Column*>> blocks(1);
  size_t used = fixed + kGap + kTrialsWidth;
  for (const auto& column : columns) {
    if (!blocks.back().empty() && used + kGap + column.width > layout.width) {
      blocks.emplace_back();
      used = fixed;
    }
    blocks.back().push_back(&column);
    used += kGap + column.width;
  }

  std::string out;
  for (size_t block = 0; block < blocks.size(); ++block) {
    const bool first = block == 0;
    if (!first) out += "  more metrics of the same points:\n";
    out += std::string(kGap, ' ') + padLeft("rank", kRankWidth) + std::string(kGap, ' ') + padRight("point", point_width);
    for (const Column* column : blocks[block]) out += std::string(kGap, ' ') + padLeft(column->header, column->width);
    if (first) out += std::string(kGap, ' ') + padLeft("trials", kTrialsWidth);
    out += "\n";
    for (size_t row = 0; row < ranking.points.size(); ++row) {
      const PointSummary& point = ranking.points[row];
      std::string line = std::string(kGap, ' ') + padLeft(point.rank > 0 ? std::to_string(point.rank) : "-", kRankWidth) + std::string(kGap, ' ') +
                         padRight(labels[row], point_width);
      for (const Column* column : blocks[block]) line += std::string(kGap, ' ') + padLeft(column->cells[row], column->width);
      if (first) {
        line += std::string(kGap, ' ') + padLeft(std::to_string(point.finished), kTrialsWidth);
        if (point.failed > 0) line += fmt::format("  {} failed: {}", point.failed, point.reason);
        if (point.pruned > 0) line += fmt::format("  pruned at epoch {}", point.pruned_epoch);
        if (point.timed_out > 0) {
          line += fmt::format("  {} timed out after {} epoch{}", point.timed_out, point.timed_out_epochs,
                              point.timed_out_epochs == 1 ? "" : "s");
        }
      }
      // Trailing spaces of a last, padded point column go.
      line.erase(line.find_last_not_of(' ') + 1);
      out += line + "\n";
    }
  }
  return out;
}

}  // namespace nnspec::rt
