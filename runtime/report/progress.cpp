#include "runtime/report/progress.h"

#include <fmt/format.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace nnspec::rt {
namespace {

constexpr int kDefaultWidth = 100;
constexpr int kBarCells = 24;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

int terminalWidth(std::FILE* out) {
  winsize size{};
  if (ioctl(fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return kDefaultWidth;
}

// A bar of kBarCells cells, `fraction` of them full.
std::string bar(double fraction, int cells = kBarCells) {
  const int full = static_cast<int>(std::lround(std::clamp(fraction, 0.0, 1.0) * cells));
  std::string out;
  for (int cell = 0; cell < cells; ++cell) out += cell < full ? "█" : "░";
  return out;
}

std::string formatRate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.1f}M", per_second / 1e6);
  if (per_second >= 1e4) return fmt::format("{:.0f}k", per_second / 1e3);
  if (per_second >= 1e3) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

// The fraction of a trial done, from its epoch and batch.
double fractionDone(const TrialProgress& progress) {
  if (progress.epochs <= 0) return 0;
  const double within = progress.batches > 0 ? static_cast<double>(progress.batch) / static_cast<double>(progress.batches) : 0;
  return (static_cast<double>(std::max<int64_t>(progress.epoch, 1) - 1) + within) / static_cast<double>(progress.epochs);
}

}  // namespace

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(std::lround(seconds));
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}h{:02d}m", total / 3600, (total % 3600) / 60);
}

ProgressDisplay::ProgressDisplay(std::FILE* out, ProgressMode mode, int64_t total_trials, bool parallel, int width)
    : out_(out), mode_(mode), parallel_(parallel), width_(width > 0 ? width : terminalWidth(out)), total_(total_trials),
      start_(Clock::now()), last_draw_(Clock::now() - kRedrawInterval) {}

ProgressDisplay::~ProgressDisplay() { finish(); }

int64_t ProgressDisplay::beginTrial(const std::string& tag, const std::string& title) {
  std::lock_guard lock(mutex_);
  const int64_t id = next_id_++;
  running_[id] = Running{tag, title, "", {}, Clock::now()};
  if (mode_ == ProgressMode::kLines && parallel_) {
    running_[id].kept = title + "\n";
  } else if (mode_ != ProgressMode::kQuiet) {
    printLocked((mode_ == ProgressMode::kLive && parallel_ ? tag + " " : std::string()) + title + "\n");
  }
  return id;
}

void ProgressDisplay::trialLine(int64_t id, const std::string& text) {
  std::lock_guard lock(mutex_);
  const auto it = running_.find(id);
  if (mode_ == ProgressMode::kQuiet || it == running_.end()) return;
  if (mode_ == ProgressMode::kLines && parallel_) {
    it->second.kept += text + "\n";
    return;
  }
  printLocked((mode_ == ProgressMode::kLive && parallel_ ? it->second.tag + " " : std::string()) + text + "\n");
}

void ProgressDisplay::updateTrial(int64_t id, const TrialProgress& progress) {
  std::lock_guard lock(mutex_);
  const auto it = running_.find(id);
  if (it == running_.end()) return;
  const std::string metrics = progress.metrics.empty() ? it->second.progress.metrics : progress.metrics;
  it->second.progress = progress;
  it->second.progress.metrics = metrics;
  if (mode_ != ProgressMode::kLive) return;
  const auto now = Clock::now();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  clearBlockLocked();
  drawBlockLocked();
}

void ProgressDisplay::endTrial(int64_t id, const std::string& text, bool ran) {
  std::lock_guard lock(mutex_);
  const auto it = running_.find(id);
  if (it == running_.end()) return;
  ++done_;
  if (ran) {
    ++ran_;
    ran_seconds_ += std::chrono::duration<double>(Clock::now() - it->second.started).count();
  }
  if (text.find("failed") != std::string::npos) ++failed_;
  std::string kept = std::move(it->second.kept);
  const std::string tag = it->second.tag;
  running_.erase(it);
  if (mode_ == ProgressMode::kQuiet) return;
  std::string line = text;
  if (mode_ == ProgressMode::kLines && !ran && text.empty()) {
    printLocked(kept);  // a skipped trial: its one line is enough
    return;
  }
  if (mode_ == ProgressMode::kLines) {
    const double eta = etaSecondsLocked();
    line += fmt::format("{}[{}/{} trials, {} elapsed{}]", line.empty() ? "  " : "  ", done_, total_,
                        formatDuration(std::chrono::duration<double>(Clock::now() - start_).count()),
                        eta >= 0 && done_ < total_ ? ", ETA " + formatDuration(eta) : "");
    printLocked(kept + line + "\n");
    return;
  }
  if (!line.empty()) printLocked((parallel_ ? tag + " " : std::string()) + line + "\n");
  clearBlockLocked();
  drawBlockLocked();
}

void ProgressDisplay::addTotal(int64_t delta) {
  std::lock_guard lock(mutex_);
  total_ = std::max<int64_t>(done_, total_ + delta);
}

void ProgressDisplay::message(const std::string& text) {
  std::lock_guard lock(mutex_);
  if (mode_ != ProgressMode::kQuiet) printLocked(text);
}

void ProgressDisplay::finish() {
  std::lock_guard lock(mutex_);
  clearBlockLocked();
  std::fflush(out_);
}

double ProgressDisplay::etaSecondsLocked() const {
  const int64_t remaining = total_ - done_;
  if (remaining <= 0) return 0;
  double per_trial = ran_ > 0 ? ran_seconds_ / static_cast<double>(ran_) : -1;
  if (per_trial < 0) {
    // Nothing ended yet: extrapolate from the running trials' progress.
    for (const auto& [id, running] : running_) {
      const double fraction = fractionDone(running.progress);
      if (fraction < 0.02) continue;
      per_trial = std::chrono::duration<double>(Clock::now() - running.started).count() / fraction;
    }
  }
  if (per_trial < 0) return -1;
  const double lanes = static_cast<double>(std::max<size_t>(1, running_.size()));
  return per_trial * static_cast<double>(remaining) / lanes;
}

std::string ProgressDisplay::sweepLineLocked() const {
  const double fraction = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 0;
  const double eta = etaSecondsLocked();
  std::string line = fmt::format("{} {}/{} trials · {} elapsed", bar(fraction), done_, total_,
                                 formatDuration(std::chrono::duration<double>(Clock::now() - start_).count()));
  if (eta >= 0 && done_ < total_) line += " · ETA " + formatDuration(eta);
  if (failed_ > 0) line += fmt::format(" · {} failed", failed_);
  return line;
}

std::string ProgressDisplay::trialBarLocked(const std::string& tag, const TrialProgress& progress) const {
  std::string line = fmt::format("  {} epoch {}/{} {}", tag, progress.epoch, progress.epochs,
                                 bar(progress.batches > 0 ? static_cast<double>(progress.batch) / static_cast<double>(progress.batches) : 0, 16));
  line += fmt::format(" {}/{} · {} samples/s · loss {:.4f}", progress.batch, progress.batches,
                      formatRate(progress.samples_per_second), progress.loss);
  if (!progress.metrics.empty()) line += " · " + progress.metrics;
  return line;
}

void ProgressDisplay::printLocked(const std::string& text) {
  clearBlockLocked();
  std::fputs(text.c_str(), out_);
  if (mode_ == ProgressMode::kLive) drawBlockLocked();
  std::fflush(out_);
}

void ProgressDisplay::clearBlockLocked() {
  if (drawn_lines_ == 0) return;
  std::string codes = "\r\033[K";
  for (int line = 1; line < drawn_lines_; ++line) codes += "\033[A\033[K";
  std::fputs(codes.c_str(), out_);
  drawn_lines_ = 0;
}

void ProgressDisplay::drawBlockLocked() {
  if (mode_ != ProgressMode::kLive) return;
  std::string block;
  int lines = 0;
  for (const auto& [id, running] : running_) {
    if (running.progress.epochs == 0) continue;
    block += fit(trialBarLocked(running.tag, running.progress)) + "\n";
    ++lines;
  }
  block += fit(sweepLineLocked());
  ++lines;
  std::fputs(block.c_str(), out_);
  std::fflush(out_);
  drawn_lines_ = lines;
}

std::string ProgressDisplay::fit(const std::string& line) const {
  // Count code points (the bars are multi-byte); cut before the last column so the
  // terminal never wraps (a wrapped line would break the redraw).
  std::string out;
  int columns = 0;
  for (size_t at = 0; at < line.size();) {
    const auto lead = static_cast<unsigned char>(line[at]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    if (columns + 1 >= width_) break;
    out.append(line, at, length);
    at += length;
    ++columns;
  }
  return out;
}

}  // namespace nnspec::rt
