// CSV files with a header row: the spec picks feature columns and one target column.
#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "runtime/data/byte_stream.h"
#include "runtime/data/csv_records.h"
#include "runtime/data/quote.h"
#include "runtime/data/sources.h"

namespace nnspec::rt {

namespace {

constexpr const char* kCsvMissingHint =
    "check the path; relative paths in a spec are resolved from the spec's folder";
constexpr size_t kMaxSuggestionDistance = 2;
constexpr size_t kMaxIndexDigits = 9;
// Integer targets are class labels only while a float holds them exactly.
constexpr double kMaxExactLabel = 16777216.0;  // 2^24

size_t editDistance(const std::string& from, const std::string& to) {
  std::vector<size_t> previous(to.size() + 1);
  std::vector<size_t> current(to.size() + 1);
  for (size_t to_idx = 0; to_idx <= to.size(); ++to_idx) previous[to_idx] = to_idx;
  for (size_t from_idx = 1; from_idx <= from.size(); ++from_idx) {
    current[0] = from_idx;
    for (size_t to_idx = 1; to_idx <= to.size(); ++to_idx) {
      size_t substitution = previous[to_idx - 1] + (from[from_idx - 1] == to[to_idx - 1] ? 0 : 1);
      current[to_idx] = std::min({previous[to_idx] + 1, current[to_idx - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[to.size()];
}

// The header's names, each made quotable, the first kListedColumns of them.
std::string quotedList(const std::vector<std::string>& names) {
  constexpr size_t kListedColumns = 20;
  std::vector<std::string> quoted;
  for (size_t k = 0; k < names.size() && k < kListedColumns; ++k) quoted.push_back("'" + quotableText(names[k]) + "'");
  std::string list = fmt::format("{}", fmt::join(quoted, ", "));
  if (names.size() > kListedColumns) list += fmt::format(" and {} more", names.size() - kListedColumns);
  return list;
}

bool isIndex(const std::string& text) {
  return !text.empty() && text.size() <= kMaxIndexDigits &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A column named by the spec: a header name first, else a 0-based number.
DataResult<size_t> resolveColumn(const std::string& path, const std::vector<std::string>& header,
                                 const std::string& name) {
  std::vector<size_t> matches;
  for (size_t column = 0; column < header.size(); ++column) {
    if (header[column] == name) matches.push_back(column);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.size() > 1) {
    return DataError{
        path,
        fmt::format("ambiguous column '{}': columns {} of the header all have that name", quotableText(name),
                    fmt::join(matches, ", ")),
        "rename the columns or select them by number"};
  }
  if (isIndex(name)) {
    size_t column = std::stoul(name);
    if (column < header.size()) return column;
    return DataError{path,
                     fmt::format("column {} is out of range: the file has {} columns (0..{})",
                                 column, header.size(), header.size() - 1),
                     ""};
  }

  std::string hint = "name a column of the header row, or give its 0-based number";
  size_t best_distance = kMaxSuggestionDistance + 1;
  for (const std::string& candidate : header) {
    size_t distance = editDistance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      hint = fmt::format("did you mean '{}'?", quotableText(candidate));
    }
  }
  return DataError{path, fmt::format("unknown column '{}' (columns: {})", quotableText(name), quotedList(header)),
                   hint};
}

constexpr size_t kNoTarget = static_cast<size_t>(-1);

struct CsvSelection {
  std::vector<size_t> features;
  size_t target = 0;  // kNoTarget: an optional target the file lacks
};

DataResult<CsvSelection> selectColumns(const std::string& path,
                                       const std::vector<std::string>& header,
                                       const CsvColumns& columns) {
  if (columns.target.empty()) {
    return DataError{path, "no target column given", "name the column that holds the target"};
  }
  CsvSelection selection;
  const bool named = std::find(header.begin(), header.end(), columns.target) != header.end();
  if (columns.target_optional && !named && !isIndex(columns.target)) {
    selection.target = kNoTarget;
  } else {
    DataResult<size_t> target = resolveColumn(path, header, columns.target);
    if (!target.ok()) return target.error();
    selection.target = target.value();
  }

  if (columns.features.empty()) {
    for (size_t column = 0; column < header.size(); ++column) {
      if (column != selection.target) selection.features.push_back(column);
    }
    if (selection.features.empty()) {
      return DataError{path,
                       fmt::format("no feature columns: the only column is the target '{}'",
                                   quotableText(columns.target)),
                       ""};
    }
    return selection;
  }

  for (const std::string& name : columns.features) {
    DataResult<size_t> feature = resolveColumn(path, header, name);
    if (!feature.ok()) return feature.error();
    size_t column = feature.value();
    if (column == selection.target) {
      return DataError{
          path, fmt::format("column '{}' is both a feature and the target", quotableText(header[column])), ""};
    }
    if (std::find(selection.features.begin(), selection.features.end(), column) !=
        selection.features.end()) {
      return DataError{path, fmt::format("column '{}' is selected twice", quotableText(header[column])), ""};
    }
    selection.features.push_back(column);
  }
  return selection;
}

DataResult<double> parseCell(const std::string& path, int line, const std::string& column_name,
                             const std::string& cell) {
  auto error = [&](std::string what) {
    return DataError{path, fmt::format("line {}, column '{}': {}", line, quotableText(column_name), what), ""};
  };
  if (cell.empty()) return error("empty cell, expected a number");
  const char* begin = cell.data();
  const char* end = cell.data() + cell.size();
  if (*begin == '+') ++begin;
  double value = 0;
  std::from_chars_result parsed = std::from_chars(begin, end, value);
  if (parsed.ec == std::errc::result_out_of_range) {
    return error(fmt::format("'{}' is out of range", quotableText(cell)));
  }
  if (parsed.ec != std::errc() || parsed.ptr != end) {
    return error(fmt::format("'{}' is not a number", quotableText(cell)));
  }
  if (!std::isfinite(value)) return error(fmt::format("'{}' is not a finite number", quotableText(cell)));
  return value;
}

struct CsvData {
  Dataset dataset;
  bool integer_targets = true;
};

DataResult<CsvData> readCsv(const std::string& path, const CsvColumns& columns) {
  DataResult<std::string> text = readWholeFile(path, kCsvMissingHint);
  if (!text.ok()) return text.error();
  CsvRecordReader reader(path, text.value());

  std::vector<std::string> header;
  DataResult<bool> has_header = reader.next(header);
  if (!has_header.ok()) return has_header.error();
  if (!has_header.value()) {
    return DataError{path, "empty file: a header row naming the columns is required", ""};
  }
  DataResult<CsvSelection> selection = selectColumns(path, header, columns);
  if (!selection.ok()) return selection.error();
  const std::vector<size_t>& features = selection.value().features;
  const size_t target = selection.value().target;

  CsvData data;
  Dataset& dataset = data.dataset;
  const bool labelled = target != kNoTarget;
  dataset.sample_shape = {static_cast<int64_t>(features.size())};
  dataset.target_width = labelled ? 1 : 0;
  double max_target = 0;
  std::vector<std::string> fields;
  while (true) {
    DataResult<bool> has_row = reader.next(fields);
    if (!has_row.ok()) return has_row.error();
    if (!has_row.value()) break;
    const int line = reader.recordLine();
    if (fields.size() != header.size()) {
      return DataError{path,
                       fmt::format("ragged row: line {} has {} fields, but the header has {}", line,
                                   fields.size(), header.size()),
                       ""};
    }
    for (size_t column : features) {
      DataResult<double> value = parseCell(path, line, header[column], fields[column]);
      if (!value.ok()) return value.error();
      dataset.x.push_back(static_cast<float>(value.value()));
    }
    if (!labelled) {
      ++dataset.count;
      continue;
    }
    DataResult<double> value = parseCell(path, line, header[target], fields[target]);
    if (!value.ok()) return value.error();
    double label = value.value();
    dataset.y.push_back(static_cast<float>(label));
    if (label < 0 || label != std::floor(label) || label >= kMaxExactLabel) {
      data.integer_targets = false;
    }
    max_target = std::max(max_target, label);
    ++dataset.count;
  }
  if (dataset.count == 0) {
    return DataError{path, "no data rows: the file has only a header", ""};
  }
  dataset.num_classes = labelled && data.integer_targets ? static_cast<int64_t>(max_target) + 1 : 0;
  return data;
}

}  // namespace

DataResult<std::vector<PartInfo>> probeCsv(const std::string& path, const CsvColumns& columns) {
  DataResult<CsvData> data =
      loadWithinMemory<CsvData>(path, "the rows of the file", [&] { return readCsv(path, columns); });
  if (!data.ok()) return data.error();
  const Dataset& dataset = data.value().dataset;
  PartInfo info;
  info.part = "all";
  info.count = dataset.count;
  info.sample_shape = dataset.sample_shape;
  info.target_width = dataset.target_width;
  info.integer_targets = data.value().integer_targets;
  info.num_classes = dataset.num_classes;
  return std::vector<PartInfo>{std::move(info)};
}

DataResult<Dataset> loadCsv(const std::string& path, const CsvColumns& columns) {
  DataResult<CsvData> data =
      loadWithinMemory<CsvData>(path, "the rows of the file", [&] { return readCsv(path, columns); });
  if (!data.ok()) return data.error();
  return std::move(data.value().dataset);
}

}  // namespace nnspec::rt
