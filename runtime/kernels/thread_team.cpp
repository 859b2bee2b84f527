#include "runtime/kernels/thread_team.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
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
// tens of microseconds, about what waking a sleeping thread costs; a trial's next GEMM
// usually comes within a few microseconds.
constexpr int kSpinRounds = 4000;

// The gate of a round: the round's number (high 32 bits), whether helpers may still join
// (kOpen), and how many are inside (the low bits).
constexpr uint64_t kOpen = uint64_t{1} << 31;
constexpr uint64_t kInsideMask = kOpen - 1;

// Sleeping and waking on a 32-bit word: the futex itself (std::atomic's wait on GCC 12
// can miss a wake-up, and wide words go through a shared proxy).
void futexWait(std::atomic<uint32_t>& word, uint32_t old) noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, old, nullptr, nullptr, 0);
}

void futexWakeAll(std::atomic<uint32_t>& word) noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Spins, then sleeps, until `word` no longer holds `old`; returns what it holds.
uint32_t awaitChange(std::atomic<uint32_t>& word, uint32_t old) noexcept {
  uint32_t now = word.load(std::memory_order_acquire);
  for (int spin = 0; now == old; ++spin) {
    if (spin < kSpinRounds) {
      pause();
    } else {
      futexWait(word, old);
    }
    now = word.load(std::memory_order_acquire);
  }
  return now;
}

static_assert(std::atomic<uint32_t>::is_always_lock_free && sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

// One calling thread's helpers. A round: the caller publishes the task, opens the gate
// and wakes the helpers, runs the task itself, closes the gate, and waits for the
// helpers inside to leave. A helper that finds the gate closed does nothing.
class Team {
 public:
  ~Team() {
    stop_.store(true, std::memory_order_relaxed);
    wake_.fetch_add(1, std::memory_order_release);
    futexWakeAll(wake_);
    for (auto& helper : helpers_) helper.join();
  }

  void ensureHelpers(int helpers) {
    while (static_cast<int>(helpers_.size()) < helpers) {
      const int worker = static_cast<int>(helpers_.size()) + 1;
      // What the wake word holds now: the helper wakes for every change after it, even
      // those made before the thread first runs (the next round, or the stop).
      const uint32_t seen = wake_.load(std::memory_order_acquire);
      helpers_.emplace_back([this, worker, seen] { helperLoop(worker, seen); });
    }
  }

  void run(TeamTask task, void* context) noexcept {
    task_ = task;
    context_ = context;
    const uint64_t round = ++rounds_;
    gate_.store(round << 32 | kOpen, std::memory_order_release);
    wake_.fetch_add(1, std::memory_order_release);
    futexWakeAll(wake_);
    task(0, context);
    gate_.fetch_and(~kOpen, std::memory_order_acq_rel);
    // Wait for the helpers inside: `left_` moves after each one leaves.
    for (;;) {
      const uint32_t left = left_.load(std::memory_order_acquire);
      if ((gate_.load(std::memory_order_acquire) & kInsideMask) == 0) break;
      awaitChange(left_, left);
    }
  }

 private:
  void helperLoop(int worker, uint32_t seen) noexcept {
    for (;;) {
      seen = awaitChange(wake_, seen);
      if (stop_.load(std::memory_order_relaxed)) return;
      if (!enter()) continue;
      task_(worker, context_);
      gate_.fetch_sub(1, std::memory_order_acq_rel);
      left_.fetch_add(1, std::memory_order_release);
      futexWakeAll(left_);
    }
  }

  // Joins the open round, if there is one.
  bool enter() noexcept {
    uint64_t gate = gate_.load(std::memory_order_acquire);
    while ((gate & kOpen) != 0) {
      if (gate_.compare_exchange_weak(gate, gate + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }

  std::vector<std::thread> helpers_;
  std::atomic<uint32_t> wake_{0};
  std::atomic<uint64_t> gate_{0};
  std::atomic<uint32_t> left_{0};  // bumped by each helper leaving a round
  std::atomic<bool> stop_{false};
  uint64_t rounds_ = 0;  // the caller's count
  // Written by the caller before it opens the gate (release), read by helpers that
  // entered (acquire); the caller starts no round while a helper is inside.
  TeamTask task_ = nullptr;
  void* context_ = nullptr;
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

void runTeam(TeamTask task, void* context) noexcept {
  ThreadState& state = threadState();
  if (state.threads > 1) {
    try {
      if (!state.team) state.team = std::make_unique<Team>();
      state.team->ensureHelpers(state.threads - 1);
    } catch (const std::exception&) {
      // No helper could be started (std::system_error, std::bad_alloc): the caller does
      // the work, now and later.
      state.threads = 1;
    }
  }
  if (state.threads <= 1 || !state.team) {
    task(0, context);
    return;
  }
  state.team->run(task, context);
  ++state.rounds;
}

int64_t teamRounds() noexcept { return threadState().rounds; }

float* teamScratch(int worker, int64_t floats) noexcept {
  struct AlignedFree {
    void operator()(float* pointer) const { std::free(pointer); }
  };
  struct Slot {
    std::unique_ptr<float[], AlignedFree> memory;
    int64_t floats = 0;
  };
  thread_local std::array<Slot, kMaxTeamThreads> slots;
  if (worker < 0 || worker >= kMaxTeamThreads || floats < 0) return nullptr;
  Slot& slot = slots[static_cast<size_t>(worker)];
  if (slot.floats < floats) {
    const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
    slot.memory.reset(static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64))));
    slot.floats = slot.memory ? floats : 0;
  }
  return slot.memory.get();
}

int availableCpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace nnspec::rt
