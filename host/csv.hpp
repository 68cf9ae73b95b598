// The CSV reader shared by the series and text readers (internal header): RFC 4180 records.
#pragma once

#include <string>
#include <vector>

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

// The header column called `name` (exactly, else case-insensitively), or -1.
int find_column(const std::vector<std::string>& header, const std::string& name);

std::string lower(std::string s);                     // ASCII lower case
std::string join(const std::vector<std::string>& v);  // "a, b, c"

}  // namespace rnnattn
