#pragma once
// Splits CSV text into records: comma separated, spaces around fields trimmed, blank
// lines skipped, double-quoted fields may hold commas, newlines and doubled quotes ("").

#include <string>
#include <vector>

#include "runtime/data/dataset.h"

namespace nnspec::rt {

class CsvRecordReader {
 public:
  CsvRecordReader(std::string path, const std::string& text);

  // Reads the next record into `fields`; returns false at the end of the text.
  DataResult<bool> next(std::vector<std::string>& fields);
  // The 1-based line on which the last record read starts.
  int recordLine() const { return record_line_; }

 private:
  DataResult<bool> readQuoted(std::string& field);
  void readUnquoted(std::string& field);
  void skipBlanks();
  void skipBlankLines();
  bool atEnd() const { return pos_ >= text_.size(); }
  bool atLineEnd() const;
  void consumeLineEnd();

  std::string path_;
  const std::string& text_;
  size_t pos_ = 0;
  int line_ = 1;
  int record_line_ = 0;
};

}  // namespace nnspec::rt
