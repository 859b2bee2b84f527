#pragma once
// The progress display of `nnspec run`.
//
// kLive (a terminal): finished lines scroll above a status block redrawn in place: a bar
// for the sweep (trials done/total, elapsed, ETA) and one bar per running trial (epoch,
// batches, samples/s, running loss, the last epoch's metrics). Redraws are throttled to
// ten a second. With trials in parallel, their lines carry the trial's number.
// kLines (a pipe or a file): plain lines, no escape codes: each trial's start, its
// epochs and its end with the sweep's count and ETA. With trials in parallel, a trial's
// lines are kept and printed together when it ends, so they never interleave.
// kQuiet: nothing (errors and the final table are printed by the caller).
//
// Every call may come from any thread.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace nnspec::rt {

enum class ProgressMode { kQuiet, kLines, kLive };

struct TrialProgress {
  int64_t epoch = 0;  // 1-based, the epoch running
  int64_t epochs = 0;
  int64_t batch = 0;  // batches done in this epoch
  int64_t batches = 0;
  double samples_per_second = 0;
  double loss = 0;     // running mean of this epoch
  std::string metrics;  // the last finished epoch's, e.g. "val.accuracy 0.8412"
};

class ProgressDisplay {
 public:
  using Clock = std::chrono::steady_clock;

  // `parallel`: trials may run at once (lines get the trial's number, or are kept).
  // `width`: the terminal's columns (0: ask the terminal of `out`).
  ProgressDisplay(std::FILE* out, ProgressMode mode, int64_t total_trials, bool parallel, int width = 0);
  ~ProgressDisplay();
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  ProgressMode mode() const { return mode_; }

  // A trial starts: `tag` is its short name ("#012"), `title` its description. Returns
  // the id of its lines and bar.
  int64_t beginTrial(const std::string& tag, const std::string& title);
  // A line of the trial (e.g. an epoch's metrics); printed now or kept, see above.
  void trialLine(int64_t id, const std::string& text);
  // The trial's bar (live mode only; throttled).
  void updateTrial(int64_t id, const TrialProgress& progress);
  // The trial ended: `text` is its last line. `ran`: it trained (its time counts for the ETA).
  void endTrial(int64_t id, const std::string& text, bool ran);
  // Trials that will not run in this process after all (skipped, pruned sweeps cut short).
  void addTotal(int64_t delta);
  // A line outside any trial.
  void message(const std::string& text);
  // Clears the status block; later output starts on a clean line.
  void finish();

 private:
  // "█████░░░░░ 12/60 trials · 1m20s elapsed · ETA 40s": the sweep's line.
  std::string sweepLineLocked() const;
  // One running trial's bar line.
  std::string trialBarLocked(const std::string& tag, const TrialProgress& progress) const;

  struct Running {
    std::string tag;
    std::string title;
    std::string kept;  // lines kept until the end (kLines with parallel trials)
    TrialProgress progress;
    Clock::time_point started;
  };

  void printLocked(const std::string& text);  // permanent text, above the block
  void clearBlockLocked();
  void drawBlockLocked();
  std::string fit(const std::string& line) const;  // cut to the terminal's width
  double etaSecondsLocked() const;                 // < 0 when unknown

  std::FILE* out_;
  ProgressMode mode_;
  bool parallel_;
  int width_;
  mutable std::mutex mutex_;
  int64_t total_ = 0;
  int64_t done_ = 0;
  int64_t ran_ = 0;
  double ran_seconds_ = 0;
  int64_t failed_ = 0;
  int64_t next_id_ = 0;
  std::map<int64_t, Running> running_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  int drawn_lines_ = 0;
};

// "1m20s", "2h05m", "12s".
std::string formatDuration(double seconds);

}  // namespace nnspec::rt
