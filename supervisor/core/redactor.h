// Redactor: removes the exact values of the operator's secrets from text the supervisor stores
// or answers with (span fields and tags, logs, tracebacks, outputs, inputs, reasons, captured
// output). Immutable after construction; any thread. Depends on base only.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hero::core {

class Redactor {
 public:
  Redactor() = default;
  // name -> value. Each value is matched as is and in its JSON-escaped form (how it appears
  // inside stored JSON such as tags and outputs); both become "[secret NAME]".
  explicit Redactor(const std::map<std::string, std::string>& secrets);

  bool empty() const { return patterns_.empty(); }
  // Replaces every occurrence in place; returns true if anything was replaced.
  bool Apply(std::string* text) const;

 private:
  // (value, replacement), longest value first so a secret containing another is replaced whole.
  std::vector<std::pair<std::string, std::string>> patterns_;
};

}  // namespace hero::core
