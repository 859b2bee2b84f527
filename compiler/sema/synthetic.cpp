#include "compiler/sema/synthetic.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/pipeline/random.h"

namespace nnspec::sema {

double evaluateSynthetic(const ast::Expr& expr, double x) {
  switch (expr.kind) {
    case ast::ExprKind::kNumber: return expr.number;
    case ast::ExprKind::kName: return x;
    case ast::ExprKind::kUnary: {
      const double value = evaluateSynthetic(*expr.operands[0], x);
      return expr.text == "-" ? -value : value;
    }
    case ast::ExprKind::kBinary: {
      const double a = evaluateSynthetic(*expr.operands[0], x);
      const double b = evaluateSynthetic(*expr.operands[1], x);
      if (expr.text == "+") return a + b;
      if (expr.text == "-") return a - b;
      if (expr.text == "*") return a * b;
      if (expr.text == "/") return a / b;
      return std::pow(a, b);
    }
    case ast::ExprKind::kCall: {
      const std::string& name = expr.operands[0]->text;
      const double value = evaluateSynthetic(*expr.args[0].value, x);
      if (name == "sin") return std::sin(value);
      if (name == "cos") return std::cos(value);
      if (name == "tan") return std::tan(value);
      if (name == "exp") return std::exp(value);
      if (name == "log") return std::log(value);
      if (name == "sqrt") return std::sqrt(value);
      if (name == "abs") return std::fabs(value);
      return std::tanh(value);
    }
    default: return 0;
  }
}

void drawSynthetic(const DataSet& data, int64_t count, const std::function<bool(int64_t, double, double)>& each) {
  const int64_t n = std::min(count, data.source_args.integer("n"));
  const double noise = data.source_args.number("noise");
  rt::Rng rng(rt::deriveSeed(static_cast<uint64_t>(data.source_args.integer("seed")), "synthetic:" + data.name));
  for (int64_t k = 0; k < n; ++k) {
    const double x = rng.uniformDouble(data.synthetic_lo, data.synthetic_hi);
    const double y = evaluateSynthetic(*data.synthetic_fn, x) + noise * rng.normal();
    if (!each(k, x, y)) return;
  }
}

}  // namespace nnspec::sema
