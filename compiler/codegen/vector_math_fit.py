#!/usr/bin/env python3
# How the polynomial coefficients of compiler/codegen/vector_math.cpp were fitted (Python
# alone, no packages): python3 compiler/codegen/vector_math_fit.py prints each fit and its
# error; vector_math.cpp keeps exp degree 5, log degree 8 and tanh degree 5, rounded to float.
import math, struct

def f32(v): return struct.unpack('f', struct.pack('f', v))[0]

def solve(a, b):
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[piv] = m[piv], m[col]
        for r in range(n):
            if r != col:
                k = m[r][col] / m[col][col]
                for c in range(col, n + 1): m[r][c] -= k * m[col][c]
    return [m[i][n] / m[i][i] for i in range(n)]

def fit(target, basis_x, weight, lo, hi, degree, points=2000, iters=60):
    # minimize max |weight(x) * (target(x) - sum c_k basis_x(x)^k)|
    xs = [lo + (hi - lo) * (0.5 - 0.5 * math.cos(math.pi * (i + 0.5) / points)) for i in range(points)]
    xs = [x for x in xs if x != 0.0]
    lw = [1.0] * len(xs)
    for _ in range(iters):
        ata = [[0.0] * (degree + 1) for _ in range(degree + 1)]
        atb = [0.0] * (degree + 1)
        for x, l in zip(xs, lw):
            w = weight(x); t = basis_x(x)
            row = [w * t ** k for k in range(degree + 1)]
            for i in range(degree + 1):
                atb[i] += l * row[i] * w * target(x)
                for j in range(degree + 1): ata[i][j] += l * row[i] * row[j]
        c = solve(ata, atb)
        errs = [abs(weight(x) * (target(x) - sum(ck * basis_x(x) ** k for k, ck in enumerate(c)))) for x in xs]
        s = sum(l * e for l, e in zip(lw, errs))
        lw = [l * e / s for l, e in zip(lw, errs)]
    return c, max(errs)

ln2 = math.log(2.0)
def report(name, c, err):
    print(name, 'max weighted error %.3g' % err)
    for k, ck in enumerate(c): print('   c%d = %.9e  (float %.9e)' % (k, ck, f32(ck)))

# exp: e^r = 1 + r + r^2 q(r), |r| <= ln2/2; absolute error of r^2 q.
for d in (4, 5):
    c, e = fit(lambda r: (math.expm1(r) - r) / (r * r), lambda r: r, lambda r: r * r, -ln2 / 2, ln2 / 2, d)
    report('exp q degree %d' % d, c, e)
# log: log1p(f) = f - f^2/2 + f^3 P(f), f in [sqrt(1/2)-1, sqrt(2)-1]; error relative to f.
s = math.sqrt(0.5)
for d in (6, 7, 8):
    c, e = fit(lambda f: (math.log1p(f) - f + 0.5 * f * f) / f ** 3, lambda f: f, lambda f: f * f, s - 1, 2 * s - 1, d)
    report('log P degree %d' % d, c, e)
# tanh: tanh(x) = x + x^3 P(x^2), 0 < x <= T; error relative to x.
for T in (0.625,):
    for d in (4, 5, 6):
        c, e = fit(lambda x: (math.tanh(x) - x) / x ** 3, lambda x: x * x, lambda x: x * x, 1e-4, T, d)
        report('tanh T=%g P degree %d' % (T, d), c, e)
