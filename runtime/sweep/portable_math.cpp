#include "runtime/sweep/portable_math.h"

#include <cmath>
#include <limits>

#include "runtime/pipeline/random.h"

namespace nnspec::rt {

namespace {

// ln 2 split so that k * kLn2Hi is exact for |k| < 2^11 (fdlibm's constants).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kLn2 = 0.693147180559945309417232121458176568;
constexpr double kInvLn2 = 1.44269504088896338700e+00;
constexpr double kExpOverflow = 7.09782712893383973096e+02;
constexpr double kExpUnderflow = -7.45133219101941108420e+02;
// After reduction |r| <= ln2 / 2, and r^18 / 18! < 1e-24.
constexpr int kExpTerms = 18;
// expm1 is only used for |x| < ln 2: x^20 / 20! < 1e-21.
constexpr int kExpm1Terms = 20;

constexpr double kTwoOverSqrtPi = 1.12837916709551257389615890312154517;
constexpr double kInvSqrtPi = 0.564189583547756286948079451560772586;
constexpr double kInvSqrt2 = 0.707106781186547524400844362104849039;
constexpr double kLogHalf = -0.693147180559945309417232121458176568;
// Below this erf comes from its all-positive series, above it erfc from its continued
// fraction; both reach double precision on their side (the fraction within 1e-15 at 1.5
// with 100 levels), and erfc = 1 - erf loses no more than 5 bits below it.
constexpr double kErfSeriesLimit = 1.5;
constexpr int kErfSeriesMaxTerms = 200;
constexpr double kErfSeriesTolerance = 1e-17;
constexpr int kErfcFractionDepth = 100;

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// e^x - 1 for |x| < ln 2, without the cancellation of exp(x) - 1.
double expm1Small(double x) {
  double poly = 1.0;
  for (int n = kExpm1Terms; n >= 2; --n) poly = 1.0 + poly * x / n;
  return x * poly;
}

// log(1 + y) for y > -1 (Goldberg's correction of log(u) for the rounding of u = 1 + y).
double log1pPortable(double y) {
  const double u = 1.0 + y;
  if (u == 1.0) return y;
  return portableLog(u) * y / (u - 1.0);
}

// log(1 - e^d) for d <= 0 (Maechler's split between the two accurate forms).
double log1mExp(double d) {
  if (d >= 0) return -kInfinity;
  if (d > -kLn2) return portableLog(-expm1Small(d));
  return log1pPortable(-portableExp(d));
}

// erf(t) for 0 <= t < kErfSeriesLimit:
// erf(t) = 2/sqrt(pi) e^{-t^2} sum_n 2^n t^{2n+1} / (1 * 3 * ... * (2n+1)), all terms positive.
double erfSeries(double t) {
  const double t_squared = t * t;
  double term = t;
  double sum = t;
  for (int n = 0; n < kErfSeriesMaxTerms; ++n) {
    term *= 2.0 * t_squared / (2 * n + 3);
    sum += term;
    if (term <= sum * kErfSeriesTolerance) break;
  }
  return kTwoOverSqrtPi * portableExp(-t_squared) * sum;
}

// erfc(t) = e^{-t^2} / sqrt(pi) * K(t) for t >= kErfSeriesLimit, where
// K(t) = 1 / (t + (1/2) / (t + (2/2) / (t + (3/2) / (t + ...)))), evaluated bottom-up.
double erfcFraction(double t) {
  if (t == kInfinity) return 0.0;
  double denominator = t;
  for (int depth = kErfcFractionDepth; depth >= 1; --depth) denominator = t + (0.5 * depth) / denominator;
  return 1.0 / denominator;
}

double erfNonNegative(double t) {
  if (t < kErfSeriesLimit) return erfSeries(t);
  return 1.0 - portableExp(-t * t) * kInvSqrtPi * erfcFraction(t);
}

double erfcNonNegative(double t) {
  if (t < kErfSeriesLimit) return 1.0 - erfSeries(t);
  return portableExp(-t * t) * kInvSqrtPi * erfcFraction(t);
}

// log erfc(t) for t >= 0, finite however large t is.
double logErfcNonNegative(double t) {
  if (t < kErfSeriesLimit) return log1pPortable(-erfSeries(t));
  if (t == kInfinity) return -kInfinity;
  return -t * t + portableLog(kInvSqrtPi * erfcFraction(t));
}

// log(1 - Phi(z)) for z >= 0.
double logUpperTail(double z) { return kLogHalf + logErfcNonNegative(z * kInvSqrt2); }

}  // namespace

double portableExp(double x) {
  if (std::isnan(x)) return x;
  if (x > kExpOverflow) return kInfinity;
  if (x < kExpUnderflow) return 0.0;
  const double k = std::nearbyint(x * kInvLn2);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  double poly = 1.0;
  for (int n = kExpTerms; n >= 1; --n) poly = 1.0 + poly * r / n;
  return std::ldexp(poly, static_cast<int>(k));
}

double portableErf(double x) { return x < 0 ? -erfNonNegative(-x) : erfNonNegative(x); }

double portableErfc(double x) { return x < 0 ? 1.0 + erfNonNegative(-x) : erfcNonNegative(x); }

double logGaussMass(double a, double b) {
  if (!(a < b)) return -kInfinity;
  if (a >= 0) {
    // Both in the upper tail: Q(a) - Q(b) = Q(a) (1 - Q(b)/Q(a)), with Q = 1 - Phi.
    const double log_tail_a = logUpperTail(a);
    return log_tail_a + log1mExp(logUpperTail(b) - log_tail_a);
  }
  if (b <= 0) return logGaussMass(-b, -a);
  // a < 0 < b: the two halves' masses, both positive, so nothing cancels.
  return portableLog(0.5 * (erfNonNegative(-a * kInvSqrt2) + erfNonNegative(b * kInvSqrt2)));
}

}  // namespace nnspec::rt
