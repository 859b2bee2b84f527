// The terminal's ranked table: a narrow one in one block, a wide one (many metrics, 5
// folds) in blocks that fit 120 columns with every column shown once.

#include <sstream>

#include <catch2/catch.hpp>

#include "runtime/report/ranked_text.h"

namespace {

using namespace nnspec;
using Catch::Matchers::Contains;

size_t displayWidth(const std::string& line) {
  size_t width = 0;
  for (char c : line) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

size_t count(const std::string& text, const std::string& what) {
  size_t found = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++found;
  return found;
}

// Three points of 5 folds (one trial each), every metric of `metrics` on each.
rt::SweepRanking ranking(const std::vector<std::string>& metrics) {
  rt::SweepRanking out;
  out.metric = "val.accuracy";
  for (int point = 0; point < 3; ++point) {
    rt::PointSummary summary;
    summary.key = "lr=0.00" + std::to_string(point + 1) + ", hidden=[64, 32]";
    summary.rank = point + 1;
    summary.finished = 5;
    for (int fold = 0; fold < 5; ++fold) summary.fold_values[fold] = {0.8 + 0.01 * fold - 0.1 * point};
    for (const auto& metric : metrics) summary.values[metric] = {0.81 - 0.1 * point, 0.79 - 0.1 * point};
    out.points.push_back(summary);
  }
  out.points[2].failed = 1;
  out.points[2].reason = "loss became nan";
  return out;
}

}  // namespace

TEST_CASE("a narrow ranked table stays one block", "[report]") {
  rt::RankedTextLayout layout;
  layout.columns = {"val.accuracy", "val.loss", "test.accuracy"};
  const std::string text = rt::formatRankedText(ranking(layout.columns), layout);
  const auto lines = linesOf(text);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "  rank  point                         val.accuracy         val.loss    test.accuracy  trials");
  CHECK(lines[1] == "     1  lr=0.001, hidden=[64, 32]  0.8000 ± 0.0100  0.8000 ± 0.0100  0.8000 ± 0.0100       5");
  CHECK_THAT(lines[3], Contains("       5  1 failed: loss became nan"));
  CHECK(count(text, "more metrics") == 0);
}

TEST_CASE("a wide ranked table splits into blocks of at most 120 columns, every column once", "[report]") {
  std::vector<std::string> metrics = {"val.accuracy"};
  for (const char* split : {"val.", "test."}) {
    for (const char* name : {"loss", "f1_macro", "precision_weighted", "recall_weighted", "top2_accuracy", "auc_ovr"}) {
      metrics.push_back(std::string(split) + name);
    }
  }
  metrics.push_back("test.accuracy");
  rt::RankedTextLayout layout;
  layout.columns = metrics;
  layout.folds = 5;
  const std::string text = rt::formatRankedText(ranking(metrics), layout);
  INFO(text);
  for (const auto& line : linesOf(text)) {
    if (line.find("failed:") != std::string::npos) continue;  // a failure note may run on
    CHECK(displayWidth(line) <= 120);
  }
  for (const auto& metric : metrics) {
    INFO(metric);
    CHECK(count(text, " " + metric + " ") + count(text, " " + metric + "\n") == 1);
  }
  for (int fold = 1; fold <= 5; ++fold) CHECK(count(text, "fold" + std::to_string(fold)) == 1);
  const size_t blocks = count(text, "more metrics of the same points:") + 1;
  CHECK(blocks >= 3);
  // Every block lists every point; the trials column and failure note only the first.
  CHECK(count(text, "lr=0.002, hidden=[64, 32]") == blocks);
  CHECK(count(text, "trials") == 1);
  CHECK(count(text, "loss became nan") == 1);
}

TEST_CASE("a point without a ranked trial shows - for its rank, the ranked ones their rank", "[report]") {
  rt::RankedTextLayout layout;
  layout.columns = {"val.accuracy"};
  rt::SweepRanking pruned = ranking(layout.columns);
  // The third point's only trial was pruned: no final metrics, no rank, listed last.
  pruned.points[2].rank = 0;
  pruned.points[2].finished = 0;
  pruned.points[2].failed = 0;
  pruned.points[2].pruned = 1;
  pruned.points[2].pruned_epoch = 2;
  pruned.points[2].values.clear();
  const auto lines = linesOf(rt::formatRankedText(pruned, layout));
  REQUIRE(lines.size() == 4);
  CHECK(lines[1].rfind("     1  lr=0.001", 0) == 0);
  CHECK(lines[2].rfind("     2  lr=0.002", 0) == 0);
  CHECK(lines[3].rfind("     -  lr=0.003", 0) == 0);
  CHECK_THAT(lines[3], Contains("pruned at epoch 2"));
}
