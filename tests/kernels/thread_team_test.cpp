// The kernels' thread team (runtime/kernels/thread_team.h): every piece of a round's work
// is done once, by the caller or a helper, round after round; helpers do take pieces; a
// width of one runs everything on the caller; a team ends with its thread.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "runtime/kernels/thread_team.h"

namespace {

using namespace nnspec::rt;

constexpr int kPieces = 16;

struct Round {
  std::atomic<int> next{0};
  std::atomic<int> done[kPieces] = {};
  std::atomic<int> by_helpers{0};
  std::atomic<int> workers_seen{0};  // bit per worker that ran the task
  bool slow = false;                 // pieces of ~20 microseconds each
};

void takePieces(int worker, void* context) noexcept {
  auto* round = static_cast<Round*>(context);
  round->workers_seen.fetch_or(1 << worker);
  for (int piece = round->next.fetch_add(1); piece < kPieces; piece = round->next.fetch_add(1)) {
    if (round->slow) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    round->done[piece].fetch_add(1);
    if (worker != 0) round->by_helpers.fetch_add(1);
  }
}

}  // namespace

TEST_CASE("a team does every piece once per round, and its helpers take some", "[runtime]") {
  std::thread([] {
    setTeamThreads(3);
    CHECK(teamThreads() == 3);
    const int64_t rounds_before = teamRounds();
    int by_helpers = 0;
    for (int repeat = 0; repeat < 2000; ++repeat) {
      Round round;
      runTeam(takePieces, &round);
      for (int piece = 0; piece < kPieces; ++piece) REQUIRE(round.done[piece].load() == 1);
      REQUIRE((round.workers_seen.load() & 1) == 1);   // the caller always works
      REQUIRE(round.workers_seen.load() < (1 << 3));  // only workers 0..2
      by_helpers += round.by_helpers.load();
    }
    CHECK(teamRounds() == rounds_before + 2000);
    // On a busy machine a helper may miss every one of those short rounds; keep going
    // (rounds of slower pieces) until one takes part, for at most 20 s.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (by_helpers == 0 && std::chrono::steady_clock::now() < deadline) {
      Round round;
      round.slow = true;
      runTeam(takePieces, &round);
      by_helpers += round.by_helpers.load();
    }
    CHECK(by_helpers > 0);
  }).join();
}

TEST_CASE("a team's width is per thread, clamped, and one runs everything on the caller", "[runtime]") {
  std::thread([] {
    CHECK(teamThreads() == 1);
    setTeamThreads(0);
    CHECK(teamThreads() == 1);
    setTeamThreads(1000);
    CHECK(teamThreads() == kMaxTeamThreads);
    setTeamThreads(1);
    Round round;
    runTeam(takePieces, &round);
    CHECK(round.workers_seen.load() == 1);
    CHECK(round.by_helpers.load() == 0);
    for (int piece = 0; piece < kPieces; ++piece) CHECK(round.done[piece].load() == 1);
  }).join();
  CHECK(availableCpus() >= 1);
}

TEST_CASE("threads with teams come and go", "[runtime]") {
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::vector<std::thread> threads;
    for (int owner = 0; owner < 2; ++owner) {
      threads.emplace_back([] {
        setTeamThreads(2);
        Round round;
        runTeam(takePieces, &round);
        for (int piece = 0; piece < kPieces; ++piece) REQUIRE(round.done[piece].load() == 1);
      });
    }
    for (auto& thread : threads) thread.join();  // each team's helper is joined at its owner's exit
  }
}
