// The JSON writer of the command line's --json outputs (cli/json.hpp).
#include "cli/json.hpp"

#include <cmath>
#include <cstdio>

#include "io.hpp"

namespace rnnattn::cli {

std::string json_escape(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      case '\r':
        o += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}

void Json::prefix(const char* key) {
  if (!first_.empty()) {
    if (!first_.back()) out_ += ",";
    first_.back() = false;
  }
  if (key) out_ += json_escape(key) + ":";
}

Json& Json::begin_object(const char* key) {
  prefix(key);
  out_ += "{";
  first_.push_back(true);
  return *this;
}
Json& Json::end_object() {
  out_ += "}";
  first_.pop_back();
  if (first_.empty()) out_ += "\n";
  return *this;
}
Json& Json::begin_array(const char* key) {
  prefix(key);
  out_ += "[";
  first_.push_back(true);
  return *this;
}
Json& Json::end_array() {
  out_ += "]";
  first_.pop_back();
  return *this;
}
Json& Json::value(const char* key, const std::string& v) {
  prefix(key);
  out_ += json_escape(v);
  return *this;
}
std::string number_text(double v) { return std::isfinite(v) ? shortest_text(v) : "null"; }
std::string number_text(float v) { return std::isfinite(v) ? shortest_text(v) : "null"; }

Json& Json::value(const char* key, double v) {
  prefix(key);
  out_ += number_text(v);
  return *this;
}
Json& Json::value(const char* key, float v) {
  prefix(key);
  out_ += number_text(v);
  return *this;
}
Json& Json::value(const char* key, long long v) {
  prefix(key);
  out_ += std::to_string(v);
  return *this;
}
Json& Json::value(const char* key, bool v) {
  prefix(key);
  out_ += v ? "true" : "false";
  return *this;
}
Json& Json::numbers(const char* key, const std::vector<float>& v) {
  begin_array(key);
  for (float f : v) value(nullptr, f);
  return end_array();
}
Json& Json::numbers(const char* key, const std::vector<double>& v) {
  begin_array(key);
  for (double d : v) value(nullptr, d);
  return end_array();
}

}  // namespace rnnattn::cli
