#include "compiler/driver/run.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "compiler/driver/load.h"
#include "compiler/driver/materialize.h"
#include "compiler/driver/report.h"
#include "compiler/driver/report_outputs.h"
#include "compiler/driver/stored_model.h"
#include "compiler/frontend/parse.h"
#include "compiler/jit/jit_compiler.h"
#include "compiler/lowering/lower_model.h"
#include "compiler/pipeline/pipeline.h"
#include "compiler/ir/printer.h"
#include "compiler/lowering/fuse_points.h"
#include "compiler/sema/check.h"
#include "compiler/sema/fusion_size.h"
#include "compiler/sema/limits.h"
#include "compiler/sema/memory_estimate.h"
#include "compiler/sema/shapes.h"
#include "runtime/kernels/thread_team.h"
#include "runtime/pipeline/folds.h"
#include "runtime/pipeline/labels.h"
#include "runtime/pipeline/random.h"
#include "runtime/report/html_report.h"
#include "runtime/report/progress.h"
#include "runtime/report/ranked_text.h"
#include "runtime/report/study_data.h"
#include "runtime/store/store.h"
#include "runtime/store/store_url.h"
#include "runtime/sweep/draw_history.h"
#include "runtime/sweep/random_sampler.h"
#include "runtime/sweep/ranking.h"
#include "runtime/sweep/scheduler.h"
#include "runtime/svm/svm_trial.h"
#include "runtime/train/metrics.h"
#include "runtime/train/trial.h"

namespace nnspec::driver {
namespace {

// A trained model's parameters and state leaves as the store keeps them.
std::vector<rt::StoredTensor> storedTensors(const rt::TrialResult& result) {
  std::vector<rt::StoredTensor> tensors;
  for (const auto& parameter : result.parameters) tensors.push_back({parameter.name, false, parameter.shape, parameter.values});
  for (const auto& state : result.states) tensors.push_back({state.name, true, state.shape, state.values});
  return tensors;
}

std::string hashText(const std::string& text) {
  return fmt::format("{:016x}", rt::deriveSeed(0x6e6e73706563ULL, text));
}


class Runner {
 public:
  Runner(const RunRequest& request, std::FILE* out, const ast::Spec& ast, const sema::CheckedSpec& spec,
         DiagnosticEngine& diagnostics)
      : request_(request), out_(out), ast_(ast), spec_(spec), diagnostics_(diagnostics),
        materializer_(spec, request.check.data_paths), needs_(reportNeeds(spec)) {}

  // Rejects what this build cannot run, before anything trains.
  bool checkSupported() {
    for (const auto& plan : spec_.sweeps) {
      if (sampled(plan)) {
        for (const auto& axis : plan.axes) {
          const sema::ParamDef* param = findParam(axis);
          if (param->length_param.empty()) continue;
          const sema::ParamDef* length = findParam(param->length_param);
          if (length == nullptr || length->kind != sema::ParamKind::kInt) {
            diagnostics_.error(param->range, fmt::format("a {} sweep needs the length of '{}' to be int(lo, hi)",
                                                         plan.method, axis));
          }
        }
      }
      if (plan.points_sampled && plan.method == "grid") {
        diagnostics_.error(plan.range, fmt::format("this grid has {} points; `run` takes at most {}", plan.points,
                                                   plan.checked.size()));
      }
      checkJobsFit(plan);
      for (const auto& point : plan.checked) {
        if (point.config.model.isSvm()) continue;  // libsvm fits it: nothing to lower
        for (int64_t batch : {point.config.batch}) {
          auto lowered = lowering::lowerModel(point.config, batch);
          if (const auto* problem = std::get_if<lowering::Unsupported>(&lowered)) {
            diagnostics_.error(problem->range, problem->message);
          }
        }
      }
    }
    return !diagnostics_.hasErrors();
  }

  // `check` made sure one job fits in memory; with --jobs N, N trials hold their buffers
  // at once.
  void checkJobsFit(const sema::SweepPlan& plan) {
    const int64_t jobs = std::min<int64_t>(request_.jobs, std::max<int64_t>(plan.trials(), 1));
    const std::optional<double> limit = sema::machineMemoryBytes();
    if (jobs <= 1 || !limit) return;
    const sema::MemoryEstimate estimate = sema::estimateMemory(spec_, plan);
    if (estimate.peak(jobs) <= *limit) return;
    const double spare = *limit - estimate.peak(0);
    const int64_t fitting = estimate.per_trial > 0 ? static_cast<int64_t>(spare / estimate.per_trial) : jobs;
    diagnostics_.error(plan.range,
                       fmt::format("with --jobs {} this sweep needs about {} at its peak, more than the {} this "
                                   "machine has",
                                   jobs, sema::formatBytes(estimate.peak(jobs)), sema::formatBytes(*limit)),
                       fitting >= 1 ? fmt::format("use --jobs {} or fewer", fitting) : "use --jobs 1");
  }

  // Loads every split the sweeps use (the workers only read them), before the store is
  // touched: a run that fails on its data leaves no study behind. 0, or the error's code.
  int loadData() {
    for (const auto& plan : spec_.sweeps) {
      for (const auto& point : plan.checked) {
        auto views = materializer_.split(point.config.split);
        if (!views.ok()) return dataFailure(views.error());
        if (sampled(plan)) break;
      }
    }
    return 0;
  }

  int run(rt::Store& store, int64_t study_id) {
    jit_ = request_.jit;
    if (!jit_) {
      auto jit = jit::JitCompiler::create();
      if (!jit.ok()) {
        setError(fmt::format("internal error: cannot start the JIT: {}\n", jit.error().message));
        return 3;
      }
      jit_ = std::move(jit.value());
    }
    std::vector<rt::SweepSchedule> schedules;
    for (const auto& plan : spec_.sweeps) schedules.push_back(schedule(plan));
    const rt::ProgressMode mode = request_.quiet  ? rt::ProgressMode::kQuiet
                                  : request_.live ? rt::ProgressMode::kLive
                                                  : rt::ProgressMode::kLines;
    const int64_t planned = rt::Scheduler::plannedTrials(schedules);
    rt::ProgressDisplay display(out_, mode, planned, request_.jobs > 1 && planned > 1);
    progress_ = &display;
    rt::SchedulerHooks hooks;
    hooks.run_trial = [&](const rt::TrialJob& job) { return runJob(store, study_id, job); };
    hooks.fusion_key = [this](const rt::TrialJob& job) { return fusionKey(job); };
    hooks.fusion_limit = [this](const rt::TrialJob& job) {
      const sema::SweepPlan& plan = planOf(*job.sweep);
      return sema::fusionSize(pointOf(plan, job.point_key).config, plan.fuse).limit;
    };
    hooks.run_group = [&](const std::vector<rt::TrialJob>& jobs) { return runGroup(store, study_id, jobs); };
    hooks.describe_sample = [&](const rt::SweepSchedule& sweep, int64_t number, const rt::Sample& sample) {
      return describeSample(sweep, number, sample);
    };
    hooks.test_set = [&](const rt::SweepSchedule& sweep, const std::string& key) { return testSet(sweep, key); };
    hooks.adjust_total = [&](int64_t delta) { display.addTotal(delta); };
    hooks.cancelled = [this] { return cancelled(); };
    rt::Scheduler scheduler(store, study_id, request_.jobs, std::move(hooks));
    const int code = scheduler.run(schedules);
    summary_ = scheduler.summary();
    if (fused_groups_.load() > 0) {
      summary_ += fmt::format("fusion: {} trials trained in {} fused group{}, {} fused steps", fused_trials_.load(),
                              fused_groups_.load(), fused_groups_.load() == 1 ? "" : "s", fused_steps_.load());
      if (own_steps_.load() > 0) {
        summary_ += fmt::format(" (then {} steps of members that outlasted half their group, each alone)",
                                own_steps_.load());
      }
      summary_ += "\n";
    }
    if (!scheduler.error().empty()) setError(scheduler.error());
    return code;
  }

  // A sweep as the scheduler sees it.
  rt::SweepSchedule schedule(const sema::SweepPlan& plan) const {
    rt::SweepSchedule sweep;
    sweep.name = plan.name;
    sweep.method = plan.method == "random" ? rt::SweepMethod::kRandom
                   : plan.method == "tpe"  ? rt::SweepMethod::kTpe
                                           : rt::SweepMethod::kGrid;
    if (!sampled(plan)) {
      for (const auto& point : plan.checked) sweep.grid_points.push_back(point.describe());
    }
    sweep.points = plan.points;
    sweep.folds = plan.folds;
    sweep.replicates = plan.replicates;
    sweep.objective = plan.select_metric;
    sweep.maximize = plan.maximize;
    sweep.timeout_seconds = plan.timeout_seconds;
    sweep.refit = plan.refit;
    sweep.ensemble = plan.ensemble == "vote"   ? rt::EnsembleKind::kVote
                     : plan.ensemble == "mean" ? rt::EnsembleKind::kMean
                                               : rt::EnsembleKind::kNone;
    sweep.seed = rt::deriveSeed(spec_.seed, "sweep=" + plan.name);
    if (!plan.pruner.empty()) {
      rt::PrunerChoice pruner;
      if (plan.pruner == "asha") {
        pruner.kind = rt::PrunerChoice::Kind::kAsha;
        pruner.asha.min_epochs = static_cast<int>(plan.pruner_args.integer("min_epochs"));
        pruner.asha.reduction = static_cast<int>(plan.pruner_args.integer("reduction"));
      } else {
        pruner.median.n_startup_trials = static_cast<int>(plan.pruner_args.integer("startup"));
        pruner.median.n_warmup_steps = static_cast<int>(plan.pruner_args.integer("warmup"));
        pruner.median.interval_steps = static_cast<int>(plan.pruner_args.integer("interval"));
      }
      sweep.pruner = pruner;
    }
    if (!sampled(plan)) {
      // The largest group any point's graph takes; each group is capped by its own graph's
      // size (fusion_limit), so a grid of small and large models fuses only the small ones.
      sweep.fuse = 1;
      for (const sema::Point& point : plan.checked)
        sweep.fuse = std::max(sweep.fuse, sema::fusionSize(point.config, plan.fuse).limit);
      return sweep;
    }
    sweep.space = searchSpace(plan);
    if (plan.method == "tpe") {
      sweep.tpe.n_startup_trials = plan.method_options.integer("startup");
      sweep.tpe.n_ei_candidates = plan.method_options.integer("candidates");
      sweep.tpe.gamma_fraction = plan.method_options.number("gamma");
    }
    return sweep;
  }

  const sema::SweepPlan& planOf(const rt::SweepSchedule& sweep) const {
    for (const auto& plan : spec_.sweeps) {
      if (plan.name == sweep.name) return plan;
    }
    throw std::logic_error("no sweep named '" + sweep.name + "'");
  }

  // The checked point a trial key names: a grid point, or a point drawn in this run.
  // The seed of a trial: its initial weights, dropout masks and (unless its sweep gives
  // one: TrialSettings::data_seed) its batch order.
  uint64_t trialSeed(const sema::SweepPlan& plan, const std::string& point_key, int64_t fold, int64_t replicate) const {
    return rt::deriveSeed(spec_.seed,
                          fmt::format("sweep={};point={};fold={};replicate={}", plan.name, point_key, fold, replicate));
  }

  const sema::Point& pointOf(const sema::SweepPlan& plan, const std::string& key) {
    if (sampled(plan)) {
      std::lock_guard<std::mutex> lock(output_mutex_);
      return sampled_points_.at(plan.name).at(key);
    }
    for (const auto& point : plan.checked) {
      if (point.describe() == key) return point;
    }
    throw std::logic_error("sweep '" + plan.name + "' has no point '" + key + "'");
  }

  // The held-out metrics beyond loss and accuracy (runtime/train/metrics.h) a trial
  // computes: those its `metrics` setting, its sweep's objective or its stop rule names.
  static std::vector<std::string> extraMetrics(const sema::TrainConfig& config, const sema::SweepPlan& plan) {
    std::vector<std::string> names = config.metrics;
    names.push_back(plan.select_metric);
    if (config.stop) names.push_back(config.stop->metric);
    std::vector<std::string> extra;
    for (const std::string& name : names) {
      const std::string metric = name.substr(name.find('.') == std::string::npos ? 0 : name.find('.') + 1);
      if (rt::isExtraMetric(metric) && std::find(extra.begin(), extra.end(), metric) == extra.end())
        extra.push_back(metric);
    }
    return extra;
  }

  // Sweep fusion: trials with equal keys train in one fused step: one graph (the point's
  // lowered model with its optimizer) on training sets of one size. "" for a trial that
  // trains alone (a refit; a model sema::fusionBlocker names).
  std::string fusionKey(const rt::TrialJob& job) {
    if (job.fold < 0) return "";
    const sema::SweepPlan& plan = planOf(*job.sweep);
    const sema::Point& point = pointOf(plan, job.point_key);
    const sema::TrainConfig& config = point.config;
    if (!sema::fusionBlocker(config).empty()) return "";
    std::lock_guard<std::mutex> lock(fusion_mutex_);
    const std::string cache_key = fmt::format("{}\n{}\n{}", plan.name, job.point_key, job.fold);
    if (auto found = fusion_keys_.find(cache_key); found != fusion_keys_.end()) return found->second;
    std::string key;
    auto views = materializer_.split(config.split);
    if (views.ok()) {
      int64_t fit = static_cast<int64_t>(views.value()->train.size());
      bool known = true;
      if (plan.folds > 1) {
        known = false;
        auto labels = rt::labelsOf(*views.value()->train_data);
        if (labels.ok()) {
          auto chosen = rt::selectFold(views.value()->train, labels.value(), plan.folds, job.fold, plan.stratified);
          if (chosen.ok()) {
            fit = static_cast<int64_t>(chosen.value().fit.size());
            known = true;
          }
        }
      }
      if (known && fit > 0) {
        const int64_t batch = std::max<int64_t>(1, std::min(config.batch, fit));
        auto lowered = lowering::lowerModel(config, batch);
        const auto* step = std::get_if<lowering::LoweredStep>(&lowered);
        if (step != nullptr && lowering::fusionObstacle(*step).empty()) {
          key = fmt::format("{}\noptimizer {}\nfit {}\n", ir::printGraph(step->forward),
                            codegen::optimizerName(step->config.optimizer), fit);
          for (const auto& penalty : step->penalties) key += fmt::format("penalty %{} {}\n", penalty.parameter, penalty.factor);
        }
      }
    }
    fusion_keys_.emplace(cache_key, key);
    return key;
  }

  // Trials that share a fusion key, trained in one fused step (rt::runTrialGroup); each
  // is stored as its own trial. Those with a checkpoint to continue from train alone.
  int runGroup(rt::Store& store, int64_t study_id, const std::vector<rt::TrialJob>& jobs) {
    int worst = 0;
    auto note = [&](int code) {
      if (code >= 2) return true;
      worst = std::max(worst, code);
      return false;
    };
    std::vector<std::unique_ptr<Prepared>> members;
    std::vector<std::unique_ptr<Prepared>> alone;
    bool stopped = false;
    for (const rt::TrialJob& job : jobs) {
      const sema::SweepPlan& plan = planOf(*job.sweep);
      const sema::Point& point = pointOf(plan, job.point_key);
      auto prepared = prepare(store, study_id, plan, point, job.fold, job.replicate, job.index, job.total,
                              job.point_key, verdicts(job, point), job.claim, job.prune_reason);
      if (const int* code = std::get_if<int>(&prepared)) {
        // A stopped run: the members not begun hand their claims back as they come here,
        // those begun are handed back below.
        if (*code == kCancelled) {
          stopped = true;
          continue;
        }
        if (note(*code)) return *code;
        continue;
      }
      auto trial = std::move(std::get<std::unique_ptr<Prepared>>(prepared));
      (trial->settings.resume.empty() ? members : alone).push_back(std::move(trial));
    }
    if (stopped) {
      for (auto* list : {&members, &alone}) {
        for (auto& trial : *list) {
          (void)store.releaseTrial(trial->handle);
          trial->log->end("  stopped before it started: handed back to the study's queue", true);
        }
      }
      return kCancelled;
    }
    if (members.size() == 1) alone.push_back(std::move(members[0]));
    if (members.size() >= 2) {
      const sema::TrainConfig& config = members[0]->point->config;
      // Members that draw one batch order (a grid's points of one fold and replicate:
      // TrialSettings::data_seed) form one input class, fed one batch. The members are
      // ordered by their class's size, largest first (ties: the class met first), so that
      // groups whose classes differ only in order train by one compiled graph: a fold-major
      // grid of 4 rates in groups of 5 has classes of 4+1, 3+2, 2+3 and 1+4 members, two
      // graphs rather than four. A member's numbers do not depend on its place.
      std::map<uint64_t, std::pair<int64_t, size_t>> class_rank;  // seed: members, first seen
      for (size_t index = 0; index < members.size(); ++index) {
        auto& rank = class_rank.try_emplace(rt::batchSeed(members[index]->settings), 0, index).first->second;
        rank.first -= 1;
      }
      std::stable_sort(members.begin(), members.end(), [&](const auto& a, const auto& b) {
        return class_rank.at(rt::batchSeed(a->settings)) < class_rank.at(rt::batchSeed(b->settings));
      });
      std::vector<int> input_classes;
      std::vector<uint64_t> class_seeds;
      for (const auto& member : members) {
        const uint64_t data_seed = rt::batchSeed(member->settings);
        const auto found = std::find(class_seeds.begin(), class_seeds.end(), data_seed);
        input_classes.push_back(static_cast<int>(found - class_seeds.begin()));
        if (found == class_seeds.end()) class_seeds.push_back(data_seed);
      }
      auto fused = pipeline::compileFusedStep(config, members[0]->model->batch, input_classes, *jit_);
      if (const auto* error = std::get_if<pipeline::PipelineError>(&fused)) {
        setError(fmt::format("internal error: compiling {} trials of model '{}' fused: {}\n", members.size(),
                             config.model.name, error->message));
        return 3;
      }
      std::vector<rt::GroupMember> group;
      for (const auto& member : members) {
        member->log->line(fmt::format("  trains fused with {} other trial{} in one step", members.size() - 1,
                                      members.size() == 2 ? "" : "s"));
        group.push_back(rt::GroupMember{&*member->model, member->fit, member->val, member->test, member->settings,
                                        member->callbacks});
      }
      rt::GroupRun run;
      try {
        const RunningTrial running(running_trials_);
        run = rt::runTrialGroup(std::get<std::shared_ptr<const rt::CompiledStep>>(fused), input_classes, group);
      } catch (const std::bad_alloc&) {
        return outOfMemory(config);
      }
      fused_groups_ += 1;
      fused_trials_ += static_cast<int64_t>(members.size());
      fused_steps_ += run.fused_steps;
      own_steps_ += run.own_steps;
      // Every member's result goes to the store, even after one fails to (the first code
      // >= 2 is returned): a stopped run hands each of them back.
      int stop_code = 0;
      for (size_t index = 0; index < members.size(); ++index) {
        const int code = conclude(store, study_id, *members[index], std::move(run.results[index]));
        if (note(code) && stop_code == 0) stop_code = code;
      }
      if (stop_code != 0) return stop_code;
    }
    for (size_t index = 0; index < alone.size(); ++index) {
      if (cancelled()) {
        for (size_t rest = index; rest < alone.size(); ++rest) {
          (void)store.releaseTrial(alone[rest]->handle);
          alone[rest]->log->end("  stopped before it started: handed back to the study's queue", true);
        }
        return kCancelled;
      }
      const int code = trainAlone(store, study_id, *alone[index]);
      if (note(code)) return code;
    }
    return worst;
  }

  int runJob(rt::Store& store, int64_t study_id, const rt::TrialJob& job) {
    const sema::SweepPlan& plan = planOf(*job.sweep);
    const sema::Point& point = pointOf(plan, job.point_key);
    return runOne(store, study_id, plan, point, job.fold, job.replicate, job.index, job.total, job.point_key,
                  verdicts(job, point), job.claim, job.prune_reason);
  }

  // The job's pruner as the trainer asks it (the point's epochs filled in).
  static std::function<bool(const rt::EpochRecord&)> verdicts(const rt::TrialJob& job, const sema::Point& point) {
    if (!job.should_prune) return {};
    return [prune = job.should_prune, epochs = point.config.epochs](const rt::EpochRecord& record) {
      return prune(record, epochs);
    };
  }

  // Checks a drawn point and keeps it under its trial key.
  std::variant<std::string, int> describeSample(const rt::SweepSchedule& sweep, int64_t number,
                                                const rt::Sample& sample) {
    const sema::SweepPlan& plan = planOf(sweep);
    sema::CheckOptions options;
    options.data_paths = request_.check.data_paths;
    sema::PointResolver resolver(ast_, spec_, options, diagnostics_);
    auto point = resolver.resolve(plan.name, axisValues(plan, sample));
    if (!point) {
      setError(fmt::format("error: sweep {}: trial {} drew a point that does not check:\n{}", plan.name, number,
                           diagnostics_.renderText()));
      return 2;
    }
    const std::string key = rt::sampledPointKey(number, point->describe());
    std::lock_guard<std::mutex> lock(output_mutex_);
    sampled_points_[plan.name].insert_or_assign(key, *point);
    return key;
  }

  std::variant<rt::SchedulerHooks::TestSet, int> testSet(const rt::SweepSchedule& sweep, const std::string& key) {
    const sema::Point& point = pointOf(planOf(sweep), key);
    auto views = materializer_.split(point.config.split);
    if (!views.ok()) return dataFailure(views.error());
    return rt::SchedulerHooks::TestSet{views.value()->test_data, views.value()->test, classifies(point.config)};
  }

  // Text printed after the tables: refits of the best points and ensembles.
  const std::string& summary() const { return summary_; }

  const std::string& error() const { return error_; }

  static bool sampled(const sema::SweepPlan& plan) { return plan.method == "random" || plan.method == "tpe"; }

  // A classifier: a network with a cross-entropy loss, or an svm.
  static bool classifies(const sema::TrainConfig& config) {
    return config.loss == "cross_entropy" || config.model.isSvm();
  }

  const sema::ParamDef* findParam(const std::string& name) const {
    for (const auto& param : spec_.params) {
      if (param.name == name) return &param;
    }
    return nullptr;
  }

  // The search space of a sampled sweep: one entry per axis; an array param
  // `units[n] in int(...)` becomes units.0, units.1, ... each active when n > its index.
  rt::SearchSpace searchSpace(const sema::SweepPlan& plan) const {
    rt::SearchSpace space;
    for (const auto& axis : plan.axes) {
      const sema::ParamDef& param = *findParam(axis);
      auto one = [&](const std::string& name) {
        if (param.kind == sema::ParamKind::kInt) {
          return rt::makeIntParam(name, static_cast<int64_t>(param.lo), static_cast<int64_t>(param.hi), param.step,
                                  param.log);
        }
        if (param.kind == sema::ParamKind::kFloat) return rt::makeFloatParam(name, param.lo, param.hi, param.log);
        return rt::makeCategoricalParam(name, static_cast<int64_t>(param.choiceCount()));
      };
      if (param.length_param.empty()) {
        space.push_back(one(axis));
        continue;
      }
      const sema::ParamDef& length = *findParam(param.length_param);
      for (int64_t index = 0; index < static_cast<int64_t>(length.hi); ++index) {
        space.push_back(rt::makeConditional(one(fmt::format("{}.{}", axis, index)), param.length_param,
                                            static_cast<double>(index)));
      }
    }
    return space;
  }

  std::vector<sema::AxisValue> axisValues(const sema::SweepPlan& plan, const rt::Sample& sample) const {
    std::vector<sema::AxisValue> values;
    for (const auto& axis : plan.axes) {
      const sema::ParamDef& param = *findParam(axis);
      sema::AxisValue value;
      value.name = axis;
      if (!param.length_param.empty()) {
        for (int64_t index = 0;; ++index) {
          const auto it = sample.find(fmt::format("{}.{}", axis, index));
          if (it == sample.end()) break;
          value.numbers.push_back(it->second);
        }
      } else if (param.isDistribution()) {
        value.number = sample.at(axis);
      } else {
        value.choice = static_cast<size_t>(sample.at(axis));
      }
      values.push_back(std::move(value));
    }
    return values;
  }

  static constexpr int kCancelled = 130;

  bool cancelled() const { return request_.cancel != nullptr && request_.cancel->load(); }

  void emitEvent(const RunEvent& event) {
    if (!request_.on_event) return;
    std::lock_guard<std::mutex> lock(hook_mutex_);
    request_.on_event(event);
  }

  void endEvent(RunEvent event, const char* status, const std::map<std::string, double>& metrics) {
    event.kind = RunEvent::Kind::kTrialEnded;
    event.status = status;
    event.metrics = metrics;
    emitEvent(event);
  }

  static std::string sweepLabel(const sema::SweepPlan& plan) {
    return plan.name.empty() ? std::string("results") : "sweep " + plan.name;
  }

  // Keeps the first error of any worker.
  void setError(std::string message) {
    std::lock_guard<std::mutex> lock(output_mutex_);
    if (error_.empty()) error_ = std::move(message);
  }

 private:
  // A trial's id in the progress display; ends it there once, with its last line.
  class TrialLines {
   public:
    TrialLines(rt::ProgressDisplay& display, int64_t id) : display_(display), id_(id) {}
    ~TrialLines() { end("", false); }
    void line(const std::string& text) { display_.trialLine(id_, text); }
    void update(const rt::TrialProgress& progress) { display_.updateTrial(id_, progress); }
    void end(const std::string& text, bool ran) {
      if (ended_) return;
      ended_ = true;
      display_.endTrial(id_, text, ran);
    }

   private:
    rt::ProgressDisplay& display_;
    int64_t id_;
    bool ended_ = false;
  };

  // How often a long epoch is checkpointed between batches (epochs' ends always are).
  static constexpr double kCheckpointSeconds = 60;

  // Writes a trial's epochs and checkpoints to the store: an epoch's record waits for the
  // checkpoint taken after it (the trainer delivers it next) and both go in one
  // transaction, so that after a kill the kept epochs and the checkpoint agree. The first
  // store error is kept in `problem`.
  class CheckpointWriter {
   public:
    explicit CheckpointWriter(rt::Store& store, rt::TrialHandle handle, std::string& problem)
        : store_(store), handle_(handle), problem_(problem) {}

    // Epochs wait for the checkpoint the trainer takes after one of them (after every epoch,
    // or once --checkpoint-every seconds passed) and go with it in one transaction: one
    // write for several short epochs, and after a kill the kept epochs and the checkpoint
    // agree.
    void epochEnded(const rt::EpochRecord& record) {
      pending_.push_back(rt::EpochRow{static_cast<int>(record.epoch), record.seconds, record.metrics});
    }

    void save(int64_t epoch, const std::vector<uint8_t>& bytes) {
      const rt::Checkpoint checkpoint{static_cast<int>(epoch), bytes};
      if (!pending_.empty() && pending_.back().epoch != epoch) flush();  // not the checkpoint of these epochs
      keep(store_.recordEpochs(handle_, pending_, &checkpoint));
      pending_.clear();
    }

    // Epochs no checkpoint followed: at the trial's end, or when it stops.
    void flush() {
      if (pending_.empty()) return;
      keep(store_.recordEpochs(handle_, pending_, nullptr));
      pending_.clear();
    }

    void restart() { keep(store_.restartTrial(handle_)); }

   private:
    void keep(const rt::StoreResult<void>& result) {
      if (!result.ok() && problem_.empty()) problem_ = result.error().message;
    }

    rt::Store& store_;
    rt::TrialHandle handle_;
    std::string& problem_;
    std::vector<rt::EpochRow> pending_;
  };


  static std::string rerunNote(const rt::TrialStart& start) {
    if (start.checkpoint) return fmt::format(" (rerun: continuing from its checkpoint after epoch {})", start.checkpoint->epoch);
    return start.interrupted ? " (rerun: it was interrupted)" : "";
  }

  // A trial between its claim and its training: what runTrial is handed and what the
  // store is told after it. Held on the heap: its callbacks point into it.
  struct Prepared {
    const sema::SweepPlan* plan = nullptr;
    const sema::Point* point = nullptr;
    std::string point_key;
    int64_t fold = 0;
    int64_t replicate = 0;
    RunEvent event;
    rt::TrialHandle handle{};
    std::unique_ptr<TrialLines> log;
    rt::DataView fit, val, test;
    std::shared_ptr<const FittedData> fitted;  // the standardized rows fit, val and test read
    std::optional<rt::CompiledModel> model;
    bool classification = true;
    bool figures = false;
    bool ensemble = false;
    rt::TrialSettings settings;
    rt::TrialCallbacks callbacks;
    std::string store_problem;
    std::unique_ptr<CheckpointWriter> checkpoints;
    std::chrono::steady_clock::time_point epoch_start;
    std::function<std::string()> prune_reason;  // why its pruner pruned it
  };

  int runOne(rt::Store& store, int64_t study_id, const sema::SweepPlan& plan, const sema::Point& point, int64_t fold,
             int64_t replicate, int64_t index, int64_t total, const std::string& key_override = "",
             std::function<bool(const rt::EpochRecord&)> prune = {}, rt::TrialHandle claim = {},
             std::function<std::string()> prune_reason = {}) {
    auto prepared = prepare(store, study_id, plan, point, fold, replicate, index, total, key_override, std::move(prune),
                            claim, std::move(prune_reason));
    if (const int* code = std::get_if<int>(&prepared)) return *code;
    return trainAlone(store, study_id, *std::get<std::unique_ptr<Prepared>>(prepared));
  }

  int trainAlone(rt::Store& store, int64_t study_id, Prepared& trial) {
    rt::TrialResult outcome;
    try {
      const RunningTrial running(running_trials_);
      outcome = trial.point->config.model.isSvm()
                    ? fitSvm(trial)
                    : rt::runTrial(*trial.model, trial.fit, trial.val, trial.test, trial.settings, trial.callbacks);
    } catch (const std::bad_alloc&) {
      return outOfMemory(trial.point->config);
    }
    return conclude(store, study_id, trial, std::move(outcome));
  }

  // An svm trial: libsvm fits it whole; its one "epoch" goes to the log and the store as
  // a network's epochs do.
  rt::TrialResult fitSvm(Prepared& trial) {
    const sema::TrainConfig& config = trial.point->config;
    const sema::SvmSpec& svm = *config.model.svm;
    const sema::Split* split = spec_.findSplit(config.split);
    rt::SvmTrialSettings settings;
    settings.params.kernel = svm.kernel == "linear"    ? rt::SvmKernel::kLinear
                             : svm.kernel == "poly"    ? rt::SvmKernel::kPoly
                             : svm.kernel == "sigmoid" ? rt::SvmKernel::kSigmoid
                                                       : rt::SvmKernel::kRbf;
    settings.params.c = svm.c;
    settings.params.gamma_rule = svm.gamma_rule == "scale"  ? rt::SvmGamma::kScale
                                 : svm.gamma_rule == "auto" ? rt::SvmGamma::kAuto
                                                            : rt::SvmGamma::kValue;
    settings.params.gamma = svm.gamma;
    settings.params.degree = static_cast<int>(svm.degree);
    settings.params.coef0 = svm.coef0;
    settings.params.tol = svm.tol;
    settings.params.cache_megabytes = static_cast<double>(sema::kSvmCacheMegabytes);
    settings.classes = split == nullptr ? 0 : split->num_classes;
    settings.extra_metrics = trial.settings.extra_metrics;
    settings.keep_test_predictions = trial.settings.keep_test_predictions;
    settings.keep_val_predictions = trial.settings.keep_val_predictions;
    settings.threads = kernelThreadsPerTrial();
    rt::TrialResult outcome = rt::runSvmTrial(trial.fit, trial.val, trial.test, settings);
    for (const rt::EpochRecord& record : outcome.epochs) trial.callbacks.on_epoch(record, 1);
    return outcome;
  }

  int outOfMemory(const sema::TrainConfig& config) {
    const sema::Split* split = spec_.findSplit(config.split);
    setError(fmt::format("error: out of memory while training model '{}' ({} parameters; a trial needs about {})\n"
                         "hint: run fewer trials at once (--jobs) or use a smaller model or batch\n",
                         config.model.name, config.model.totalParams(),
                         split == nullptr ? std::string("?") : sema::formatBytes(sema::trialBytes(config, *split))));
    return 2;
  }

  // Everything before a trial trains: its claim in the store, its data, its compiled model,
  // settings and callbacks. The trial, or the code to return (0 when it is skipped).
  std::variant<std::unique_ptr<Prepared>, int> prepare(rt::Store& store, int64_t study_id, const sema::SweepPlan& plan,
                                                       const sema::Point& point, int64_t fold, int64_t replicate,
                                                       int64_t index, int64_t total, const std::string& key_override,
                                                       std::function<bool(const rt::EpochRecord&)> prune,
                                                       rt::TrialHandle claim = {},
                                                       std::function<std::string()> prune_reason = {}) {
    const std::string point_key = key_override.empty() ? point.describe() : key_override;
    rt::TrialKey key{plan.name, point_key, static_cast<int>(fold), static_cast<int>(replicate)};
    if (cancelled()) {
      if (claim.id != 0) (void)store.releaseTrial(claim);  // claimed, never started: back to the queue
      return kCancelled;
    }
    auto trial = std::make_unique<Prepared>();
    trial->plan = &plan;
    trial->point = &point;
    trial->prune_reason = std::move(prune_reason);
    trial->point_key = point_key;
    trial->fold = fold;
    trial->replicate = replicate;
    RunEvent& event = trial->event;
    event.sweep = plan.name;
    event.point = point_key;
    event.fold = fold;
    event.replicate = replicate;
    event.trial_index = index;
    event.trials_total = total;
    std::vector<rt::Param> params;
    for (const auto& [name, value] : point.params) params.push_back({name, sema::formatValue(value)});
    const uint64_t seed = trialSeed(plan, point_key, fold, replicate);
    auto started = store.beginTrial(study_id, key, params, seed);
    if (!started.ok()) return storeFailure(started.error());
    const std::string label = trialLabel(plan, point_key, fold, replicate, index, total);
    const std::string tag = fmt::format("#{}", index);
    if (started.value().held_elsewhere) {
      endEvent(event, "skipped", {});
      return 0;  // another worker runs it now
    }
    if (!started.value().shouldRun()) {
      TrialLines skipped(*progress_, progress_->beginTrial(tag, fmt::format("{}: already {}, skipped", label,
                                                                            rt::statusName(started.value().status))));
      endEvent(event, "skipped", {});
      return 0;
    }
    ++trials_run_;
    trial->log = std::make_unique<TrialLines>(*progress_, progress_->beginTrial(tag, label + rerunNote(started.value())));
    TrialLines& log = *trial->log;
    if (!started.value().checkpoint_problem.empty()) {
      log.line(fmt::format("  warning: {}; the trial starts from scratch", started.value().checkpoint_problem));
    }
    event.epochs = point.config.epochs;
    emitEvent(event);
    const sema::TrainConfig& config = point.config;
    auto views = materializer_.split(config.split);
    if (!views.ok()) {
      const auto& failure = views.error();
      setError(fmt::format("error: {}{}\n{}", failure.path.empty() ? "" : "'" + failure.path + "': ", failure.message,
                           failure.hint.empty() ? "" : "hint: " + failure.hint + "\n"));
      return 2;
    }
    trial->fit = rt::DataView{views.value()->train_data, views.value()->train};
    trial->val = rt::DataView{views.value()->val_data, views.value()->val};
    trial->test = rt::DataView{views.value()->test_data, views.value()->test};
    rt::DataView& fit = trial->fit;
    rt::DataView& val = trial->val;
    const rt::DataView& test = trial->test;
    if (plan.folds > 1 && fold >= 0) {
      auto labels = rt::labelsOf(*fit.data);
      if (!labels.ok()) return dataFailure(labels.error());
      auto chosen = rt::selectFold(views.value()->train, labels.value(), plan.folds, fold, plan.stratified);
      if (!chosen.ok()) return dataFailure(chosen.error());
      fit.indices = std::move(chosen.value().fit);
      val = rt::DataView{fit.data, std::move(chosen.value().held_out)};
    }
    // standardize is fitted on the rows this trial trains on (its fold's, under cv).
    auto fitted = materializer_.fitTrial(
        fmt::format("{}\n{}\n{}\n{}", config.split, plan.folds > 1 ? plan.folds : 0, plan.stratified, fold), fit, val,
        trial->test);
    if (!fitted.ok()) return dataFailure(fitted.error());
    trial->fitted = std::move(fitted.value());
    trial->model = config.model.isSvm() ? svmOutputs(config) : compile(config, static_cast<int64_t>(fit.indices.size()));
    if (!trial->model) return 3;
    // Images for the report are kept for one trial per point (and refits); confusion
    // matrices for every trial.
    trial->classification = classifies(config);
    trial->figures = fold <= 0 && replicate == 0;
    trial->ensemble = !plan.ensemble.empty() && !test.empty();
    const bool classification = trial->classification;
    const bool ensemble = trial->ensemble;
    rt::TrialSettings& settings = trial->settings;
    settings.epochs = config.epochs;
    settings.shuffle = config.shuffle;
    settings.seed = seed;
    // A grid sweep's points train on one batch order per fold and replicate, that of its
    // first point (common random numbers: points compared on the same data, and sweep
    // fusion feeds them one batch); each keeps its own initial weights and dropout masks.
    // A sampled sweep's draws keep their own orders.
    if (!plan.points_sampled && !plan.checked.empty()) {
      rt::TrialSettings first_point;
      first_point.seed = trialSeed(plan, plan.checked[0].describe(), fold, replicate);
      settings.data_seed = rt::batchSeed(first_point);
    }
    settings.keep_test_predictions = ensemble || (classification && needs_.predictionsOn("test"));
    settings.keep_val_predictions = classification && needs_.predictionsOn("val") && !val.empty();
    // A held-out split costs a pass: each epoch only when a curve, the pruner or the stop
    // rule reads it, else val after the last epoch and test once at the end.
    settings.val_each_epoch = evaluatedEachEpoch(spec_, plan, config, "val");
    settings.test_each_epoch = evaluatedEachEpoch(spec_, plan, config, "test");
    // Every finished trial's trained tensors go to the store (the model leaves the run).
    settings.keep_parameters = true;
    if (config.stop) settings.stop = rt::StopRule{config.stop->metric, config.stop->tol, config.stop->patience};
    settings.extra_metrics = extraMetrics(config, plan);
    if (started.value().checkpoint) settings.resume = std::move(started.value().checkpoint->bytes);
    settings.checkpoint_seconds = kCheckpointSeconds;
    settings.epoch_checkpoint_seconds = request_.epoch_checkpoint_seconds;
    settings.time_limit_seconds = config.trial_timeout_seconds;
    rt::TrialCallbacks& callbacks = trial->callbacks;
    trial->handle = started.value().handle;
    trial->checkpoints = std::make_unique<CheckpointWriter>(store, trial->handle, trial->store_problem);
    trial->epoch_start = std::chrono::steady_clock::now();
    Prepared* const t = trial.get();  // the callbacks outlive this function's references
    callbacks.on_checkpoint = [t](int64_t epoch, const std::vector<uint8_t>& bytes) { t->checkpoints->save(epoch, bytes); };
    callbacks.on_resume_rejected = [t](const std::string& problem) {
      t->log->line(fmt::format("  warning: its checkpoint does not fit this trial ({}); the trial starts from scratch",
                               problem));
      t->checkpoints->restart();
    };
    callbacks.on_epoch = [this, t](const rt::EpochRecord& record, int64_t epochs) {
      const rt::DataView& fit = t->fit;
      TrialLines& log = *t->log;
      t->checkpoints->epochEnded(record);
      const double samples_per_second = static_cast<double>(fit.indices.size()) / std::max(record.seconds, 1e-9);
      std::string line = fmt::format("  epoch {}/{}  {:.1f}s  {:.0f} samples/s", record.epoch, epochs, record.seconds,
                                     samples_per_second);
      std::string metrics;
      for (const auto& [name, value] : record.metrics) {
        if (name.find(".error") != std::string::npos) continue;
        line += fmt::format("  {} {:.4f}", name, value);
        if (name.rfind("train.", 0) != 0) metrics += fmt::format("{}{} {:.4f}", metrics.empty() ? "" : " · ", name, value);
      }
      const double eta = record.seconds * static_cast<double>(epochs - record.epoch);
      if (record.epoch < epochs) line += fmt::format("  ETA {:.0f}s", eta);
      log.line(line);
      rt::TrialProgress progress;
      progress.epoch = std::min(record.epoch + 1, epochs);
      progress.epochs = epochs;
      progress.metrics = metrics;
      log.update(progress);
      RunEvent epoch_event = t->event;
      epoch_event.kind = RunEvent::Kind::kEpoch;
      epoch_event.epoch = record.epoch;
      epoch_event.metrics = record.metrics;
      emitEvent(epoch_event);
      t->epoch_start = std::chrono::steady_clock::now();
    };
    if (progress_->mode() == rt::ProgressMode::kLive) {
      callbacks.on_batch = [t](int64_t epoch, int64_t batch, int64_t batches, double loss) {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t->epoch_start).count();
        rt::TrialProgress progress;
        progress.epoch = epoch;
        progress.epochs = t->point->config.epochs;
        progress.batch = batch;
        progress.batches = batches;
        progress.loss = loss;
        progress.samples_per_second = static_cast<double>(batch * t->model->batch) / std::max(seconds, 1e-9);
        t->log->update(progress);
      };
    }
    callbacks.should_prune = prune;
    if (request_.cancel != nullptr) callbacks.should_stop = [this] { return cancelled(); };
    settings.kernel_threads = [this] { return kernelThreadsPerTrial(); };
    return trial;
  }

  // What the store and the log are told once a trial has trained.
  int conclude(rt::Store& store, int64_t study_id, Prepared& trial, rt::TrialResult outcome) {
    const sema::SweepPlan& plan = *trial.plan;
    const sema::TrainConfig& config = trial.point->config;
    const std::string& point_key = trial.point_key;
    const int64_t fold = trial.fold;
    const int64_t replicate = trial.replicate;
    const rt::TrialHandle handle = trial.handle;
    const rt::DataView& val = trial.val;
    const rt::DataView& test = trial.test;
    const std::optional<rt::CompiledModel>& model = trial.model;
    const bool classification = trial.classification;
    const bool figures = trial.figures;
    const bool ensemble = trial.ensemble;
    RunEvent& event = trial.event;
    TrialLines& log = *trial.log;
    const std::string& store_problem = trial.store_problem;
    trial.checkpoints->flush();
    if (!store.holdsLease(handle)) {
      // Another worker reclaimed it while this one was silent: it is theirs now.
      log.end("  handed over: this worker's lease lapsed and another worker continues the trial", true);
      endEvent(event, "skipped", {});
      return 0;
    }
    if (!store_problem.empty()) {
      setError(fmt::format("error: cannot write to the store: {}\n", store_problem));
      return 2;
    }
    if (outcome.end == rt::TrialEnd::kStopped) {
      auto released = store.releaseTrial(handle);
      if (!released.ok()) return storeFailure(released.error());
      log.end(fmt::format("  stopped at epoch {}: handed back to the study's queue (continued from its checkpoint "
                          "by another worker or the next run)",
                          outcome.failed_epoch),
              true);
      endEvent(event, "stopped", {});
      return kCancelled;
    }
    if (outcome.end == rt::TrialEnd::kPruned) {
      endEvent(event, "pruned", outcome.final_metrics);
      auto saved = store.pruneTrial(handle, static_cast<int>(outcome.failed_epoch), outcome.seconds);
      if (!saved.ok()) return storeFailure(saved.error());
      const std::string reason = trial.prune_reason ? trial.prune_reason() : "";
      log.end(fmt::format("  pruned at epoch {}{}{}", outcome.failed_epoch, reason.empty() ? "" : ": ", reason), true);
      return 0;
    }
    if (outcome.end == rt::TrialEnd::kTimedOut) {
      endEvent(event, "timed_out", outcome.final_metrics);
      auto saved = store.timeOutTrial(handle, static_cast<int>(outcome.failed_epoch), outcome.final_metrics,
                                      outcome.seconds);
      if (!saved.ok()) return storeFailure(saved.error());
      const auto it = outcome.final_metrics.find(plan.select_metric);
      log.end(fmt::format("  timed out after {:.1f}s (trial_timeout {}s): kept {} of {} epochs{}", outcome.seconds,
                          config.trial_timeout_seconds, outcome.failed_epoch, config.epochs,
                          it == outcome.final_metrics.end() ? ""
                                                            : fmt::format(": {} {:.4f}", it->first, it->second)),
              true);
      return 0;
    }
    if (outcome.end == rt::TrialEnd::kFailed) {
      auto saved = store.failTrial(handle, static_cast<int>(outcome.failed_epoch), outcome.reason, outcome.seconds);
      if (!saved.ok()) return storeFailure(saved.error());
      log.end(fmt::format("  failed: {}", outcome.reason), true);
      endEvent(event, "failed", outcome.final_metrics);
      return 1;
    }
    if (ensemble) {
      const int64_t rows = static_cast<int64_t>(test.indices.size());
      auto kept = store.saveOutput(handle, {"test.predictions", rows, model->output_width, outcome.test_predictions});
      if (!kept.ok()) return storeFailure(kept.error());
    }
    if (classification || needs_.parameters()) {
      for (const auto& output : reportOutputs(needs_, config, *jit_, outcome, val, test, model->output_width, figures)) {
        auto kept = store.saveOutput(handle, output);
        if (!kept.ok()) return storeFailure(kept.error());
      }
    }
    // A standardized trial's model keeps its training rows' statistics with its states.
    if (trial.fitted) {
      const rt::FeatureStats& stats = trial.fitted->stats;
      const int64_t features = static_cast<int64_t>(stats.mean.size());
      outcome.states.push_back({kStandardizeMean, {features}, stats.mean});
      outcome.states.push_back({kStandardizeStddev, {features}, stats.stddev});
    }
    // `keep none` writes no weights; `keep best` knows the best point only after the run,
    // so the trials that may be it save theirs and the others' are dropped then
    // (applyKeepPolicy).
    if (spec_.keep != sema::KeepPolicy::kNone && mayBeKept(store, study_id, plan, fold, replicate, outcome.final_metrics)) {
      auto tensors = store.saveTensors(handle, storedTensors(outcome));
      if (!tensors.ok()) return storeFailure(tensors.error());
    }
    auto saved = store.finishTrial(handle, outcome.final_metrics, outcome.seconds);
    if (!saved.ok()) return storeFailure(saved.error());
    endEvent(event, "finished", outcome.final_metrics);
    // An embedding keeps networks it can predict with; an svm's model stays in this trial.
    if (request_.on_trained && !config.model.isSvm()) {
      std::lock_guard<std::mutex> lock(hook_mutex_);
      request_.on_trained(TrainedTrial{plan.name, point_key, fold, replicate, &config, &*model, &outcome});
    }
    std::string summary;
    if (outcome.stopped_epoch > 0) {
      summary = fmt::format("  stopped early at epoch {} ({} did not improve)", outcome.stopped_epoch, config.stop->metric);
    }
    const std::string objective = plan.select_metric.empty() ? "" : plan.select_metric;
    const auto it = outcome.final_metrics.find(objective);
    summary += fmt::format("{}  done in {:.1f}s{}", summary.empty() ? "" : "\n", outcome.seconds,
                           it == outcome.final_metrics.end() ? "" : fmt::format(": {} {:.4f}", objective, it->second));
    log.end(summary, true);
    return 0;
  }

  std::string trialLabel(const sema::SweepPlan& plan, const std::string& point, int64_t fold, int64_t replicate,
                         int64_t index, int64_t total) const {
    std::string label = fmt::format("trial {}/{}", index, total);
    if (!plan.name.empty()) label += " [" + plan.name + "]";
    if (!point.empty()) label += " " + point;
    if (fold < 0) label += " refit on all training data";
    if (plan.folds > 1 && fold >= 0) label += fmt::format(" fold {}/{}", fold + 1, plan.folds);
    if (plan.replicates > 1) label += fmt::format(" replicate {}/{}", replicate + 1, plan.replicates);
    return label;
  }

  // Whether a finished trial's weights may be kept: under `keep best`, a trial of a sweep
  // of single trials (one fold, one replicate) that a finished trial of its sweep already
  // beats on the objective never will be (a store error: yes, to be safe).
  bool mayBeKept(rt::Store& store, int64_t study_id, const sema::SweepPlan& plan, int64_t fold, int64_t replicate,
                 const rt::Metrics& final_metrics) {
    if (spec_.keep != sema::KeepPolicy::kBest || fold < 0 || plan.folds > 1 || plan.replicates > 1 ||
        replicate > 0 || plan.select_metric.empty()) {
      return true;
    }
    const auto mine = final_metrics.find(plan.select_metric);
    if (mine == final_metrics.end() || std::isnan(mine->second)) return true;
    auto best = store.bestFinal(study_id, plan.name, plan.select_metric, plan.maximize);
    if (!best.ok() || !best.value()) return true;
    return plan.maximize ? mine->second >= *best.value() : mine->second <= *best.value();
  }

  int storeFailure(const rt::StoreError& failure) {
    setError(fmt::format("error: store '{}': {}\n{}", failure.path, failure.message,
                         failure.hint.empty() ? "" : "hint: " + failure.hint + "\n"));
    return 2;
  }

  int dataFailure(const rt::DataError& failure) {
    setError(fmt::format("error: {}{}\n{}", failure.path.empty() ? "" : "'" + failure.path + "': ", failure.message,
                         failure.hint.empty() ? "" : "hint: " + failure.hint + "\n"));
    return 2;
  }

  // An svm compiles nothing; what the store and the report read of a model: its outputs
  // are one-hot rows of the predicted classes.
  rt::CompiledModel svmOutputs(const sema::TrainConfig& config) const {
    const sema::Split* split = spec_.findSplit(config.split);
    rt::CompiledModel model;
    model.features = sema::shapeElements(config.model.input_shape);
    model.output_width = split == nullptr ? 0 : split->num_classes;
    model.classification = true;
    return model;
  }

  // The compiled steps for this configuration: one for full batches and, when `fit_count`
  // does not divide evenly, one for the last partial batch. Cached by graph signature.
  std::optional<rt::CompiledModel> compile(const sema::TrainConfig& config, int64_t fit_count) {
    auto compiled = pipeline::compileTrainable(config, fit_count, *jit_);
    if (const auto* error = std::get_if<pipeline::PipelineError>(&compiled)) {
      setError(fmt::format("internal error: compiling model '{}': {}\n", config.model.name, error->message));
      return std::nullopt;
    }
    return std::get<rt::CompiledModel>(std::move(compiled));
  }

 public:
  jit::JitStats jitStats() const { return jit_ ? jit_->stats() : jit::JitStats{}; }
  int64_t trialsRun() const { return trials_run_.load(); }

 private:
  const RunRequest& request_;
  std::FILE* out_;
  std::atomic<int64_t> trials_run_{0};
  std::atomic<int> running_trials_{0};  // trials training right now (for the kernels' width)
  std::atomic<int64_t> fused_groups_{0};  // sweep fusion: groups trained, their trials, fused steps
  std::atomic<int64_t> fused_trials_{0};
  std::atomic<int64_t> fused_steps_{0};
  std::atomic<int64_t> own_steps_{0};  // members' own steps after their group dissolved
  std::mutex fusion_mutex_;
  std::map<std::string, std::string> fusion_keys_;  // sweep, point and fold -> fusion key
  const int cpus_ = request_.threads > 0 ? static_cast<int>(request_.threads) : rt::availableCpus();

  // Counts a trial as training while it lives.
  struct RunningTrial {
    std::atomic<int>& count;
    explicit RunningTrial(std::atomic<int>& running) : count(running) { ++count; }
    ~RunningTrial() { --count; }
  };

  // The CPUs no other trial of this run uses, shared evenly: a lone trial (one point, a
  // refit, the tail of a sweep) gets them all.
  int kernelThreadsPerTrial() const { return std::max(1, cpus_ / std::max(1, running_trials_.load())); }
  const ast::Spec& ast_;
  const sema::CheckedSpec& spec_;
  DiagnosticEngine& diagnostics_;
  Materializer materializer_;
  std::shared_ptr<jit::JitCompiler> jit_;
  ReportNeeds needs_;
  rt::ProgressDisplay* progress_ = nullptr;  // while run() runs
  std::string error_;
  std::mutex output_mutex_;
  std::mutex hook_mutex_;  // one embedding hook call at a time
  std::string summary_;
  std::map<std::string, std::map<std::string, sema::Point>> sampled_points_;  // sweep -> key -> point
};

std::string formatMetric(const std::vector<double>& values) {
  if (values.empty()) return "-";
  if (values.size() == 1) return fmt::format("{:.4f}", values[0]);
  return fmt::format("{:.4f} ± {:.4f}", rt::meanOf(values), rt::stddevOf(values));
}

// Each sweep's points ranked (rt::rankSweep, the ranking the report uses too), like
// GridSearchCV's cv_results_: the objective of every fold, then the summaries; laid out in
// blocks of at most kTableWidth characters (rt::formatRankedText).
constexpr size_t kTableWidth = 120;

void printTables(std::FILE* out, const sema::CheckedSpec& spec, const std::vector<rt::TrialRow>& rows) {
  for (const auto& plan : spec.sweeps) {
    std::vector<std::string> grid_order;  // grid points in grid order; sampled ones as drawn
    if (plan.method != "random" && plan.method != "tpe") {
      for (const auto& point : plan.checked) grid_order.push_back(point.describe());
    }
    const rt::SweepRanking ranking = rt::rankSweep(plan.name, rows, plan.select_metric, plan.maximize, grid_order);
    if (ranking.points.empty()) continue;
    const std::string& metric = ranking.metric;
    std::vector<std::string> columns = {metric};
    std::vector<std::string> wanted = {"val.accuracy", "val.loss", "test.accuracy", "test.loss", "train.loss"};
    if (plan.checked.front().config.model.isSvm()) wanted = {"val.accuracy", "test.accuracy", "test.error", "train.accuracy"};
    // The held-out metrics the spec asks for (`metrics f1_macro, ...`), on val and test.
    for (const std::string& name : plan.checked.front().config.metrics) {
      const std::string bare = name.substr(name.find('.') == std::string::npos ? 0 : name.find('.') + 1);
      if (!rt::isExtraMetric(bare)) continue;
      for (const char* part : {"val.", "test."}) {
        if (name.find('.') == std::string::npos || name.rfind(part, 0) == 0) wanted.push_back(part + bare);
      }
    }
    for (const std::string& extra : wanted) {
      const bool present = std::any_of(ranking.points.begin(), ranking.points.end(),
                                       [&](const rt::PointSummary& point) { return point.values.count(extra) != 0; });
      if (extra != metric && present) columns.push_back(extra);
    }
    fmt::print(out, "\n{} (ranked by {} {})\n", plan.name.empty() ? std::string("results") : "sweep " + plan.name,
               ranking.maximize ? "max" : "min", metric);
    rt::RankedTextLayout layout;
    layout.columns = columns;
    layout.folds = plan.folds > 1 && plan.folds <= 10 && !plan.select_metric.empty() ? plan.folds : 0;
    layout.width = kTableWidth;
    layout.point_text = displayPoint;
    const std::string table = rt::formatRankedText(ranking, layout);
    fmt::print(out, "{}", table);
    if (table.find("\n  more metrics of the same points:") != std::string::npos) {
      fmt::print(out, "  (`nnspec export STORE --format csv` lists every metric of every trial)\n");
    }
    if (const rt::PointSummary* best = ranking.best()) {
      fmt::print(out, "  best: {} with {} {}\n", best->key.empty() ? "(one point)" : displayPoint(best->key), metric,
                 formatMetric(best->values.at(metric)));
      if (metric.rfind("train.", 0) == 0 && ranking.points.size() > 1) {
        fmt::print(out, "  (ranked on the training data: nothing is held out; give the split a `val = "
                        "train.holdout(0.1)` or the sweep `cv 5` to select on data the points did not train on)\n");
      }
    }
  }
}

}  // namespace

std::string displayPoint(const std::string& key) {
  // Decimal numbers, optionally with an exponent, not part of a name (e.g. units_1).
  static const std::regex kNumber(R"((^|[^A-Za-z0-9_.])(-?[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?))");
  std::string out;
  auto begin = key.cbegin();
  for (std::sregex_iterator it(key.begin(), key.end(), kNumber), end; it != end; ++it) {
    const std::smatch& match = *it;
    out.append(begin, match[2].first);
    const std::string text = match[2].str();
    const std::string shorter = fmt::format("{:.6g}", std::stod(text));
    out += shorter.size() < text.size() ? shorter : text;
    begin = match[2].second;
  }
  out.append(begin, key.cend());
  return out;
}

namespace {

// A short line diff of two spec texts: changed lines with "-" and "+" and one line of
// context, from the longest common subsequence of lines.
std::string specDiff(const std::string& before, const std::string& after) {
  auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      out.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return out;
  };
  const std::vector<std::string> a = lines(before), b = lines(after);
  std::vector<std::vector<int>> common(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      common[i][j] = a[i] == b[j] ? common[i + 1][j + 1] + 1 : std::max(common[i + 1][j], common[i][j + 1]);
    }
  }
  std::vector<std::string> out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out.push_back("  " + a[i]);
      ++i, ++j;
    } else if (i < a.size() && (j == b.size() || common[i + 1][j] >= common[i][j + 1])) {
      out.push_back("- " + a[i++]);  // what the study's text had, before what replaced it
    } else {
      out.push_back("+ " + b[j++]);
    }
  }
  std::string text;
  int shown = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    const bool near = (out[k][0] != ' ') || (k > 0 && out[k - 1][0] != ' ') || (k + 1 < out.size() && out[k + 1][0] != ' ');
    if (!near) continue;
    if (++shown > 40) {
      text += "  ...\n";
      break;
    }
    text += "  " + out[k] + "\n";
  }
  return text;
}

// "" when the store has no study of this name, or one created by this spec text; else
// the diff from the newest such study's text to this one.
std::string editedSpecDiff(rt::Store& store, const std::string& experiment, const std::string& text) {
  auto studies = store.listStudies();
  if (!studies.ok()) return "";
  std::optional<std::string> newest;
  for (const auto& study : studies.value()) {
    if (study.name != experiment) continue;
    auto info = store.readStudyInfo(study.id);
    if (!info.ok() || !info.value()) continue;
    if (info.value()->spec_text == text) return "";
    newest = info.value()->spec_text;
  }
  return newest ? specDiff(*newest, text) : "";
}

}  // namespace

Outcome runFile(const RunRequest& request, std::FILE* out) {
  SpecSession session(request.check, request.overrides, request.sweeps);
  if (!session.ok()) return session.finish(2);
  DiagnosticEngine& diagnostics = session.diagnostics();
  LoadedSpec* loaded = &session.spec();
  const sema::CheckedSpec* checked = &loaded->checked;
  const rt::DataPaths options_paths = loaded->data_paths;
  Outcome outcome;
  RunRequest resolved = request;
  resolved.check.data_paths = options_paths;
  Runner runner(resolved, out, loaded->ast, *checked, diagnostics);
  if (!runner.checkSupported()) return session.finish(2);
  if (!diagnostics.diagnostics().empty()) {
    std::fputs(diagnostics.renderText().c_str(), stderr);
  }
  const std::string store_path = request.store_path.empty() ? rt::defaultStorePath(request.check.path) : request.store_path;
  const bool write_report = request.write_report && !checked->reports.empty();
  // A database has no folder to sit beside: the report of a study kept in one goes beside
  // the spec (every worker writes it at its end, atomically, the last one with everything).
  const std::string report_path =
      !request.report_path.empty() ? request.report_path
      : rt::isPostgresUrl(store_path)
          ? std::filesystem::path(request.check.path).replace_extension("report.html").string()
          : rt::defaultReportPath(store_path);
  if (write_report) {
    // A report that cannot be written is found out before anything trains.
    const std::string unwritable = checkOutputPath(report_path);
    if (!unwritable.empty()) {
      outcome.exit_code = 2;
      outcome.err = unwritable + "hint: or pass --no-report\n";
      return outcome;
    }
  }
  if (const int code = runner.loadData(); code != 0) {
    outcome.exit_code = code;
    outcome.err = runner.error();
    return outcome;
  }
  auto store = rt::Store::open(store_path);
  if (!store.ok()) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("error: store '{}': {}\n{}", store_path, store.error().message,
                              store.error().hint.empty() ? "" : "hint: " + store.error().hint + "\n");
    return outcome;
  }
  std::string fingerprint = session.text();
  for (const auto& override : request.overrides) fingerprint += "\n--set " + override.name + "=" + override.value;
  if (!request.force) {
    // Workers joining a study must run the spec it was created by.
    const std::string changed = editedSpecDiff(store.value(), checked->experiment, session.text());
    if (!changed.empty()) {
      outcome.exit_code = 2;
      outcome.err = fmt::format(
          "error: store '{}': study '{}' was created by another text of this spec:\n{}"
          "hint: run the spec the study was created by, or pass --force to start a new version of the study beside "
          "the old one\n",
          store.value().path(), checked->experiment, changed);
      return outcome;
    }
  }
  auto study = store.value().openStudy(checked->experiment, hashText(fingerprint));
  if (!study.ok()) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("error: store '{}': {}\n", rt::redactStoreUrl(store_path), study.error().message);
    return outcome;
  }
  auto recorded = store.value().saveStudyInfo(
      study.value().id, studyInfo(*checked, request.check.path, session.text(), request.overrides));
  if (!recorded.ok()) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("error: store '{}': {}\n", rt::redactStoreUrl(store_path), recorded.error().message);
    return outcome;
  }
  if (!request.quiet) {
    fmt::print(out, "experiment {} -> {}{}\n", checked->experiment, store.value().path(),
               study.value().resumed ? " (resuming)" : "");
    auto counts = store.value().countTrials(study.value().id);
    if (study.value().resumed && counts.ok()) {
      const rt::TrialCounts& c = counts.value();
      const int64_t ended = c.finished + c.failed + c.pruned + c.timed_out;
      if (ended > 0) {
        fmt::print(out, "{} trials already ended in the store ({} finished, {} failed, {} pruned{}): kept, not rerun\n",
                   ended, c.finished, c.failed, c.pruned,
                   c.timed_out > 0 ? fmt::format(", {} timed out", c.timed_out) : "");
      }
    }
  }
  auto joined = store.value().joinStudy(study.value().id, request.worker);
  if (!joined.ok()) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("error: store '{}': {}\n", rt::redactStoreUrl(store_path), joined.error().message);
    return outcome;
  }
  const int code = runner.run(store.value(), study.value().id);
  // Stopped (Ctrl-C, SIGTERM, --release-on): the table of what ended and the report are
  // still written, then the run exits with the stop's code.
  const bool stopped = code == 130;
  (void)store.value().leaveStudy(stopped);
  if (code >= 2 && !stopped) {
    outcome.exit_code = code;
    outcome.err = runner.error();
    return outcome;
  }
  auto rows = store.value().listTrials(study.value().id);
  if (!rows.ok()) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("error: store '{}': {}\n", rt::redactStoreUrl(store_path), rows.error().message);
    return outcome;
  }
  // The spec's `keep`: the tensors of trials it does not keep leave the store (not when the
  // run stopped early: the best point may be among the trials still to run).
  std::string keep_error;
  const std::string kept = stopped ? "" : applyKeepPolicy(store.value(), *checked, rows.value(), &keep_error);
  if (!keep_error.empty()) {
    outcome.exit_code = 2;
    outcome.err = keep_error;
    return outcome;
  }
  printTables(out, *checked, rows.value());
  if (!runner.summary().empty()) fmt::print(out, "\n{}", runner.summary());
  double trial_seconds = 0;
  for (const auto& row : rows.value()) trial_seconds += row.seconds.value_or(0);
  if (!request.quiet) {
    // The graphs of this run: compiled, or loaded from the disk cache of an earlier run.
    const jit::JitStats jit_stats = runner.jitStats();
    const std::string loaded = fmt::format("loaded from the compile cache in {:.1f} ms", jit_stats.load_seconds * 1000);
    const std::string graphs =
        jit_stats.compiled == 0 && jit_stats.loaded > 0
            ? fmt::format("{} graph{} {}", jit_stats.loaded, jit_stats.loaded == 1 ? "" : "s", loaded)
            : fmt::format("compiled {} graph{} in {:.0f} ms{}", jit_stats.compiled, jit_stats.compiled == 1 ? "" : "s",
                          jit_stats.compile_seconds * 1000, jit_stats.loaded > 0 ? fmt::format(", {} {}", jit_stats.loaded, loaded) : "");
    fmt::print(out, "\n{} trials, {:.1f} s of training in all; {}\n", rows.value().size(), trial_seconds, graphs);
    fmt::print(out, "{}", kept);
    const rt::Store::Usage usage = store.value().usage();
    const int64_t ran = runner.trialsRun();
    fmt::print(out, "store: {} calls, {:.0f} ms in all{}\n", usage.calls, usage.seconds * 1000,
               ran > 0 ? fmt::format(" ({:.2f} ms for each of the {} trials this worker ran)", usage.seconds * 1000 / ran, ran)
                       : std::string());
  }
  if (write_report) {
    const std::string problem =
        writeStudyReport(store.value(), study.value().id, report_path, request.check.data_paths.data_dir);
    if (problem.empty()) {
      if (!request.quiet) fmt::print(out, "report: {}\n", report_path);
    } else {
      outcome.err += "warning: the report was not written:\n" + problem;
    }
  }
  if (stopped) {
    outcome.exit_code = request.cancel_code != nullptr && request.cancel_code->load() != 0 ? request.cancel_code->load()
                                                                                           : code;
    outcome.err += "run cancelled: running trials were handed back to the study's queue; run again (or let another "
                   "worker) continue them from their checkpoints\n";
    return outcome;
  }
  bool failed = false;
  for (const auto& row : rows.value()) failed = failed || row.status == rt::TrialStatus::kFailed;
  outcome.exit_code = failed ? 1 : 0;
  return outcome;
}

Outcome replayFile(const RunRequest& request) {
  SpecSession session(request.check, request.overrides, request.sweeps);
  if (!session.ok()) return session.finish(2);
  LoadedSpec* loaded = &session.spec();
  RunRequest resolved = request;
  resolved.check.data_paths = loaded->data_paths;
  Runner runner(resolved, nullptr, loaded->ast, loaded->checked, session.diagnostics());
  const std::string store_path = request.store_path.empty() ? rt::defaultStorePath(request.check.path) : request.store_path;
  Outcome outcome;
  auto store = rt::Store::open(store_path);
  if (!store.ok()) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("error: store '{}': {}\n", rt::redactStoreUrl(store_path), store.error().message);
    return outcome;
  }
  // The study this spec text ran as (the newest, when several).
  std::optional<int64_t> study_id;
  auto studies = store.value().listStudies();
  if (studies.ok()) {
    for (const auto& study : studies.value()) {
      if (study.name != loaded->checked.experiment) continue;
      auto info = store.value().readStudyInfo(study.id);
      if (info.ok() && info.value() && info.value()->spec_text == session.text()) study_id = study.id;
    }
  }
  if (!study_id) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("error: store '{}': no study '{}' was run from this spec text\n", store.value().path(),
                              loaded->checked.experiment);
    return outcome;
  }
  auto draws = store.value().listDraws(*study_id);
  if (!draws.ok()) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("error: store '{}': {}\n", store.value().path(), draws.error().message);
    return outcome;
  }
  int64_t replayed = 0, differing = 0;
  for (const auto& plan : loaded->checked.sweeps) {
    const rt::SweepSchedule sweep = runner.schedule(plan);
    if (!sweep.sampled()) continue;
    const bool minimize = !sweep.maximize || sweep.objective.empty();
    for (const auto& draw : draws.value()) {
      if (draw.sweep != sweep.name) continue;
      auto history = rt::parseHistory(draw.history);
      rt::Rng rng = rt::makeTrialRng(sweep.seed, draw.number);
      const rt::Sample sample =
          sweep.method == rt::SweepMethod::kTpe && history
              ? rt::sampleTpe(sweep.space, *history, minimize, sweep.tpe, rng)
              : rt::sampleRandom(sweep.space, rng);
      ++replayed;
      if (history && rt::formatSample(sample) == draw.params) continue;
      ++differing;
      outcome.out += fmt::format("{} draw {}: stored {} | replayed {}\n", sweep.label(), draw.number, draw.params,
                                 rt::formatSample(sample));
    }
  }
  outcome.out += fmt::format("{} draws replayed from the histories they saw: {} equal, {} differ\n", replayed,
                             replayed - differing, differing);
  outcome.exit_code = differing == 0 ? 0 : 1;
  return outcome;
}

}  // namespace nnspec::driver
