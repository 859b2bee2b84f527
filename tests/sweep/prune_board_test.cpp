// How pruning composes with folds and replicates (runtime/sweep/prune_board.h): trials are
// judged against the same fold and replicate of other points, and a pruned trial prunes
// its point.
#include "runtime/sweep/prune_board.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace {

using nnspec::rt::EpochRecord;
using nnspec::rt::PruneBoard;
using nnspec::rt::PrunerChoice;
using nnspec::rt::TrialKey;

PrunerChoice median(int startup) {
  PrunerChoice choice;
  choice.kind = PrunerChoice::Kind::kMedian;
  choice.median.n_startup_trials = startup;
  return choice;
}

PrunerChoice asha(int min_epochs, int reduction) {
  PrunerChoice choice;
  choice.kind = PrunerChoice::Kind::kAsha;
  choice.asha.min_epochs = min_epochs;
  choice.asha.reduction = reduction;
  return choice;
}

EpochRecord at(int epoch, double loss) { return EpochRecord{epoch, {{"val.loss", loss}}, 0.0}; }

TrialKey trial(const std::string& point, int fold, int replicate = 0) { return TrialKey{"s", point, fold, replicate}; }

// Trains `key` for `epochs` epochs reporting `losses` in turn; the epoch it was pruned at, or 0.
int train(PruneBoard& board, const TrialKey& key, const std::vector<double>& losses) {
  const int epochs = static_cast<int>(losses.size());
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    if (board.judge(key, at(epoch, losses[static_cast<size_t>(epoch - 1)]), epochs)) return epoch;
  }
  board.finish(key);
  return 0;
}

}  // namespace

TEST_CASE("prune board: the median compares a fold with the same fold of finished points", "[sweep]") {
  PruneBoard board(median(1), "val.loss", true);
  // Point a: fold 0 is easy (0.1), fold 1 hard (0.9).
  CHECK(train(board, trial("a", 0), {0.1, 0.1}) == 0);
  CHECK(train(board, trial("a", 1), {0.9, 0.9}) == 0);
  // Point b at 0.5 on both folds: worse than a's fold 0, better than a's fold 1. Judged
  // against fold 0 of a it is pruned at its first epoch; the mean over a's folds (0.5)
  // would not have pruned it.
  CHECK(train(board, trial("b", 0), {0.5, 0.5}) == 1);
  CHECK(board.pointPruned("b"));
  // Point c: better than a on fold 0, and fold 1 is judged against a's fold 1 only.
  CHECK(train(board, trial("c", 0), {0.05, 0.05}) == 0);
  CHECK(train(board, trial("c", 1), {0.8, 0.8}) == 0);
  CHECK_FALSE(board.pointPruned("c"));
}

TEST_CASE("prune board: a pruned trial prunes the other trials of its point at their next epoch", "[sweep]") {
  PruneBoard board(median(1), "val.loss", true);
  CHECK(train(board, trial("a", 0), {0.1, 0.1, 0.1}) == 0);
  CHECK(train(board, trial("a", 1), {0.1, 0.1, 0.1}) == 0);
  // b's two folds train side by side (a fused group): fold 1 is fine at epoch 1, fold 0
  // is pruned at epoch 1, and fold 1 then stops at its epoch 2 though its own loss is good.
  CHECK_FALSE(board.judge(trial("b", 1), at(1, 0.05), 3));
  CHECK(board.judge(trial("b", 0), at(1, 0.5), 3));
  CHECK(board.judge(trial("b", 1), at(2, 0.05), 3));
  // A trial of another point is not touched.
  CHECK_FALSE(board.judge(trial("c", 0), at(1, 0.05), 3));
}

TEST_CASE("prune board: replicates are judged against the same replicate", "[sweep]") {
  PruneBoard board(median(1), "val.loss", true);
  CHECK(train(board, trial("a", 0, 0), {0.2}) == 0);
  CHECK(train(board, trial("a", 0, 1), {0.6}) == 0);
  // Replicate 1 of b at 0.4 beats replicate 1 of a.
  CHECK(train(board, trial("b", 0, 1), {0.4}) == 0);
  // Replicate 0 of b at 0.4 loses to replicate 0 of a.
  CHECK(train(board, trial("b", 0, 0), {0.4}) == 1);
}

TEST_CASE("prune board: the median needs `startup` finished trials of the fold", "[sweep]") {
  PruneBoard board(median(2), "val.loss", true);
  CHECK(train(board, trial("a", 0), {0.1}) == 0);
  CHECK(train(board, trial("b", 0), {0.9}) == 0);  // one finished: not yet
  CHECK(train(board, trial("c", 0), {0.9}) == 1);  // two finished, median 0.5
}

TEST_CASE("prune board: asha prunes at rungs below the last epoch, counting pruned trials", "[sweep]") {
  // Rungs at epochs 1 and 2 (reduction 2); trials of 3 epochs.
  PruneBoard board(asha(1, 2), "val.loss", true);
  CHECK(train(board, trial("a", 0), {0.5, 0.4, 0.3}) == 0);  // first at every rung
  CHECK(train(board, trial("b", 0), {0.6, 0.3, 0.2}) == 1);  // 2 values at rung 1: must be the best
  // c: rung 1 holds 0.5, 0.6 and 0.45: 3 / 2 = 1 -> the best only; c is the best.
  // rung 2 holds 0.4 and 0.35: c is the best again; epoch 3 is its last: no rung.
  CHECK(train(board, trial("c", 0), {0.45, 0.35, 9.0}) == 0);
  // d: rung 1 holds 0.5, 0.6, 0.45, 0.48: the best 4 / 2 = 2 are 0.45 and 0.48: d goes on;
  // rung 2 holds 0.4, 0.35, 0.39: the best 1: d (0.39) is pruned there.
  CHECK(train(board, trial("d", 0), {0.48, 0.39, 0.1}) == 2);
  CHECK(board.pointPruned("d"));
  CHECK_FALSE(board.pointPruned("c"));
}

TEST_CASE("prune board: asha compares a fold with the same fold only", "[sweep]") {
  PruneBoard board(asha(1, 3), "val.loss", true);
  CHECK(train(board, trial("a", 0), {0.1, 0.1}) == 0);
  CHECK(train(board, trial("a", 1), {0.9, 0.9}) == 0);
  CHECK(train(board, trial("b", 1), {0.8, 0.8}) == 0);  // better than a's fold 1
  CHECK(train(board, trial("b", 0), {0.2, 0.2}) == 1);  // worse than a's fold 0
  CHECK(board.pointPruned("b"));
}

TEST_CASE("prune board: trials loaded from the store count as the run before left them", "[sweep]") {
  PruneBoard board(median(1), "val.loss", true);
  nnspec::rt::TrialRow finished;
  finished.key = trial("a", 0);
  finished.status = nnspec::rt::TrialStatus::kFinished;
  board.load(finished, {nnspec::rt::EpochRow{1, 0.1, {{"val.loss", 0.2}}}});
  nnspec::rt::TrialRow pruned;
  pruned.key = trial("b", 0);
  pruned.status = nnspec::rt::TrialStatus::kPruned;
  board.load(pruned, {nnspec::rt::EpochRow{1, 0.1, {{"val.loss", 0.9}}}});
  CHECK(board.pointPruned("b"));
  CHECK_FALSE(board.pointPruned("a"));
  CHECK(train(board, trial("c", 0), {0.3}) == 1);  // worse than a, the only finished trial
}
