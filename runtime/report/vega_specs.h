#pragma once
// The Vega-Lite specs of a report's plots, data inlined. Each takes plain rows (JSON
// objects) and titles, and returns a complete spec that vega-embed renders.

#include <string>
#include <vector>

#include "runtime/report/json.h"

namespace nnspec::rt {

// Readable axis titles: "val.accuracy" -> "validation accuracy", "train.loss" -> "training loss".
std::string metricTitle(const std::string& metric);

// Learning curves of a sweep's points. Every varying param gets its own channel: colour
// for the first, line dash for the combination of the others (a handful of values), or
// small multiples (one row a combination) when there are more; several splits (training,
// validation) are side-by-side columns. A point's folds and replicates are its mean line
// with a band of one standard deviation.
struct CurveChart {
  std::string title;
  std::string subtitle;
  std::string y_title;
  std::string color_title;                // the legend's title: the coloured param or "point"
  std::vector<std::string> color_order;   // legend order
  bool color_numbers = false;             // colour is a number on a gradient (many sampled values)
  bool color_log = false;                 // ... on a log scale
  std::string dash_title;                 // the dashed params ("" : no dash encoding)
  std::vector<std::string> dash_order;
  std::string row_title;                  // the params of the rows of small multiples ("": none)
  std::vector<std::string> row_order;
  std::vector<std::string> splits;        // "training", "validation", ...: a column each when more than one
  bool band = false;                      // rows carry lo/hi: draw the band
  bool show_points = false;
  bool legend = true;                     // off for many points (the tooltip names them)
  Json rows = Json::array();              // {series, color, dash, row, split, metric, epoch, value, lo, hi, n}
};
Json learningCurveSpec(const CurveChart& chart);

struct ErrorBarChart {
  std::string title;
  std::string subtitle;
  std::string x_title;
  std::string y_title;
  bool numeric_x = true;
  bool log_x = false;
  std::vector<std::string> x_order;  // the values in order: nominal x's order, a log axis's ticks
  std::string series_title;          // the other swept params, when they vary too
  std::vector<std::string> series;   // one line per value; empty: one line
  Json points = Json::array();       // {series, x, mean, std, lo, hi, n}
  Json trials = Json::array();       // {series, x, value}: one per finished trial
};
Json errorBarSpec(const ErrorBarChart& chart);

// rows: {true, pred, count, rate}; rate is the share of the true class.
Json confusionSpec(const std::string& title, const std::string& subtitle, const std::vector<std::string>& classes,
                   Json rows);

// rows: {trial, value, state, best}: state "complete" or "pruned"; best so far.
Json historySpec(const std::string& title, const std::string& y_title, Json rows);

// rows: {param, importance}
Json importanceSpec(const std::string& title, const std::string& subtitle, Json rows);
// Parallel coordinates: rows {point, axis, order, y (0..1 on its axis), label, objective},
// one line per point across the axes in `axes` order, coloured by the objective; `ticks`
// rows {axis, y, label} print each axis's values.
Json parallelSpec(const std::string& title, const std::string& objective, const std::vector<std::string>& axes,
                  Json rows, Json ticks);
// Slice plots: the objective against each param, one panel a param; rows {value,
// objective, point}, values numbers (on a log axis when `log`) or text.
struct SlicePanel {
  std::string param;
  bool numeric = false;
  bool log = false;
  Json rows;
  std::vector<std::string> values;  // the distinct values, in order: the ticks of a numeric axis
};
Json slicesSpec(const std::string& title, const std::string& objective, const std::vector<SlicePanel>& panels);

// rows: {param, lo, hi, count}: one facet per param.
Json histogramSpec(const std::string& title, const std::vector<std::string>& params, Json rows);

// rows: {point, seconds, epochs, per_epoch}
Json timingsSpec(const std::string& title, const std::vector<std::string>& points, Json rows);

}  // namespace nnspec::rt
