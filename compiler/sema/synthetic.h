#pragma once
// The samples of a synthetic data source, drawn the one way both check and run use:
// x uniform in [lo, hi], then y = f(x) + noise * N(0, 1), from a stream seeded by the
// source's seed and the data set's name.

#include <cstdint>
#include <functional>

#include "compiler/frontend/ast.h"
#include "compiler/sema/checked_spec.h"

namespace nnspec::sema {

// y = f(x), the expression the checker accepted.
double evaluateSynthetic(const ast::Expr& fn, double x);

// Calls each(k, x, y) for samples k = 0, 1, ... up to `count` (at most the source's n), in
// the order a run draws them; stops early when `each` returns false.
void drawSynthetic(const DataSet& data, int64_t count, const std::function<bool(int64_t, double, double)>& each);

}  // namespace nnspec::sema
