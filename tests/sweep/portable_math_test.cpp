// The samplers' portable exp, erf and Gaussian interval masses against libm.
#include "runtime/sweep/portable_math.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace {

namespace rt = nnspec::rt;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

// log(Phi(b) - Phi(a)) from libm, fine where it does not cancel.
double libmLogGaussMass(double a, double b) {
  return std::log(0.5 * std::erfc(-b / std::sqrt(2.0)) - 0.5 * std::erfc(-a / std::sqrt(2.0)));
}

}  // namespace

TEST_CASE("portable math: exp matches libm to a few ulps", "[runtime]") {
  for (double x = -708.0; x < 709.0; x += 0.37) CHECK_THAT(rt::portableExp(x), WithinRel(std::exp(x), 1e-15));
  // Subnormal results carry fewer bits.
  for (double x = -744.0; x < -708.0; x += 0.37) CHECK_THAT(rt::portableExp(x), WithinAbs(std::exp(x), 1e-322));
  CHECK(rt::portableExp(0.0) == 1.0);
  CHECK(rt::portableExp(-800.0) == 0.0);
  CHECK(std::isinf(rt::portableExp(710.0)));
}

TEST_CASE("portable math: erf and erfc match libm", "[runtime]") {
  for (double x = -6.0; x <= 6.0; x += 0.01) {
    CHECK_THAT(rt::portableErf(x), WithinAbs(std::erf(x), 1e-15));
    CHECK_THAT(rt::portableErfc(x), WithinRel(std::erfc(x), 1e-13));
  }
  for (double x = 6.0; x <= 26.0; x += 0.5) CHECK_THAT(rt::portableErfc(x), WithinRel(std::erfc(x), 1e-13));
}

TEST_CASE("portable math: Gaussian interval masses in the centre and deep in the tails", "[runtime]") {
  CHECK_THAT(rt::logGaussMass(-1.0, 2.0), WithinRel(libmLogGaussMass(-1.0, 2.0), 1e-13));
  CHECK_THAT(rt::logGaussMass(0.5, 0.6), WithinRel(libmLogGaussMass(0.5, 0.6), 1e-11));
  CHECK_THAT(rt::logGaussMass(-3.5, -3.4), WithinRel(libmLogGaussMass(-3.5, -3.4), 1e-10));
  CHECK_THAT(rt::logGaussMass(-1e-9, 1e-9), WithinRel(std::log(2e-9 / std::sqrt(2 * M_PI)), 1e-9));
  // Far in the tail, where Phi(b) - Phi(a) underflows: mass ~ phi(a) / a for a wide bin.
  const double a = 40.0;
  const double expected = -0.5 * a * a - std::log(a * std::sqrt(2 * M_PI)) + std::log1p(-1.0 / (a * a));
  CHECK_THAT(rt::logGaussMass(a, a + 10.0), WithinRel(expected, 1e-6));
  CHECK(rt::logGaussMass(-a - 10.0, -a) == rt::logGaussMass(a, a + 10.0));
  CHECK(std::isinf(rt::logGaussMass(1.0, 1.0)));
  CHECK(rt::logGaussMass(-INFINITY, INFINITY) == 0.0);
}
