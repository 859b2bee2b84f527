#include "runtime/sweep/search_space.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

namespace nnspec::rt {

namespace {

// Up to six significant digits, ints without a decimal point: 16, 0.0001, 1e-07.
std::string formatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

bool isWhole(double value) { return std::isfinite(value) && std::floor(value) == value; }

void checkInt(const ParamSpec& spec, std::vector<SpaceError>& errors) {
  if (!isWhole(spec.low) || !isWhole(spec.high)) {
    errors.push_back({spec.name, "int bounds must be whole numbers", ""});
    return;
  }
  if (!isWhole(spec.step) || spec.step < 1) {
    errors.push_back({spec.name, "int step must be a whole number >= 1, got " + formatNumber(spec.step), ""});
    return;
  }
  if (spec.low > spec.high) {
    errors.push_back(
        {spec.name, "low " + formatNumber(spec.low) + " is above high " + formatNumber(spec.high), "swap the bounds"});
    return;
  }
  const double steps = (spec.high - spec.low) / spec.step;
  if (std::floor(steps) != steps) {
    const double last = spec.low + std::floor(steps) * spec.step;
    errors.push_back({spec.name, "high - low is not a multiple of step " + formatNumber(spec.step),
                      "use high " + formatNumber(last) + " or " + formatNumber(last + spec.step)});
  }
  if (spec.log && spec.low < 1) {
    errors.push_back({spec.name, "log scale needs low >= 1, got " + formatNumber(spec.low), ""});
  }
  if (spec.log && spec.step != 1) {
    errors.push_back({spec.name, "log scale needs step 1, got " + formatNumber(spec.step), "drop the step"});
  }
}

void checkFloat(const ParamSpec& spec, std::vector<SpaceError>& errors) {
  if (!std::isfinite(spec.low) || !std::isfinite(spec.high)) {
    errors.push_back({spec.name, "float bounds must be finite", ""});
    return;
  }
  if (spec.low > spec.high) {
    errors.push_back(
        {spec.name, "low " + formatNumber(spec.low) + " is above high " + formatNumber(spec.high), "swap the bounds"});
    return;
  }
  if (spec.log && spec.low <= 0) {
    errors.push_back({spec.name, "log scale needs low > 0, got " + formatNumber(spec.low), ""});
  }
}

}  // namespace

ParamSpec makeIntParam(std::string name, int64_t low, int64_t high, int64_t step, bool log) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.kind = ParamKind::kInt;
  spec.low = static_cast<double>(low);
  spec.high = static_cast<double>(high);
  spec.step = static_cast<double>(step);
  spec.log = log;
  return spec;
}

ParamSpec makeFloatParam(std::string name, double low, double high, bool log) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.kind = ParamKind::kFloat;
  spec.low = low;
  spec.high = high;
  spec.log = log;
  return spec;
}

ParamSpec makeCategoricalParam(std::string name, int64_t choices) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.kind = ParamKind::kCategorical;
  spec.choices = choices;
  return spec;
}

ParamSpec makeConditional(ParamSpec spec, std::string parent, double greater_than) {
  spec.condition = ParamCondition{std::move(parent), greater_than};
  return spec;
}

std::vector<SpaceError> checkSearchSpace(const SearchSpace& space) {
  std::vector<SpaceError> errors;
  std::map<std::string, ParamKind> earlier;
  std::set<std::string> all_names;
  for (const ParamSpec& spec : space) all_names.insert(spec.name);
  for (const ParamSpec& spec : space) {
    if (spec.name.empty()) errors.push_back({spec.name, "a parameter has no name", ""});
    if (earlier.count(spec.name) != 0) errors.push_back({spec.name, "'" + spec.name + "' is declared twice", ""});
    switch (spec.kind) {
      case ParamKind::kInt:
        checkInt(spec, errors);
        break;
      case ParamKind::kFloat:
        checkFloat(spec, errors);
        break;
      case ParamKind::kCategorical:
        if (spec.choices < 1) errors.push_back({spec.name, "a categorical needs at least one choice", ""});
        break;
    }
    if (spec.condition) {
      const std::string& parent = spec.condition->parent;
      const auto found = earlier.find(parent);
      if (found == earlier.end()) {
        const bool later = all_names.count(parent) != 0 && parent != spec.name;
        errors.push_back({spec.name, "condition on unknown parameter '" + parent + "'",
                          later ? "declare '" + parent + "' before '" + spec.name + "'" : ""});
      } else if (found->second == ParamKind::kFloat) {
        errors.push_back({spec.name, "condition on float parameter '" + parent + "'",
                          "conditions need an int or categorical parent"});
      }
    }
    earlier.emplace(spec.name, spec.kind);
  }
  return errors;
}

bool isParamActive(const ParamSpec& spec, const Sample& drawn) {
  if (!spec.condition) return true;
  const auto parent = drawn.find(spec.condition->parent);
  return parent != drawn.end() && parent->second > spec.condition->greater_than;
}

std::optional<double> findSingleValue(const ParamSpec& spec) {
  if (spec.kind == ParamKind::kCategorical) {
    if (spec.choices == 1) return 0.0;
    return std::nullopt;
  }
  if (spec.low == spec.high) return spec.low;
  return std::nullopt;
}

}  // namespace nnspec::rt
