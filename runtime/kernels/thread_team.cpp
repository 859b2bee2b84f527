#include "runtime/kernels/thread_team.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace nnspec::rt {
namespace {

void pause() noexcept {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Spins this many rounds before sleeping on the futex: a GEMM call of a small model takes
// tens of microseconds, about what waking a sleeping thread costs.
constexpr int kSpinRounds = 20000;

// One calling thread's helpers. A round: the caller publishes the task and bumps
// `round_`; each helper runs its part and bumps `done_`; the caller runs part 0 and waits
// for the others.
class Team {
 public:
  ~Team() {
    stop_.store(true, std::memory_order_relaxed);
    round_.fetch_add(1, std::memory_order_release);
    round_.notify_all();
    for (auto& helper : helpers_) helper.join();
  }

  void ensureHelpers(int helpers) {
    while (static_cast<int>(helpers_.size()) < helpers) {
      const int part = static_cast<int>(helpers_.size()) + 1;
      const uint64_t seen = round_.load(std::memory_order_acquire);
      helpers_.emplace_back([this, part, seen] { helperLoop(part, seen); });
    }
  }

  void run(int parts, TeamTask task, void* context) noexcept {
    task_ = task;
    context_ = context;
    parts_ = parts;
    done_.store(0, std::memory_order_relaxed);
    round_.fetch_add(1, std::memory_order_release);
    round_.notify_all();
    task(0, context);
    const int others = static_cast<int>(helpers_.size());
    for (int spin = 0; done_.load(std::memory_order_acquire) < others; ++spin) {
      if (spin < kSpinRounds) {
        pause();
      } else {
        const int now = done_.load(std::memory_order_acquire);
        if (now < others) done_.wait(now, std::memory_order_acquire);
      }
    }
  }

 private:
  void helperLoop(int part, uint64_t seen) noexcept {
    for (;;) {
      uint64_t round = round_.load(std::memory_order_acquire);
      for (int spin = 0; round == seen; ++spin) {
        if (spin < kSpinRounds) {
          pause();
        } else {
          round_.wait(seen, std::memory_order_acquire);
        }
        round = round_.load(std::memory_order_acquire);
      }
      seen = round;
      if (stop_.load(std::memory_order_relaxed)) return;
      if (part < parts_) task_(part, context_);
      done_.fetch_add(1, std::memory_order_release);
      done_.notify_one();
    }
  }

  std::vector<std::thread> helpers_;
  std::atomic<uint64_t> round_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  // Written by the caller before round_ is bumped (release), read by helpers after
  // they see it (acquire).
  TeamTask task_ = nullptr;
  void* context_ = nullptr;
  int parts_ = 1;
};

struct ThreadState {
  int threads = 1;
  int64_t rounds = 0;
  std::unique_ptr<Team> team;  // the helpers, once a round needed them
};

ThreadState& threadState() noexcept {
  thread_local ThreadState state;
  return state;
}

}  // namespace

void setTeamThreads(int threads) noexcept { threadState().threads = std::clamp(threads, 1, kMaxTeamThreads); }

int teamThreads() noexcept { return threadState().threads; }

void runTeam(int parts, TeamTask task, void* context) noexcept {
  ThreadState& state = threadState();
  parts = std::clamp(parts, 1, state.threads);
  if (parts == 1) {
    task(0, context);
    return;
  }
  try {
    if (!state.team) state.team = std::make_unique<Team>();
    state.team->ensureHelpers(state.threads - 1);
  } catch (const std::exception&) {
    // No helper could be started (std::system_error, std::bad_alloc): the caller does
    // every part, and later calls stay on the caller.
    state.threads = 1;
    for (int part = 0; part < parts; ++part) task(part, context);
    return;
  }
  state.team->run(parts, task, context);
  ++state.rounds;
}

int64_t teamRounds() noexcept { return threadState().rounds; }

int availableCpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace nnspec::rt
