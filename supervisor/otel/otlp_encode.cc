// OTLP mapping and encodings. Why one mapping and two writers: SpanAttributes decides every
// attribute once (typed from the tag JSON with simdjson), so protobuf and JSON cannot drift
// apart; each writer only spells the same values in its wire format.
#include "supervisor/otel/otlp_encode.h"

#include <google/protobuf/arena.h>
#include <simdjson.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "supervisor/base/json_writer.h"

namespace hero::otel {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;
namespace logs = opentelemetry::proto::logs::v1;

constexpr const char* kScopeName = "hero_logic";
constexpr const char* kScopeVersion = HERO_OTEL_VERSION;
constexpr int kKindInternal = 1, kKindClient = 3;
constexpr int kStatusUnset = 0, kStatusError = 2;
constexpr int kSeverityInfo = 9, kSeverityWarn = 13;

uint64_t Nanos(int64_t us) { return us > 0 ? static_cast<uint64_t>(us) * 1000u : 0; }

AttrValue Str(std::string_view s) {
  AttrValue v;
  v.s = s;
  return v;
}
AttrValue Owned(std::string s) {
  AttrValue v;
  v.owned = std::move(s);
  return v;
}
AttrValue Int(int64_t i) {
  AttrValue v;
  v.type = AttrValue::Type::kInt;
  v.i = i;
  return v;
}

bool IsError(const SpanItem& s) { return s.status != "ok" && s.status != "running"; }

int SpanKindOf(const SpanItem& s) { return s.kind == "rpc" ? kKindClient : kKindInternal; }

// A JSON scalar -> a typed value; false for arrays, objects and null.
bool Scalar(simdjson::dom::element e, AttrValue* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      *out = Str(e.get_string().value_unsafe());
      return true;
    case simdjson::dom::element_type::INT64:
      *out = Int(e.get_int64().value_unsafe());
      return true;
    case simdjson::dom::element_type::UINT64:  // beyond int64: the nearest double
    case simdjson::dom::element_type::DOUBLE:
      out->type = AttrValue::Type::kDouble;
      out->d = e.get_double().value_unsafe();
      return true;
    case simdjson::dom::element_type::BOOL:
      out->type = AttrValue::Type::kBool;
      out->b = e.get_bool().value_unsafe();
      return true;
    case simdjson::dom::element_type::NULL_VALUE:
    case simdjson::dom::element_type::ARRAY:
    case simdjson::dom::element_type::OBJECT:
      return false;
  }
  return false;
}

AttrValue TagValue(simdjson::dom::element e) {
  AttrValue v;
  if (Scalar(e, &v)) return v;
  if (e.type() == simdjson::dom::element_type::ARRAY) {
    // OTel attribute arrays are homogeneous scalars; anything else is kept as JSON text.
    AttrValue arr;
    arr.type = AttrValue::Type::kArray;
    bool homogeneous = true;
    simdjson::dom::array elements;
    if (e.get_array().get(elements) != simdjson::SUCCESS) return Owned(simdjson::minify(e));
    for (simdjson::dom::element x : elements) {
      AttrValue item;
      if (!Scalar(x, &item) || (!arr.array.empty() && arr.array[0].type != item.type)) {
        homogeneous = false;
        break;
      }
      arr.array.push_back(std::move(item));
    }
    if (homogeneous) return arr;
  }
  return Owned(simdjson::minify(e));
}

void AddTags(std::string_view tags_json, std::vector<Attr>* out) {
  if (tags_json.size() <= 2) return;  // "", "{}"
  thread_local simdjson::dom::parser parser;
  thread_local std::string buf;  // reused: allocated once, not per span
  buf.assign(tags_json);
  buf.append(simdjson::SIMDJSON_PADDING, '\0');  // the padding parse() reads past the end
  simdjson::dom::object obj;
  if (parser.parse(buf.data(), tags_json.size(), false).get_object().get(obj) !=
      simdjson::SUCCESS) {
    return;
  }
  size_t fixed = out->size();
  for (auto field : obj) {
    std::string_view key = field.key;
    bool taken = false;
    for (size_t i = 0; i < fixed && !taken; ++i) taken = (*out)[i].key == key;
    if (taken || key.empty()) continue;
    out->push_back(Attr{key, TagValue(field.value)});
  }
}

// --- protobuf ---

void SetValue(const AttrValue& v, common::AnyValue* out) {
  switch (v.type) {
    case AttrValue::Type::kString:
      out->set_string_value(std::string(v.text()));
      break;
    case AttrValue::Type::kInt:
      out->set_int_value(v.i);
      break;
    case AttrValue::Type::kDouble:
      out->set_double_value(v.d);
      break;
    case AttrValue::Type::kBool:
      out->set_bool_value(v.b);
      break;
    case AttrValue::Type::kArray:
      for (const auto& x : v.array) SetValue(x, out->mutable_array_value()->add_values());
      break;
  }
}

template <typename Repeated>
void AddAttr(std::string_view key, const AttrValue& v, Repeated* attrs) {
  auto* kv = attrs->Add();
  kv->set_key(std::string(key));
  SetValue(v, kv->mutable_value());
}

std::vector<Attr> ResourceAttributes(const ResourceInfo& r) {
  std::vector<Attr> a;
  a.push_back({"service.name", Str(r.service_name)});
  if (!r.instance_id.empty()) a.push_back({"service.instance.id", Str(r.instance_id)});
  if (!r.host_name.empty()) a.push_back({"host.name", Str(r.host_name)});
  a.push_back({"telemetry.sdk.name", Str("hero_logic")});
  a.push_back({"telemetry.sdk.language", Str("cpp")});
  a.push_back({"telemetry.sdk.version", Str(kScopeVersion)});
  for (const auto& [k, v] : r.extra) {
    bool taken = false;
    for (const auto& x : a) taken = taken || x.key == k;
    if (!taken) a.push_back({k, Str(v)});
  }
  return a;
}

void SetResource(const ResourceInfo& r, opentelemetry::proto::resource::v1::Resource* out) {
  for (const auto& a : ResourceAttributes(r)) AddAttr(a.key, a.value, out->mutable_attributes());
}

void SetScope(common::InstrumentationScope* scope) {
  scope->set_name(kScopeName);
  scope->set_version(kScopeVersion);
}

std::string Bytes(const TraceId& t) {
  return std::string(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
}
std::string Bytes(uint64_t span_id) {
  auto b = SpanIdBytes(span_id);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::string_view ExceptionType(const SpanItem& s) {
  return s.error_type.empty() ? std::string_view("hero_tracing.Failed") : s.error_type;
}

// --- JSON ---

void WriteValue(JsonWriter& w, const AttrValue& v) {
  w.BeginObject();
  switch (v.type) {
    case AttrValue::Type::kString:
      w.Field("stringValue", v.text());
      break;
    case AttrValue::Type::kInt:
      w.Field("intValue", std::to_string(v.i));  // proto3 JSON: 64-bit integers as strings
      break;
    case AttrValue::Type::kDouble:
      w.Key("doubleValue").Double(v.d);
      break;
    case AttrValue::Type::kBool:
      w.Field("boolValue", v.b);
      break;
    case AttrValue::Type::kArray:
      w.Key("arrayValue").BeginObject().Key("values").BeginArray();
      for (const auto& x : v.array) WriteValue(w, x);
      w.EndArray().EndObject();
      break;
  }
  w.EndObject();
}

void WriteAttrs(JsonWriter& w, const std::vector<Attr>& attrs) {
  w.Key("attributes").BeginArray();
  for (const auto& a : attrs) {
    w.BeginObject().Field("key", a.key).Key("value");
    WriteValue(w, a.value);
    w.EndObject();
  }
  w.EndArray();
}

void WriteResourceAndScope(JsonWriter& w, const ResourceInfo& r) {
  w.Key("resource").BeginObject();
  WriteAttrs(w, ResourceAttributes(r));
  w.EndObject();
}

void WriteScope(JsonWriter& w) {
  w.Key("scope").BeginObject().Field("name", kScopeName).Field("version", kScopeVersion);
  w.EndObject();
}

std::vector<Attr> ExceptionAttrs(const SpanItem& s) {
  std::vector<Attr> a;
  a.push_back({"exception.type", Str(ExceptionType(s))});
  a.push_back({"exception.message", Str(s.error)});
  if (!s.traceback.empty()) a.push_back({"exception.stacktrace", Str(s.traceback)});
  return a;
}

std::vector<Attr> LogEventAttrs(const LogEvent& e) {
  return {{"log.iostream", Str(e.stream)}, {"message", Str(e.text)}};
}

std::vector<Attr> LogAttrs(const LogItem& l) {
  return {{"log.iostream", Str(l.stream)}, {"hero.run_id", Int(l.run->run_id)}};
}

std::string_view LogBody(const LogItem& l) {
  std::string_view t = l.text;
  if (!t.empty() && t.back() == '\n') t.remove_suffix(1);
  return t;
}

int Severity(const LogItem& l) { return l.stream == "stderr" ? kSeverityWarn : kSeverityInfo; }
const char* SeverityText(const LogItem& l) { return l.stream == "stderr" ? "WARN" : "INFO"; }

}  // namespace

std::vector<Attr> SpanAttributes(const SpanItem& s) {
  std::vector<Attr> a;
  a.reserve(16);
  const RunInfo& r = *s.run;
  a.push_back({"hero.run_id", Int(r.run_id)});
  a.push_back({"hero.flow", Str(r.flow)});
  if (r.flow_version > 0) a.push_back({"hero.flow.version", Int(r.flow_version)});
  a.push_back({"hero.profile", Str(r.profile)});
  if (r.parent_run_id > 0) a.push_back({"hero.parent_run_id", Int(r.parent_run_id)});
  a.push_back({"hero.span.kind", Str(s.kind)});
  a.push_back({"hero.status", Str(s.status)});
  if (!s.file.empty()) a.push_back({"code.file.path", Str(s.file)});
  if (s.line > 0) a.push_back({"code.line.number", Int(s.line)});
  if (s.kind == "rpc") {
    a.push_back({"rpc.system", Str("hero_tracing")});
    if (!s.rpc_service.empty()) a.push_back({"rpc.service", Str(s.rpc_service)});
    if (!s.rpc_method.empty()) a.push_back({"rpc.method", Str(s.rpc_method)});
  }
  if (s.child_run_id > 0) a.push_back({"hero.child_run_id", Int(s.child_run_id)});
  if (s.cpu_us > 0) a.push_back({"hero.cpu_time_us", Int(s.cpu_us)});
  if (s.rss_kb != 0) a.push_back({"hero.rss_delta_kb", Int(s.rss_kb)});
  if (s.status == "killed") a.push_back({"hero.kill_reason", Str(s.error)});
  AddTags(s.tags_json, &a);
  return a;
}

std::string EncodeTracesProto(const ResourceInfo& r, const std::vector<const SpanItem*>& spans,
                              const std::vector<std::vector<LogEvent>>* events) {
  // One arena per request: the ~10 KeyValue messages per span are bump-allocated and freed
  // together, not one by one.
  google::protobuf::Arena arena;
  auto& req = *google::protobuf::Arena::CreateMessage<
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest>(&arena);
  auto* rs = req.add_resource_spans();
  SetResource(r, rs->mutable_resource());
  auto* ss = rs->add_scope_spans();
  SetScope(ss->mutable_scope());
  for (size_t i = 0; i < spans.size(); ++i) {
    const SpanItem& s = *spans[i];
    trace::Span* p = ss->add_spans();
    p->set_trace_id(Bytes(s.run->trace_id));
    p->set_span_id(Bytes(s.span_id));
    if (s.parent_span_id != 0) p->set_parent_span_id(Bytes(s.parent_span_id));
    if (!s.run->trace_state.empty()) p->set_trace_state(s.run->trace_state);
    p->set_flags(s.run->flags);
    p->set_name(s.name);
    p->set_kind(static_cast<trace::Span::SpanKind>(SpanKindOf(s)));
    p->set_start_time_unix_nano(Nanos(s.start_us));
    p->set_end_time_unix_nano(Nanos(s.end_us));
    for (const auto& a : SpanAttributes(s)) AddAttr(a.key, a.value, p->mutable_attributes());
    if (events) {
      for (const auto& e : (*events)[i]) {
        auto* ev = p->add_events();
        ev->set_time_unix_nano(Nanos(e.ts_us));
        ev->set_name("log");
        for (const auto& a : LogEventAttrs(e)) AddAttr(a.key, a.value, ev->mutable_attributes());
      }
    }
    if (IsError(s)) {
      p->mutable_status()->set_code(static_cast<trace::Status::StatusCode>(kStatusError));
      p->mutable_status()->set_message(s.error.empty() ? s.status : s.error);
      if (s.status == "failed") {
        auto* ev = p->add_events();
        ev->set_time_unix_nano(Nanos(s.end_us));
        ev->set_name("exception");
        for (const auto& a : ExceptionAttrs(s)) AddAttr(a.key, a.value, ev->mutable_attributes());
      }
    }
  }
  return req.SerializeAsString();
}

std::string EncodeTracesJson(const ResourceInfo& r, const std::vector<const SpanItem*>& spans,
                             const std::vector<std::vector<LogEvent>>* events) {
  JsonWriter w;
  w.BeginObject().Key("resourceSpans").BeginArray().BeginObject();
  WriteResourceAndScope(w, r);
  w.Key("scopeSpans").BeginArray().BeginObject();
  WriteScope(w);
  w.Key("spans").BeginArray();
  for (size_t i = 0; i < spans.size(); ++i) {
    const SpanItem& s = *spans[i];
    w.BeginObject().Field("traceId", s.run->trace_id.Hex()).Field("spanId", SpanIdHex(s.span_id));
    if (s.parent_span_id != 0) w.Field("parentSpanId", SpanIdHex(s.parent_span_id));
    if (!s.run->trace_state.empty()) w.Field("traceState", s.run->trace_state);
    w.Field("flags", static_cast<int64_t>(s.run->flags))
        .Field("name", s.name)
        .Field("kind", SpanKindOf(s))
        .Field("startTimeUnixNano", std::to_string(Nanos(s.start_us)))
        .Field("endTimeUnixNano", std::to_string(Nanos(s.end_us)));
    WriteAttrs(w, SpanAttributes(s));
    w.Key("events").BeginArray();
    if (events) {
      for (const auto& e : (*events)[i]) {
        w.BeginObject().Field("timeUnixNano", std::to_string(Nanos(e.ts_us))).Field("name", "log");
        WriteAttrs(w, LogEventAttrs(e));
        w.EndObject();
      }
    }
    if (IsError(s) && s.status == "failed") {
      w.BeginObject()
          .Field("timeUnixNano", std::to_string(Nanos(s.end_us)))
          .Field("name", "exception");
      WriteAttrs(w, ExceptionAttrs(s));
      w.EndObject();
    }
    w.EndArray();
    w.Key("status").BeginObject();
    if (IsError(s)) {
      w.Field("code", kStatusError).Field("message", s.error.empty() ? s.status : s.error);
    } else {
      w.Field("code", kStatusUnset);
    }
    w.EndObject().EndObject();
  }
  w.EndArray().EndObject().EndArray().EndObject().EndArray().EndObject();
  return w.Take();
}

std::string EncodeLogsProto(const ResourceInfo& r, const std::vector<const LogItem*>& items) {
  google::protobuf::Arena arena;
  auto& req = *google::protobuf::Arena::CreateMessage<
      opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest>(&arena);
  auto* rl = req.add_resource_logs();
  SetResource(r, rl->mutable_resource());
  auto* sl = rl->add_scope_logs();
  SetScope(sl->mutable_scope());
  for (const LogItem* l : items) {
    logs::LogRecord* p = sl->add_log_records();
    p->set_time_unix_nano(Nanos(l->ts_us));
    p->set_observed_time_unix_nano(Nanos(l->ts_us));
    p->set_severity_number(static_cast<logs::SeverityNumber>(Severity(*l)));
    p->set_severity_text(SeverityText(*l));
    p->mutable_body()->set_string_value(std::string(LogBody(*l)));
    for (const auto& a : LogAttrs(*l)) AddAttr(a.key, a.value, p->mutable_attributes());
    p->set_flags(l->run->flags);
    p->set_trace_id(Bytes(l->run->trace_id));
    p->set_span_id(Bytes(l->span_id));
  }
  return req.SerializeAsString();
}

std::string EncodeLogsJson(const ResourceInfo& r, const std::vector<const LogItem*>& items) {
  JsonWriter w;
  w.BeginObject().Key("resourceLogs").BeginArray().BeginObject();
  WriteResourceAndScope(w, r);
  w.Key("scopeLogs").BeginArray().BeginObject();
  WriteScope(w);
  w.Key("logRecords").BeginArray();
  for (const LogItem* l : items) {
    w.BeginObject()
        .Field("timeUnixNano", std::to_string(Nanos(l->ts_us)))
        .Field("observedTimeUnixNano", std::to_string(Nanos(l->ts_us)))
        .Field("severityNumber", Severity(*l))
        .Field("severityText", SeverityText(*l))
        .Key("body")
        .BeginObject()
        .Field("stringValue", LogBody(*l))
        .EndObject();
    WriteAttrs(w, LogAttrs(*l));
    w.Field("flags", static_cast<int64_t>(l->run->flags))
        .Field("traceId", l->run->trace_id.Hex())
        .Field("spanId", SpanIdHex(l->span_id))
        .EndObject();
  }
  w.EndArray().EndObject().EndArray().EndObject().EndArray().EndObject();
  return w.Take();
}

}  // namespace hero::otel
