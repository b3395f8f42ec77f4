// OtelConfig: the exporter's settings, read from the standard OpenTelemetry environment
// variables. Pure (the environment comes in through a lookup function). Thread: any.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace hero::otel {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct OtelConfig {
  bool enabled = false;    // an endpoint is set and nothing disables export
  std::string traces_url;  // full URL, e.g. http://collector:4318/v1/traces
  std::string logs_url;    // "" = log records are not exported (logs become span events)
  bool json = false;       // OTEL_EXPORTER_OTLP_PROTOCOL=http/json (default http/protobuf)
  KeyValues headers;       // extra HTTP headers (percent-decoded)
  std::chrono::milliseconds timeout{10'000};  // per export request; also the CLI's exit bound
  std::string service_name = "hero_logic";
  KeyValues resource;  // OTEL_RESOURCE_ATTRIBUTES (service.name is taken out into service_name)
  size_t max_queue = 16'384;  // OTEL_BSP_MAX_QUEUE_SIZE: spans + logs waiting; oldest dropped
  size_t max_batch = 512;     // OTEL_BSP_MAX_EXPORT_BATCH_SIZE, at most 512
  std::chrono::milliseconds schedule_delay{1'000};  // OTEL_BSP_SCHEDULE_DELAY
  // What was ignored and why ("OTEL_EXPORTER_OTLP_PROTOCOL=grpc: not supported ..."); the
  // caller logs these once. A bad value never stops hero_logic: telemetry is not worth a run.
  std::vector<std::string> warnings;
};

// Reads OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_LOGS_EXPORTER,
// OTEL_EXPORTER_OTLP_{,TRACES_,LOGS_}{ENDPOINT,PROTOCOL,HEADERS,TIMEOUT}, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES and OTEL_BSP_{MAX_QUEUE_SIZE,MAX_EXPORT_BATCH_SIZE,SCHEDULE_DELAY}
// through `getenv` (returns nullptr when unset). Export is enabled iff a traces endpoint is
// set, OTEL_SDK_DISABLED is not "true" and OTEL_TRACES_EXPORTER is not "none". A signal-
// specific variable overrides the general one; a base OTEL_EXPORTER_OTLP_ENDPOINT gets
// "/v1/traces" and "/v1/logs" appended, a signal-specific endpoint is used as is.
OtelConfig OtelConfigFromEnv(const std::function<const char*(const char*)>& getenv);

// True for a variable OtelConfigFromEnv reads (config files name these keys).
bool IsOtelVariable(std::string_view name);

// "k1=v1,k2=v2" with percent-encoded values (the W3C Baggage format OTEL_RESOURCE_ATTRIBUTES
// and OTEL_EXPORTER_OTLP_HEADERS use). Members without '=' or with an empty key are skipped
// and named in *bad.
KeyValues ParseKeyValueList(std::string_view s, std::vector<std::string>* bad);

}  // namespace hero::otel
