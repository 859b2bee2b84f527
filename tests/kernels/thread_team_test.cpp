// The kernels' thread team (runtime/kernels/thread_team.h): every part runs once per
// round, on distinct threads, round after round, and a team ends with its thread.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>
#include <vector>

#include "runtime/kernels/thread_team.h"

namespace {

using namespace nnspec::rt;

struct Round {
  std::atomic<int> runs[kMaxTeamThreads] = {};
  std::thread::id ids[kMaxTeamThreads];
};

void recordPart(int part, void* context) noexcept {
  auto* round = static_cast<Round*>(context);
  round->runs[part].fetch_add(1);
  round->ids[part] = std::this_thread::get_id();
}

}  // namespace

TEST_CASE("a team runs every part once, part 0 on the caller and the others on their own threads", "[runtime]") {
  std::thread([] {
    setTeamThreads(3);
    CHECK(teamThreads() == 3);
    for (int repeat = 0; repeat < 2000; ++repeat) {
      Round round;
      runTeam(3, recordPart, &round);
      for (int part = 0; part < 3; ++part) REQUIRE(round.runs[part].load() == 1);
      for (int part = 3; part < kMaxTeamThreads; ++part) REQUIRE(round.runs[part].load() == 0);
      REQUIRE(round.ids[0] == std::this_thread::get_id());
      REQUIRE(std::set<std::thread::id>(round.ids, round.ids + 3).size() == 3);
    }
    // Fewer parts than threads: the spare helper idles through the round.
    Round round;
    runTeam(2, recordPart, &round);
    CHECK(round.runs[0].load() == 1);
    CHECK(round.runs[1].load() == 1);
    CHECK(round.runs[2].load() == 0);
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
    runTeam(4, recordPart, &round);  // more parts than the width: clamped to one
    CHECK(round.runs[0].load() == 1);
    CHECK(round.runs[1].load() == 0);
    CHECK(round.ids[0] == std::this_thread::get_id());
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
        runTeam(2, recordPart, &round);
        REQUIRE(round.runs[1].load() == 1);
      });
    }
    for (auto& thread : threads) thread.join();  // each team's helper is joined at its owner's exit
  }
}
