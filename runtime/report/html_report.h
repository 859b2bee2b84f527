#pragma once
// `nnspec report`: one self-contained HTML file from a study in the store. A summary
// header, then one section per item of the spec's `report` block (ranked tables, best
// points, learning curves, error bars, confusion matrices, misclassified examples,
// weights, filters, feature maps, histograms, optimization history, param importance,
// timings, the spec). Plots are Vega-Lite specs rendered by vega-embed; the three
// libraries are inlined, and images are embedded PNGs, so the file opens offline.
//
// Items that need data a run did not record (an older store, a regression sweep asked
// for a confusion matrix, ...) say so in their section instead of failing.
//
// When the page has drawn every plot, it writes what happened into
// <pre id="nnspec-status">: "plot ID ok|failed MARKS", "size ID DRAWN_WIDTH ELEMENT_WIDTH",
// "legends ID COUNT TITLE..." (spaces in a title as _), "table N SCROLL_WIDTH VISIBLE_WIDTH",
// "images LOADED TOTAL" and "errors N" lines followed by the console errors, for
// headless-browser tests.

#include <string>

#include "runtime/report/study_data.h"
#include "runtime/store/store.h"

namespace nnspec::rt {

struct PlotLibrary {
  std::string vega;        // build/vega.min.js
  std::string vega_lite;   // build/vega-lite.min.js
  std::string vega_embed;  // build/vega-embed.min.js
  std::string versions;    // e.g. "vega 6.4.0, vega-lite 6.5.0, vega-embed 7.3.0"
};

// Reads the libraries from data_dir/npm/{vega,vega-lite,vega-embed} (scripts/setup.sh
// puts them there). Errors name the missing file; the hint says to run the setup.
StoreResult<PlotLibrary> loadPlotLibrary(const std::string& data_dir);

// The HTML text of the report (reads the trials' outputs from `store`).
StoreResult<std::string> renderHtmlReport(Store& store, const StudyData& study, const PlotLibrary& library);

// Writes `text` to `path` (through a temporary file beside it, renamed at the end).
// Errors name the path and say how to fix it.
StoreResult<void> writeTextFile(const std::string& path, const std::string& text);

// Where `nnspec run` writes the report of a store: "specs/x.store.sqlite" ->
// "specs/x.report.html", "out/s.sqlite" -> "out/s.report.html".
std::string defaultReportPath(const std::string& store_path);

}  // namespace nnspec::rt
