// argv parsing.
#include "supervisor/cli/args.h"

#include <cstdlib>

namespace hero::cli {

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::set<std::string>& with_value,
                             const std::set<std::string>& boolean) {
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h") {
      out.flags.insert("help");
      continue;
    }
    if (a.rfind("--", 0) != 0 || a == "--") {
      if (a == "--") {
        for (size_t j = i + 1; j < args.size(); ++j) out.positional.push_back(args[j]);
        break;
      }
      out.positional.push_back(a);
      continue;
    }
    std::string key = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
      inline_value = true;
    }
    if (key == "help" || boolean.count(key)) {
      if (inline_value) return InvalidArgument("--" + key + " takes no value");
      out.flags.insert(key);
    } else if (with_value.count(key)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) return InvalidArgument("--" + key + " needs a value");
        value = args[++i];
      }
      out.values[key] = value;
    } else {
      return InvalidArgument("unknown option --" + key + " (see --help)");
    }
  }
  return out;
}

std::optional<double> ParseSeconds(const std::string& text, double max_seconds) {
  char* end = nullptr;
  double s = std::strtod(text.c_str(), &end);  // `text` outlives `end`
  if (text.empty() || *end != '\0' || !(s > 0) || s > max_seconds) {
    return std::nullopt;
  }
  return s;
}

}  // namespace hero::cli
