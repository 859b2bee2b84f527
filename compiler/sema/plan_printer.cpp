// What `nnspec check` prints for a checked spec: data, splits, the plan of each sweep
// (trials, steps, compute, memory, compilations) and a summary of each distinct model.

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "compiler/sema/check.h"
#include "compiler/sema/fusion_size.h"
#include "compiler/sema/memory_estimate.h"
#include "compiler/sema/shapes.h"

namespace nnspec::sema {
namespace {

std::string withCommas(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t k = 0; k < digits.size(); ++k) {
    if (k > 0 && (digits.size() - k) % 3 == 0) out += ',';
    out += digits[k];
  }
  return value < 0 ? "-" + out : out;
}

std::string humanFlops(double flops) {
  if (flops >= 1e12) return fmt::format("{:.2f} TFLOP", flops / 1e12);
  if (flops >= 1e9) return fmt::format("{:.2f} GFLOP", flops / 1e9);
  if (flops >= 1e6) return fmt::format("{:.2f} MFLOP", flops / 1e6);
  return fmt::format("{:.2f} kFLOP", flops / 1e3);
}

std::string plural(int64_t count, const std::string& word) {
  const bool sibilant = !word.empty() && word.back() == 's';
  return fmt::format("{} {}{}", withCommas(count), word, count == 1 ? "" : sibilant ? "es" : "s");
}

std::string shapeList(const Shape& shape) {
  std::string out = "[";
  for (size_t k = 0; k < shape.size(); ++k) out += (k ? ", " : "") + std::to_string(shape[k]);
  return out + "]";
}

std::string shapeTuple(const Shape& shape) {
  std::string out = "(None";
  for (int64_t extent : shape) out += ", " + std::to_string(extent);
  return out + ")";
}

// FLOPs of one training step: forward plus a backward pass costing about twice as much.
double stepFlops(const TrainConfig& config) {
  double forward = 0;
  for (const auto& layer : config.model.layers) forward += static_cast<double>(layer.forward_flops);
  return 3.0 * forward * static_cast<double>(config.batch);
}

std::string describeSelection(const Selection& selection) {
  std::string out = fmt::format("{}.{}", selection.data, selection.part);
  for (const auto& op : selection.ops) {
    switch (op.kind) {
      case SelectKind::kShuffle: out += fmt::format(".shuffle(seed {})", op.seed); break;
      case SelectKind::kTake:
        out += fmt::format(".take({}{})", op.n, op.min_per_class > 0 ? fmt::format(", >= {} per class", op.min_per_class)
                                                                     : op.stratified ? ", stratified" : "");
        break;
      case SelectKind::kSkip: out += fmt::format(".skip({})", op.n); break;
      case SelectKind::kHoldout: out += fmt::format(".holdout({})", op.n); break;
    }
  }
  return out;
}

void printData(const CheckedSpec& spec, std::string& out) {
  out += "data\n";
  for (const auto& data : spec.datasets) {
    std::string parts;
    for (const auto& part : data.parts) {
      if (!parts.empty()) parts += ", ";
      parts += fmt::format("{} {} x {}", part.part, withCommas(part.count), shapeList(part.sample_shape));
    }
    const auto& first = data.parts.front();
    const std::string targets = first.integer_targets ? plural(first.num_classes, "class")
                                                      : plural(first.target_width, "real target");
    std::string transforms;
    for (const auto& transform : data.transforms) transforms += " | " + transform.name;
    out += fmt::format("  {:<10} {}{}: {}; {}\n", data.name, data.source, transforms, parts, targets);
  }
  out += "splits\n";
  for (const auto& split : spec.splits) {
    out += fmt::format("  {}\n", split.name.empty() ? "(default)" : split.name);
    for (const auto& [role, selection] :
         {std::pair{"train", &split.train}, std::pair{"val", &split.val}, std::pair{"test", &split.test}}) {
      if (!*selection) continue;
      const bool less_val = std::string(role) == "train" && split.val && !split.val->ops.empty() &&
                            split.val->ops.back().kind == SelectKind::kHoldout;
      out += fmt::format("    {:<6} {:>7}  {}{}\n", role, withCommas((*selection)->count),
                         describeSelection(**selection), less_val ? ", less val" : "");
    }
  }
}

// Sweep fusion's groups: trials of one graph (model, batch, optimizer) train together,
// up to the group size, in grid order (compiler/sema/fusion_size.h).
void printFusion(const SweepPlan& plan, std::string& out) {
  if (plan.method == "random" || plan.method == "tpe") return;
  // The largest group any point's graph takes (as `nnspec run` sizes the sweep's groups).
  FusionSize size = fusionSize(plan.checked.front().config, plan.fuse);
  for (const auto& point : plan.checked) {
    FusionSize own = fusionSize(point.config, plan.fuse);
    if (own.limit > size.limit) size = std::move(own);
  }
  if (plan.trials() < 2) return;
  if (size.limit < 2) {
    out += fmt::format("  fusion      {}\n", size.why);
    return;
  }
  // The trials in the order `nnspec run` queues them (fold by fold and replicate by
  // replicate, grid order within; a pruned sweep in grid order): a group takes the next
  // trials of its graph, up to its graph's size, and ends at another graph.
  std::vector<std::string> keys;  // each point's graph
  std::map<std::string, FusionSize> sizes;
  std::map<std::string, int64_t> points_of;
  for (const auto& point : plan.checked) {
    const TrainConfig& config = point.config;
    keys.push_back(fmt::format("{}|{}|{}", config.model.signature(), config.batch, config.optimizer));
    if (sizes.count(keys.back()) == 0) sizes.emplace(keys.back(), fusionSize(config, plan.fuse));
    ++points_of[keys.back()];
  }
  std::vector<const std::string*> queue;
  const int64_t blocks = plan.folds * plan.replicates;
  if (plan.pruner.empty()) {
    for (int64_t block = 0; block < blocks; ++block)
      for (const std::string& key : keys) queue.push_back(&key);
  } else {
    for (const std::string& key : keys)
      for (int64_t block = 0; block < blocks; ++block) queue.push_back(&key);
  }
  // One job's groups, as the scheduler forms them: at most `even` trials (the fewest
  // groups `fuse` allows, made even) and at most the graph's own size; a group that meets
  // another graph's trial before it is full ends there, and that trial trains alone.
  int64_t largest = 1;
  for (const auto& [key, own] : sizes) largest = std::max(largest, own.limit);
  const int64_t total = static_cast<int64_t>(queue.size());
  const int64_t even_groups = (total + largest - 1) / largest;
  const int64_t even = (total + even_groups - 1) / even_groups;
  int64_t groups = 0;
  int64_t fused = 0;
  for (size_t at = 0; at < queue.size();) {
    const std::string& key = *queue[at];
    const size_t limit = static_cast<size_t>(std::min(even, sizes.at(key).limit));
    size_t end = at + 1;
    if (limit >= 2) {
      while (end < queue.size() && end - at < limit && *queue[end] == key) ++end;
      if (end - at >= 2) {
        ++groups;
        fused += static_cast<int64_t>(end - at);
      }
      if (end < queue.size() && end - at < limit) ++end;  // claimed for the group: trains alone
    }
    at = end;
  }
  if (fused == 0) {
    std::string why = "no two trials share a graph (model, batch and optimizer)";
    for (const auto& [key, points] : points_of) {
      if (points * blocks < 2) continue;
      why = sizes.at(key).limit < 2 ? sizes.at(key).why
                                    : "the trials of one graph are not queued next to each other (fold by fold, "
                                      "grid order within)";
      break;
    }
    out += fmt::format("  fusion      none: {}\n", why);
    return;
  }
  out += fmt::format("  fusion      up to {} trials a step ({}): {} in {}\n", size.limit, size.why,
                     plural(fused, "trial"), plural(groups, "group"));
  out += "              (one job; with --jobs J, each job's groups take at most 1/J of the trials)\n";
  out += "              a group's trials of one fold and replicate read one batch (the points share its order)\n";
}

// A duration as written: 50ms, 30s, 10m, 2h (or seconds with a fraction).
std::string formatDuration(double seconds) {
  const std::vector<std::pair<const char*, double>> units = {{"h", 3600}, {"m", 60}, {"s", 1}, {"ms", 0.001}};
  for (const auto& [unit, size] : units) {
    const double count = seconds / size;
    if (count >= 1 && std::abs(count - std::round(count)) < 1e-9) return fmt::format("{}{}", std::llround(count), unit);
  }
  return fmt::format("{}s", seconds);
}

// The epochs of asha's rungs below the sweep's longest training.
std::string ashaRungs(const SweepPlan& plan, int64_t max_epochs) {
  const int64_t reduction = plan.pruner_args.integer("reduction");
  std::string rungs;
  for (int64_t rung = plan.pruner_args.integer("min_epochs"); rung < max_epochs; rung *= reduction) {
    rungs += (rungs.empty() ? "" : ", ") + std::to_string(rung);
    if (rung > max_epochs / reduction) break;
  }
  return rungs.empty() ? "none (every point trains fewer epochs than min_epochs)" : rungs;
}

// How pruning meets folds and replicates.
std::string pruningScope(const SweepPlan& plan) {
  if (plan.folds <= 1 && plan.replicates <= 1) return "";
  if (plan.method != "grid") {
    return "; a point's first fold and replicate is judged, against those of other points, and its other trials "
           "run only if it was not pruned";
  }
  return fmt::format("; each {} judged against the same {} of other points, a pruned one prunes its point",
                     plan.folds > 1 ? "fold" : "replicate", plan.folds > 1 ? "fold" : "replicate");
}

void printSweep(const CheckedSpec& spec, const SweepPlan& plan, std::string& out) {
  const TrainConfig& first = plan.checked.front().config;
  const Split* split = spec.findSplit(first.split);
  const std::string train_name = first.train.empty() ? "train" : fmt::format("train '{}'", first.train);
  if (plan.method == "single") {
    out += fmt::format("\nrun {}: one point\n", train_name);
  } else {
    std::string axes;
    for (const auto& axis : plan.axes) axes += (axes.empty() ? "" : ", ") + axis;
    out += fmt::format("\nsweep {}: {}({}) over {}\n", plan.name.empty() ? "(unnamed)" : "'" + plan.name + "'",
                       plan.method, axes, train_name);
  }
  for (const auto& [name, value] : plan.fixed) out += fmt::format("  fixed       {} = {}\n", name, formatValue(value));
  const char* point_word = plan.method == "grid" || plan.method == "single" ? "point" : "sampled point";
  out += fmt::format("  trials      {} x {} x {} = {}\n", plural(plan.points, point_word), plural(plan.folds, "fold"),
                     plural(plan.replicates, "replicate"), plural(plan.trials(), "trial"));
  if (plan.refit) out += "              + 1 refit of the best point on all training data\n";
  // Steps over every point (grid) or per trial averaged over the checked points.
  const int64_t train_count = split->train->count;
  const int64_t fit_count = plan.folds > 1 ? train_count - (train_count + plan.folds - 1) / plan.folds : train_count;
  double steps = 0;
  double min_flops = 1e300, max_flops = 0;
  int64_t min_epochs = INT64_MAX, max_epochs = 0;
  bool early_stopping = false;
  for (const auto& point : plan.checked) {
    const TrainConfig& config = point.config;
    const int64_t per_epoch = (fit_count + config.batch - 1) / config.batch;
    steps += static_cast<double>(per_epoch * config.epochs);
    min_flops = std::min(min_flops, stepFlops(config));
    max_flops = std::max(max_flops, stepFlops(config));
    min_epochs = std::min(min_epochs, config.epochs);
    max_epochs = std::max(max_epochs, config.epochs);
    early_stopping = early_stopping || config.stop.has_value();
  }
  const double per_point = steps / static_cast<double>(plan.checked.size());
  const double total = per_point * static_cast<double>(plan.trials());
  const std::string epochs = min_epochs == max_epochs ? std::to_string(min_epochs)
                                                      : fmt::format("{}-{}", min_epochs, max_epochs);
  const bool bounded = early_stopping || !plan.pruner.empty() || plan.timeout_seconds > 0;
  const bool svm = first.model.isSvm();
  if (svm) {
    out += fmt::format("  training    libsvm fits each trial on {} samples{}\n", withCommas(fit_count),
                       plan.folds > 1 ? " (per fold)" : "");
  } else {
    out += fmt::format("  training    {} epochs on {} samples{}; {}{} steps in all\n", epochs, withCommas(fit_count),
                     plan.folds > 1 ? " per fold" : "", bounded ? "at most " : "",
                     total < 1e15 ? withCommas(static_cast<int64_t>(total)) : fmt::format("{:.3g}", total));
  if (early_stopping) {
    const StopRule& rule = *first.stop;
    out += fmt::format("  stopping    when {} improves by less than {} for {} epochs\n", rule.metric, rule.tol,
                       rule.patience);
  }
    const std::string flops = min_flops == max_flops
                                  ? humanFlops(max_flops)
                                  : fmt::format("{} to {}", humanFlops(min_flops), humanFlops(max_flops));
    out += fmt::format("  per trial   {} per step\n", flops);
  }
  const MemoryEstimate memory = estimateMemory(spec, plan);
  out += fmt::format("  memory      peak about {} (data {}, runtime {}, {} per trial)\n", formatBytes(memory.peak()),
                     formatBytes(memory.data), formatBytes(memory.runtime), formatBytes(memory.per_trial));
  if (plan.trials() > 1) {
    out += fmt::format("              each further parallel job (--jobs) adds {}\n", formatBytes(memory.per_trial));
  }
  if (!svm) {
    out += fmt::format("  graphs      {}{} ({})\n", plan.distinct_graphs_bound ? "at most " : "",
                       plural(plan.distinct_graphs, "distinct graph"), plural(plan.distinct_graphs, "compilation"));
  }
  printFusion(plan, out);
  if (!plan.select_metric.empty()) {
    out += fmt::format("  objective   {} {}\n", plan.maximize ? "max" : "min", plan.select_metric);
  }
  if (plan.pruner == "median") {
    out += fmt::format("  pruning     median (startup {}, warmup {}, interval {}){}\n", plan.pruner_args.integer("startup"),
                       plan.pruner_args.integer("warmup"), plan.pruner_args.integer("interval"), pruningScope(plan));
  } else if (plan.pruner == "asha") {
    out += fmt::format("  pruning     asha: at epochs {} a trial goes on only in the top 1/{}{}\n", ashaRungs(plan, max_epochs),
                       plan.pruner_args.integer("reduction"), pruningScope(plan));
  }
  if (!plan.ensemble.empty()) out += fmt::format("  ensemble    {}\n", plan.ensemble == "vote" ? "majority vote" : "mean");
  if (plan.timeout_seconds > 0) {
    out += fmt::format("  timeout     {} for the sweep: no trial starts after it; a rerun continues\n",
                       formatDuration(plan.timeout_seconds));
  }
  double min_limit = 0, max_limit = 0;
  for (const auto& point : plan.checked) {
    const double limit = point.config.trial_timeout_seconds;
    if (limit <= 0) continue;
    min_limit = min_limit == 0 ? limit : std::min(min_limit, limit);
    max_limit = std::max(max_limit, limit);
  }
  if (max_limit > 0) {
    out += fmt::format("  trial limit {} of training per trial: one that reaches it stops as timed out\n",
                       min_limit == max_limit ? formatDuration(max_limit)
                                              : formatDuration(min_limit) + " to " + formatDuration(max_limit));
  }
}

void printModel(const TrainConfig& config, const std::string& where, std::string& out) {
  const ModelInstance& model = config.model;
  out += fmt::format("\nmodel '{}'{}\n", model.name, where);
  if (model.isSvm()) {
    out += fmt::format("  {} on inputs {}, fitted by libsvm (C-SVC, one-vs-one)\n", model.svm->describe(),
                       shapeTuple(model.input_shape));
    return;
  }
  out += fmt::format("  {:<24} {:<22} {:>12}\n", "layer (type)", "output shape", "params");
  out += "  " + std::string(60, '-') + "\n";
  std::map<std::string, int> counters;
  for (const auto& layer : model.layers) {
    const int index = ++counters[layer.kind];
    std::string label = index == 1 ? layer.kind : fmt::format("{}_{}", layer.kind, index);
    if (layer.activation != "linear" && layer.activation != layer.kind) label += " + " + layer.activation;
    out += fmt::format("  {:<24} {:<22} {:>12}\n", label, shapeTuple(layer.output_shape),
                       withCommas(layer.trainable_params + layer.other_params));
  }
  out += "  " + std::string(60, '-') + "\n";
  out += fmt::format("  total params: {} (trainable {}, non-trainable {})\n", withCommas(model.totalParams()),
                     withCommas(model.trainableParams()), withCommas(model.totalParams() - model.trainableParams()));
}

}  // namespace

std::string Point::describe() const {
  std::string out;
  for (const auto& [name, value] : params) out += (out.empty() ? "" : ", ") + name + "=" + formatValue(value);
  return out;
}

std::string printPlan(const CheckedSpec& spec) {
  std::string out = fmt::format("experiment {} (seed {})\n", spec.experiment, spec.seed);
  printData(spec, out);
  std::set<std::string> printed;
  std::string models;
  for (const auto& plan : spec.sweeps) {
    printSweep(spec, plan, out);
    for (const auto& point : plan.checked) {
      if (!printed.insert(point.config.model.signature()).second) continue;
      const std::string at = point.params.empty() ? "" : " at " + point.describe();
      printModel(point.config, at, models);
    }
  }
  return out + models;
}

}  // namespace nnspec::sema
