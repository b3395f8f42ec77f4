// The OTLP mapping (docs/OTEL.md) and its two encodings: protobuf (the classes protoc
// generates from proto/, the OTLP specification's messages) and OTLP/JSON (the specification's
// JSON mapping: lowerCamelCase keys, hex trace/span ids, enums as integers, 64-bit integers as
// strings), written with base's JsonWriter. Pure; thread: the exporter's (any single thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "supervisor/otel/otel_config.h"
#include "supervisor/otel/otlp_items.h"

namespace hero::otel {

// The process-wide resource: service.name, service.instance.id, host.name, telemetry.sdk.*
// and OTEL_RESOURCE_ATTRIBUTES.
struct ResourceInfo {
  std::string service_name = "hero_logic";
  std::string instance_id;  // the node
  std::string host_name;
  KeyValues extra;
};

// One typed attribute value (OTel AnyValue without nesting: arrays of scalars allowed).
// Views, not copies (the exporter builds ~10 per span): `s` and Attr::key point into the
// SpanItem/LogItem/ResourceInfo, string literals, or the thread's tag parser, so an attribute
// list is valid only until the next SpanAttributes call on the thread and while its item lives.
// A value that had to be made (JSON text of an object tag) is in `owned`.
struct AttrValue {
  enum class Type { kString, kInt, kDouble, kBool, kArray } type = Type::kString;
  std::string_view s;
  std::string owned;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::vector<AttrValue> array;  // kArray: scalars only
  std::string_view text() const { return owned.empty() ? s : std::string_view(owned); }
};
struct Attr {
  std::string_view key;
  AttrValue value;
};

// A span log turned into a span event (when log records are not exported).
struct LogEvent {
  int64_t ts_us = 0;
  std::string stream, text;
};

// The span's OTel attributes: hero.* run attributes, code location, rpc.*, resources,
// hero.kill_reason, then the span's tags typed from their JSON (int, double, bool, string;
// arrays of scalars as arrays; objects, mixed arrays and nulls as their JSON text), skipping a
// tag whose key is already present.
std::vector<Attr> SpanAttributes(const SpanItem& s);

// ExportTraceServiceRequest / ExportLogsServiceRequest bodies for one batch.
std::string EncodeTracesProto(const ResourceInfo& r, const std::vector<const SpanItem*>& spans,
                              const std::vector<std::vector<LogEvent>>* events);
std::string EncodeTracesJson(const ResourceInfo& r, const std::vector<const SpanItem*>& spans,
                             const std::vector<std::vector<LogEvent>>* events);
std::string EncodeLogsProto(const ResourceInfo& r, const std::vector<const LogItem*>& logs);
std::string EncodeLogsJson(const ResourceInfo& r, const std::vector<const LogItem*>& logs);

}  // namespace hero::otel
