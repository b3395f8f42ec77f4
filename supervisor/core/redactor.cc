// Exact-value redaction. A value can also appear JSON-escaped (a quote or backslash inside a
// secret), so both spellings are patterns. Patterns are applied longest first.
#include "supervisor/core/redactor.h"

#include <algorithm>

#include "supervisor/base/json_writer.h"

namespace hero::core {

Redactor::Redactor(const std::map<std::string, std::string>& secrets) {
  for (const auto& [name, value] : secrets) {
    if (value.empty()) continue;
    const std::string replacement = "[secret " + name + "]";
    patterns_.emplace_back(value, replacement);
    JsonWriter w;
    w.String(value);
    std::string quoted = w.Take();
    std::string escaped = quoted.substr(1, quoted.size() - 2);
    if (escaped != value) patterns_.emplace_back(std::move(escaped), replacement);
  }
  std::sort(patterns_.begin(), patterns_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

bool Redactor::Apply(std::string* text) const {
  bool changed = false;
  for (const auto& [value, replacement] : patterns_) {
    size_t pos = text->find(value);
    while (pos != std::string::npos) {
      text->replace(pos, value.size(), replacement);
      changed = true;
      pos = text->find(value, pos + replacement.size());
    }
  }
  return changed;
}

}  // namespace hero::core
