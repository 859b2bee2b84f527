#pragma once
// Search spaces of a sweep: the hyperparameters a sampler draws and the rules that make
// some of them exist only in part of the space.
//
// A parameter is an int on a step grid (optionally log-scaled), a float (optionally
// log-scaled) or a categorical choice by index. A conditional parameter exists only when
// an earlier int or categorical parameter's value exceeds a threshold: "units_2 exists iff
// n_layers > 2" is units_2 with condition {parent "n_layers", greater_than 2}. A sample
// holds the active parameters only, every value a double (ints exactly, categoricals as
// the choice's index).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nnspec::rt {

enum class ParamKind { kInt, kFloat, kCategorical };

struct ParamCondition {
  std::string parent;       // an earlier int or categorical parameter
  double greater_than = 0;  // active iff the parent is active and its value > greater_than
};

struct ParamSpec {
  std::string name;
  ParamKind kind = ParamKind::kFloat;
  double low = 0;  // int/float: inclusive bounds (unused by categoricals)
  double high = 1;
  double step = 1;      // int only: values are low, low + step, ..., high
  bool log = false;     // int/float: sampled uniformly in log space (low > 0; ints: step 1)
  int64_t choices = 0;  // categorical: values are the indices 0 .. choices - 1
  std::optional<ParamCondition> condition;
};

// Parameters in order; a conditional parameter comes after its parent.
using SearchSpace = std::vector<ParamSpec>;

// Parameter name -> value, active parameters only.
using Sample = std::map<std::string, double>;

ParamSpec makeIntParam(std::string name, int64_t low, int64_t high, int64_t step = 1, bool log = false);
ParamSpec makeFloatParam(std::string name, double low, double high, bool log = false);
ParamSpec makeCategoricalParam(std::string name, int64_t choices);
// `spec` made conditional on `parent` > greater_than.
ParamSpec makeConditional(ParamSpec spec, std::string parent, double greater_than);

struct SpaceError {
  std::string param;    // the parameter at fault
  std::string message;  // lowercase, e.g. "log scale needs low > 0, got 0"
  std::string hint;     // the fix ("" if none)
};

// Everything wrong with `space`, in parameter order; empty when the samplers may use it.
std::vector<SpaceError> checkSearchSpace(const SearchSpace& space);

// Whether `spec` exists given the values already drawn for earlier parameters.
bool isParamActive(const ParamSpec& spec, const Sample& drawn);

// The value of a parameter that can take one value only (low == high, one choice).
std::optional<double> findSingleValue(const ParamSpec& spec);

}  // namespace nnspec::rt
