#pragma once
// Opens an HTML report in headless Chromium (Debian's `chromium`, installed by
// scripts/setup.sh) and reads back what the page recorded in <pre id="nnspec-status">:
// each plot's render result and layout (widths, legends), each table's widths, the images
// loaded, and the console errors; keeps the drawn page. The page is 1280 pixels wide. Also
// takes a screenshot.

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nnspec::test {

struct PlotStatus {
  std::string id;
  bool ok = false;
  int marks = 0;
  int drawn_width = -1;    // the SVG's width on the page
  int element_width = -1;  // the width of the element it sits in
  std::vector<std::string> legends;  // legend titles, spaces as _
};

struct TableStatus {
  int scroll_width = -1;   // a table container's scrollWidth
  int visible_width = -1;  // its clientWidth
};

struct RenderStatus {
  bool found = false;  // the page wrote its status (it finished rendering)
  std::vector<PlotStatus> plots;
  std::vector<TableStatus> tables;
  int images_loaded = -1;
  int images_total = -1;
  int errors = -1;
  std::vector<std::string> error_lines;  // the page's, then Chromium's console errors
  std::string log;                       // Chromium's stderr
  std::string dom;                       // the page as drawn

  const PlotStatus* plot(const std::string& id) const {
    for (const auto& entry : plots) {
      if (entry.id == id) return &entry;
    }
    return nullptr;
  }

  bool allRendered() const {
    if (!found || errors != 0 || images_loaded != images_total) return false;
    for (const auto& plot : plots) {
      if (!plot.ok || plot.marks <= 0) return false;
    }
    return true;
  }
  std::string describe() const {
    std::ostringstream out;
    out << "status found " << found << ", " << plots.size() << " plots, images " << images_loaded << "/" << images_total
        << ", errors " << errors << "\n";
    for (const auto& plot : plots) {
      out << "  " << plot.id << (plot.ok ? " ok " : " FAILED ") << plot.marks << ", width " << plot.drawn_width << " of "
          << plot.element_width << ", legends";
      for (const auto& legend : plot.legends) out << " " << legend;
      out << "\n";
    }
    for (const auto& table : tables) out << "  table " << table.scroll_width << " of " << table.visible_width << "\n";
    for (const auto& line : error_lines) out << "  error: " << line << "\n";
    return out.str();
  }
};

inline std::string runCommand(const std::string& command) {
  std::string out;
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[65536];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, read);
  pclose(pipe);
  return out;
}

inline bool chromiumAvailable() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

// The flags every run uses; a fresh profile per run so parallel tests do not collide.
inline std::string chromiumCommand(const std::string& profile, const std::string& extra) {
  return "timeout 180 chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
         "--no-first-run --disable-extensions --hide-scrollbars --enable-logging=stderr --v=0 "
         "--virtual-time-budget=30000 --user-data-dir='" + profile + "' " + extra;
}

inline RenderStatus openInChromium(const std::string& html_path, const std::string& screenshot_path = "",
                                   int height = 4000) {
  namespace fs = std::filesystem;
  const std::string base = (fs::temp_directory_path() / ("nnspec_chromium_" + std::to_string(::getpid()) + "_" +
                                                         fs::path(html_path).stem().string()))
                               .string();
  const std::string url = "file://" + fs::absolute(html_path).string();
  const std::string log_path = base + ".log";
  RenderStatus status;
  const std::string dom = status.dom =
      runCommand(chromiumCommand(base + ".profile", "--window-size=1280," + std::to_string(height) + " --dump-dom '" + url +
                                                         "' 2>'" + log_path + "'"));
  std::ifstream log_file(log_path);
  status.log.assign(std::istreambuf_iterator<char>(log_file), {});
  const std::string open = "<pre id=\"nnspec-status\" hidden=\"\">";
  const size_t begin = dom.find(open);
  const size_t end = begin == std::string::npos ? begin : dom.find("</pre>", begin);
  if (begin != std::string::npos && end != std::string::npos) {
    std::istringstream lines(dom.substr(begin + open.size(), end - begin - open.size()));
    std::string line;
    bool errors_follow = false;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string word;
      words >> word;
      if (errors_follow) {
        status.error_lines.push_back(line);
      } else if (word == "plot") {
        PlotStatus plot;
        std::string verdict;
        words >> plot.id >> verdict >> plot.marks;
        plot.ok = verdict == "ok";
        status.plots.push_back(plot);
      } else if (word == "size" || word == "legends") {
        std::string id;
        words >> id;
        PlotStatus* plot = nullptr;
        for (auto& entry : status.plots) {
          if (entry.id == id) plot = &entry;
        }
        if (plot == nullptr) continue;
        if (word == "size") {
          words >> plot->drawn_width >> plot->element_width;
        } else {
          int count = 0;
          words >> count;
          std::string title;
          while (words >> title) plot->legends.push_back(title);
        }
      } else if (word == "table") {
        int index = 0;
        TableStatus table;
        words >> index >> table.scroll_width >> table.visible_width;
        status.tables.push_back(table);
      } else if (word == "images") {
        words >> status.images_loaded >> status.images_total;
      } else if (word == "errors") {
        words >> status.errors;
        status.found = true;
        errors_follow = true;
      }
    }
  }
  // Console messages Chromium logs at error level, or uncaught exceptions.
  std::istringstream log_lines(status.log);
  std::string line;
  while (std::getline(log_lines, line)) {
    if (line.find("CONSOLE") != std::string::npos &&
        (line.find("Uncaught") != std::string::npos || line.find(":ERROR:") != std::string::npos)) {
      status.error_lines.push_back(line);
      if (status.errors >= 0) ++status.errors;
    }
  }
  if (!screenshot_path.empty()) {
    runCommand(chromiumCommand(base + ".profile",
                               "--window-size=1280," + std::to_string(height) + " --screenshot='" + screenshot_path + "' '" +
                                   url + "' 2>/dev/null"));
  }
  std::error_code ignored;
  fs::remove_all(base + ".profile", ignored);
  fs::remove(log_path, ignored);
  return status;
}

}  // namespace nnspec::test
