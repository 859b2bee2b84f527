// ASHA's rungs and verdicts (Optuna's SuccessiveHalvingPruner with bootstrap_count 0).
#include "runtime/sweep/asha_pruner.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace {

using nnspec::rt::AshaSettings;
using nnspec::rt::ashaPromotes;
using nnspec::rt::ashaRung;

}  // namespace

TEST_CASE("asha: rungs sit at min_epochs times powers of the reduction", "[sweep]") {
  const AshaSettings settings{1, 3};
  CHECK(ashaRung(settings, 1) == 0);
  CHECK(ashaRung(settings, 2) == -1);
  CHECK(ashaRung(settings, 3) == 1);
  CHECK(ashaRung(settings, 9) == 2);
  CHECK(ashaRung(settings, 27) == 3);
  CHECK(ashaRung(settings, 10) == -1);
  const AshaSettings later{2, 2};
  CHECK(ashaRung(later, 1) == -1);
  CHECK(ashaRung(later, 2) == 0);
  CHECK(ashaRung(later, 4) == 1);
  CHECK(ashaRung(later, 6) == -1);
  CHECK(ashaRung(later, 8) == 2);
}

TEST_CASE("asha: fewer values than the reduction promote only the best so far", "[sweep]") {
  const AshaSettings settings{1, 3};
  // The first trial at a rung always goes on.
  CHECK(ashaPromotes(settings, {0.5}, 0.5, true));
  // The second must be at least as good as the first (index 2 / 3 - 1 = -1 -> 0).
  CHECK_FALSE(ashaPromotes(settings, {0.5, 0.6}, 0.6, true));
  CHECK(ashaPromotes(settings, {0.5, 0.4}, 0.4, true));
  CHECK(ashaPromotes(settings, {0.5, 0.5}, 0.5, true));  // equal is not worse
  // Maximizing: larger is better.
  CHECK(ashaPromotes(settings, {0.5, 0.6}, 0.6, false));
  CHECK_FALSE(ashaPromotes(settings, {0.5, 0.4}, 0.4, false));
}

TEST_CASE("asha: with n values a trial goes on within the best n / reduction", "[sweep]") {
  const AshaSettings settings{1, 3};
  // Six values: the best 6 / 3 = 2 go on (minimizing: 0.1 and 0.2).
  const std::vector<double> six = {0.4, 0.1, 0.6, 0.2, 0.5, 0.3};
  CHECK(ashaPromotes(settings, six, 0.1, true));
  CHECK(ashaPromotes(settings, six, 0.2, true));
  CHECK_FALSE(ashaPromotes(settings, six, 0.3, true));
  CHECK_FALSE(ashaPromotes(settings, six, 0.6, true));
  // Maximizing: 0.6 and 0.5.
  CHECK(ashaPromotes(settings, six, 0.5, false));
  CHECK_FALSE(ashaPromotes(settings, six, 0.4, false));
  // Reduction 2 of four values: the best two.
  const AshaSettings halving{1, 2};
  CHECK(ashaPromotes(halving, {0.9, 0.1, 0.5, 0.3}, 0.3, true));
  CHECK_FALSE(ashaPromotes(halving, {0.9, 0.1, 0.5, 0.3}, 0.5, true));
}

TEST_CASE("asha: a NaN value is pruned and NaNs of others are left out", "[sweep]") {
  const AshaSettings settings{1, 3};
  const double nan = std::nan("");
  CHECK_FALSE(ashaPromotes(settings, {0.5, nan}, nan, true));
  CHECK(ashaPromotes(settings, {nan, nan, 0.7}, 0.7, true));
}
