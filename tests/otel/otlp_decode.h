// Decodes what an OTLP/HTTP exporter sent, protobuf (with the classes protoc generated from
// supervisor/otel/proto) or JSON (simdjson, per the OTLP JSON mapping), into one plain shape so
// a test asserts the same things about both encodings. Typed attribute values are spelled
// "i:3", "d:0.5", "b:true", "s:text", "a:[i:1,i:2]". Test-only.
#pragma once

#include <simdjson.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/otel/otlp_receiver.h"

namespace hero::testing {

using Attrs = std::map<std::string, std::string>;

struct DecodedEvent {
  std::string name;
  Attrs attrs;
};
struct DecodedSpan {
  std::string trace_id, span_id, parent, name, trace_state, status_message;
  int kind = 0, status = 0;
  uint32_t flags = 0;
  uint64_t start_ns = 0, end_ns = 0;
  Attrs attrs;
  std::vector<DecodedEvent> events;
};
struct DecodedLog {
  std::string trace_id, span_id, body, severity_text;
  int severity = 0;
  Attrs attrs;
};
struct Decoded {
  Attrs resource;
  std::vector<DecodedSpan> spans;
  std::vector<DecodedLog> logs;
  int bad = 0;  // requests that did not decode
  const DecodedSpan* Span(const std::string& name) const {
    for (const auto& s : spans)
      if (s.name == name) return &s;
    return nullptr;
  }
};

inline std::string Hex(const std::string& bytes) {
  std::string out;
  char b[3];
  for (unsigned char c : bytes) {
    std::snprintf(b, sizeof b, "%02x", c);
    out += b;
  }
  return out;
}

inline std::string Typed(const opentelemetry::proto::common::v1::AnyValue& v) {
  using V = opentelemetry::proto::common::v1::AnyValue;
  switch (v.value_case()) {
    case V::kStringValue:
      return "s:" + v.string_value();
    case V::kIntValue:
      return "i:" + std::to_string(v.int_value());
    case V::kDoubleValue: {
      char b[64];
      std::snprintf(b, sizeof b, "d:%g", v.double_value());
      return b;
    }
    case V::kBoolValue:
      return v.bool_value() ? "b:true" : "b:false";
    case V::kArrayValue: {
      std::string out = "a:[";
      for (int i = 0; i < v.array_value().values_size(); ++i)
        out += (i ? "," : "") + Typed(v.array_value().values(i));
      return out + "]";
    }
    case V::kKvlistValue:
    case V::kBytesValue:
    case V::VALUE_NOT_SET:
      return "?";
  }
  return "?";
}

template <typename Repeated>
Attrs AttrsOf(const Repeated& kvs) {
  Attrs a;
  for (const auto& kv : kvs) a[kv.key()] = Typed(kv.value());
  return a;
}

inline std::string Str(simdjson::dom::element e, const char* key);

// Calls f(element) for each element of e[key] when it is an array.
template <typename F>
void Each(simdjson::dom::element e, const char* key, F f) {
  simdjson::dom::array arr;
  if (e[key].get_array().get(arr) != simdjson::SUCCESS) return;
  for (simdjson::dom::element x : arr) f(x);
}

inline simdjson::dom::element Sub(simdjson::dom::element e, const char* key) {
  simdjson::dom::element out;
  if (e[key].get(out) != simdjson::SUCCESS) return e;
  return out;
}

inline std::string Typed(simdjson::dom::element v) {
  simdjson::dom::object o = v.get_object().value_unsafe();
  for (auto f : o) {
    std::string_view k = f.key;
    if (k == "stringValue") return "s:" + std::string(f.value.get_string().value_unsafe());
    if (k == "intValue") {
      // proto3 JSON: a string; numbers are accepted too.
      if (f.value.is_string()) return "i:" + std::string(f.value.get_string().value_unsafe());
      return "i:" + std::to_string(f.value.get_int64().value_unsafe());
    }
    if (k == "doubleValue") {
      char b[64];
      std::snprintf(b, sizeof b, "d:%g", f.value.get_double().value_unsafe());
      return b;
    }
    if (k == "boolValue") return f.value.get_bool().value_unsafe() ? "b:true" : "b:false";
    if (k == "arrayValue") {
      std::string out = "a:[";
      bool first = true;
      Each(f.value, "values", [&](simdjson::dom::element x) {
        out += (first ? "" : ",") + Typed(x);
        first = false;
      });
      return out + "]";
    }
  }
  return "?";
}

inline Attrs AttrsOf(simdjson::dom::element parent) {
  Attrs a;
  Each(parent, "attributes",
       [&](simdjson::dom::element kv) { a[Str(kv, "key")] = Typed(Sub(kv, "value")); });
  return a;
}

inline std::string Str(simdjson::dom::element e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s) != simdjson::SUCCESS) return "";
  return std::string(s);
}
inline uint64_t U64(simdjson::dom::element e, const char* key) {
  return std::strtoull(Str(e, key).c_str(), nullptr, 10);
}
inline int64_t Int(simdjson::dom::element e, const char* key) {
  int64_t v = 0;
  if (e[key].get_int64().get(v) != simdjson::SUCCESS) return 0;
  return v;
}

inline void DecodeProto(const OtlpReceiver::Request& r, Decoded* out) {
  if (r.path == "/v1/traces") {
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest req;
    if (!req.ParseFromString(r.body)) {
      ++out->bad;
      return;
    }
    for (const auto& rs : req.resource_spans()) {
      out->resource = AttrsOf(rs.resource().attributes());
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) {
          DecodedSpan d;
          d.trace_id = Hex(s.trace_id());
          d.span_id = Hex(s.span_id());
          d.parent = Hex(s.parent_span_id());
          d.name = s.name();
          d.trace_state = s.trace_state();
          d.kind = s.kind();
          d.flags = s.flags();
          d.start_ns = s.start_time_unix_nano();
          d.end_ns = s.end_time_unix_nano();
          d.status = s.status().code();
          d.status_message = s.status().message();
          d.attrs = AttrsOf(s.attributes());
          for (const auto& e : s.events()) d.events.push_back({e.name(), AttrsOf(e.attributes())});
          out->spans.push_back(std::move(d));
        }
      }
    }
  } else if (r.path == "/v1/logs") {
    opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest req;
    if (!req.ParseFromString(r.body)) {
      ++out->bad;
      return;
    }
    for (const auto& rl : req.resource_logs()) {
      for (const auto& sl : rl.scope_logs()) {
        for (const auto& l : sl.log_records()) {
          out->logs.push_back({Hex(l.trace_id()), Hex(l.span_id()), l.body().string_value(),
                               l.severity_text(), l.severity_number(), AttrsOf(l.attributes())});
        }
      }
    }
  }
}

inline void DecodeJson(const OtlpReceiver::Request& r, Decoded* out) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) {
    ++out->bad;
    return;
  }
  using E = simdjson::dom::element;
  if (r.path == "/v1/traces") {
    Each(doc, "resourceSpans", [&](E rs) {
      out->resource = AttrsOf(Sub(rs, "resource"));
      Each(rs, "scopeSpans", [&](E ss) {
        Each(ss, "spans", [&](E s) {
          DecodedSpan d;
          d.trace_id = Str(s, "traceId");
          d.span_id = Str(s, "spanId");
          d.parent = Str(s, "parentSpanId");
          d.name = Str(s, "name");
          d.trace_state = Str(s, "traceState");
          d.kind = static_cast<int>(Int(s, "kind"));
          d.flags = static_cast<uint32_t>(Int(s, "flags"));
          d.start_ns = U64(s, "startTimeUnixNano");
          d.end_ns = U64(s, "endTimeUnixNano");
          d.status = static_cast<int>(Int(Sub(s, "status"), "code"));
          d.status_message = Str(Sub(s, "status"), "message");
          d.attrs = AttrsOf(s);
          Each(s, "events", [&](E e) { d.events.push_back({Str(e, "name"), AttrsOf(e)}); });
          out->spans.push_back(std::move(d));
        });
      });
    });
  } else if (r.path == "/v1/logs") {
    Each(doc, "resourceLogs", [&](E rl) {
      Each(rl, "scopeLogs", [&](E sl) {
        Each(sl, "logRecords", [&](E l) {
          out->logs.push_back({Str(l, "traceId"), Str(l, "spanId"),
                               Str(Sub(l, "body"), "stringValue"), Str(l, "severityText"),
                               static_cast<int>(Int(l, "severityNumber")), AttrsOf(l)});
        });
      });
    });
  }
}

inline Decoded DecodeAll(const std::vector<OtlpReceiver::Request>& reqs) {
  Decoded d;
  for (const auto& r : reqs) {
    if (r.content_type == "application/json") {
      DecodeJson(r, &d);
    } else if (r.content_type == "application/x-protobuf") {
      DecodeProto(r, &d);
    } else {
      ++d.bad;
    }
  }
  return d;
}

}  // namespace hero::testing
