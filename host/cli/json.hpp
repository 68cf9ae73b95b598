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
  Json& value(const char* key, double v);  // NaN and Inf become null
  Json& value(const char* key, long long v);
  Json& value(const char* key, int v) { return value(key, static_cast<long long>(v)); }
  Json& value(const char* key, bool v);
  Json& numbers(const char* key, const std::vector<float>& v);
  const std::string& str() const { return out_; }

 private:
  void prefix(const char* key);
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written into it yet
};

std::string json_escape(const std::string& s);

}  // namespace rnnattn::cli
