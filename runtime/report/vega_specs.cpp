#include "runtime/report/vega_specs.h"

#include <algorithm>
#include <cstdlib>

namespace nnspec::rt {
namespace {

constexpr const char* kSchema = "https://vega.github.io/schema/vega-lite/v6.json";
constexpr const char* kAccent = "#3b6fb6";

Json titleOf(const std::string& title, const std::string& subtitle) {
  Json out = Json::object({{"text", title}, {"anchor", "start"}});
  if (!subtitle.empty()) out.set("subtitle", subtitle);
  return out;
}

Json stringArray(const std::vector<std::string>& items) {
  Json out = Json::array();
  for (const auto& item : items) out.push(item);
  return out;
}

Json base(const std::string& title, const std::string& subtitle) {
  return Json::object({{"$schema", kSchema}, {"title", titleOf(title, subtitle)}});
}

// Small multiples and concatenated panels cannot take the container's width in
// Vega-Lite; the page's render script (html_report.cpp) sizes their cells to it: `columns`
// cells side by side fill the plot's width.
// Numbers written as text ("0.001") as a JSON array of numbers; text that is no number is left out.
Json numberArray(const std::vector<std::string>& items) {
  Json out = Json::array();
  for (const auto& item : items) {
    char* end = nullptr;
    const double value = std::strtod(item.c_str(), &end);
    if (!item.empty() && end == item.c_str() + item.size()) out.push(value);
  }
  return out;
}

Json fitWidth(int columns) { return Json::object({{"nnspecFit", Json::object({{"columns", columns}})}}); }

}  // namespace

std::string metricTitle(const std::string& metric) {
  const size_t dot = metric.find('.');
  if (dot == std::string::npos) return metric;
  const std::string split = metric.substr(0, dot);
  std::string name = metric.substr(dot + 1);
  if (name == "mse" || name == "mae") {
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  const std::string prefix = split == "val" ? "validation" : split == "train" ? "training" : split;
  return prefix + " " + name;
}

Json learningCurveSpec(const CurveChart& chart) {
  const bool columns = chart.splits.size() > 1;
  const bool rows = !chart.row_title.empty();
  const bool faceted = columns || rows;
  Json x = Json::object({{"field", "epoch"},
                         {"type", "quantitative"},
                         {"title", "epoch"},
                         {"axis", Json::object({{"tickMinStep", 1}, {"format", "d"}})}});
  Json y = Json::object({{"field", "value"},
                         {"type", "quantitative"},
                         {"title", chart.y_title},
                         {"scale", Json::object({{"zero", false}})}});
  Json color = Json::object({{"field", "color"},
                             {"type", "nominal"},
                             {"title", chart.color_title},
                             {"sort", stringArray(chart.color_order)},
                             {"legend", chart.legend ? Json::object({{"labelLimit", 260}, {"symbolType", "stroke"},
                                                                     {"symbolStrokeWidth", 3}, {"symbolOpacity", 1}})
                                                     : Json()}});
  if (chart.color_numbers) {
    color = Json::object({{"field", "color"},
                          {"type", "quantitative"},
                          {"title", chart.color_title},
                          {"scale", Json::object({{"type", chart.color_log ? "log" : "linear"}, {"scheme", "viridis"}})},
                          {"legend", Json::object({{"format", "~g"}})}});
  }
  Json line_encoding = Json::object({{"x", x}, {"y", y}, {"color", color},
                                     {"detail", Json::object({{"field", "series"}, {"type", "nominal"}})}});
  if (!chart.dash_title.empty()) {
    line_encoding.set("strokeDash",
                      Json::object({{"field", "dash"},
                                    {"type", "nominal"},
                                    {"title", chart.dash_title},
                                    {"sort", stringArray(chart.dash_order)},
                                    {"scale", Json::object({{"range", Json::array({Json::array({1, 0}), Json::array({6, 3}),
                                                                                   Json::array({2, 2}), Json::array({8, 3, 2, 3}),
                                                                                   Json::array({12, 4}), Json::array({1, 4})})}})},
                                    // Vega-Lite draws a dash legend's symbols transparent: stroke them.
                                    {"legend", Json::object({{"symbolType", "stroke"}, {"symbolStrokeWidth", 2},
                                                             {"symbolSize", 400}, {"labelLimit", 260},
                                                             {"encode", Json::object({{"symbols", Json::object({{"update", Json::object(
                                                                 {{"stroke", Json::object({{"value", "#333333"}})}})}})}})}})}}));
  }
  Json tooltip = Json::array({Json::object({{"field", "series"}, {"title", "point"}}), Json::object({{"field", "metric"}}),
                              Json::object({{"field", "epoch"}}), Json::object({{"field", "value"}, {"format", ".4f"}})});
  if (chart.band) tooltip.push(Json::object({{"field", "n"}, {"title", "trials"}}));
  line_encoding.set("tooltip", tooltip);
  Json mark = Json::object({{"type", "line"}, {"strokeWidth", 2}, {"interpolate", "monotone"}});
  if (chart.show_points) mark.set("point", Json::object({{"size", 28}, {"filled", true}}));
  Json layers = Json::array();
  if (chart.band) {
    layers.push(Json::object(
        {{"mark", Json::object({{"type", "area"}, {"opacity", 0.14}, {"interpolate", "monotone"}})},
         {"encoding", Json::object({{"x", x},
                                    {"y", Json::object({{"field", "lo"}, {"type", "quantitative"}, {"title", chart.y_title}})},
                                    {"y2", Json::object({{"field", "hi"}})},
                                    {"color", color},
                                    {"detail", Json::object({{"field", "series"}, {"type", "nominal"}})}})}}));
  }
  layers.push(Json::object({{"mark", mark}, {"encoding", line_encoding}}));
  Json spec = base(chart.title, chart.subtitle);
  spec.set("data", Json::object({{"values", chart.rows}}));
  if (!faceted) {
    spec.set("width", "container");
    spec.set("height", 280);
    spec.set("layer", layers);
    return spec;
  }
  Json facet = Json::object();
  if (columns) {
    facet.set("column", Json::object({{"field", "split"}, {"type", "nominal"}, {"title", nullptr},
                                      {"sort", stringArray(chart.splits)},
                                      {"header", Json::object({{"labelFontSize", 12}, {"labelFontWeight", "bold"}})}}));
  }
  if (rows) {
    facet.set("row", Json::object({{"field", "row"}, {"type", "nominal"}, {"title", chart.row_title},
                                   {"sort", stringArray(chart.row_order)},
                                   {"header", Json::object({{"labelFontSize", 11}, {"labelAngle", 0}, {"labelAlign", "left"}})}}));
  }
  spec.set("facet", facet);
  spec.set("spec", Json::object({{"width", 300}, {"height", rows ? 180 : 260}, {"layer", layers}}));
  spec.set("resolve", Json::object({{"scale", Json::object({{"y", "shared"}})}}));
  spec.set("usermeta", fitWidth(columns ? static_cast<int>(chart.splits.size()) : 1));
  return spec;
}

Json errorBarSpec(const ErrorBarChart& chart) {
  Json x = Json::object({{"field", "x"}, {"title", chart.x_title}});
  if (chart.numeric_x) {
    x.set("type", "quantitative");
    Json scale = Json::object({{"zero", false}, {"nice", false}, {"padding", 24}});
    if (chart.log_x) scale.set("type", "log");
    x.set("scale", scale);
    Json axis = Json::object({{"format", "~g"}, {"labelOverlap", "greedy"}, {"grid", false}});
    // A log axis ticks the sweep's own values (its default ticks crowd: "0.10.2").
    if (chart.log_x) axis.set("values", numberArray(chart.x_order));
    x.set("axis", axis);
  } else {
    x.set("type", "nominal");
    x.set("sort", stringArray(chart.x_order));
    x.set("axis", Json::object({{"labelAngle", 0}}));
  }
  const Json y_scale = Json::object({{"zero", false}});
  const bool coloured = chart.series.size() > 1;
  // One colour per combination of the other params, in all three layers.
  auto withColor = [&](Json encoding) {
    if (coloured) {
      encoding.set("color", Json::object({{"field", "series"}, {"type", "nominal"}, {"title", chart.series_title},
                                          {"sort", stringArray(chart.series)}}));
    }
    return encoding;
  };
  Json trials_layer = Json::object(
      {{"data", Json::object({{"values", chart.trials}})},
       {"mark", Json::object({{"type", "point"}, {"filled", true}, {"size", 34}, {"opacity", coloured ? 0.35 : 0.45},
                              {"color", "#777"}})},
       {"encoding", withColor(Json::object(
                        {{"x", x},
                         {"y", Json::object({{"field", "value"}, {"type", "quantitative"}, {"scale", y_scale},
                                             {"title", chart.y_title}})},
                         {"tooltip", Json::array({Json::object({{"field", "x"}, {"title", chart.x_title}}),
                                                  Json::object({{"field", "value"}, {"format", ".4f"}})})}}))}});
  Json bars_layer = Json::object(
      {{"mark", Json::object({{"type", "errorbar"}, {"ticks", Json::object({{"size", 12}})}, {"thickness", 1.8},
                              {"color", kAccent}})},
       {"encoding", withColor(Json::object({{"x", x},
                                            {"y", Json::object({{"field", "lo"}, {"type", "quantitative"},
                                                                {"scale", y_scale}, {"title", chart.y_title}})},
                                            {"y2", Json::object({{"field", "hi"}})}}))}});
  Json means_layer = Json::object(
      {{"mark", Json::object({{"type", "line"}, {"color", kAccent}, {"strokeWidth", 2},
                              {"point", Json::object({{"size", 70}, {"filled", true}})}})},
       {"encoding",
        withColor(Json::object({{"x", x},
                                {"y", Json::object({{"field", "mean"}, {"type", "quantitative"}, {"scale", y_scale},
                                                    {"title", chart.y_title}})},
                                {"tooltip", Json::array({Json::object({{"field", "x"}, {"title", chart.x_title}}),
                                                         Json::object({{"field", "mean"}, {"format", ".4f"}}),
                                                         Json::object({{"field", "std"}, {"format", ".4f"}}),
                                                         Json::object({{"field", "n"}, {"title", "trials"}})})}}))}});
  Json spec = base(chart.title, chart.subtitle);
  spec.set("width", "container");
  spec.set("height", 320);
  spec.set("data", Json::object({{"values", chart.points}}));
  spec.set("layer", Json::array({trials_layer, bars_layer, means_layer}));
  return spec;
}

Json confusionSpec(const std::string& title, const std::string& subtitle, const std::vector<std::string>& classes,
                   Json rows) {
  const int cell = classes.size() > 12 ? 28 : 46;
  const Json order = stringArray(classes);
  Json spec = base(title, subtitle);
  spec.set("width", static_cast<int>(classes.size()) * cell);
  spec.set("height", static_cast<int>(classes.size()) * cell);
  spec.set("data", Json::object({{"values", rows}}));
  spec.set("encoding",
           Json::object({{"x", Json::object({{"field", "pred"}, {"type", "ordinal"}, {"sort", order},
                                              {"title", "predicted class"},
                                              {"axis", Json::object({{"labelAngle", -40}, {"orient", "bottom"}})}})},
                         {"y", Json::object({{"field", "true"}, {"type", "ordinal"}, {"sort", order},
                                              {"title", "true class"}})}}));
  Json rect = Json::object(
      {{"mark", Json::object({{"type", "rect"}, {"stroke", "white"}, {"strokeWidth", 1}})},
       {"encoding",
        Json::object({{"color", Json::object({{"condition", Json::object({{"test", "datum.count == 0"}, {"value", "#f8fafc"}})},
                                              {"field", "rate"}, {"type", "quantitative"},
                                              {"scale", Json::object({{"scheme", "blues"}, {"domain", Json::array({0, 1})}})},
                                              {"title", "share of the true class"},
                                              {"legend", Json::object({{"format", ".0%"}, {"gradientLength", 200}})}})},
                      {"tooltip", Json::array({Json::object({{"field", "true"}, {"title", "true"}}),
                                               Json::object({{"field", "pred"}, {"title", "predicted"}}),
                                               Json::object({{"field", "count"}}),
                                               Json::object({{"field", "rate"}, {"format", ".1%"}})})}})}});
  Json text = Json::object(
      {{"transform", Json::array({Json::object({{"filter", "datum.count > 0"}})})},
       {"mark", Json::object({{"type", "text"}, {"fontSize", cell > 30 ? 11 : 8}})},
       {"encoding",
        Json::object({{"text", Json::object({{"field", "count"}, {"type", "quantitative"}})},
                      {"color", Json::object({{"condition", Json::object({{"test", "datum.rate > 0.5"}, {"value", "white"}})},
                                              {"value", "#333"}})}})}});
  spec.set("layer", Json::array({rect, text}));
  return spec;
}

Json historySpec(const std::string& title, const std::string& y_title, Json rows) {
  Json x = Json::object({{"field", "trial"}, {"type", "quantitative"}, {"title", "point, in the order run"},
                         {"axis", Json::object({{"tickMinStep", 1}, {"format", "d"}})}});
  Json y_scale = Json::object({{"zero", false}});
  Json points = Json::object(
      {{"mark", Json::object({{"type", "point"}, {"filled", true}, {"size", 40}, {"opacity", 0.8}})},
       {"encoding",
        Json::object({{"x", x},
                      {"y", Json::object({{"field", "value"}, {"type", "quantitative"}, {"title", y_title},
                                          {"scale", y_scale}})},
                      {"color", Json::object({{"field", "state"}, {"type", "nominal"}, {"title", "trial"},
                                              {"scale", Json::object({{"domain", Json::array({"complete", "pruned"})},
                                                                      {"range", Json::array({kAccent, "#bbbbbb"})}})}})},
                      {"tooltip", Json::array({Json::object({{"field", "trial"}}), Json::object({{"field", "point"}}),
                                               Json::object({{"field", "value"}, {"format", ".4f"}}),
                                               Json::object({{"field", "state"}})})}})}});
  Json best = Json::object(
      {{"mark", Json::object({{"type", "line"}, {"interpolate", "step-after"}, {"color", "#d62728"}, {"strokeWidth", 2}})},
       {"encoding", Json::object({{"x", x}, {"y", Json::object({{"field", "best"}, {"type", "quantitative"}})}})}});
  Json spec = base(title, "each point's objective in the order the points ran (dots: the mean over its trials; grey: "
                          "pruned, at its last epoch) and the best so far (red line)");
  spec.set("width", "container");
  spec.set("height", 280);
  spec.set("data", Json::object({{"values", rows}}));
  spec.set("layer", Json::array({points, best}));
  return spec;
}

Json importanceSpec(const std::string& title, const std::string& subtitle, Json rows) {
  Json spec = base(title, subtitle);
  spec.set("width", "container");
  spec.set("data", Json::object({{"values", rows}}));
  spec.set("mark", Json::object({{"type", "bar"}, {"color", kAccent}, {"cornerRadiusEnd", 2}}));
  spec.set("encoding",
           Json::object({{"y", Json::object({{"field", "param"}, {"type", "nominal"}, {"sort", "-x"}, {"title", "param"}})},
                         {"x", Json::object({{"field", "importance"}, {"type", "quantitative"}, {"title", "importance"},
                                             {"axis", Json::object({{"format", ".0%"}})}})},
                         {"tooltip", Json::array({Json::object({{"field", "param"}}),
                                                  Json::object({{"field", "importance"}, {"format", ".1%"}})})}}));
  return spec;
}

Json parallelSpec(const std::string& title, const std::string& objective, const std::vector<std::string>& axes,
                  Json rows, Json ticks) {
  Json x = Json::object({{"field", "axis"}, {"type", "nominal"}, {"sort", stringArray(axes)}, {"title", nullptr},
                         {"axis", Json::object({{"labelAngle", 0}, {"orient", "top"}, {"domain", false}})}});
  Json y = Json::object({{"field", "y"}, {"type", "quantitative"}, {"axis", nullptr},
                         {"scale", Json::object({{"domain", Json::array({0, 1})}})}});
  Json rules = Json::object({{"data", Json::object({{"values", ticks}})},
                             {"mark", Json::object({{"type", "rule"}, {"color", "#cccccc"}})},
                             {"encoding", Json::object({{"x", x}})}});
  Json lines = Json::object(
      {{"data", Json::object({{"values", rows}})},
       {"mark", Json::object({{"type", "line"}, {"opacity", 0.7}, {"strokeWidth", 1.5}})},
       {"encoding",
        Json::object({{"x", x},
                      {"y", y},
                      {"detail", Json::object({{"field", "point"}, {"type", "nominal"}})},
                      {"color", Json::object({{"field", "objective"}, {"type", "quantitative"}, {"title", objective},
                                              {"scale", Json::object({{"scheme", "viridis"}})}})},
                      {"tooltip", Json::array({Json::object({{"field", "point"}}), Json::object({{"field", "axis"}}),
                                               Json::object({{"field", "label"}, {"title", "value"}}),
                                               Json::object({{"field", "objective"}, {"format", ".4f"}})})}})}});
  Json labels = Json::object({{"data", Json::object({{"values", ticks}})},
                              {"mark", Json::object({{"type", "text"}, {"align", "left"}, {"dx", 4}, {"fontSize", 10},
                                                     {"color", "#5f6b7a"}})},
                              {"encoding", Json::object({{"x", x}, {"y", y}, {"text", Json::object({{"field", "label"}})}})}});
  Json spec = base(title, "one line a point through its params and its objective (colour); each axis from its smallest "
                          "value (bottom) to its largest");
  spec.set("width", "container");
  spec.set("height", 320);
  spec.set("layer", Json::array({rules, lines, labels}));
  return spec;
}

Json slicesSpec(const std::string& title, const std::string& objective, const std::vector<SlicePanel>& panels) {
  constexpr size_t kMaxTickedValues = 12;
  Json charts = Json::array();
  for (const SlicePanel& panel : panels) {
    Json x = Json::object({{"field", "value"}, {"type", panel.numeric ? "quantitative" : "nominal"}, {"title", panel.param}});
    if (panel.numeric) {
      x.set("scale", Json::object({{"type", panel.log ? "log" : "linear"}, {"zero", false}, {"nice", false},
                                   {"padding", 16}}));
      Json axis = Json::object({{"format", "~g"}, {"labelOverlap", "greedy"}, {"grid", false}});
      // Ticks at the values the sweep ran (a log axis's own ticks crowd, "0.10.2").
      if (panel.values.size() <= kMaxTickedValues) axis.set("values", numberArray(panel.values));
      x.set("axis", axis);
    } else {
      x.set("axis", Json::object({{"labelAngle", 0}, {"labelOverlap", "greedy"}}));
    }
    charts.push(Json::object(
        {{"width", 220},
         {"height", 200},
         {"data", Json::object({{"values", panel.rows}})},
         {"mark", Json::object({{"type", "point"}, {"filled", true}, {"size", 50}, {"color", kAccent}})},
         {"encoding",
          Json::object({{"x", x},
                        {"y", Json::object({{"field", "objective"}, {"type", "quantitative"}, {"title", objective},
                                            {"scale", Json::object({{"zero", false}})}})},
                        {"tooltip", Json::array({Json::object({{"field", "point"}}),
                                                 Json::object({{"field", "objective"}, {"format", ".4f"}})})}})}}));
  }
  const int columns = std::min(3, static_cast<int>(panels.size()));
  Json spec = base(title, "each point's objective (the mean over its trials) against each param it varies");
  spec.set("concat", charts);
  spec.set("columns", columns);
  spec.set("usermeta", fitWidth(columns));
  return spec;
}

Json histogramSpec(const std::string& title, const std::vector<std::string>& params, Json rows) {
  Json inner = Json::object(
      {{"width", 230},
       {"height", 120},
       {"mark", Json::object({{"type", "bar"}, {"color", kAccent}})},
       {"encoding", Json::object({{"x", Json::object({{"field", "lo"}, {"type", "quantitative"},
                                                     {"bin", Json::object({{"binned", true}})}, {"title", "weight"}})},
                                  {"x2", Json::object({{"field", "hi"}})},
                                  {"y", Json::object({{"field", "count"}, {"type", "quantitative"}, {"title", "count"}})},
                                  {"tooltip", Json::array({Json::object({{"field", "lo"}, {"format", ".3f"}}),
                                                           Json::object({{"field", "hi"}, {"format", ".3f"}}),
                                                           Json::object({{"field", "count"}})})}})}});
  Json spec = base(title, "");
  spec.set("data", Json::object({{"values", rows}}));
  spec.set("facet", Json::object({{"field", "param"}, {"type", "nominal"}, {"title", nullptr}, {"sort", stringArray(params)}}));
  const int columns = std::min(3, static_cast<int>(params.size()));
  spec.set("columns", columns);
  spec.set("spec", inner);
  spec.set("usermeta", fitWidth(columns));
  spec.set("resolve", Json::object({{"scale", Json::object({{"x", "independent"}, {"y", "independent"}})}}));
  return spec;
}

Json timingsSpec(const std::string& title, const std::vector<std::string>& points, Json rows) {
  Json spec = base(title, "mean seconds per trial (training and evaluation)");
  spec.set("width", "container");
  spec.set("data", Json::object({{"values", rows}}));
  spec.set("mark", Json::object({{"type", "bar"}, {"color", kAccent}}));
  spec.set("encoding",
           Json::object({{"y", Json::object({{"field", "point"}, {"type", "nominal"}, {"sort", stringArray(points)},
                                             {"title", nullptr}, {"axis", Json::object({{"labelLimit", 320}})}})},
                         {"x", Json::object({{"field", "seconds"}, {"type", "quantitative"}, {"title", "seconds per trial"}})},
                         {"tooltip", Json::array({Json::object({{"field", "point"}}),
                                                  Json::object({{"field", "seconds"}, {"format", ".2f"}}),
                                                  Json::object({{"field", "epochs"}, {"format", ".1f"}}),
                                                  Json::object({{"field", "per_epoch"}, {"title", "seconds per epoch"},
                                                                {"format", ".2f"}})})}}));
  return spec;
}

}  // namespace nnspec::rt
