// The HTML report of a hand-written study: its structure, the inlined libraries, the
// Vega-Lite spec of each plot, the notes for what a study did not record, and that
// headless Chromium draws every plot (and catches one that does not draw).

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include <catch2/catch.hpp>

#include "runtime/data/dataset.h"
#include "runtime/report/html_report.h"
#include "runtime/report/study_data.h"
#include "tests/report/browser.h"
#include "tests/report/fixture.h"

namespace {

using namespace nnspec;
using Catch::Matchers::Contains;

struct Rendered {
  std::string html;
  rt::PlotLibrary library;
};

Rendered renderFixture(test::TempDir& dir, bool with_info = true) {
  rt::Store store = test::require(rt::Store::open(dir.path("s.sqlite")));
  test::writeFixtureStudy(store, with_info);
  const rt::StudyData study = test::require(rt::loadStudy(store, test::require(rt::chooseStudy(store, ""))));
  Rendered out;
  out.library = test::require(rt::loadPlotLibrary(rt::defaultDataDir()));
  out.html = test::require(rt::renderHtmlReport(store, study, out.library));
  return out;
}

// The "shape" study (two params that vary, many metrics), rendered.
std::string renderShape(test::TempDir& dir) {
  rt::Store store = test::require(rt::Store::open(dir.path("shape.sqlite")));
  test::writeShapeStudy(store);
  const rt::StudyData study = test::require(rt::loadStudy(store, test::require(rt::chooseStudy(store, ""))));
  return test::require(rt::renderHtmlReport(store, study, test::require(rt::loadPlotLibrary(rt::defaultDataDir()))));
}

std::string plotSpecs(const std::string& html) {
  const size_t begin = html.find("<script type=\"application/json\" id=\"nnspec-plots\">");
  if (begin == std::string::npos) return "";
  return html.substr(begin, html.find("</script>", begin) - begin);
}

size_t count(const std::string& text, const std::string& what) {
  size_t found = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++found;
  return found;
}

std::string writeHtml(test::TempDir& dir, const std::string& name, const std::string& html) {
  const std::string path = dir.path(name);
  std::ofstream(path) << html;
  return path;
}

}  // namespace

TEST_CASE("the report is one file: libraries inlined, images as data URIs, nothing fetched", "[report]") {
  test::TempDir dir;
  const Rendered rendered = renderFixture(dir);
  const std::string& html = rendered.html;
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK_THAT(html, Contains(rendered.library.vega.substr(0, 200)));
  CHECK_THAT(html, Contains(rendered.library.vega_lite.substr(0, 200)));
  CHECK_THAT(html, Contains(rendered.library.vega_embed.substr(0, 200)));
  CHECK_THAT(rendered.library.versions, Contains("vega-lite"));
  CHECK(count(html, "<script src") == 0);
  CHECK(count(html, "<link") == 0);
  CHECK_FALSE(std::regex_search(html, std::regex(R"((src|href)=["']https?:)")));
  CHECK(count(html, "src=\"data:image/png;base64,") >= 2 + 3 + 2 + 3);  // misclassified, weights, filters, maps+input
  CHECK(count(html, "<section class=\"item\"") == 14);
}

TEST_CASE("the report has the summary header, the ranked table and a section per item", "[report]") {
  test::TempDir dir;
  const std::string html = renderFixture(dir).html;
  CHECK_THAT(html, Contains("<h1>fixture</h1>"));
  CHECK_THAT(html, Contains("<code>--set epochs=3</code>"));
  CHECK_THAT(html, Contains("best of rate"));
  CHECK_THAT(html, Contains("0.7050 ± 0.0050"));
  CHECK_THAT(html, Contains("<tr class=\"best\"><td class=\"num\">1</td><td class=\"point\">lr=0.1</td>"));
  CHECK_THAT(html, Contains("1 failed: loss became nan at epoch 1, batch 2"));
  // The confusion matrix's per-class table: each class 8 right of 10, and 2 of the previous
  // class taken for it.
  CHECK_THAT(html, Contains(R"(<tr><td>cat</td><td class="num">0.8000</td><td class="num">0.8000</td>)"
                            R"(<td class="num">0.8000</td><td class="num">10</td></tr>)"));
  CHECK_THAT(html, Contains(R"(<tr><td><b>macro average</b></td><td class="num">0.8000</td>)"));

  CHECK_THAT(html, Contains("# &lt;b&gt;not html&lt;/b&gt;"));  // the spec is escaped
  for (const char* title : {"Ranked results", "Best points", "Study summary", "Learning curves", "validation accuracy vs lr",
                            "Confusion matrix", "Misclassified examples", "First-layer weights", "Convolution filters",
                            "Feature maps", "Weight histograms", "Optimization history", "Param importance", "Timings"}) {
    CHECK_THAT(html, Contains(std::string("<h2>") + title));
  }
  // Class names on the misclassified examples.
  CHECK_THAT(html, Contains("<span class=\"true\">cat</span><br>as <span class=\"pred\">dog</span> 90%"));
}

TEST_CASE("each plot's Vega-Lite spec says what it draws", "[report]") {
  test::TempDir dir;
  const std::string html = renderFixture(dir).html;
  const size_t begin = html.find("<script type=\"application/json\" id=\"nnspec-plots\">");
  REQUIRE(begin != std::string::npos);
  const std::string plots = html.substr(begin, html.find("</script>", begin) - begin);
  CHECK_THAT(plots, Contains(R"("$schema":"https://vega.github.io/schema/vega-lite/v6.json")"));
  // Curves: one chart for loss, one for accuracy, training and validation side by side,
  // coloured by lr (the only param that varies: no dash); each line the mean of 2
  // replicates with a band.
  CHECK_THAT(plots, Contains(R"("text":"loss per epoch")"));
  CHECK_THAT(plots, Contains(R"("text":"accuracy per epoch")"));
  CHECK_THAT(plots, Contains(R"("column":{"field":"split","type":"nominal","title":null,"sort":["training","validation"])"));
  CHECK_THAT(plots, Contains(R"("color":{"field":"color","type":"nominal","title":"lr","sort":["0.001","0.01","0.1"])"));
  CHECK_THAT(plots, Contains("3 points, colour: lr, training and validation side by side; each line the mean over its 2 "
                             "replicates, the band ± one standard deviation"));
  CHECK_THAT(plots, Contains(R"("type":"area")"));
  CHECK(count(plots, R"("strokeDash")") == 0);
  // Error bars: mean ± std of the two replicates at each lr, on a log axis (0.001, 0.01, 0.1).
  CHECK_THAT(plots, Contains(R"("x":0.1,"mean":0.70)"));
  CHECK_THAT(plots, Contains(R"("std":0.00)"));
  CHECK_THAT(plots, Contains(R"("n":2})"));
  CHECK_THAT(plots, Contains(R"("type":"errorbar")"));
  CHECK_THAT(plots, Contains(R"("type":"log")"));
  // The confusion matrix names its classes and counts.
  CHECK_THAT(plots, Contains(R"({"true":"cat","pred":"dog","count":2,"rate":0.2})"));
  CHECK_THAT(plots, Contains(R"("sort":["cat","dog","bird","fish"])"));
  CHECK_THAT(plots, Contains(R"("param":"dense1.kernel","lo":-1,"hi":0,"count":5)"));
  CHECK_THAT(plots, Contains(R"("text":"Optimization history, sweep rate")"));
  CHECK_THAT(plots, Contains(R"("param":"lr","importance":1)"));
}

TEST_CASE("the headline names the selection metric, the best point, its objective and its test figure", "[report]") {
  test::TempDir dir;
  const std::string html = renderFixture(dir).html;
  const std::string sep = "<span class=\"sep\">·</span>";
  CHECK_THAT(html, Contains("<p class=\"headline\" id=\"headline-rate\">sweep <b>rate</b> " + sep +
                            " best by validation accuracy (max val.accuracy) " + sep + " <b>lr=0.1</b> " + sep +
                            " validation accuracy <b>0.7050 ± 0.0050</b> " + sep + " test accuracy 0.6850 ± 0.0050</p>"));
  // The regression sweep: one point, and its one trial failed.
  CHECK_THAT(html, Contains("sweep <b>curve</b> " + sep + " one point, nothing to select " + sep + " no point finished"));
}

TEST_CASE("learning curves tell apart every param that varies: colour by `by`, dash by the other", "[report]") {
  test::TempDir dir;
  const std::string html = renderShape(dir);
  const std::string plots = plotSpecs(html);
  CHECK_THAT(plots, Contains(R"("color":{"field":"color","type":"nominal","title":"lr","sort":["0.001","0.01"])"));
  CHECK_THAT(plots, Contains(R"("strokeDash":{"field":"dash","type":"nominal","title":"hidden","sort":["[16]","[32]"])"));
  CHECK_THAT(plots, Contains(R"("column":{"field":"split")"));
  // The caption names both channels and the mean; the section says why hidden is dashed.
  CHECK_THAT(plots, Contains("4 points, colour: lr, dash: hidden, training and validation side by side; each line the "
                             "mean over its 2 replicates, the band ± one standard deviation"));
  CHECK_THAT(html, Contains("curves(by: lr) colours the lines by lr; hidden varies too, so the line's dash tells it apart."));
  // Every row names its point, its colour and its dash.
  CHECK_THAT(plots, Contains(R"({"series":"hidden=[32], lr=0.01","color":"0.01","dash":"[32]")"));
}

TEST_CASE("the ranked table shows every metric, grouped by split, in tables that fit the page", "[report]") {
  test::TempDir dir;
  const std::string html = renderShape(dir);
  // 15 metrics: the objective and 9 more in the first table, the rest in a second one.
  CHECK_THAT(html, Contains("More metrics of the same points (one table would not fit the page)"));
  CHECK(count(html, "<table class=\"ranked compact\">") == 1);
  CHECK(count(html, "<table class=\"ranked more\">") == 1);
  for (const char* split : {"val.", "test."}) {
    for (const auto& metric : test::kShapeMetrics) {
      INFO(split << metric);
      CHECK(count(html, std::string("title=\"") + split + metric + "\"") == 1);
    }
  }
  CHECK(count(html, "title=\"train.loss\"") == 1);
  CHECK_THAT(html, Contains("<th class=\"group\" colspan=\"7\">validation</th>"));
  CHECK_THAT(html, Contains("<th class=\"num metric objective\" title=\"val.accuracy\">accuracy ▲</th>"));
  // Mean over the 2 replicates, the spread on a line of its own.
  CHECK_THAT(html, Contains("<td class=\"num objective\">0.7550<span class=\"sd\">± 0.0050</span></td>"));
}

TEST_CASE("slices tick a numeric axis at the values the sweep ran", "[report]") {
  test::TempDir dir;
  const std::string plots = plotSpecs(renderShape(dir));
  CHECK_THAT(plots, Contains(R"("axis":{"format":"~g","labelOverlap":"greedy","grid":false,"values":[0.001,0.01]})"));
  CHECK_THAT(plots, Contains(R"("usermeta":{"nnspecFit":{"columns":2}})"));
}

TEST_CASE("items a sweep cannot show say why instead of failing", "[report]") {
  test::TempDir dir;
  const std::string html = renderFixture(dir).html;
  // The regression sweep "curve" has no classes and recorded no images.
  CHECK_THAT(html, Contains("not a classification sweep: no confusion matrix"));
  CHECK_THAT(html, Contains("no trial of this sweep recorded the weights of dense layer 1"));
  CHECK_THAT(html, Contains("no trial of this sweep finished"));
}

TEST_CASE("a store without a plan gets the default items and a note", "[report]") {
  test::TempDir dir;
  const std::string html = renderFixture(dir, false).html;
  CHECK_THAT(html, Contains("did not keep the spec with its results"));
  // Without a plan there is no `select`: the headline says what ranks.
  CHECK_THAT(html, Contains("no <code>select</code> in the sweep: ranked by validation accuracy (max val.accuracy)"));
  CHECK_THAT(html, Contains("<h2>Ranked results"));
  CHECK_THAT(html, Contains("<h2>Confusion matrix"));
  CHECK_THAT(html, Contains("{\"true\":\"1\",\"pred\":\"2\""));  // classes by number
}

TEST_CASE("headless Chromium draws every plot and image of the report", "[report][browser]") {
  REQUIRE(test::chromiumAvailable());
  test::TempDir dir;
  const std::string path = writeHtml(dir, "fixture.html", renderFixture(dir).html);
  const std::string screenshot = std::string(NNSPEC_BINARY_DIR) + "/report-fixture.png";
  const test::RenderStatus status = test::openInChromium(path, screenshot, 3000);
  INFO(status.describe() << status.log.substr(0, 4000));
  CHECK(status.found);
  CHECK(status.plots.size() == 9);
  CHECK(status.images_total >= 10);
  CHECK(status.allRendered());
  CHECK(std::filesystem::file_size(screenshot) > 10000);
}

TEST_CASE("headless Chromium: the plots take the page's width, curves show both params, tables fit", "[report][browser]") {
  REQUIRE(test::chromiumAvailable());
  test::TempDir dir;
  const std::string path = writeHtml(dir, "shape.html", renderShape(dir));
  const std::string screenshot = std::string(NNSPEC_BINARY_DIR) + "/report-shape.png";
  const test::RenderStatus status = test::openInChromium(path, screenshot, 2600);
  INFO(status.describe());
  REQUIRE(status.found);
  CHECK(status.allRendered());
  CHECK_THAT(status.dom, Contains("best by validation accuracy (max val.accuracy)"));
  CHECK_THAT(status.dom, Contains("<b>hidden=[32], lr=0.01</b>"));
  CHECK_THAT(status.dom, Contains("test accuracy 0.7350 ± 0.0050"));
  // Curves (loss, accuracy) and slices.
  REQUIRE(status.plots.size() == 3);
  for (const auto& plot : status.plots) {
    INFO(plot.id);
    // The page is 1280 pixels wide: each plot's element spans the section's content and
    // the plot spans its element, no wider.
    CHECK(plot.element_width >= 1000);
    CHECK(plot.drawn_width >= 0.9 * plot.element_width);
    CHECK(plot.drawn_width <= plot.element_width + 1);
  }
  // The learning curves: a legend for the colour (lr) and one for the dash (hidden).
  for (const char* id : {"plot-1", "plot-2"}) {
    INFO(id);
    REQUIRE(status.plot(id) != nullptr);
    const auto& legends = status.plot(id)->legends;
    CHECK(std::find(legends.begin(), legends.end(), "lr") != legends.end());
    CHECK(std::find(legends.begin(), legends.end(), "hidden") != legends.end());
  }
  // No table hides a column: nothing to scroll sideways.
  REQUIRE(status.tables.size() >= 2);
  for (const auto& table : status.tables) CHECK(table.scroll_width <= table.visible_width);
}

TEST_CASE("the headless check fails when a plot does not draw", "[report][browser]") {
  REQUIRE(test::chromiumAvailable());
  test::TempDir dir;
  std::string html = renderFixture(dir).html;
  // Break the first plot's spec: an unknown mark type makes vega-embed reject it.
  const size_t mark = html.find(R"("mark":{"type":"line")");
  REQUIRE(mark != std::string::npos);
  html.replace(mark, 21, R"("mark":{"type":"nope")");
  const test::RenderStatus status = test::openInChromium(writeHtml(dir, "broken.html", html));
  INFO(status.describe());
  CHECK(status.found);
  CHECK_FALSE(status.allRendered());
  REQUIRE_FALSE(status.plots.empty());
  CHECK_FALSE(status.plots[0].ok);
  CHECK(status.errors >= 1);
}
