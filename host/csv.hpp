// The CSV reader shared by the series and text readers (internal header): RFC 4180 records.
#pragma once

#include <string>
#include <vector>

#include "rnnattn/data.hpp"

namespace rnnattn {

// One CSV record: its fields and the line it starts on.
struct Record {
  std::vector<std::string> fields;
  int line = 0;
  bool blank() const { return fields.size() == 1 && fields[0].empty(); }
};

// RFC 4180: records end at a line break outside quotes (CRLF or LF); a field in double quotes may
// hold commas, line breaks and doubled quotes (""), and only spaces may follow its closing quote.
// Unquoted fields are trimmed of spaces and tabs. Trailing blank lines are dropped. Throws
// DataError naming `path` and the line of a quote never closed or text after a closing quote.
std::vector<Record> parse_csv(const std::string& path, const std::string& text);

// A CSV file's records, its header row first: the file read whole, a UTF-8 byte-order mark
// dropped (spreadsheet programs often save "UTF-8 with BOM": the mark is not part of the first
// name), then parse_csv. *text, when given, receives the bytes parsed; *stamp the file's size and
// hash (all of its bytes). Throws DataError naming the file when it cannot be read or is empty.
std::vector<Record> read_csv_file(const std::string& path, std::string* text = nullptr,
                                  FileStamp* stamp = nullptr);

// The header column called `name` (exactly, else case-insensitively), or -1.
int find_column(const std::vector<std::string>& header, const std::string& name);

std::string lower(std::string s);                     // ASCII lower case
std::string join(const std::vector<std::string>& v);  // "a, b, c"

}  // namespace rnnattn
