#include "runtime/report/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <unistd.h>

#include "runtime/report/json.h"
#include "runtime/report/outputs.h"
#include "runtime/report/png.h"
#include "runtime/report/vega_specs.h"

namespace nnspec::rt {
namespace {

namespace fs = std::filesystem;

// Report items drawn when a store has no record of the spec's report block.
const std::vector<std::string> kDefaultItems = {"summary", "table", "best", "curves", "parallel", "slices",
                                                "confusion", "misclassified", "weights", "filters", "feature_maps",
                                                "histograms", "history", "importance", "timings"};
constexpr size_t kMaxTableRows = 50;
constexpr size_t kMaxLegendSeries = 12;
constexpr size_t kMaxCardDetail = 90;
constexpr size_t kMaxTimingBars = 40;
constexpr int64_t kMaxWeightImages = 100;
constexpr int kImportanceBins = 5;

std::string escapeHtml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A JavaScript library inlined into a <script>: nothing in it may close the element.
std::string inlineScript(const std::string& code) {
  std::string out = code;
  for (size_t at = out.find("</script"); at != std::string::npos; at = out.find("</script", at + 2)) {
    out.replace(at, 2, "<\\/");
  }
  return out;
}

std::string formatSeconds(double seconds) {
  if (seconds < 90) return fmt::format("{:.1f} s", seconds);
  if (seconds < 5400) return fmt::format("{:.1f} min", seconds / 60);
  return fmt::format("{:.1f} h", seconds / 3600);
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "–";
  return fmt::format("{:.4f}", value);
}

std::string formatMeanStd(const std::vector<double>& values) {
  if (values.empty()) return "–";
  if (values.size() == 1) return formatValue(values[0]);
  return fmt::format("{:.4f} ± {:.4f}", meanOf(values), stddevOf(values));
}

std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

// "[a, b]" -> {"a", "b"}; "a" -> {"a"}; quotes dropped.
std::vector<std::string> parseList(std::string text) {
  std::vector<std::string> out;
  if (!text.empty() && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t first = item.find_first_not_of(" \"");
    const size_t last = item.find_last_not_of(" \"");
    if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
  }
  return out;
}

std::optional<double> numberOf(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::string paramOf(const std::vector<Param>& params, const std::string& name) {
  for (const auto& param : params) {
    if (param.name == name) return param.value;
  }
  return "";
}

std::string readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

// "version": "x.y.z" of a package.json.
std::string packageVersion(const std::string& json) {
  const size_t key = json.find("\"version\"");
  if (key == std::string::npos) return "?";
  const size_t open = json.find('"', json.find(':', key));
  const size_t close = json.find('"', open + 1);
  return open == std::string::npos || close == std::string::npos ? "?" : json.substr(open + 1, close - open - 1);
}

constexpr const char* kStyle = R"css(
:root { --ink:#1d2733; --muted:#5f6b7a; --line:#e3e7ed; --accent:#3b6fb6; --bg:#f4f6f9; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; color:var(--ink); background:var(--bg); }
header.top { background:linear-gradient(120deg,#1c365c,#3b6fb6); color:#fff; padding:26px 40px 54px; }
header.top h1 { margin:0 0 4px; font-size:27px; font-weight:650; letter-spacing:.01em; }
header.top .subtitle { opacity:.85; font-size:13px; }
header.top code { background:rgba(255,255,255,.14); padding:1px 6px; border-radius:4px; }
header.top .headline { margin:10px 0 0; font-size:15px; line-height:1.45; }
header.top .headline b { font-weight:650; }
header.top .headline .sep { opacity:.6; padding:0 4px; }
main { max-width:1220px; margin:0 auto; padding:0 32px 60px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(190px,1fr)); gap:14px; margin:-36px 0 16px; }
.card { background:#fff; border-radius:10px; padding:12px 16px; box-shadow:0 1px 4px rgba(20,30,50,.12); }
.card .label { color:var(--muted); font-size:11px; text-transform:uppercase; letter-spacing:.06em; }
.card .value { font-size:22px; font-weight:650; }
.card .detail { color:var(--muted); font-size:12px; overflow-wrap:anywhere; }
nav.toc { margin:6px 0 4px; font-size:13px; }
nav.toc a { display:inline-block; margin:0 6px 6px 0; padding:3px 10px; border-radius:14px; background:#fff; color:var(--accent); text-decoration:none; border:1px solid var(--line); }
section.item { background:#fff; border-radius:10px; padding:16px 24px 20px; margin:16px 0; box-shadow:0 1px 3px rgba(20,30,50,.08); }
section.item > h2 { margin:0 0 10px; font-size:19px; padding-bottom:8px; border-bottom:1px solid var(--line); }
section.item > h2 .arg { color:var(--muted); font-weight:400; font-size:14px; }
h3 { font-size:15px; margin:18px 0 6px; color:#2a3a4f; }
h3 .muted, .muted { color:var(--muted); font-weight:400; }
table.ranked { border-collapse:collapse; width:100%; font-size:13px; font-variant-numeric:tabular-nums; }
table.ranked th { text-align:left; color:var(--muted); font-weight:600; border-bottom:2px solid var(--line); padding:6px 8px; }
table.ranked td { padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
table.ranked td.num, table.ranked th.num { text-align:right; white-space:nowrap; }
table.ranked th.group { text-align:center; border-bottom:1px solid var(--line); color:#2a3a4f; padding-bottom:2px; }
table.ranked th.metric { white-space:normal; min-width:52px; }
table.ranked th.objective, table.ranked td.objective { background:#f5f8fd; }
table.ranked tr.best td { background:#eaf2ff; font-weight:600; }
table.ranked td.status { color:#b03a2e; font-size:12px; }
table.ranked td.point { min-width:120px; overflow-wrap:anywhere; }
table.ranked .sd { display:block; color:var(--muted); font-size:11px; font-weight:400; }
table.compact { font-size:12px; }
table.ranked.more { width:auto; min-width:50%; }
table.compact th, table.compact td { padding:4px 5px; }
.table-wrap { overflow-x:auto; }
.note { color:var(--muted); background:#f8f9fb; border-left:3px solid #c5cfdc; padding:8px 12px; margin:8px 0; }
.plot { width:100%; margin:6px 0 14px; overflow-x:auto; }
.gallery { display:grid; grid-template-columns:repeat(auto-fill,minmax(100px,1fr)); gap:12px 10px; margin:8px 0 14px; }
.gallery.small { grid-template-columns:repeat(auto-fill,minmax(70px,1fr)); }
figure { margin:0; text-align:center; font-size:11.5px; color:var(--muted); line-height:1.3; }
figure img { width:84px; height:84px; image-rendering:pixelated; border:1px solid var(--line); background:#fff; display:block; margin:0 auto 3px; }
.gallery.small figure img { width:60px; height:60px; }
figure .true { color:#1e7b34; font-weight:600; }
figure .pred { color:#b03a2e; font-weight:600; }
.fmap-row { display:flex; align-items:flex-start; gap:8px; margin:6px 0 12px; flex-wrap:wrap; }
.fmap-row figure img { width:72px; height:72px; }
.fmap-row figure.input img { border:2px solid var(--accent); }
.filter-grid img { height:auto; }
.kv { display:grid; grid-template-columns:max-content 1fr; gap:3px 16px; font-size:13px; margin:6px 0; }
.kv div:nth-child(odd) { color:var(--muted); }
.best-card { border:1px solid var(--line); border-radius:8px; padding:10px 14px; margin:8px 0; }
.best-card .point { font-weight:650; font-size:15px; overflow-wrap:anywhere; }
details summary { cursor:pointer; font-weight:600; color:#2a3a4f; margin:14px 0 6px; }
pre.spec { background:#111a24; color:#dbe4ee; padding:14px 16px; border-radius:8px; overflow:auto; font-size:12.5px; line-height:1.45; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:24px; }
)css";

// Runs before the libraries: records uncaught errors and console.error calls.
constexpr const char* kErrorHook = R"js(
window.nnspecErrors = [];
window.addEventListener('error', function (e) { window.nnspecErrors.push(String(e.message || e)); });
window.addEventListener('unhandledrejection', function (e) { window.nnspecErrors.push(String(e.reason)); });
(function () {
  var original = console.error;
  console.error = function () {
    window.nnspecErrors.push(Array.prototype.map.call(arguments, String).join(' '));
    return original.apply(console, arguments);
  };
})();
)js";

// Draws every plot, then writes the status lines (see html_report.h).
constexpr const char* kRenderScript = R"js(
(function () {
  var plots = JSON.parse(document.getElementById('nnspec-plots').textContent);
  // Small multiples and concatenated panels (usermeta.nnspecFit) cannot take the
  // container's width in Vega-Lite: draw them once, measure, and draw again with cells
  // that make the whole plot as wide as its element.
  function setCellWidth(spec, width) {
    if (spec.spec) spec.spec.width = width;
    (spec.concat || spec.hconcat || []).forEach(function (view) { view.width = width; });
  }
  function draw(element, spec) {
    var options = {renderer: 'svg', actions: false};
    var fit = spec.usermeta && spec.usermeta.nnspecFit;
    if (!fit) return vegaEmbed(element, spec, options);
    var available = element.clientWidth;
    var cell = Math.max(120, Math.floor(available / fit.columns) - 90);
    setCellWidth(spec, cell);
    return vegaEmbed(element, spec, options).then(function (result) {
      var svg = element.querySelector('svg');
      var drawn = svg ? svg.getBoundingClientRect().width : available;
      var better = Math.max(120, cell + Math.floor((available - drawn) / fit.columns) - 1);
      if (Math.abs(better - cell) < 2) return result;
      result.finalize();
      setCellWidth(spec, better);
      return vegaEmbed(element, spec, options);
    });
  }
  var jobs = plots.map(function (plot) {
    var element = document.getElementById(plot.id);
    return draw(element, plot.spec).then(function () {
      var svg = element.querySelector('svg');
      var marks = svg ? svg.querySelectorAll('g.role-mark > *').length : 0;
      return plot.id + (marks > 0 ? ' ok ' : ' failed ') + marks;
    }, function (error) {
      element.innerHTML = '<p class="note">This plot could not be drawn: ' + String(error).replace(/</g, '&lt;') + '</p>';
      window.nnspecErrors.push(plot.id + ': ' + String(error));
      return plot.id + ' failed 0';
    });
  });
  function imagesLoaded() {
    var images = Array.prototype.slice.call(document.images);
    var loaded = images.filter(function (image) { return image.complete && image.naturalWidth > 0; }).length;
    return 'images ' + loaded + ' ' + images.length;
  }
  // How the page laid out: each plot's drawn width beside its element's, its legends'
  // titles, and each table's scroll width beside its visible width.
  function layoutLines() {
    var lines = [];
    plots.forEach(function (plot) {
      var element = document.getElementById(plot.id);
      var svg = element.querySelector('svg');
      var drawn = svg ? Math.round(svg.getBoundingClientRect().width) : 0;
      lines.push('size ' + plot.id + ' ' + drawn + ' ' + element.clientWidth);
      var titles = Array.prototype.map.call(element.querySelectorAll('g.role-legend-title text'), function (title) {
        return title.textContent.replace(/\s+/g, '_');
      });
      lines.push('legends ' + plot.id + ' ' + titles.length + (titles.length ? ' ' + titles.join(' ') : ''));
    });
    Array.prototype.forEach.call(document.querySelectorAll('.table-wrap'), function (wrap, index) {
      lines.push('table ' + (index + 1) + ' ' + wrap.scrollWidth + ' ' + wrap.clientWidth);
    });
    return lines;
  }
  Promise.all(jobs).then(function (lines) {
    var text = lines.map(function (line) { return 'plot ' + line; }).concat(layoutLines()).join('\n');
    text += (text ? '\n' : '') + imagesLoaded() + '\nerrors ' + window.nnspecErrors.length;
    window.nnspecErrors.forEach(function (error) { text += '\n' + error.replace(/\n/g, ' '); });
    document.getElementById('nnspec-status').textContent = text;
    document.body.setAttribute('data-rendered', 'true');
  });
})();
)js";

struct Item {
  std::string name;
  std::vector<Param> args;
  std::string arg(const std::string& key, const std::string& fallback) const {
    for (const auto& entry : args) {
      if (entry.name == key) return entry.value;
    }
    return fallback;
  }
};

class ReportBuilder {
 public:
  ReportBuilder(Store& store, const StudyData& study, const PlotLibrary& library)
      : store_(store), study_(study), library_(library) {}

  StoreResult<std::string> build() {
    std::vector<Item> items;
    if (study_.info && !study_.info->report.empty()) {
      for (const auto& row : study_.info->report) items.push_back({row.name, row.args});
    } else {
      for (const auto& name : kDefaultItems) items.push_back({name, {}});
    }
    // The summary header and the ranked tables always come first.
    std::string body;
    body += header();
    std::string toc;
    std::string sections;
    auto add = [&](const std::string& id, const std::string& title, const std::string& html) {
      toc += fmt::format("<a href=\"#{}\">{}</a>", id, escapeHtml(title));
      sections += fmt::format("<section class=\"item\" id=\"{}\">\n{}</section>\n", id, html);
    };
    const bool has_table = std::any_of(items.begin(), items.end(), [](const Item& item) { return item.name == "table"; });
    if (!has_table) add("table", "Ranked results", tableSection());
    for (size_t index = 0; index < items.size(); ++index) {
      const Item& item = items[index];
      const std::string id = fmt::format("{}-{}", slug(item.name), index + 1);
      std::string html;
      std::string title;
      if (!renderItem(item, &title, &html)) continue;
      if (!error_.message.empty()) return error_;
      add(id, title, html);
    }
    if (!error_.message.empty()) return error_;
    body += "<nav class=\"toc\">" + toc + "</nav>\n" + sections;
    body += fmt::format("<footer>Made by nnspec from <code>{}</code>. Plots: {} (inlined; the file needs no network).</footer>\n",
                        escapeHtml(study_.store_path), escapeHtml(library_.versions));
    return page(body);
  }

 private:
  // ---- page -------------------------------------------------------------------------

  std::string page(const std::string& body) const {
    Json plots = Json::array();
    for (const auto& [id, spec] : plots_) plots.push(Json::object({{"id", id}, {"spec", spec}}));
    std::string html;
    html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    html += fmt::format("<title>{} — nnspec report</title>\n", escapeHtml(study_.study.name));
    html += fmt::format("<style>{}</style>\n", kStyle);
    html += fmt::format("<script>{}</script>\n", kErrorHook);
    html += fmt::format("<script>/* vega */\n{}\n</script>\n", inlineScript(library_.vega));
    html += fmt::format("<script>/* vega-lite */\n{}\n</script>\n", inlineScript(library_.vega_lite));
    html += fmt::format("<script>/* vega-embed */\n{}\n</script>\n", inlineScript(library_.vega_embed));
    html += "</head>\n<body>\n" + body + "</main>\n";
    html += "<pre id=\"nnspec-status\" hidden></pre>\n";
    html += fmt::format("<script type=\"application/json\" id=\"nnspec-plots\">{}</script>\n", plots.dump());
    html += fmt::format("<script>{}</script>\n", kRenderScript);
    html += "</body>\n</html>\n";
    return html;
  }

  std::string header() const {
    std::string html = "<header class=\"top\">\n";
    html += fmt::format("<h1>{}</h1>\n", escapeHtml(study_.study.name));
    std::string where;
    if (study_.info && !study_.info->spec_path.empty()) {
      where = fmt::format("spec <code>{}</code> · ", escapeHtml(study_.info->spec_path));
    }
    std::string overrides;
    if (study_.info) {
      for (const auto& text : study_.info->overrides) overrides += fmt::format(" <code>--set {}</code>", escapeHtml(text));
    }
    html += fmt::format("<div class=\"subtitle\">nnspec report · {}store <code>{}</code> · study {} started {}{}</div>\n",
                        where, escapeHtml(study_.store_path), study_.study.id, escapeHtml(study_.study.created_at),
                        overrides);
    for (const auto& sweep : study_.sweeps) html += headline(sweep);
    html += "</header>\n<main>\n<div class=\"cards\">\n";
    const TrialCounts& counts = study_.counts;
    std::string detail = fmt::format("{} finished", counts.finished);
    if (counts.failed > 0) detail += fmt::format(", {} failed", counts.failed);
    if (counts.pruned > 0) detail += fmt::format(", {} pruned", counts.pruned);
    if (counts.timed_out > 0) detail += fmt::format(", {} timed out", counts.timed_out);
    if (counts.running > 0) detail += fmt::format(", {} unfinished", counts.running);
    html += card("trials", std::to_string(counts.total()), detail);
    html += card("training time", formatSeconds(study_.seconds), fmt::format("{} sweep{}", study_.sweeps.size(),
                                                                             study_.sweeps.size() == 1 ? "" : "s"));
    for (const auto& sweep : study_.sweeps) {
      const PointSummary* best = sweep.best();
      if (best == nullptr) continue;
      const auto& values = best->values.at(sweep.rank_metric);
      std::string detail = fmt::format("{} · {}", metricTitle(sweep.rank_metric), best->label());
      if (detail.size() > kMaxCardDetail) detail = detail.substr(0, kMaxCardDetail - 3) + "...";
      html += card(fmt::format("best of {}", sweep.label()), formatMeanStd(values), detail);
    }
    html += "</div>\n";
    if (!study_.info) {
      html += "<p class=\"note\">This store was written by an nnspec that did not keep the spec with its results: "
              "the report shows what the trials hold (no report block, objectives or class names).</p>\n";
    }
    if (!study_.other_studies.empty()) {
      html += fmt::format("<p class=\"note\">The store holds {} other stud{} (another spec or other --set options); "
                          "choose one with <code>nnspec report STORE --study NAME</code>.</p>\n",
                          study_.other_studies.size(), study_.other_studies.size() == 1 ? "y" : "ies");
    }
    return html;
  }

  // One line a sweep: what selects (or, without `select`, what ranks), the best point
  // with its params and objective, and its figure on the test split when there is one.
  std::string headline(const SweepData& sweep) const {
    const std::string sep = "<span class=\"sep\">·</span>";
    std::string html = fmt::format("<p class=\"headline\" id=\"headline-{}\">sweep <b>{}</b> {} ", slug(sweep.label()),
                                   escapeHtml(sweep.label()), sep);
    const std::string direction = sweep.maximize ? "max" : "min";
    const bool one_point = sweep.points.size() == 1;
    if (one_point) {
      html += "one point, nothing to select ";
    } else if (!sweep.info.objective.empty()) {
      html += fmt::format("best by {} ({} {}) ", escapeHtml(metricTitle(sweep.rank_metric)), direction,
                          escapeHtml(sweep.rank_metric));
    } else {
      html += fmt::format("no <code>select</code> in the sweep: ranked by {} ({} {}) ",
                          escapeHtml(metricTitle(sweep.rank_metric)), direction, escapeHtml(sweep.rank_metric));
    }
    const PointSummary* best = sweep.best();
    if (best == nullptr) return html + sep + " no point finished</p>\n";
    std::string params;
    for (const auto& param : best->params) {
      params += fmt::format("{}{}={}", params.empty() ? "" : ", ", param.name, readableNumbers(param.value));
    }
    html += fmt::format("{} <b>{}</b> {} {} <b>{}</b>", sep, escapeHtml(params.empty() ? best->label() : params), sep,
                        escapeHtml(metricTitle(sweep.rank_metric)), escapeHtml(formatMeanStd(best->values.at(sweep.rank_metric))));
    const std::string test = testFigure(sweep, *best);
    html += " " + sep + " " + escapeHtml(test.empty() ? "no test split" : test);
    return html + "</p>\n";
  }

  // "test accuracy 0.8134 ± 0.0053" of a sweep's best point: its refit's when the sweep
  // refits, else its trials'; accuracy, else loss, else the first test metric. "" when none.
  std::string testFigure(const SweepData& sweep, const PointSummary& best) const {
    std::vector<std::string> names;
    std::map<std::string, std::vector<double>> values;
    if (sweep.refit) {
      for (const auto& [name, value] : study_.trials[*sweep.refit].row.final_metrics) values[name] = {value};
    } else {
      values.insert(best.values.begin(), best.values.end());
    }
    for (const auto& [name, list] : values) {
      if (name.rfind("test.", 0) == 0 && name != "test.error" && !list.empty()) names.push_back(name);
    }
    if (names.empty()) return "";
    std::string chosen = names.front();
    for (const char* preferred : {"test.loss", "test.accuracy"}) {
      if (values.count(preferred) != 0) chosen = preferred;
    }
    return fmt::format("{} {}{}", metricTitle(chosen), formatMeanStd(values.at(chosen)),
                       sweep.refit ? " (refit on all training data)" : "");
  }

  static std::string card(const std::string& label, const std::string& value, const std::string& detail) {
    return fmt::format("<div class=\"card\"><div class=\"label\">{}</div><div class=\"value\">{}</div>"
                       "<div class=\"detail\">{}</div></div>\n",
                       escapeHtml(label), escapeHtml(value), escapeHtml(detail));
  }

  std::string plot(const Json& spec) {
    const std::string id = fmt::format("plot-{}", plots_.size() + 1);
    plots_.emplace_back(id, spec);
    return fmt::format("<div class=\"plot\" id=\"{}\"></div>\n", id);
  }

  static std::string note(const std::string& text) { return "<p class=\"note\">" + escapeHtml(text) + "</p>\n"; }

  static std::string sweepHeading(const SweepData& sweep, const std::string& extra = "") {
    std::string plan = sweep.info.method;
    if (!sweep.info.axes.empty()) {
      plan += "(";
      for (size_t k = 0; k < sweep.info.axes.size(); ++k) plan += (k ? ", " : "") + sweep.info.axes[k];
      plan += ")";
    }
    return fmt::format("<h3>sweep {} <span class=\"muted\">{}{}</span></h3>\n", escapeHtml(sweep.label()),
                       escapeHtml(plan), extra.empty() ? "" : " · " + escapeHtml(extra));
  }

  // ---- items ------------------------------------------------------------------------

  bool renderItem(const Item& item, std::string* title, std::string* html) {
    const std::string& name = item.name;
    if (name == "table") {
      *title = "Ranked results";
      *html = tableSection();
    } else if (name == "best") {
      *title = "Best points";
      *html = bestSection();
    } else if (name == "summary") {
      *title = "Study summary";
      *html = summarySection();
    } else if (name == "timings") {
      *title = "Timings";
      *html = timingsSection();
    } else if (name == "curves") {
      *title = "Learning curves";
      *html = curvesSection(item);
    } else if (name == "errorbar") {
      *title = fmt::format("{} vs {}", metricTitle(item.arg("y", "?")), item.arg("x", "?"));
      *html = errorBarSection(item);
    } else if (name == "confusion") {
      *title = "Confusion matrix";
      *html = confusionSection(item);
    } else if (name == "misclassified") {
      *title = "Misclassified examples";
      *html = misclassifiedSection(item);
    } else if (name == "weights") {
      *title = "First-layer weights";
      *html = weightsSection(item);
    } else if (name == "filters") {
      *title = "Convolution filters";
      *html = filtersSection(item);
    } else if (name == "feature_maps") {
      *title = "Feature maps";
      *html = featureMapsSection(item);
    } else if (name == "histograms") {
      *title = "Weight histograms";
      *html = histogramsSection();
    } else if (name == "history") {
      *title = "Optimization history";
      *html = historySection();
    } else if (name == "importance") {
      *title = "Param importance";
      *html = importanceSection();
    } else if (name == "parallel") {
      *title = "Parallel coordinates";
      *html = parallelSection();
    } else if (name == "slices") {
      *title = "Slices";
      *html = slicesSection();
    } else {
      *title = name;
      *html = note(fmt::format("the report item '{}' is not known to this nnspec", name));
    }
    std::string args;
    for (const auto& arg : item.args) args += fmt::format("{}{}: {}", args.empty() ? "" : ", ", arg.name, arg.value);
    *html = fmt::format("<h2>{}{}</h2>\n", escapeHtml(*title),
                        args.empty() ? "" : " <span class=\"arg\">" + escapeHtml(item.name + "(" + args + ")") + "</span>") +
            *html;
    return true;
  }

  // The metrics of a sweep's table: the objective first, then the rest of its split, then
  // the other splits (validation, test, training), accuracy and loss before the others.
  static std::vector<std::string> tableMetrics(const SweepData& sweep) {
    auto splitOf = [](const std::string& name) { return name.substr(0, name.find('.')); };
    std::vector<std::string> splits = {splitOf(sweep.rank_metric), "val", "test", "train"};
    for (const auto& name : sweep.metrics) splits.push_back(splitOf(name));
    auto weight = [](const std::string& name) {
      const std::string bare = name.substr(name.find('.') + 1);
      return bare == "accuracy" ? 0 : bare == "loss" ? 1 : 2;
    };
    std::vector<std::string> out = {sweep.rank_metric};
    for (const auto& split : splits) {
      std::vector<std::string> group;
      for (const auto& name : sweep.metrics) {
        if (splitOf(name) != split || name.find(".error") != std::string::npos) continue;
        if (std::find(out.begin(), out.end(), name) == out.end()) group.push_back(name);
      }
      std::stable_sort(group.begin(), group.end(),
                       [&](const std::string& a, const std::string& b) { return weight(a) < weight(b); });
      out.insert(out.end(), group.begin(), group.end());
    }
    return out;
  }

  static std::string meanStdCell(const std::vector<double>& values, bool objective) {
    const std::string kind = objective ? "num objective" : "num";
    if (values.empty()) return fmt::format("<td class=\"{}\">–</td>", kind);
    if (values.size() == 1) return fmt::format("<td class=\"{}\">{}</td>", kind, formatValue(values[0]));
    return fmt::format("<td class=\"{}\">{}<span class=\"sd\">± {:.4f}</span></td>", kind, formatValue(meanOf(values)),
                       stddevOf(values));
  }

  // The ranked table of a sweep, in as many tables as its columns need to fit the page
  // (every column shown): the first has the objective per fold and the first metrics, the
  // next ones the other metrics. Metric headers are grouped by split.
  std::string tableSection() const {
    constexpr size_t kMaxNumberColumns = 10;
    std::string html;
    if (study_.sweeps.empty()) return note("the study has no trials yet");
    for (const auto& sweep : study_.sweeps) {
      std::string extra = fmt::format("ranked by {} {}", sweep.maximize ? "max" : "min", sweep.rank_metric);
      if (sweep.info.folds > 1) extra += fmt::format(" · {}-fold CV", sweep.info.folds);
      if (sweep.info.replicates > 1) extra += fmt::format(" · {} replicates", sweep.info.replicates);
      html += sweepHeading(sweep, extra);
      const std::vector<std::string> metrics = tableMetrics(sweep);
      const size_t folds = sweep.info.folds > 1 && sweep.info.folds <= 10 ? static_cast<size_t>(sweep.info.folds) : 0;
      std::vector<std::vector<std::string>> blocks(1);
      for (const auto& metric : metrics) {
        // A fold's column (one number, no spread) takes about half a metric's width.
        const size_t room = kMaxNumberColumns - (blocks.size() == 1 ? (folds + 1) / 2 : 0);
        if (blocks.back().size() >= room) blocks.emplace_back();
        blocks.back().push_back(metric);
      }
      for (size_t block = 0; block < blocks.size(); ++block) {
        const bool first = block == 0;
        html += rankedTable(sweep, blocks[block], first ? folds : 0, first);
        if (first && blocks.size() > 1) {
          html += "<p class=\"muted\">More metrics of the same points (one table would not fit the page):</p>\n";
        }
      }
      if (sweep.points.size() > kMaxTableRows) {
        html += note(fmt::format("{} more points are left out; `nnspec export` lists them all",
                                 sweep.points.size() - kMaxTableRows));
      }
      if (sweep.refit) {
        const TrialRow& row = study_.trials[*sweep.refit].row;
        std::string metrics_text;
        for (const auto& [name, value] : row.final_metrics) {
          if (name.rfind("test.", 0) == 0 && name != "test.error") metrics_text += fmt::format("  {} {:.4f}", name, value);
        }
        html += note(fmt::format("best point refit on all training data:{}", metrics_text));
      }
    }
    return html;
  }

  std::string rankedTable(const SweepData& sweep, const std::vector<std::string>& columns, size_t folds,
                          bool with_status) const {
    constexpr size_t kCompactColumns = 8;
    const bool compact = columns.size() + folds > kCompactColumns;
    std::string html = fmt::format("<div class=\"table-wrap\"><table class=\"ranked{}{}\"><thead><tr>",
                                   compact ? " compact" : "", with_status ? "" : " more");
    html += "<th class=\"num\" rowspan=\"2\">rank</th><th rowspan=\"2\">point</th>";
    if (folds > 0) {
      html += fmt::format("<th class=\"group\" colspan=\"{}\">{} per fold</th>", folds, escapeHtml(sweep.rank_metric));
    }
    // Group headers: one per run of columns of the same split.
    for (size_t k = 0; k < columns.size();) {
      const std::string split = columns[k].substr(0, columns[k].find('.'));
      size_t span = 0;
      while (k + span < columns.size() && columns[k + span].substr(0, columns[k + span].find('.')) == split) ++span;
      const std::string title = metricTitle(split + ".x");
      html += fmt::format("<th class=\"group\" colspan=\"{}\">{}</th>", span, escapeHtml(title.substr(0, title.find(' '))));
      k += span;
    }
    if (with_status) html += "<th class=\"num\" rowspan=\"2\">trials</th><th class=\"num\" rowspan=\"2\">time</th><th rowspan=\"2\"></th>";
    html += "</tr><tr>";
    for (size_t fold = 0; fold < folds; ++fold) html += fmt::format("<th class=\"num\">{}</th>", fold + 1);
    for (const auto& column : columns) {
      const bool objective = column == sweep.rank_metric;
      // Long names break after an underscore ("precision_" / "weighted"), not inside a word.
      std::string name = escapeHtml(column.substr(column.find('.') + 1));
      for (size_t at = name.find('_'); at != std::string::npos; at = name.find('_', at + 6)) name.insert(at + 1, "<wbr>");
      html += fmt::format("<th class=\"num metric{}\" title=\"{}\">{}{}</th>", objective ? " objective" : "",
                          escapeHtml(column), name,
                          objective ? (sweep.maximize ? " ▲" : " ▼") : "");
    }
    html += "</tr></thead>\n<tbody>\n";
    size_t shown = 0;
    for (const auto& point : sweep.points) {
      if (++shown > kMaxTableRows) break;
      html += fmt::format("<tr{}><td class=\"num\">{}</td><td class=\"point\">{}</td>", point.rank == 1 ? " class=\"best\"" : "",
                          point.rank > 0 ? std::to_string(point.rank) : "–", escapeHtml(point.label()));
      for (int fold = 0; fold < static_cast<int>(folds); ++fold) {
        const auto it = point.fold_values.find(fold);
        html += fmt::format("<td class=\"num\">{}</td>", it == point.fold_values.end() ? "–" : formatValue(meanOf(it->second)));
      }
      for (const auto& column : columns) {
        const auto it = point.values.find(column);
        html += meanStdCell(it == point.values.end() ? std::vector<double>{} : it->second, column == sweep.rank_metric);
      }
      if (with_status) {
        std::string status;
        if (point.failed > 0) status += fmt::format("{} failed: {} ", point.failed, point.reason);
        if (point.pruned > 0) status += fmt::format("pruned at epoch {} ", point.pruned_epoch);
        if (point.timed_out > 0) status += fmt::format("timed out after {} epochs ", point.timed_out_epochs);
        if (point.running > 0) status += fmt::format("{} unfinished", point.running);
        html += fmt::format("<td class=\"num\">{}/{}</td><td class=\"num\">{}</td><td class=\"status\">{}</td>",
                            point.finished, point.trials.size(), formatSeconds(point.seconds), escapeHtml(status));
      }
      html += "</tr>\n";
    }
    return html + "</tbody></table></div>\n";
  }

  std::string bestSection() const {
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      html += sweepHeading(sweep);
      const PointSummary* best = sweep.best();
      if (best == nullptr) {
        html += note("no trial of this sweep finished");
        continue;
      }
      html += "<div class=\"best-card\">";
      html += fmt::format("<div class=\"point\">{}</div>\n<div class=\"kv\">", escapeHtml(best->label()));
      html += fmt::format("<div>{} ({})</div><div><b>{}</b></div>", escapeHtml(metricTitle(sweep.rank_metric)),
                          sweep.maximize ? "max" : "min", escapeHtml(formatMeanStd(best->values.at(sweep.rank_metric))));
      for (const auto& [name, values] : best->values) {
        if (name == sweep.rank_metric || name.find(".error") != std::string::npos) continue;
        html += fmt::format("<div>{}</div><div>{}</div>", escapeHtml(name), escapeHtml(formatMeanStd(values)));
      }
      html += fmt::format("<div>trials</div><div>{} ({} s of training)</div>", best->finished,
                          fmt::format("{:.1f}", best->seconds));
      for (const auto& param : best->params) {
        html += fmt::format("<div>param {}</div><div>{}</div>", escapeHtml(param.name), escapeHtml(param.value));
      }
      if (sweep.refit) {
        for (const auto& [name, value] : study_.trials[*sweep.refit].row.final_metrics) {
          if (name.rfind("test.", 0) == 0) {
            html += fmt::format("<div>refit {}</div><div>{:.4f}</div>", escapeHtml(name), value);
          }
        }
      }
      html += "</div></div>\n";
    }
    return html;
  }

  std::string summarySection() const {
    std::string html = "<table class=\"ranked\"><thead><tr><th>sweep</th><th>method</th><th>axes</th><th>objective</th>"
                       "<th class=\"num\">folds</th><th class=\"num\">replicates</th><th class=\"num\">trials</th>"
                       "<th>model</th><th>classes</th></tr></thead><tbody>\n";
    for (const auto& sweep : study_.sweeps) {
      std::string axes;
      for (const auto& axis : sweep.info.axes) axes += (axes.empty() ? "" : ", ") + axis;
      int64_t finished = 0;
      for (const auto& point : sweep.points) finished += point.finished;
      const std::string objective =
          sweep.info.objective.empty() ? "–" : fmt::format("{} {}", sweep.info.maximize ? "max" : "min", sweep.info.objective);
      html += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
          "<td class=\"num\">{} of {} finished</td><td>{}</td><td>{}</td></tr>\n",
          escapeHtml(sweep.label()), escapeHtml(sweep.info.method), escapeHtml(axes.empty() ? "–" : axes),
          escapeHtml(objective), sweep.info.folds, sweep.info.replicates, finished, sweep.info.trials,
          escapeHtml(sweep.info.model.empty() ? "–" : sweep.info.model),
          sweep.info.class_names.empty() ? "–" : std::to_string(sweep.info.class_names.size()));
    }
    html += "</tbody></table>\n";
    if (study_.info && !study_.info->spec_text.empty()) {
      const auto lines = std::count(study_.info->spec_text.begin(), study_.info->spec_text.end(), '\n');
      html += fmt::format("<details><summary>The spec <span class=\"muted\">{}, {} lines</span></summary>\n"
                          "<pre class=\"spec\">{}</pre></details>\n",
                          escapeHtml(study_.info->spec_path), lines, escapeHtml(study_.info->spec_text));
    } else {
      html += note("the spec text was not recorded by the run that wrote this store");
    }
    return html;
  }

  std::string timingsSection() {
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      html += sweepHeading(sweep);
      Json rows = Json::array();
      std::vector<std::string> order;
      for (const auto& point : sweep.points) {
        if (order.size() >= kMaxTimingBars) break;
        double epochs = 0;
        int64_t ended = 0;
        for (size_t index : point.trials) {
          if (!study_.trials[index].row.seconds) continue;
          epochs += static_cast<double>(study_.trials[index].epochs.size());
          ++ended;
        }
        if (ended == 0) continue;
        const double seconds = point.seconds / static_cast<double>(ended);
        epochs /= static_cast<double>(ended);
        order.push_back(point.label());
        rows.push(Json::object({{"point", point.label()}, {"seconds", seconds}, {"epochs", epochs},
                                {"per_epoch", epochs > 0 ? seconds / epochs : 0.0}}));
      }
      if (order.empty()) {
        html += note("no trial of this sweep has ended");
        continue;
      }
      html += plot(timingsSpec(fmt::format("Time per trial, sweep {}", sweep.label()), order, rows));
    }
    return html;
  }

  // Metric names for `curves(y: ...)`: "loss" means the training and validation loss.
  static std::vector<std::string> expandMetrics(const std::vector<std::string>& wanted, const std::set<std::string>& present) {
    std::vector<std::string> out;
    for (const auto& name : wanted) {
      if (name.find('.') != std::string::npos) {
        if (present.count(name) != 0) out.push_back(name);
        continue;
      }
      for (const char* split : {"train", "val", "test"}) {
        const std::string full = std::string(split) + "." + name;
        if (present.count(full) != 0) out.push_back(full);
      }
    }
    return out;
  }

  // How a sweep's learning curves tell its points apart: colour by one varying param
  // (`by`, else the first that varies), the line's dash by the others, or a row of small
  // multiples each when they take more values than dashes can show.
  struct CurveEncoding {
    std::string color_param;           // "": colour by point
    bool color_numbers = false;        // many numeric values: a colour gradient
    bool color_log = false;
    std::vector<std::string> others;   // the other varying params
    bool dash = false;                 // others -> strokeDash
    bool rows = false;                 // others -> rows of small multiples
    std::string othersOf(const PointSummary& point) const {
      std::string key;
      for (const auto& name : others) {
        const std::string value = readableNumbers(paramOf(point.params, name));
        key += others.size() == 1 ? value : fmt::format("{}{}={}", key.empty() ? "" : ", ", name, value);
      }
      return key;
    }
  };

  CurveEncoding curveEncoding(const SweepData& sweep, const std::string& by) const {
    constexpr size_t kMaxDashes = 6;
    constexpr size_t kMaxRows = 8;
    CurveEncoding out;
    std::vector<std::string> varied;
    for (const auto& name : sweep.param_names) {
      if (distinctValues(sweep, name).size() > 1) varied.push_back(name);
    }
    if (varied.empty()) return out;
    out.color_param = std::find(varied.begin(), varied.end(), by) != varied.end() ? by : varied.front();
    for (const auto& name : varied) {
      if (name != out.color_param) out.others.push_back(name);
    }
    const std::vector<std::string> colors = distinctValues(sweep, out.color_param);
    if (colors.size() > kMaxLegendSeries) {
      // Sampled values (random, TPE): a gradient; the other params are in the tooltip.
      std::vector<double> numbers;
      for (const auto& value : colors) {
        if (const auto number = numberOf(value)) numbers.push_back(*number);
      }
      if (numbers.size() == colors.size()) {
        out.color_numbers = true;
        out.color_log = logScaled(numbers);
      } else {
        out.color_param.clear();
      }
      out.others.clear();
      return out;
    }
    std::set<std::string> combinations;
    for (const auto& point : sweep.points) combinations.insert(out.othersOf(point));
    if (out.others.empty()) return out;
    if (combinations.size() <= kMaxDashes) {
      out.dash = true;
    } else if (combinations.size() <= kMaxRows) {
      out.rows = true;
    } else {
      out.color_param.clear();  // too many to tell apart by encoding: one colour a point
      out.others.clear();
    }
    return out;
  }

  static std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (size_t k = 0; k < names.size(); ++k) out += (k == 0 ? "" : k + 1 == names.size() ? " and " : ", ") + names[k];
    return out;
  }

  std::string curvesSection(const Item& item) {
    const std::vector<std::string> wanted = parseList(item.arg("y", "loss"));
    const std::string by = item.arg("by", "");
    std::string html;
    // With `by`, only the sweeps that vary it (unless none does).
    std::vector<const SweepData*> sweeps;
    for (const auto& sweep : study_.sweeps) {
      if (by.empty() || distinctValues(sweep, by).size() > 1) sweeps.push_back(&sweep);
    }
    if (sweeps.empty()) {
      html += note(fmt::format("no sweep varies '{}'; the curves of every sweep follow, coloured by what they vary", by));
      for (const auto& sweep : study_.sweeps) sweeps.push_back(&sweep);
    }
    for (const SweepData* sweep : sweeps) {
      html += sweepHeading(*sweep);
      std::set<std::string> present;
      for (const auto& point : sweep->points) {
        for (size_t index : point.trials) {
          for (const auto& epoch : study_.trials[index].epochs) {
            for (const auto& [name, value] : epoch.metrics) present.insert(name);
          }
        }
      }
      const std::vector<std::string> metrics = expandMetrics(wanted, present);
      if (metrics.empty()) {
        html += note(fmt::format("no epoch of this sweep recorded {}", item.arg("y", "loss")));
        continue;
      }
      const CurveEncoding encoding = curveEncoding(*sweep, by);
      const std::string others = joined(encoding.others);
      if (!by.empty() && encoding.color_param == by && !encoding.others.empty()) {
        html += fmt::format("<p class=\"muted curves-note\">curves(by: {}) colours the lines by {}; {} {} too, so {}.</p>\n",
                            escapeHtml(by), escapeHtml(by), escapeHtml(others), encoding.others.size() == 1 ? "varies" : "vary",
                            encoding.dash ? "the line's dash tells " + std::string(encoding.others.size() == 1 ? "it" : "them") + " apart"
                                          : "each of " + std::string(encoding.others.size() == 1 ? "its values" : "their combinations") +
                                                " gets a row of plots");
      }
      // One chart per kind of metric (loss, accuracy, ...): their scales differ.
      std::vector<std::string> kinds;
      for (const auto& metric : metrics) {
        const std::string kind = metric.substr(metric.find('.') + 1);
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
      }
      const int64_t replicas = sweep->info.folds * sweep->info.replicates;
      for (const auto& kind : kinds) {
        CurveChart chart;
        std::vector<std::string> chosen;
        for (const auto& metric : metrics) {
          if (metric.substr(metric.find('.') + 1) == kind) chosen.push_back(metric);
        }
        for (const auto& metric : chosen) chart.splits.push_back(splitTitle(metric));
        chart.y_title = chosen.size() == 1 ? metricTitle(chosen[0]) : kind;
        chart.title = fmt::format("{} per epoch", chosen.size() == 1 ? metricTitle(chosen[0]) : kind);
        chart.color_title = encoding.color_param.empty() ? "point" : encoding.color_param;
        chart.color_numbers = encoding.color_numbers;
        chart.color_log = encoding.color_log;
        if (encoding.dash) chart.dash_title = others;
        if (encoding.rows) chart.row_title = others;
        int max_epoch = 0;
        int64_t series_count = 0;
        for (const auto& point : sweep->points) {
          const std::string color_text =
              encoding.color_param.empty() ? point.label() : readableNumbers(paramOf(point.params, encoding.color_param));
          const Json color = encoding.color_numbers ? Json(*numberOf(color_text)) : Json(color_text);
          const std::string other = encoding.othersOf(point);
          auto addOnce = [](std::vector<std::string>& list, const std::string& value) {
            if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
          };
          bool any = false;
          for (const auto& metric : chosen) {
            // The mean over the point's folds and replicates, epoch by epoch.
            std::map<int, std::vector<double>> by_epoch;
            for (size_t index : point.trials) {
              for (const auto& epoch : study_.trials[index].epochs) {
                const auto it = epoch.metrics.find(metric);
                if (it != epoch.metrics.end() && std::isfinite(it->second)) by_epoch[epoch.epoch].push_back(it->second);
              }
            }
            for (const auto& [epoch, values] : by_epoch) {
              any = true;
              max_epoch = std::max(max_epoch, epoch);
              const double mean = meanOf(values);
              const double spread = values.size() > 1 ? stddevOf(values) : 0.0;
              chart.band = chart.band || values.size() > 1;
              chart.rows.push(Json::object({{"series", point.label()}, {"color", color}, {"dash", other}, {"row", other},
                                            {"split", splitTitle(metric)}, {"metric", metric}, {"epoch", epoch},
                                            {"value", mean}, {"lo", mean - spread}, {"hi", mean + spread},
                                            {"n", static_cast<long long>(values.size())}}));
            }
          }
          if (!any) continue;
          ++series_count;
          if (!encoding.color_numbers) addOnce(chart.color_order, color_text);
          if (encoding.dash) addOnce(chart.dash_order, other);
          if (encoding.rows) addOnce(chart.row_order, other);
        }
        chart.show_points = max_epoch <= 25;
        sortNaturally(chart.color_order);
        sortNaturally(chart.dash_order);
        sortNaturally(chart.row_order);
        chart.legend = chart.color_order.size() <= kMaxLegendSeries;
        chart.subtitle = curveCaption(*sweep, encoding, chart, series_count, replicas);
        html += plot(learningCurveSpec(chart));
      }
    }
    return html;
  }

  static std::string splitTitle(const std::string& metric) {
    const std::string title = metricTitle(metric);
    return title.substr(0, title.find(' '));
  }

  // What a learning-curve chart draws, in words: the encodings, the mean and its band.
  static std::string curveCaption(const SweepData& sweep, const CurveEncoding& encoding, const CurveChart& chart,
                                  int64_t series_count, int64_t replicas) {
    std::string text = fmt::format("{} point{}", series_count, series_count == 1 ? "" : "s");
    if (encoding.color_param.empty()) {
      text += series_count > 1 ? ", a colour each" : "";
    } else {
      text += fmt::format(", colour: {}", encoding.color_param);
    }
    if (encoding.dash) text += fmt::format(", dash: {}", chart.dash_title);
    if (encoding.rows) text += fmt::format(", a row per {}", chart.row_title);
    if (chart.splits.size() > 1) text += fmt::format(", {} side by side", joined(chart.splits));
    if (replicas > 1) {
      const std::string over = sweep.info.folds > 1 && sweep.info.replicates > 1
                                   ? fmt::format("{} folds x {} replicates", sweep.info.folds, sweep.info.replicates)
                               : sweep.info.folds > 1 ? fmt::format("{} folds", sweep.info.folds)
                                                      : fmt::format("{} replicates", sweep.info.replicates);
      text += fmt::format("; each line the mean over its {}{}", over, chart.band ? ", the band ± one standard deviation" : "");
    }
    if (!chart.legend || encoding.color_numbers) text += "; hover a line for its point";
    return text;
  }

  std::vector<std::string> distinctValues(const SweepData& sweep, const std::string& param) const {
    std::vector<std::string> values;
    for (const auto& point : sweep.points) {
      const std::string value = paramOf(point.params, param);
      if (value.empty()) continue;
      if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
    }
    return values;
  }

  // Numbers in increasing order (e.g. learning rates); anything else stays as it is.
  static void sortNumerically(std::vector<std::string>& values) {
    for (const auto& value : values) {
      if (!numberOf(value)) return;
    }
    std::stable_sort(values.begin(), values.end(),
                     [](const std::string& a, const std::string& b) { return *numberOf(a) < *numberOf(b); });
  }

  // Values in the order of the first number each holds ("[16]" before "[128]"), then as text.
  static void sortNaturally(std::vector<std::string>& values) {
    auto firstNumber = [](const std::string& text) {
      const size_t at = text.find_first_of("-0123456789.");
      return at == std::string::npos ? std::nan("") : std::strtod(text.c_str() + at, nullptr);
    };
    std::stable_sort(values.begin(), values.end(), [&](const std::string& a, const std::string& b) {
      const double x = firstNumber(a), y = firstNumber(b);
      if (!std::isnan(x) && !std::isnan(y) && x != y) return x < y;
      return a < b;
    });
  }

  // Log scale when every value is positive and each is at least twice the one before.
  static bool geometric(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    if (values.size() < 3 || values.front() <= 0) return false;
    for (size_t k = 1; k < values.size(); ++k) {
      if (values[k] < 2 * values[k - 1]) return false;
    }
    return true;
  }

  std::string errorBarSection(const Item& item) {
    const std::string x = item.arg("x", "");
    const std::string y = item.arg("y", "");
    std::string html;
    bool any = false;
    for (const auto& sweep : study_.sweeps) {
      auto values = distinctValues(sweep, x);
      if (values.size() < 2) continue;
      any = true;
      int64_t replicas = sweep.info.folds * sweep.info.replicates;
      const std::string over = sweep.info.folds > 1 && sweep.info.replicates > 1
                                   ? fmt::format("{} folds x {} replicates", sweep.info.folds, sweep.info.replicates)
                               : sweep.info.folds > 1 ? fmt::format("{} folds", sweep.info.folds)
                                                      : fmt::format("{} replicates", sweep.info.replicates);
      html += sweepHeading(sweep);
      ErrorBarChart chart;
      chart.title = fmt::format("{} vs {}", metricTitle(y), x);
      chart.x_title = x;
      chart.y_title = metricTitle(y);
      std::vector<double> numbers;
      chart.numeric_x = true;
      for (const auto& value : values) {
        const auto number = numberOf(value);
        if (!number) chart.numeric_x = false;
        else numbers.push_back(*number);
      }
      chart.log_x = chart.numeric_x && geometric(numbers);
      sortNumerically(values);
      chart.x_order = values;
      // One line per combination of the other params that vary (e.g. hidden x lr).
      std::vector<std::string> others;
      for (const auto& name : sweep.param_names) {
        if (name != x && distinctValues(sweep, name).size() > 1) others.push_back(name);
      }
      for (const auto& name : others) chart.series_title += (chart.series_title.empty() ? "" : ", ") + name;
      auto seriesOf = [&](const PointSummary& point) {
        std::string key;
        for (const auto& name : others) key += fmt::format("{}{}={}", key.empty() ? "" : ", ", name, paramOf(point.params, name));
        return key;
      };
      std::map<std::pair<std::string, std::string>, std::vector<double>> pooled;
      for (const auto& point : sweep.points) {
        const auto it = point.values.find(y);
        if (it == point.values.end()) continue;
        const std::string value = paramOf(point.params, x);
        const std::string series = seriesOf(point);
        if (std::find(chart.series.begin(), chart.series.end(), series) == chart.series.end()) chart.series.push_back(series);
        for (double trial_value : it->second) {
          pooled[{series, value}].push_back(trial_value);
          chart.trials.push(Json::object({{"series", series}, {"x", xValue(value, chart.numeric_x)}, {"value", trial_value}}));
        }
      }
      if (pooled.empty()) {
        html += note(fmt::format("no finished trial of this sweep has {}", y));
        continue;
      }
      std::sort(chart.series.begin(), chart.series.end());
      // The caption says what the layers draw: bars and means, the trials' dots, the colours.
      const bool coloured = chart.series.size() > 1;
      chart.subtitle = replicas > 1 ? fmt::format("mean ± std over {} (bars and line); {} dots: single trials", over,
                                                  coloured ? "faint" : "grey")
                                    : "one trial per point: no spread to show";
      if (coloured) chart.subtitle += fmt::format("; a colour per {}", chart.series_title);
      for (const auto& series : chart.series) {
        for (const auto& value : values) {
          const auto it = pooled.find({series, value});
          if (it == pooled.end()) continue;
          const double mean = meanOf(it->second);
          const double spread = stddevOf(it->second);
          chart.points.push(Json::object({{"series", series}, {"x", xValue(value, chart.numeric_x)}, {"mean", mean},
                                          {"std", spread}, {"lo", mean - spread}, {"hi", mean + spread},
                                          {"n", static_cast<long long>(it->second.size())}}));
        }
      }
      html += plot(errorBarSpec(chart));
    }
    if (!any) html += note(fmt::format("no sweep of this study varies '{}'", x));
    return html;
  }

  static Json xValue(const std::string& text, bool numeric) {
    if (numeric) return *numberOf(text);
    return text;
  }

  // The trial whose outputs stand for a sweep: the refit of its best point, else the best
  // point's first trial that kept `output`, else the best-ranked point's that did.
  const TrialData* figureTrial(const SweepData& sweep, const std::string& output) const {
    if (sweep.refit && study_.trials[*sweep.refit].hasOutput(output)) return &study_.trials[*sweep.refit];
    for (const auto& point : sweep.points) {
      for (size_t index : point.trials) {
        if (study_.trials[index].hasOutput(output) && study_.trials[index].row.status == TrialStatus::kFinished) {
          return &study_.trials[index];
        }
      }
    }
    return nullptr;
  }

  std::string trialCaption(const SweepData& sweep, const TrialData& trial) const {
    const TrialRow& row = trial.row;
    const PointSummary* best = sweep.best();
    const bool is_best = best != nullptr && best->key == row.key.point_key;
    std::string text = row.key.point_key.empty()
                           ? std::string("the model")
                           : fmt::format("{} {}", is_best ? "best point" : "point", readableNumbers(row.key.point_key));
    if (row.key.fold < 0) text += ", refit on all training data";
    if (sweep.info.folds > 1 && row.key.fold >= 0) text += fmt::format(", fold {}", row.key.fold + 1);
    if (sweep.info.replicates > 1) text += fmt::format(", replicate {}", row.key.replicate + 1);
    return text + fmt::format(" (trial {})", row.id);
  }

  std::optional<TrialOutput> output(const TrialData& trial, const std::string& name) {
    auto read = store_.readOutput(TrialHandle{trial.row.id}, name);
    if (!read.ok()) {
      if (error_.message.empty()) error_ = read.error();
      return std::nullopt;
    }
    return std::move(read.value());
  }

  // The classes of a sweep: its recorded names, else their numbers.
  static std::vector<std::string> classNames(const SweepData& sweep, int64_t count) {
    std::vector<std::string> names = sweep.info.class_names;
    if (static_cast<int64_t>(names.size()) != count) {
      names.clear();
      for (int64_t k = 0; k < count; ++k) names.push_back(std::to_string(k));
    }
    return names;
  }

  // Input shape as (height, width, channels), from the model's input; nullopt when the
  // samples are not images.
  std::optional<std::array<int64_t, 3>> imageShape(const TrialData& trial, int64_t features) {
    auto shape = output(trial, outputs::kSampleShape);
    if (!shape) return std::nullopt;
    const auto& dims = shape->values;
    if (dims.size() >= 2) {
      const int64_t channels = dims.size() >= 3 ? static_cast<int64_t>(dims[2]) : 1;
      if (channels != 1 && channels != 3) return std::nullopt;
      return std::array<int64_t, 3>{static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1]), channels};
    }
    const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(features))));
    if (side * side == features && side > 1) return std::array<int64_t, 3>{side, side, 1};
    return std::nullopt;
  }

  static std::string sampleUri(const float* values, const std::array<int64_t, 3>& shape) {
    const auto [height, width, channels] = shape;
    if (channels == 3) {
      Image image{width, height, 3, std::vector<uint8_t>(static_cast<size_t>(width * height * 3))};
      const auto [lo, hi] = std::minmax_element(values, values + width * height * 3);
      const float span = *hi > *lo ? *hi - *lo : 1.0f;
      for (size_t k = 0; k < image.pixels.size(); ++k) {
        image.pixels[k] = static_cast<uint8_t>(std::lround(255.0f * (values[k] - *lo) / span));
      }
      return pngDataUri(image);
    }
    const auto [lo, hi] = std::minmax_element(values, values + width * height);
    return pngDataUri(inkImage(values, height, width, *lo, *hi));
  }

  std::string confusionSection(const Item& item) {
    const std::string split = item.arg("on", "test");
    const std::string name = outputs::confusion(split);
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      html += sweepHeading(sweep);
      if (sweep.info.class_names.empty() && sweep.planned) {
        html += note("not a classification sweep: no confusion matrix");
        continue;
      }
      const TrialData* trial = figureTrial(sweep, name);
      if (trial == nullptr) {
        html += note(fmt::format("no trial of this sweep recorded its {} confusion matrix (runs record it when the "
                                 "spec's report asks for `confusion(on: {})`)", split, split));
        continue;
      }
      auto matrix = output(*trial, name);
      if (!matrix) continue;
      const int64_t classes = matrix->rows;
      const std::vector<std::string> names = classNames(sweep, classes);
      Json rows = Json::array();
      double correct = 0, total = 0;
      for (int64_t truth = 0; truth < classes; ++truth) {
        double row_total = 0;
        for (int64_t pred = 0; pred < classes; ++pred) row_total += matrix->values[static_cast<size_t>(truth * classes + pred)];
        for (int64_t pred = 0; pred < classes; ++pred) {
          const double count = matrix->values[static_cast<size_t>(truth * classes + pred)];
          total += count;
          if (truth == pred) correct += count;
          rows.push(Json::object({{"true", names[static_cast<size_t>(truth)]}, {"pred", names[static_cast<size_t>(pred)]},
                                  {"count", count}, {"rate", row_total > 0 ? count / row_total : 0.0}}));
        }
      }
      const std::string subtitle = fmt::format("{} · accuracy {:.4f} on {:.0f} {} samples", trialCaption(sweep, *trial),
                                               total > 0 ? correct / total : 0.0, total, split == "val" ? "validation" : split);
      html += plot(confusionSpec(fmt::format("Confusion matrix on the {} set", split == "val" ? "validation" : split),
                                 subtitle, names, rows));
      html += perClassTable(names, matrix->values, classes);
    }
    return html;
  }

  // Precision, recall and F1 of each class from a confusion matrix (rows: true class),
  // with their macro and weighted averages (scikit-learn's classification_report).
  static std::string perClassTable(const std::vector<std::string>& names, const std::vector<float>& counts,
                                   int64_t classes) {
    std::string html = "<div class=\"table-wrap\"><table class=\"ranked per-class\"><thead><tr><th>class</th>"
                       "<th class=\"num\">precision</th><th class=\"num\">recall</th><th class=\"num\">F1</th>"
                       "<th class=\"num\">support</th></tr></thead><tbody>";
    double macro[3] = {0, 0, 0}, weighted[3] = {0, 0, 0};
    double all = 0;
    int64_t present = 0;
    for (int64_t k = 0; k < classes; ++k) {
      double support = 0, predicted = 0;
      for (int64_t other = 0; other < classes; ++other) {
        support += counts[static_cast<size_t>(k * classes + other)];
        predicted += counts[static_cast<size_t>(other * classes + k)];
      }
      const double hits = counts[static_cast<size_t>(k * classes + k)];
      const double precision = predicted > 0 ? hits / predicted : 0.0;
      const double recall = support > 0 ? hits / support : 0.0;
      const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
      html += fmt::format("<tr><td>{}</td><td class=\"num\">{:.4f}</td><td class=\"num\">{:.4f}</td>"
                          "<td class=\"num\">{:.4f}</td><td class=\"num\">{:.0f}</td></tr>",
                          escapeHtml(names[static_cast<size_t>(k)]), precision, recall, f1, support);
      if (support == 0 && predicted == 0) continue;  // left out of the averages, as scikit-learn does
      ++present;
      all += support;
      const double values[3] = {precision, recall, f1};
      for (int index = 0; index < 3; ++index) {
        macro[index] += values[index];
        weighted[index] += values[index] * support;
      }
    }
    for (const auto& [label, sums, divisor] : {std::tuple{"macro average", macro, static_cast<double>(present)},
                                               std::tuple{"weighted average", weighted, all}}) {
      html += fmt::format("<tr><td><b>{}</b></td><td class=\"num\">{:.4f}</td><td class=\"num\">{:.4f}</td>"
                          "<td class=\"num\">{:.4f}</td><td class=\"num\">{:.0f}</td></tr>",
                          label, divisor > 0 ? sums[0] / divisor : 0.0, divisor > 0 ? sums[1] / divisor : 0.0,
                          divisor > 0 ? sums[2] / divisor : 0.0, all);
    }
    return html + "</tbody></table></div>";
  }

  std::string misclassifiedSection(const Item& item) {
    const std::string split = item.arg("on", "test");
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      html += sweepHeading(sweep);
      const TrialData* trial = figureTrial(sweep, outputs::misclassifiedImages(split));
      if (trial == nullptr) {
        html += note(sweep.info.class_names.empty() && sweep.planned
                         ? std::string("not a classification sweep")
                         : fmt::format("no trial of this sweep recorded misclassified {} samples", split));
        continue;
      }
      auto images = output(*trial, outputs::misclassifiedImages(split));
      auto labels = output(*trial, outputs::misclassifiedLabels(split));
      if (!images || !labels || labels->rows != images->rows || labels->width < 4) continue;
      const auto shape = imageShape(*trial, images->width);
      if (images->rows == 0) {
        html += note("every sample was classified correctly");
        continue;
      }
      const int64_t classes = static_cast<int64_t>(sweep.info.class_names.size());
      auto className = [&](float label) {
        const auto index = static_cast<int64_t>(label);
        return index >= 0 && index < classes ? sweep.info.class_names[static_cast<size_t>(index)] : std::to_string(index);
      };
      html += fmt::format("<p class=\"muted\">{}: the {} most confident mistakes on the {} set: the true class in "
                          "green, the predicted one in red with its probability.</p>\n",
                          escapeHtml(trialCaption(sweep, *trial)), images->rows, split == "val" ? "validation" : split);
      html += "<div class=\"gallery\">\n";
      for (int64_t row = 0; row < images->rows; ++row) {
        const float* label = labels->values.data() + row * labels->width;
        const float* pixels = images->values.data() + row * images->width;
        std::string picture;
        if (shape) picture = fmt::format("<img alt=\"sample {}\" src=\"{}\">", static_cast<int64_t>(label[0]), sampleUri(pixels, *shape));
        const double percent = 100.0 * label[3];
        html += fmt::format("<figure>{}<span class=\"true\">{}</span><br>as <span class=\"pred\">{}</span> {}%</figure>\n",
                            picture, escapeHtml(className(label[1])), escapeHtml(className(label[2])),
                            percent >= 99.5 ? fmt::format("{:.1f}", std::min(percent, 99.9)) : fmt::format("{:.0f}", percent));
      }
      html += "</div>\n";
    }
    return html;
  }

  std::string weightsSection(const Item& item) {
    const int layer = static_cast<int>(numberOf(item.arg("layer", "1")).value_or(1));
    const std::string name = outputs::denseWeights(layer);
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      html += sweepHeading(sweep);
      const TrialData* trial = figureTrial(sweep, name);
      if (trial == nullptr) {
        html += note(fmt::format("no trial of this sweep recorded the weights of dense layer {}", layer));
        continue;
      }
      auto weights = output(*trial, name);
      if (!weights) continue;
      const auto shape = imageShape(*trial, weights->width);
      const bool images = shape && (*shape)[0] * (*shape)[1] * (*shape)[2] == weights->width && (*shape)[2] == 1;
      html += fmt::format("<p class=\"muted\">{}: the {} input weights of each of the first {} units of dense layer {}, "
                          "blue negative, red positive, each unit on its own scale.</p>\n",
                          escapeHtml(trialCaption(sweep, *trial)), weights->width,
                          std::min<int64_t>(weights->rows, kMaxWeightImages), layer);
      if (!images) {
        const float limit = maxAbs(weights->values.data(), static_cast<int64_t>(weights->values.size()));
        html += fmt::format("<figure class=\"filter-grid\"><img style=\"width:{}px;height:{}px\" alt=\"weights\" src=\"{}\">"
                            "units (rows) x inputs (columns)</figure>\n",
                            std::min<int64_t>(900, weights->width * 4), std::min<int64_t>(600, weights->rows * 4),
                            pngDataUri(divergingImage(weights->values.data(), weights->rows, weights->width, limit)));
        continue;
      }
      html += "<div class=\"gallery\">\n";
      for (int64_t unit = 0; unit < std::min<int64_t>(weights->rows, kMaxWeightImages); ++unit) {
        const float* values = weights->values.data() + unit * weights->width;
        const float limit = maxAbs(values, weights->width);
        html += fmt::format("<figure><img alt=\"unit {}\" src=\"{}\">unit {}</figure>\n", unit + 1,
                            pngDataUri(divergingImage(values, (*shape)[0], (*shape)[1], limit)), unit + 1);
      }
      html += "</div>\n";
    }
    return html;
  }

  static float maxAbs(const float* values, int64_t count) {
    float limit = 0;
    for (int64_t k = 0; k < count; ++k) limit = std::max(limit, std::fabs(values[k]));
    return limit;
  }

  std::string filtersSection(const Item& item) {
    const int layer = static_cast<int>(numberOf(item.arg("layer", "1")).value_or(1));
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      html += sweepHeading(sweep);
      const TrialData* trial = figureTrial(sweep, outputs::convFilters(layer));
      if (trial == nullptr) {
        html += note(fmt::format("no trial of this sweep recorded the filters of conv layer {} (a model without "
                                 "conv2d layers has none)", layer));
        continue;
      }
      auto filters = output(*trial, outputs::convFilters(layer));
      auto shape = output(*trial, outputs::convFiltersShape(layer));
      if (!filters || !shape || shape->values.size() < 3) continue;
      const auto kernel_h = static_cast<int64_t>(shape->values[0]);
      const auto kernel_w = static_cast<int64_t>(shape->values[1]);
      const auto channels = static_cast<int64_t>(shape->values[2]);
      const int64_t shown_channels = std::min<int64_t>(channels, 8);
      html += fmt::format("<p class=\"muted\">{}: {} filters of {}x{} over {} input channel{}{}; blue negative, red "
                          "positive, each filter on its own scale.</p>\n",
                          escapeHtml(trialCaption(sweep, *trial)), filters->rows, kernel_h, kernel_w, channels,
                          channels == 1 ? "" : "s",
                          channels > shown_channels ? fmt::format(" (the first {} shown side by side)", shown_channels)
                          : channels > 1            ? " (side by side)"
                                                    : "");
      html += fmt::format("<div class=\"gallery{}\">\n", shown_channels > 1 ? "" : " small");
      for (int64_t filter = 0; filter < filters->rows; ++filter) {
        const float* values = filters->values.data() + filter * filters->width;
        // One kernel_h x kernel_w tile per input channel, one pixel apart.
        const int64_t width = shown_channels * (kernel_w + 1) - 1;
        std::vector<float> tiles(static_cast<size_t>(kernel_h * width), 0.0f);
        for (int64_t row = 0; row < kernel_h; ++row) {
          for (int64_t col = 0; col < kernel_w; ++col) {
            for (int64_t channel = 0; channel < shown_channels; ++channel) {
              tiles[static_cast<size_t>(row * width + channel * (kernel_w + 1) + col)] =
                  values[(row * kernel_w + col) * channels + channel];
            }
          }
        }
        const float limit = maxAbs(values, filters->width);
        const int64_t pixel = shown_channels > 1 ? 6 : 12;
        html += fmt::format("<figure class=\"filter-grid\"><img style=\"width:{}px;height:{}px\" alt=\"filter {}\" "
                            "src=\"{}\">filter {}</figure>\n",
                            width * pixel, kernel_h * pixel, filter + 1,
                            pngDataUri(divergingImage(tiles.data(), kernel_h, width, limit)), filter + 1);
      }
      html += "</div>\n";
    }
    return html;
  }

  std::string featureMapsSection(const Item& item) {
    const int layer = static_cast<int>(numberOf(item.arg("layer", "1")).value_or(1));
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      html += sweepHeading(sweep);
      const TrialData* trial = figureTrial(sweep, outputs::featureMaps(layer));
      if (trial == nullptr) {
        html += note(fmt::format("no trial of this sweep recorded feature maps of conv layer {} (a model without "
                                 "that many conv2d layers has none)", layer));
        continue;
      }
      auto maps = output(*trial, outputs::featureMaps(layer));
      auto shape = output(*trial, outputs::featureMapsShape(layer));
      auto inputs = output(*trial, outputs::featureMapsInputs(layer));
      if (!maps || !shape || !inputs || shape->values.size() < 4) continue;
      const auto images = static_cast<int64_t>(shape->values[0]);
      const auto channels = static_cast<int64_t>(shape->values[1]);
      const auto height = static_cast<int64_t>(shape->values[2]);
      const auto width = static_cast<int64_t>(shape->values[3]);
      const auto input_shape = imageShape(*trial, inputs->width);
      html += fmt::format("<p class=\"muted\">{}: the outputs of conv layer {} ({}x{}, after its activation) on {} test "
                          "samples, the first {} channels; each map on its own scale.</p>\n",
                          escapeHtml(trialCaption(sweep, *trial)), layer, height, width, images, channels);
      for (int64_t image = 0; image < images; ++image) {
        html += "<div class=\"fmap-row\">";
        if (input_shape) {
          html += fmt::format("<figure class=\"input\"><img alt=\"input {}\" src=\"{}\">input</figure>", image + 1,
                              sampleUri(inputs->values.data() + image * inputs->width, *input_shape));
        }
        for (int64_t channel = 0; channel < channels; ++channel) {
          const float* values = maps->values.data() + (image * channels + channel) * maps->width;
          const auto [lo, hi] = std::minmax_element(values, values + maps->width);
          html += fmt::format("<figure><img alt=\"map {}\" src=\"{}\">ch {}</figure>", channel + 1,
                              pngDataUri(viridisImage(values, height, width, *lo, *hi)), channel + 1);
        }
        html += "</div>\n";
      }
    }
    return html;
  }

  std::string histogramsSection() {
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      html += sweepHeading(sweep);
      const TrialData* trial = nullptr;
      if (sweep.refit) trial = &study_.trials[*sweep.refit];
      for (const auto& point : sweep.points) {
        for (size_t index : point.trials) {
          if (trial != nullptr) break;
          for (const auto& info : study_.trials[index].outputs) {
            if (info.name.rfind(outputs::kHistogramPrefix, 0) == 0) trial = &study_.trials[index];
          }
        }
      }
      std::vector<std::string> params;
      Json rows = Json::array();
      if (trial != nullptr) {
        for (const auto& info : trial->outputs) {
          if (info.name.rfind(outputs::kHistogramPrefix, 0) != 0) continue;
          auto bins = output(*trial, info.name);
          if (!bins || bins->width < 3) continue;
          const std::string param = info.name.substr(std::string(outputs::kHistogramPrefix).size());
          params.push_back(param);
          for (int64_t bin = 0; bin < bins->rows; ++bin) {
            const float* row = bins->values.data() + bin * bins->width;
            rows.push(Json::object({{"param", param}, {"lo", row[0]}, {"hi", row[1]}, {"count", row[2]}}));
          }
        }
      }
      if (params.empty()) {
        html += note("no trial of this sweep recorded weight histograms");
        continue;
      }
      html += fmt::format("<p class=\"muted\">{}: the trained values of each layer's weights.</p>\n",
                          escapeHtml(trialCaption(sweep, *trial)));
      html += plot(histogramSpec(fmt::format("Weight histograms, sweep {}", sweep.label()), params, rows));
    }
    return html;
  }

  // A sweep's points in the order they were run (sampled points by number).
  std::vector<const PointSummary*> runOrder(const SweepData& sweep) const {
    std::vector<const PointSummary*> points;
    for (const auto& point : sweep.points) points.push_back(&point);
    std::sort(points.begin(), points.end(), [&](const PointSummary* a, const PointSummary* b) {
      const size_t first_a = a->trials.empty() ? 0 : a->trials.front();
      const size_t first_b = b->trials.empty() ? 0 : b->trials.front();
      return first_a < first_b;
    });
    return points;
  }

  std::string historySection() {
    std::string html;
    bool any_sampled = false;
    for (const auto& sweep : study_.sweeps) any_sampled = any_sampled || sweep.info.method == "tpe" || sweep.info.method == "random";
    for (const auto& sweep : study_.sweeps) {
      const bool sampled = sweep.info.method == "tpe" || sweep.info.method == "random" || sweep.info.method == "sampled";
      if (any_sampled && !sampled) continue;
      if (sweep.points.size() < 2) continue;
      html += sweepHeading(sweep);
      Json rows = Json::array();
      double best = std::nan("");
      int number = 0;
      for (const PointSummary* point : runOrder(sweep)) {
        ++number;
        double value = point->mean(sweep.rank_metric);
        std::string state = "complete";
        if (point->pruned > 0) {
          state = "pruned";
          // A pruned trial's objective is its last recorded epoch's.
          for (size_t index : point->trials) {
            const auto& epochs = study_.trials[index].epochs;
            if (!epochs.empty() && epochs.back().metrics.count(sweep.rank_metric) != 0) {
              value = epochs.back().metrics.at(sweep.rank_metric);
            }
          }
        }
        if (std::isnan(value)) continue;
        if (state == "complete" && (std::isnan(best) || (sweep.maximize ? value > best : value < best))) best = value;
        rows.push(Json::object({{"trial", number}, {"point", point->label()}, {"value", value}, {"state", state},
                                {"best", std::isnan(best) ? Json() : Json(best)}}));
      }
      if (rows.size() == 0) {
        html += note("no trial of this sweep has a value of its objective");
        continue;
      }
      html += plot(historySpec(fmt::format("Optimization history, sweep {}", sweep.label()),
                               metricTitle(sweep.rank_metric), rows));
    }
    if (html.empty()) html += note("no sweep of this study has two points or more");
    return html;
  }

  // The points of a sweep with an objective, and the params they vary.
  struct Scored {
    std::vector<std::pair<const PointSummary*, double>> points;
    std::vector<std::string> varied;
  };
  Scored scored(const SweepData& sweep) const {
    Scored out;
    for (const auto& point : sweep.points) {
      const double value = point.mean(sweep.rank_metric);
      if (!std::isnan(value)) out.points.emplace_back(&point, value);
    }
    for (const auto& name : sweep.param_names) {
      if (distinctValues(sweep, name).size() > 1) out.varied.push_back(name);
    }
    return out;
  }

  // A param's values as numbers when every one is; nullopt otherwise.
  std::optional<std::vector<double>> numbersOf(const Scored& scored, const std::string& param) const {
    std::vector<double> numbers;
    for (const auto& [point, value] : scored.points) {
      const std::string text = paramOf(point->params, param);
      char* end = nullptr;
      const double number = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(number)) return std::nullopt;
      numbers.push_back(number);
    }
    return numbers;
  }

  static bool logScaled(const std::vector<double>& numbers) {
    const auto [lo, hi] = std::minmax_element(numbers.begin(), numbers.end());
    return *lo > 0 && *hi / *lo >= 100;
  }

  // Every sweep of two points or more as parallel coordinates: one axis a varied param
  // (numbers scaled linearly or, over two decades, logarithmically; other values in their
  // order) and one the objective.
  std::string parallelSection() {
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      const Scored data = scored(sweep);
      if (data.points.size() < 2 || data.varied.empty()) continue;
      html += sweepHeading(sweep);
      std::vector<std::string> axes = data.varied;
      axes.push_back(sweep.rank_metric);
      Json rows = Json::array();
      Json ticks = Json::array();
      for (size_t order = 0; order < axes.size(); ++order) {
        const std::string& axis = axes[order];
        const bool objective = order + 1 == axes.size();
        std::vector<double> position(data.points.size());
        std::vector<std::string> labels(data.points.size());
        std::optional<std::vector<double>> numbers;
        if (objective) {
          numbers = std::vector<double>();
          for (const auto& entry : data.points) numbers->push_back(entry.second);
        } else {
          numbers = numbersOf(data, axis);
        }
        if (numbers) {
          const bool log = !objective && logScaled(*numbers);
          std::vector<double> scaled = *numbers;
          if (log) {
            for (double& value : scaled) value = std::log10(value);
          }
          const auto [lo, hi] = std::minmax_element(scaled.begin(), scaled.end());
          const double low = *lo, span = *hi - *lo;
          for (size_t index = 0; index < scaled.size(); ++index) {
            position[index] = span > 0 ? (scaled[index] - low) / span : 0.5;
            labels[index] = objective ? fmt::format("{:.4f}", (*numbers)[index])
                                      : readableNumbers(paramOf(data.points[index].first->params, axis));
          }
        } else {
          std::vector<std::string> values = distinctValues(sweep, axis);
          for (size_t index = 0; index < data.points.size(); ++index) {
            labels[index] = paramOf(data.points[index].first->params, axis);
            const auto at = std::find(values.begin(), values.end(), labels[index]) - values.begin();
            position[index] = values.size() > 1 ? static_cast<double>(at) / static_cast<double>(values.size() - 1) : 0.5;
          }
        }
        std::set<std::string> ticked;
        for (size_t index = 0; index < data.points.size(); ++index) {
          rows.push(Json::object({{"point", data.points[index].first->label()}, {"axis", axis},
                                  {"order", static_cast<double>(order)}, {"y", position[index]}, {"label", labels[index]},
                                  {"objective", data.points[index].second}}));
          if (ticked.insert(labels[index]).second && (ticked.size() <= 12 || objective)) {
            ticks.push(Json::object({{"axis", axis}, {"y", position[index]}, {"label", labels[index]}}));
          }
        }
      }
      html += plot(parallelSpec(fmt::format("Parallel coordinates, sweep {}", sweep.label()),
                                metricTitle(sweep.rank_metric), axes, rows, ticks));
    }
    if (html.empty()) html += note("no sweep of this study varies a param over two points or more");
    return html;
  }

  // The objective against each varied param, a panel each (Optuna's slice plot).
  std::string slicesSection() {
    std::string html;
    for (const auto& sweep : study_.sweeps) {
      const Scored data = scored(sweep);
      if (data.points.size() < 2 || data.varied.empty()) continue;
      html += sweepHeading(sweep);
      std::vector<SlicePanel> panels;
      for (const std::string& param : data.varied) {
        const auto numbers = numbersOf(data, param);
        Json rows = Json::array();
        for (size_t index = 0; index < data.points.size(); ++index) {
          const std::string text = paramOf(data.points[index].first->params, param);
          rows.push(Json::object({{"value", numbers ? Json((*numbers)[index]) : Json(text)},
                                  {"objective", data.points[index].second},
                                  {"point", data.points[index].first->label()}}));
        }
        std::vector<std::string> values = distinctValues(sweep, param);
        sortNumerically(values);
        panels.push_back(SlicePanel{param, numbers.has_value(), numbers && logScaled(*numbers), rows, values});
      }
      html += plot(slicesSpec(fmt::format("Slices, sweep {}", sweep.label()), metricTitle(sweep.rank_metric), panels));
    }
    if (html.empty()) html += note("no sweep of this study varies a param over two points or more");
    return html;
  }

  // A param's importance: the share of the objective's variance that its value alone
  // explains (the correlation ratio, eta squared; numbers in up to 5 quantile bins),
  // normalised over the params. A first-order stand-in for Optuna's fANOVA.
  std::string importanceSection() {
    std::string html;
    bool any = false;
    for (const auto& sweep : study_.sweeps) {
      std::vector<std::pair<const PointSummary*, double>> finished;
      for (const auto& point : sweep.points) {
        const double value = point.mean(sweep.rank_metric);
        if (!std::isnan(value)) finished.emplace_back(&point, value);
      }
      std::vector<std::string> varied;
      for (const auto& name : sweep.param_names) {
        if (distinctValues(sweep, name).size() > 1) varied.push_back(name);
      }
      if (finished.size() < 3 || varied.empty()) continue;
      any = true;
      html += sweepHeading(sweep);
      double grand = 0;
      for (const auto& entry : finished) grand += entry.second;
      grand /= static_cast<double>(finished.size());
      double total = 0;
      for (const auto& entry : finished) total += (entry.second - grand) * (entry.second - grand);
      Json rows = Json::array();
      std::vector<std::pair<std::string, double>> scores;
      double sum = 0;
      for (const auto& name : varied) {
        std::map<std::string, std::vector<double>> groups;
        std::vector<double> numbers;
        bool numeric = true;
        for (const auto& entry : finished) {
          const auto number = numberOf(paramOf(entry.first->params, name));
          if (!number) numeric = false;
          else numbers.push_back(*number);
        }
        std::sort(numbers.begin(), numbers.end());
        for (const auto& entry : finished) {
          const std::string text = paramOf(entry.first->params, name);
          std::string group = text;
          if (numeric && numbers.size() > static_cast<size_t>(kImportanceBins)) {
            const double number = *numberOf(text);
            const size_t position = static_cast<size_t>(std::lower_bound(numbers.begin(), numbers.end(), number) - numbers.begin());
            group = std::to_string(position * kImportanceBins / numbers.size());
          }
          groups[group].push_back(entry.second);
        }
        double between = 0;
        for (const auto& [group, values] : groups) {
          const double mean = meanOf(values);
          between += static_cast<double>(values.size()) * (mean - grand) * (mean - grand);
        }
        const double score = total > 0 ? between / total : 0;
        scores.emplace_back(name, score);
        sum += score;
      }
      for (const auto& [name, score] : scores) {
        rows.push(Json::object({{"param", name}, {"importance", sum > 0 ? score / sum : 0.0}}));
      }
      html += plot(importanceSpec(fmt::format("Param importance for {}, sweep {}", sweep.rank_metric, sweep.label()),
                                  fmt::format("share of the objective's variance over {} points that each param explains "
                                              "alone (eta squared, normalised)", finished.size()),
                                  rows));
    }
    if (!any) html += note("no sweep of this study has 3 finished points or more with params that vary");
    return html;
  }

  Store& store_;
  const StudyData& study_;
  const PlotLibrary& library_;
  std::vector<std::pair<std::string, Json>> plots_;
  StoreError error_;
};

}  // namespace

StoreResult<PlotLibrary> loadPlotLibrary(const std::string& data_dir) {
  PlotLibrary library;
  const std::vector<std::pair<std::string, std::string*>> files = {
      {"vega/build/vega.min.js", &library.vega},
      {"vega-lite/build/vega-lite.min.js", &library.vega_lite},
      {"vega-embed/build/vega-embed.min.js", &library.vega_embed}};
  for (const auto& [relative, target] : files) {
    const fs::path path = fs::path(data_dir) / "npm" / relative;
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
      return StoreError{path.string(), "the plotting library of HTML reports is missing",
                        "run scripts/setup.sh (it unpacks the npm packages vega, vega-lite and vega-embed into "
                        "data/npm), or set NNSPEC_DATA_DIR to the folder that holds npm/"};
    }
    *target = readFile(path.string());
    if (target->empty()) return StoreError{path.string(), "cannot read the plotting library", "run scripts/setup.sh again"};
    const std::string package = relative.substr(0, relative.find('/'));
    const std::string version = packageVersion(readFile((fs::path(data_dir) / "npm" / package / "package.json").string()));
    library.versions += fmt::format("{}{} {}", library.versions.empty() ? "" : ", ", package, version);
  }
  return library;
}

StoreResult<std::string> renderHtmlReport(Store& store, const StudyData& study, const PlotLibrary& library) {
  ReportBuilder builder(store, study, library);
  return builder.build();
}

StoreResult<void> writeTextFile(const std::string& path, const std::string& text) {
  const fs::path target(path);
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    return StoreError{path, fmt::format("cannot write: folder '{}' does not exist", folder.string()),
                      "create the folder, or pass an output path in an existing folder"};
  }
  if (fs::is_directory(target, error)) {
    return StoreError{path, "cannot write: it is a folder", "pass a file name, e.g. report.html"};
  }
  const fs::path temporary = folder / fmt::format(".{}.{}.tmp", target.filename().string(), ::getpid());
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) {
      return StoreError{path, fmt::format("cannot write in folder '{}' (permission denied?)", folder.string()),
                        "pass an output path in a folder you can write to"};
    }
    file.write(text.data(), static_cast<std::streamsize>(text.size()));
    file.close();
    if (!file) {
      fs::remove(temporary, error);
      return StoreError{path, "cannot write: the disk may be full", "free some space or write elsewhere"};
    }
  }
  fs::rename(temporary, target, error);
  if (error) {
    fs::remove(temporary, error);
    return StoreError{path, "cannot write: " + error.message(), "pass an output path you can write to"};
  }
  return {};
}

std::string defaultReportPath(const std::string& store_path) {
  std::string base = store_path;
  for (const char* suffix : {".store.sqlite", ".sqlite", ".db"}) {
    const std::string ending(suffix);
    if (base.size() > ending.size() && base.compare(base.size() - ending.size(), ending.size(), ending) == 0) {
      base.resize(base.size() - ending.size());
      break;
    }
  }
  return base + ".report.html";
}

}  // namespace nnspec::rt
