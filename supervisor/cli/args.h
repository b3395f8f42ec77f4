// Tiny argv parser for the CLI: `--flag value`, `--flag=value`, boolean flags, positionals.
// Unknown flags are errors with a message that names them.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "supervisor/base/result.h"

namespace hero::cli {

struct ParsedArgs {
  std::map<std::string, std::string> values;  // --key value
  std::set<std::string> flags;                // --bool
  std::vector<std::string> positional;
  bool Has(const std::string& k) const { return values.count(k) || flags.count(k); }
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = values.find(k);
    return it == values.end() ? def : it->second;
  }
};

// `with_value`: flags that take a value; `boolean`: flags without one. "help" is always known.
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::set<std::string>& with_value,
                             const std::set<std::string>& boolean);

// A duration in seconds ("2", "0.5"): the whole text a number in (0, max_seconds], else none.
std::optional<double> ParseSeconds(const std::string& text, double max_seconds);

}  // namespace hero::cli
