#pragma once
// The few transcendental functions the samplers need, computed from +, -, *, /, frexp,
// ldexp and nearbyint only, so a sweep draws bit-identical values wherever doubles are
// IEEE 754 (compiled without fused multiply-adds). libm's exp and erf may differ in the
// last bit between C libraries, and one bit is enough to change which TPE candidate wins.
// Accuracy is a few ulps (erf/erfc: relative error below 1e-13), which is all TPE needs.

namespace nnspec::rt {

// e^x (0 below -745.13, +inf above 709.78).
double portableExp(double x);

// The error function and its complement, for any finite x.
double portableErf(double x);
double portableErfc(double x);

// log(Phi(b) - Phi(a)) for a < b, Phi the standard normal CDF: the log probability mass
// of [a, b] under N(0, 1), accurate deep in either tail (-inf when a >= b).
double logGaussMass(double a, double b);

}  // namespace nnspec::rt
