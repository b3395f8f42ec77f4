// JsonWriter: a small, append-only JSON serializer (Debian's simdjson 3.0.1 has no writer).
// Leaf: STL only. Not thread-safe; one writer per document.
// Contract: strings are escaped per RFC 8259; invalid UTF-8 bytes become U+FFFD, so the
// output is always valid UTF-8 JSON. Commas are inserted automatically. Raw() appends
// already-valid JSON text verbatim (the caller guarantees validity).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hero {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view s);
  JsonWriter& Int(int64_t v);
  JsonWriter& Double(double v);  // NaN/Inf are written as null
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  JsonWriter& Raw(std::string_view json);
  // Key + value shorthands.
  JsonWriter& Field(std::string_view key, std::string_view s) { return Key(key).String(s); }
  JsonWriter& Field(std::string_view key, const char* s) { return Key(key).String(s); }
  JsonWriter& Field(std::string_view key, int64_t v) { return Key(key).Int(v); }
  JsonWriter& Field(std::string_view key, int v) { return Key(key).Int(v); }
  JsonWriter& Field(std::string_view key, bool v) { return Key(key).Bool(v); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

// Appends s to out as a quoted, escaped JSON string (same rules as JsonWriter::String).
void AppendJsonString(std::string& out, std::string_view s);

// Returns s with invalid UTF-8 sequences replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view s);

}  // namespace hero
