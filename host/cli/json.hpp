// A minimal JSON writer for the command line's reports (internal).
#pragma once

#include <string>
#include <vector>

namespace rnnattn::cli {

// Builds one JSON document. Keys and values are written in call order; commas are automatic.
class Json {
 public:
  Json& begin_object(const char* key = nullptr);
  Json& end_object();
  Json& begin_array(const char* key = nullptr);
  Json& end_array();
  Json& value(const char* key, const std::string& v);
  Json& value(const char* key, const char* v) { return value(key, std::string(v)); }
  // Numbers as the shortest text that reads back to the same value (std::to_chars): a float as a
  // float (0.001f is 0.001), a double as a double. NaN and Inf become null.
  Json& value(const char* key, double v);
  Json& value(const char* key, float v);
  Json& value(const char* key, long long v);
  Json& value(const char* key, int v) { return value(key, static_cast<long long>(v)); }
  Json& value(const char* key, bool v);
  Json& numbers(const char* key, const std::vector<float>& v);
  Json& numbers(const char* key, const std::vector<double>& v);
  const std::string& str() const { return out_; }

 private:
  void prefix(const char* key);
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written into it yet
};

std::string json_escape(const std::string& s);
// The shortest text that reads back to v ("null" for NaN and Inf), as the JSON writes numbers.
std::string number_text(double v);
std::string number_text(float v);

}  // namespace rnnattn::cli
