// config.toml: toml++ parses; this file maps the document onto flag values and checks every
// key, type and secret before the daemon starts. toml++ reports syntax errors by throwing
// toml::parse_error (Debian's shared libtomlplusplus is built with exceptions): it is caught
// here, at the boundary, and turned into a Status like every other error.
#include "supervisor/cli/config_file.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "supervisor/otel/otel_config.h"

namespace hero::cli {
namespace {

constexpr size_t kMinSecretBytes = 8;  // shorter values would redact ordinary text

std::string Where(const std::string& path, const toml::source_region& r, const std::string& key) {
  return path + ":" + std::to_string(r.begin.line) + ": key '" + key + "'";
}

std::string FlagName(std::string key) {
  for (char& c : key)
    if (c == '_') c = '-';
  return key;
}

std::string NumberText(const toml::node& v) {
  if (auto i = v.value_exact<int64_t>()) return std::to_string(*i);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", *v.value_exact<double>());
  return buf;
}

}  // namespace

bool IsEnvName(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<ConfigFile> LoadConfigFile(const std::string& path, const std::set<std::string>& string_keys,
                                  const std::set<std::string>& number_keys) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("config " + path + ": cannot read it");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  toml::table root;
  try {
    root = toml::parse(doc, path);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(path + ":" + std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  }
  ConfigFile cfg;
  cfg.path = path;
  for (auto&& [k, v] : root) {
    const std::string key(k.str());
    const std::string where = Where(path, k.source(), key);
    if (key == "secrets") {
      const toml::table* t = v.as_table();
      if (!t) return InvalidArgument(where + ": must be a table of NAME = \"value\"");
      for (auto&& [sk, sv] : *t) {
        const std::string name(sk.str());
        const std::string swhere = Where(path, sk.source(), "secrets." + name);
        if (!IsEnvName(name))
          return InvalidArgument(swhere + ": a secret's name must be an environment variable name");
        auto value = sv.value_exact<std::string>();
        if (!value) return InvalidArgument(swhere + ": must be a string");
        if (value->find('\0') != std::string::npos)
          return InvalidArgument(swhere + ": must not contain a NUL byte");
        if (value->size() < kMinSecretBytes) {
          return InvalidArgument(swhere + ": must be at least " + std::to_string(kMinSecretBytes) +
                                 " bytes (values are redacted wherever they appear)");
        }
        cfg.secrets[name] = *value;
      }
      continue;
    }
    if (key == "otel") {
      const toml::table* t = v.as_table();
      if (!t) return InvalidArgument(where + ": must be a table of OpenTelemetry settings");
      for (auto&& [ok, ov] : *t) {
        std::string var = "OTEL_" + std::string(ok.str());
        for (char& c : var) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        const std::string owhere = Where(path, ok.source(), "otel." + std::string(ok.str()));
        if (!otel::IsOtelVariable(var)) return InvalidArgument(owhere + ": unknown key");
        auto value = ov.value_exact<std::string>();
        auto number = ov.value_exact<int64_t>();
        if (!value && !number) return InvalidArgument(owhere + ": must be a string or an integer");
        cfg.otel[var] = value ? *value : std::to_string(*number);
      }
      continue;
    }
    if (key == "script_run_secrets") {
      const toml::array* a = v.as_array();
      if (!a) return InvalidArgument(where + ": must be an array of secret names");
      for (const toml::node& n : *a) {
        auto name = n.value_exact<std::string>();
        if (!name || !IsEnvName(*name))
          return InvalidArgument(where + ": every entry must be a secret's name");
        cfg.script_run_secrets.push_back(*name);
      }
      continue;
    }
    const std::string flag = FlagName(key);
    if (key.find('-') != std::string::npos ||
        (!string_keys.count(flag) && !number_keys.count(flag))) {
      return InvalidArgument(where + ": unknown key");
    }
    if (number_keys.count(flag)) {
      if (!v.is_integer() && !v.is_floating_point())
        return InvalidArgument(where + ": must be a number");
      cfg.values[flag] = NumberText(v);
    } else {
      auto s = v.value_exact<std::string>();
      if (!s) return InvalidArgument(where + ": must be a string");
      cfg.values[flag] = *s;
    }
    cfg.origin[flag] = where;
  }
  if (!cfg.secrets.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH)) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return Status(StatusCode::kPermissionDenied,
                    "config " + path + ": holds [secrets] but other users can read it (mode " +
                        mode + "); chmod 0640 or 0600");
    }
  }
  return cfg;
}

Result<std::map<std::string, std::string>> LoadSecretsDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return NotFound("secrets_dir " + dir + ": " + ec.message());
  for (const fs::directory_entry& e : it) {
    const std::string file = e.path().string();
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] == '.') continue;  // editor and package-manager leftovers
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return InvalidArgument("secret " + file + ": must be a regular file");
    if (st.st_mode & 077) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return Status(StatusCode::kPermissionDenied,
                    "secret " + file + ": others can read it (mode " + mode + "); chmod 0600");
    }
    if (!IsEnvName(name))
      return InvalidArgument("secret " + file + ": the name must be an environment variable name");
    std::ifstream in(file, std::ios::binary);
    std::ostringstream value;
    value << in.rdbuf();
    std::string v = value.str();
    if (!v.empty() && v.back() == '\n') v.pop_back();
    if (!v.empty() && v.back() == '\r') v.pop_back();
    if (v.find('\0') != std::string::npos)
      return InvalidArgument("secret " + file + ": must not contain a NUL byte");
    if (v.size() < kMinSecretBytes)
      return InvalidArgument("secret " + file + ": must be at least " +
                             std::to_string(kMinSecretBytes) + " bytes");
    out[name] = std::move(v);
  }
  return out;
}

}  // namespace hero::cli
