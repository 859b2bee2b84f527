#include "runtime/data/csv_records.h"

#include <fmt/core.h>

namespace nnspec::rt {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool isBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

CsvRecordReader::CsvRecordReader(std::string path, const std::string& text)
    : path_(std::move(path)), text_(text) {
  if (text_.compare(0, kUtf8Bom.size(), kUtf8Bom) == 0) pos_ = kUtf8Bom.size();
}

bool CsvRecordReader::atLineEnd() const {
  return atEnd() || text_[pos_] == '\n' || text_[pos_] == '\r';
}

void CsvRecordReader::consumeLineEnd() {
  if (atEnd()) return;
  if (text_[pos_] == '\r') ++pos_;
  if (!atEnd() && text_[pos_] == '\n') ++pos_;
  ++line_;
}

void CsvRecordReader::skipBlanks() {
  while (!atEnd() && isBlank(text_[pos_])) ++pos_;
}

void CsvRecordReader::skipBlankLines() {
  while (!atEnd()) {
    size_t line_start = pos_;
    skipBlanks();
    if (atEnd()) return;
    if (!atLineEnd()) {
      pos_ = line_start;
      return;
    }
    consumeLineEnd();
  }
}

DataResult<bool> CsvRecordReader::next(std::vector<std::string>& fields) {
  fields.clear();
  skipBlankLines();
  if (atEnd()) return false;
  record_line_ = line_;
  while (true) {
    skipBlanks();
    std::string field;
    if (!atEnd() && text_[pos_] == '"') {
      DataResult<bool> quoted = readQuoted(field);
      if (!quoted.ok()) return quoted.error();
    } else {
      readUnquoted(field);
    }
    fields.push_back(std::move(field));
    if (!atEnd() && text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    consumeLineEnd();
    return true;
  }
}

DataResult<bool> CsvRecordReader::readQuoted(std::string& field) {
  const int opening_line = line_;
  ++pos_;  // the opening quote
  while (true) {
    if (atEnd()) {
      return DataError{
          path_, fmt::format("line {}: unterminated quoted field (no closing '\"')", opening_line),
          ""};
    }
    char c = text_[pos_++];
    if (c == '"') {
      if (!atEnd() && text_[pos_] == '"') {
        field += '"';
        ++pos_;
        continue;
      }
      break;
    }
    if (c == '\n') ++line_;
    field += c;
  }
  skipBlanks();
  if (!atEnd() && text_[pos_] != ',' && !atLineEnd()) {
    return DataError{path_, fmt::format("line {}: unexpected text after a quoted field", line_),
                     ""};
  }
  return true;
}

void CsvRecordReader::readUnquoted(std::string& field) {
  size_t start = pos_;
  while (!atEnd() && text_[pos_] != ',' && !atLineEnd()) ++pos_;
  size_t end = pos_;
  while (end > start && isBlank(text_[end - 1])) --end;
  field.assign(text_, start, end - start);
}

}  // namespace nnspec::rt
