#include "runtime/report/export.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "runtime/report/json.h"

namespace nnspec::rt {
namespace {

std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csvNumber(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return fmt::format("{}", value);
}

void appendRow(std::string& out, const std::vector<std::string>& fields) {
  for (size_t k = 0; k < fields.size(); ++k) out += (k > 0 ? "," : "") + csvField(fields[k]);
  out += "\n";
}

// Every param and final metric name over all sweeps, in first-seen order / sorted.
std::vector<std::string> paramNames(const StudyData& study) {
  std::vector<std::string> names;
  for (const auto& trial : study.trials) {
    for (const auto& param : trial.row.params) {
      if (std::find(names.begin(), names.end(), param.name) == names.end()) names.push_back(param.name);
    }
  }
  return names;
}

std::vector<std::string> finalMetricNames(const StudyData& study) {
  std::set<std::string> names;
  for (const auto& trial : study.trials) {
    for (const auto& [name, value] : trial.row.final_metrics) names.insert(name);
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> epochMetricNames(const StudyData& study) {
  std::set<std::string> names;
  for (const auto& trial : study.trials) {
    for (const auto& epoch : trial.epochs) {
      for (const auto& [name, value] : epoch.metrics) names.insert(name);
    }
  }
  return {names.begin(), names.end()};
}

// The point summary a trial belongs to (nullptr for refits and unknown sweeps).
const PointSummary* pointOf(const StudyData& study, const TrialRow& row) {
  if (row.key.fold < 0) return nullptr;
  for (const auto& sweep : study.sweeps) {
    if (sweep.info.name != row.key.sweep) continue;
    for (const auto& point : sweep.points) {
      if (point.key == row.key.point_key) return &point;
    }
  }
  return nullptr;
}

std::string paramValue(const TrialRow& row, const std::string& name) {
  for (const auto& param : row.params) {
    if (param.name == name) return param.value;
  }
  return "";
}

Json numberOrText(const std::string& text) {
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(number)) return number;
  return text;
}

Json metricsJson(const Metrics& metrics) {
  Json out = Json::object();
  for (const auto& [name, value] : metrics) out.set(name, value);
  return out;
}

}  // namespace

std::string exportTrialsCsv(const StudyData& study) {
  const auto params = paramNames(study);
  const auto metrics = finalMetricNames(study);
  std::vector<std::string> header = {"study", "sweep", "trial", "point", "fold", "replicate", "status", "rank"};
  for (const auto& name : params) header.push_back("param." + name);
  for (const auto& name : metrics) header.push_back(name);
  for (const auto& name : metrics) {
    header.push_back("mean." + name);
    header.push_back("std." + name);
  }
  for (const char* name : {"epochs", "seconds", "attempts", "seed", "end_epoch", "reason", "started_at", "ended_at"}) {
    header.push_back(name);
  }
  std::string out;
  appendRow(out, header);
  for (const auto& trial : study.trials) {
    const TrialRow& row = trial.row;
    const PointSummary* point = pointOf(study, row);
    std::vector<std::string> fields = {study.study.name,
                                       row.key.sweep,
                                       std::to_string(row.id),
                                       row.key.point_key,
                                       std::to_string(row.key.fold),
                                       std::to_string(row.key.replicate),
                                       std::string(statusName(row.status)),
                                       point != nullptr && point->rank > 0 ? std::to_string(point->rank) : ""};
    for (const auto& name : params) fields.push_back(paramValue(row, name));
    for (const auto& name : metrics) {
      const auto it = row.final_metrics.find(name);
      fields.push_back(it == row.final_metrics.end() ? "" : csvNumber(it->second));
    }
    for (const auto& name : metrics) {
      const bool has = point != nullptr && point->values.count(name) != 0;
      fields.push_back(has ? csvNumber(point->mean(name)) : "");
      fields.push_back(has ? csvNumber(point->stddev(name)) : "");
    }
    fields.push_back(std::to_string(trial.epochs.size()));
    fields.push_back(row.seconds ? csvNumber(*row.seconds) : "");
    fields.push_back(std::to_string(row.attempts));
    fields.push_back(std::to_string(row.seed));
    fields.push_back(row.end_epoch ? std::to_string(*row.end_epoch) : "");
    fields.push_back(row.reason);
    fields.push_back(row.started_at);
    fields.push_back(row.ended_at);
    appendRow(out, fields);
  }
  return out;
}

std::string exportEpochsCsv(const StudyData& study) {
  const auto metrics = epochMetricNames(study);
  std::vector<std::string> header = {"study", "sweep", "trial", "point", "fold", "replicate", "epoch", "seconds"};
  header.insert(header.end(), metrics.begin(), metrics.end());
  std::string out;
  appendRow(out, header);
  for (const auto& trial : study.trials) {
    const TrialRow& row = trial.row;
    for (const auto& epoch : trial.epochs) {
      std::vector<std::string> fields = {study.study.name,
                                         row.key.sweep,
                                         std::to_string(row.id),
                                         row.key.point_key,
                                         std::to_string(row.key.fold),
                                         std::to_string(row.key.replicate),
                                         std::to_string(epoch.epoch),
                                         csvNumber(epoch.seconds)};
      for (const auto& name : metrics) {
        const auto it = epoch.metrics.find(name);
        fields.push_back(it == epoch.metrics.end() ? "" : csvNumber(it->second));
      }
      appendRow(out, fields);
    }
  }
  return out;
}

std::string exportJson(const StudyData& study) {
  Json root = Json::object();
  root.set("store", study.store_path);
  root.set("study", Json::object({{"id", static_cast<long long>(study.study.id)},
                                  {"name", study.study.name},
                                  {"spec_hash", study.study.spec_hash},
                                  {"created_at", study.study.created_at}}));
  if (study.info) {
    Json overrides = Json::array();
    for (const auto& text : study.info->overrides) overrides.push(text);
    root.set("spec", Json::object({{"path", study.info->spec_path},
                                   {"text", study.info->spec_text},
                                   {"overrides", overrides}}));
  } else {
    root.set("spec", nullptr);
  }
  Json sweeps = Json::array();
  for (const auto& sweep : study.sweeps) {
    Json axes = Json::array();
    for (const auto& axis : sweep.info.axes) axes.push(axis);
    Json classes = Json::array();
    for (const auto& name : sweep.info.class_names) classes.push(name);
    Json points = Json::array();
    for (const auto& point : sweep.points) {
      Json params = Json::object();
      for (const auto& param : point.params) params.set(param.name, numberOrText(param.value));
      Json metrics = Json::object();
      for (const auto& [name, values] : point.values) {
        Json list = Json::array();
        for (double value : values) list.push(value);
        metrics.set(name, Json::object({{"mean", point.mean(name)}, {"std", point.stddev(name)}, {"values", list}}));
      }
      Json folds = Json::object();
      for (const auto& [fold, values] : point.fold_values) folds.set(std::to_string(fold), meanOf(values));
      points.push(Json::object({{"rank", point.rank > 0 ? Json(point.rank) : Json()},
                                {"point", point.key},
                                {"params", params},
                                {"finished", static_cast<long long>(point.finished)},
                                {"failed", static_cast<long long>(point.failed)},
                                {"pruned", static_cast<long long>(point.pruned)},
                                {"timed_out", static_cast<long long>(point.timed_out)},
                                {"seconds", point.seconds},
                                {"metrics", metrics},
                                {"folds", folds}}));
    }
    sweeps.push(Json::object({{"name", sweep.info.name},
                              {"method", sweep.info.method},
                              {"axes", axes},
                              {"objective", sweep.info.objective},
                              {"rank_metric", sweep.rank_metric},
                              {"maximize", sweep.maximize},
                              {"folds", static_cast<long long>(sweep.info.folds)},
                              {"replicates", static_cast<long long>(sweep.info.replicates)},
                              {"class_names", classes},
                              {"points", points}}));
  }
  root.set("sweeps", sweeps);
  Json trials = Json::array();
  for (const auto& trial : study.trials) {
    const TrialRow& row = trial.row;
    const PointSummary* point = pointOf(study, row);
    Json params = Json::object();
    for (const auto& param : row.params) params.set(param.name, numberOrText(param.value));
    Json epochs = Json::array();
    for (const auto& epoch : trial.epochs) {
      epochs.push(Json::object({{"epoch", epoch.epoch}, {"seconds", epoch.seconds}, {"metrics", metricsJson(epoch.metrics)}}));
    }
    trials.push(Json::object({{"id", static_cast<long long>(row.id)},
                              {"sweep", row.key.sweep},
                              {"point", row.key.point_key},
                              {"fold", row.key.fold},
                              {"replicate", row.key.replicate},
                              {"status", std::string(statusName(row.status))},
                              {"rank", point != nullptr && point->rank > 0 ? Json(point->rank) : Json()},
                              {"params", params},
                              {"metrics", metricsJson(row.final_metrics)},
                              {"seconds", row.seconds ? Json(*row.seconds) : Json()},
                              {"seed", std::to_string(row.seed)},
                              {"attempts", row.attempts},
                              {"end_epoch", row.end_epoch ? Json(*row.end_epoch) : Json()},
                              {"reason", row.reason},
                              {"started_at", row.started_at},
                              {"ended_at", row.ended_at},
                              {"epochs", epochs}}));
  }
  root.set("trials", trials);
  return root.dump(1) + "\n";
}

}  // namespace nnspec::rt
