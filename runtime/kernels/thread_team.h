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
//
// A round never waits for a helper that has not started: the work is a list of pieces
// the threads take in turn, the caller takes pieces until none is left, and a helper the
// scheduler did not run in time (a busy machine) simply joins no piece. So a team is
// never slower than its caller alone by more than a piece in flight.

#include <cstdint>

namespace nnspec::rt {

// At most this many threads per trial.
inline constexpr int kMaxTeamThreads = 8;

// How many threads the kernels called from this thread may use from now on (clamped to
// 1..kMaxTeamThreads; 1, the default, runs everything on the caller). Helper threads are
// started on first use and kept until this thread exits.
void setTeamThreads(int threads) noexcept;
int teamThreads() noexcept;

// Runs task(worker, context) on the caller (worker 0) and on each helper that starts
// while the caller's own call runs (workers 1..teamThreads()-1), and returns when every
// call has returned. The task takes pieces of its work from `context` until none is left
// (e.g. an atomic counter), so the caller alone may do all of it; `worker` names the
// thread (e.g. for its scratch memory). The task must not throw.
using TeamTask = void (*)(int worker, void* context) noexcept;
void runTeam(TeamTask task, void* context) noexcept;

// How many rounds with helpers this thread has run (for tests and benches).
int64_t teamRounds() noexcept;

// Scratch for worker `worker` (0..kMaxTeamThreads-1) of this thread's rounds (0: the
// caller's, for what a kernel needs beyond the scratch it was given): at least `floats`
// floats, 64-byte aligned, kept per calling thread and grown on demand (its old contents
// are not kept); null when the allocation fails. Valid until the next call for the same
// worker on this thread.
float* teamScratch(int worker, int64_t floats) noexcept;

// The CPUs this process may run on (its affinity mask, as Slurm and containers limit it).
int availableCpus() noexcept;

}  // namespace nnspec::rt
