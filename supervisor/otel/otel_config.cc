// OtelConfigFromEnv: the OpenTelemetry SDK environment variables -> OtelConfig.
#include "supervisor/otel/otel_config.h"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace hero::otel {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (r.ec == std::errc() && r.ptr == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// The endpoint for a signal: the signal's own variable as is, else base + path.
std::string SignalUrl(const char* specific, const char* base, std::string_view path) {
  if (specific && *specific) return specific;
  if (!base || !*base) return "";
  std::string url = base;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + std::string(path);
}

const char* FirstSet(const char* a, const char* b) { return (a && *a) ? a : b; }

}  // namespace

bool IsOtelVariable(std::string_view name) {
  static constexpr std::string_view kVars[] = {
      "OTEL_SDK_DISABLED",
      "OTEL_TRACES_EXPORTER",
      "OTEL_LOGS_EXPORTER",
      "OTEL_SERVICE_NAME",
      "OTEL_RESOURCE_ATTRIBUTES",
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
      "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
      "OTEL_EXPORTER_OTLP_PROTOCOL",
      "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
      "OTEL_EXPORTER_OTLP_HEADERS",
      "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
      "OTEL_EXPORTER_OTLP_TIMEOUT",
      "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
      "OTEL_BSP_MAX_QUEUE_SIZE",
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
      "OTEL_BSP_SCHEDULE_DELAY",
  };
  for (std::string_view v : kVars)
    if (v == name) return true;
  return false;
}

KeyValues ParseKeyValueList(std::string_view s, std::vector<std::string>* bad) {
  KeyValues out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string_view m = Trim(s.substr(pos, comma == s.npos ? s.npos : comma - pos));
    if (!m.empty()) {
      size_t eq = m.find('=');
      std::string_view key = eq == m.npos ? m : Trim(m.substr(0, eq));
      if (eq == m.npos || key.empty()) {
        if (bad) bad->emplace_back(m);
      } else {
        std::string k = PercentDecode(key);
        std::string v = PercentDecode(Trim(m.substr(eq + 1)));
        auto it = std::find_if(out.begin(), out.end(), [&](auto& kv) { return kv.first == k; });
        if (it != out.end()) {
          it->second = std::move(v);  // a repeated key: the last one wins
        } else {
          out.emplace_back(std::move(k), std::move(v));
        }
      }
    }
    if (comma == s.npos) break;
    pos = comma + 1;
  }
  return out;
}

OtelConfig OtelConfigFromEnv(const std::function<const char*(const char*)>& getenv) {
  OtelConfig c;
  auto get = [&](const char* name) -> const char* {
    const char* v = getenv(name);
    return (v && *v) ? v : nullptr;
  };
  auto warn = [&](const char* var, std::string_view value, std::string_view why) {
    c.warnings.push_back(std::string(var) + "=" + std::string(value) + ": " + std::string(why));
  };
  auto positive = [&](const char* var, int64_t* out) {
    const char* v = get(var);
    if (!v) return false;
    int64_t n = 0;
    std::string_view s(v);
    auto r = std::from_chars(s.data(), s.data() + s.size(), n);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || n <= 0) {
      warn(var, s, "not a positive integer; the default is used");
      return false;
    }
    *out = n;
    return true;
  };

  // Resource first: OTEL_SERVICE_NAME wins over service.name from the attribute list.
  if (const char* ra = get("OTEL_RESOURCE_ATTRIBUTES")) {
    std::vector<std::string> bad;
    for (auto& [k, v] : ParseKeyValueList(ra, &bad)) {
      if (k == "service.name") {
        c.service_name = v;
      } else {
        c.resource.emplace_back(k, v);
      }
    }
    for (auto& b : bad) warn("OTEL_RESOURCE_ATTRIBUTES", b, "not key=value; skipped");
  }
  if (const char* sn = get("OTEL_SERVICE_NAME")) c.service_name = sn;

  const char* base = get("OTEL_EXPORTER_OTLP_ENDPOINT");
  c.traces_url = SignalUrl(get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), base, "/v1/traces");
  c.logs_url = SignalUrl(get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"), base, "/v1/logs");

  const char* proto =
      FirstSet(get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), get("OTEL_EXPORTER_OTLP_PROTOCOL"));
  bool protocol_ok = true;
  if (proto) {
    std::string p = Lower(proto);
    if (p == "http/json") {
      c.json = true;
    } else if (p != "http/protobuf") {
      warn("OTEL_EXPORTER_OTLP_PROTOCOL", proto,
           "not supported (hero_logic speaks OTLP/HTTP: http/protobuf or http/json); export is "
           "off");
      protocol_ok = false;
    }
  }
  for (const char* var : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}) {
    const char* h = get(var);
    if (!h) continue;
    std::vector<std::string> bad;
    for (auto& [k, v] : ParseKeyValueList(h, &bad)) {
      auto it =
          std::find_if(c.headers.begin(), c.headers.end(), [&](auto& kv) { return kv.first == k; });
      if (it != c.headers.end()) {
        it->second = v;
      } else {
        c.headers.emplace_back(k, v);
      }
    }
    for (auto& b : bad) warn(var, b, "not key=value; skipped");
  }
  int64_t n = 0;
  if (positive("OTEL_EXPORTER_OTLP_TIMEOUT", &n)) c.timeout = std::chrono::milliseconds(n);
  if (positive("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", &n)) c.timeout = std::chrono::milliseconds(n);
  if (positive("OTEL_BSP_MAX_QUEUE_SIZE", &n)) c.max_queue = static_cast<size_t>(n);
  if (positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &n)) c.max_batch = static_cast<size_t>(n);
  if (positive("OTEL_BSP_SCHEDULE_DELAY", &n)) c.schedule_delay = std::chrono::milliseconds(n);
  c.max_batch = std::min<size_t>({c.max_batch, 512, c.max_queue});

  const char* logs_exporter = get("OTEL_LOGS_EXPORTER");
  if (logs_exporter && Lower(logs_exporter) == "none") c.logs_url.clear();
  const char* disabled = get("OTEL_SDK_DISABLED");
  const char* traces_exporter = get("OTEL_TRACES_EXPORTER");
  c.enabled = !c.traces_url.empty() && protocol_ok && !(disabled && Lower(disabled) == "true") &&
              !(traces_exporter && Lower(traces_exporter) == "none");
  return c;
}

}  // namespace hero::otel
