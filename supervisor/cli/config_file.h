// The daemon's configuration file (/etc/hero_logic/config.toml, `serve --config PATH`),
// parsed with toml++: every `serve` flag has a key (the flag's name with '_' for '-'), plus
// the [secrets] table, secrets_dir and script_run_secrets. Main thread, before the loop.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "supervisor/base/result.h"

namespace hero::cli {

struct ConfigFile {
  std::string path;
  // Flag name ("per-flow-limit") -> the value as the flag's text ("4", "0.5", "/var/lib/x").
  std::map<std::string, std::string> values;
  // Flag name -> "PATH:LINE: key 'per_flow_limit'" (for errors about the value).
  std::map<std::string, std::string> origin;
  std::map<std::string, std::string> secrets;   // [secrets] NAME = "value"
  std::vector<std::string> script_run_secrets;  // names granted to script_run (ad-hoc code)
  // [otel] exporter_otlp_endpoint = "..." -> {"OTEL_EXPORTER_OTLP_ENDPOINT", "..."}: the
  // OpenTelemetry variables (docs/OTEL.md) without the OTEL_ prefix, lower case. The process
  // environment wins over the file.
  std::map<std::string, std::string> otel;
};

// Reads and checks `path`. `string_keys` and `number_keys` are the allowed flag names (with
// '-'); a number key accepts a TOML integer or float, a string key a TOML string. Errors
// (kInvalidArgument, kNotFound, kPermissionDenied) name the file, line and key: a syntax
// error, an unknown key or table (also in [otel]), a value of the wrong type, a secret name that is
// not an environment variable name, a secret shorter than 8 bytes, [secrets] in a file that other
// users can read.
Result<ConfigFile> LoadConfigFile(const std::string& path, const std::set<std::string>& string_keys,
                                  const std::set<std::string>& number_keys);

// Reads secrets_dir: one file per secret, named like an environment variable, the value its
// content (one trailing newline dropped). Each file must be a regular file that only its owner
// can read (mode 0600 or 0400). Errors name the file.
Result<std::map<std::string, std::string>> LoadSecretsDir(const std::string& dir);

// True for an environment variable name: [A-Za-z_][A-Za-z0-9_]*.
bool IsEnvName(const std::string& name);

}  // namespace hero::cli
