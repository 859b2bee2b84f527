// The progress display: plain lines off a terminal, a redrawn status block on one,
// nothing when quiet.

#include <cstdio>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "runtime/report/progress.h"

namespace {

using nnspec::rt::ProgressDisplay;
using nnspec::rt::ProgressMode;
using nnspec::rt::TrialProgress;
using Catch::Matchers::Contains;

// Runs `body` on a display writing to memory and returns what it printed.
template <class Body>
std::string captured(ProgressMode mode, bool parallel, Body body) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  {
    ProgressDisplay display(out, mode, 2, parallel, 60);
    body(display);
  }
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

void twoTrials(ProgressDisplay& display) {
  const int64_t first = display.beginTrial("#1", "trial 1/2 lr=0.1");
  const int64_t second = display.beginTrial("#2", "trial 2/2 lr=1");
  TrialProgress progress{1, 3, 5, 10, 1234.0, 0.5, ""};
  display.updateTrial(first, progress);
  display.trialLine(first, "  epoch 1/3  loss 0.5");
  display.trialLine(second, "  epoch 1/3  loss 0.9");
  display.endTrial(second, "  done in 1.0s", true);
  display.endTrial(first, "  done in 2.0s", true);
}

}  // namespace

TEST_CASE("off a terminal, progress is plain lines with the sweep's count", "[report]") {
  const std::string text = captured(ProgressMode::kLines, false, twoTrials);
  CHECK(text.find('\033') == std::string::npos);
  CHECK_THAT(text, Contains("trial 1/2 lr=0.1\n"));
  CHECK_THAT(text, Contains("  done in 1.0s  [1/2 trials, 0s elapsed"));
  CHECK_THAT(text, Contains("  done in 2.0s  [2/2 trials, 0s elapsed]\n"));
}

TEST_CASE("parallel trials' lines are kept together until each ends", "[report]") {
  const std::string text = captured(ProgressMode::kLines, true, twoTrials);
  // The second trial ended first: its three lines come first, unbroken.
  CHECK_THAT(text, Contains("trial 2/2 lr=1\n  epoch 1/3  loss 0.9\n  done in 1.0s"));
  CHECK(text.find("trial 2/2") < text.find("trial 1/2"));
}

TEST_CASE("on a terminal, a status block with bars is redrawn in place", "[report]") {
  const std::string text = captured(ProgressMode::kLive, true, twoTrials);
  CHECK_THAT(text, Contains("\r\033[K"));
  CHECK_THAT(text, Contains("█"));
  CHECK_THAT(text, Contains("trials"));
  CHECK_THAT(text, Contains("#1   epoch 1/3  loss 0.5\n"));  // lines carry the trial's tag
  CHECK_THAT(text, Contains("#2   done in 1.0s\n"));
  // No status line is wider than the terminal (60 columns).
  size_t column = 0;
  size_t widest = 0;
  for (size_t at = 0; at < text.size(); ++at) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (text[at] == '\n' || text[at] == '\r') column = 0;
    else if ((byte & 0xc0) != 0x80 && byte != 0x1b) widest = std::max(widest, ++column);
  }
  CHECK(widest <= 70);  // escape sequences' letters count here too
}

TEST_CASE("a quiet display prints nothing", "[report]") {
  CHECK(captured(ProgressMode::kQuiet, false, twoTrials).empty());
}

TEST_CASE("durations read as people write them", "[report]") {
  CHECK(nnspec::rt::formatDuration(12.4) == "12s");
  CHECK(nnspec::rt::formatDuration(80) == "1m20s");
  CHECK(nnspec::rt::formatDuration(7500) == "2h05m");
  CHECK(nnspec::rt::formatDuration(-1) == "?");
}
