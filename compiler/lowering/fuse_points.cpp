#include "compiler/lowering/fuse_points.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

namespace nnspec::lowering {

std::string pointLeafName(const std::string& name, int point) { return name + "#" + std::to_string(point); }

std::string fusionObstacle(const LoweredStep& step) {
  if (!step.moving_stats.empty() || !step.forward.leaves(ir::OpKind::State).empty())
    return "batch normalization keeps moving statistics per trial";
  if (!step.exports.empty() || !step.taps.empty()) return "the step copies out feature maps";
  return "";
}

std::vector<int> inputClasses(int points, bool shared) {
  std::vector<int> classes(static_cast<size_t>(std::max(points, 0)), 0);
  if (!shared) {
    for (int point = 0; point < points; ++point) classes[static_cast<size_t>(point)] = point;
  }
  return classes;
}

bool validInputClasses(const std::vector<int>& input_classes) {
  int next = 0;
  for (int input_class : input_classes) {
    if (input_class < 0 || input_class > next) return false;
    if (input_class == next) ++next;
  }
  return !input_classes.empty();
}

int inputClassCount(const std::vector<int>& input_classes) {
  int count = 0;
  for (int input_class : input_classes) count = std::max(count, input_class + 1);
  return count;
}

transforms::GradientGraph fusePoints(const LoweredStep& step, const std::vector<int>& input_classes) {
  if (!validInputClasses(input_classes))
    throw std::invalid_argument("fusePoints: input classes must be numbered 0, 1, ... in order of first use");
  const int points = static_cast<int>(input_classes.size());
  const bool one_class = inputClassCount(input_classes) == 1;
  const std::string obstacle = fusionObstacle(step);
  if (!obstacle.empty()) throw std::invalid_argument("fusePoints: " + obstacle);
  const ir::Graph& source = step.forward;
  ir::Graph graph;
  // One leaf per hyperparameter name, as differentiate makes them (layers may share an L2 factor).
  std::map<std::string, ir::ValueId> factors;
  auto factor = [&](const std::string& name) {
    auto found = factors.find(name);
    if (found == factors.end()) found = factors.emplace(name, graph.hyperparam(name)).first;
    return found->second;
  };
  std::vector<std::vector<ir::ValueId>> copies(static_cast<size_t>(points));
  std::vector<int> first_of_class;  // per class, its first point
  // Point by point, each copy in the source's order: within a point the ids keep their
  // relative order, so autodiff accumulates each gradient in the order it does alone.
  for (int point = 0; point < points; ++point) {
    std::vector<ir::ValueId>& map = copies[static_cast<size_t>(point)];
    map.resize(static_cast<size_t>(source.size()));
    const int input_class = input_classes[static_cast<size_t>(point)];
    if (input_class == static_cast<int>(first_of_class.size())) first_of_class.push_back(point);
    const int class_source = first_of_class[static_cast<size_t>(input_class)];
    for (ir::ValueId id = 0; id < source.size(); ++id) {
      const ir::Node& node = source.node(id);
      ir::ValueId copy = 0;
      switch (node.op) {
        case ir::OpKind::Input:
          copy = class_source < point ? copies[static_cast<size_t>(class_source)][static_cast<size_t>(id)]
                                      : graph.input(one_class ? node.attrs.name : pointLeafName(node.attrs.name, input_class),
                                                    node.type);
          break;
        case ir::OpKind::Parameter: copy = graph.parameter(pointLeafName(node.attrs.name, point), node.type.shape); break;
        case ir::OpKind::Hyperparam: copy = factor(pointLeafName(node.attrs.name, point)); break;
        case ir::OpKind::Constant: copy = graph.constant(node.attrs.value, node.type.shape); break;
        case ir::OpKind::State: throw std::invalid_argument("fusePoints: a state leaf");
        default: {
          std::vector<ir::ValueId> operands;
          for (ir::ValueId operand : node.operands) operands.push_back(map[static_cast<size_t>(operand)]);
          ir::Attrs attrs = node.attrs;
          if (node.op == ir::OpKind::Dropout) attrs.point = point;  // its own masks
          copy = graph.append(node.op, std::move(operands), std::move(attrs));
          break;
        }
      }
      map[static_cast<size_t>(id)] = copy;
    }
  }
  // Each point's penalties after every forward copy, as differentiate appends them after
  // the forward graph: total = data + term, term by term.
  std::vector<transforms::PointValues> values(static_cast<size_t>(points));
  for (int point = 0; point < points; ++point) {
    const std::vector<ir::ValueId>& map = copies[static_cast<size_t>(point)];
    transforms::PointValues& own = values[static_cast<size_t>(point)];
    own.data_loss = map[static_cast<size_t>(step.loss)];
    own.total_loss = own.data_loss;
    for (const transforms::Penalty& penalty : step.penalties) {
      const ir::ValueId w = map[static_cast<size_t>(penalty.parameter)];
      const ir::ValueId magnitude =
          penalty.kind == transforms::PenaltyKind::L2 ? graph.mul(w, w) : graph.unary(ir::OpKind::Abs, w);
      const ir::ValueId term = graph.mul(graph.reduceSum(magnitude), factor(pointLeafName(penalty.factor, point)));
      own.total_loss = graph.add(own.total_loss, term);
    }
    own.prediction = map[static_cast<size_t>(step.prediction)];
  }
  ir::ValueId sum = values[0].total_loss;
  for (int point = 1; point < points; ++point) sum = graph.add(sum, values[static_cast<size_t>(point)].total_loss);
  transforms::GradientGraph result = transforms::differentiate(graph, sum);
  result.points = std::move(values);
  const ir::Graph& fused = result.graph;
  for (ir::ValueId parameter : result.parameters) {
    const std::string& name = fused.node(parameter).attrs.name;
    result.parameter_points.push_back(std::stoi(name.substr(name.rfind('#') + 1)));
  }
  return result;
}

}  // namespace nnspec::lowering
