#pragma once
// The threads a trial's kernels may use. A trial runs on one thread; when the machine
// has cores no other trial uses (one trial, a refit, the tail of a sweep), the GEMMs its
// compiled step calls split their output among a small team of helper threads.
//
// The team belongs to the calling thread (generated code calls the kernels through the
// runtime ABI, which carries no context, so the trial's thread is the context): a trainer
// sets its thread's width before each batch, and the kernels it calls ask for it. Work is
// split only by output element, never inside a sum, so every number is the same for any
// width: the thread count changes speed, not results.

#include <cstdint>

namespace nnspec::rt {

// At most this many threads per trial.
inline constexpr int kMaxTeamThreads = 8;

// How many threads the kernels called from this thread may use from now on (clamped to
// 1..kMaxTeamThreads; 1, the default, runs everything on the caller). Helper threads are
// started on first use and kept until this thread exits.
void setTeamThreads(int threads) noexcept;
int teamThreads() noexcept;

// Runs task(part, context) for part in [0, parts) and returns when all are done: part 0
// on the caller, the others on the team's helpers. parts must be in 1..teamThreads().
// The task must not throw.
using TeamTask = void (*)(int part, void* context) noexcept;
void runTeam(int parts, TeamTask task, void* context) noexcept;

// How many rounds with more than one part this thread has run (for tests and benches).
int64_t teamRounds() noexcept;

// The CPUs this process may run on (its affinity mask, as Slurm and containers limit it).
int availableCpus() noexcept;

}  // namespace nnspec::rt
