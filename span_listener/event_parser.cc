// EventParser: one pass over the top-level object collects the known keys (last duplicate
// wins), then the line's type decides which of them are required and type-checked.
#include "span_listener/event_parser.h"

#include <cstdint>

#include "span_listener/json_util.h"

namespace hero::spans {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

enum Key : int {
  kType,
  kId,
  kParent,
  kName,
  kKind,
  kTs,
  kTags,
  kFile,
  kLine,
  kRpcService,
  kRpcMethod,
  kChildRunId,
  kStream,
  kText,
  kStatus,
  kError,
  kErrorType,
  kTraceback,
  kCpuUs,
  kRssKb,
  kOutput,
  kReq,
  kMethod,
  kParams,
  kV,
  kPid,
  kSdk,
  kNumKeys,
  kUnknown = -1
};

Key LookupKey(std::string_view k) {
  switch (k.size()) {
    case 1:
      return k == "v" ? kV : kUnknown;
    case 2:
      return k == "id" ? kId : k == "ts" ? kTs : kUnknown;
    case 3:
      if (k == "req") return kReq;
      if (k == "pid") return kPid;
      if (k == "sdk") return kSdk;
      return kUnknown;
    case 4:
      if (k == "type") return kType;
      if (k == "name") return kName;
      if (k == "kind") return kKind;
      if (k == "tags") return kTags;
      if (k == "file") return kFile;
      if (k == "line") return kLine;
      if (k == "text") return kText;
      return kUnknown;
    case 5:
      return k == "error" ? kError : kUnknown;
    case 6:
      if (k == "parent") return kParent;
      if (k == "stream") return kStream;
      if (k == "status") return kStatus;
      if (k == "cpu_us") return kCpuUs;
      if (k == "rss_kb") return kRssKb;
      if (k == "output") return kOutput;
      if (k == "method") return kMethod;
      if (k == "params") return kParams;
      return kUnknown;
    case 9:
      return k == "traceback" ? kTraceback : kUnknown;
    case 10:
      if (k == "error_type") return kErrorType;
      if (k == "rpc_method") return kRpcMethod;
      return kUnknown;
    case 11:
      return k == "rpc_service" ? kRpcService : kUnknown;
    case 12:
      return k == "child_run_id" ? kChildRunId : kUnknown;
    default:
      return kUnknown;
  }
}

const char* KeyName(Key k) {
  static const char* const kNames[kNumKeys] = {
      "type",   "id",     "parent",      "name",       "kind",         "ts",     "tags",
      "file",   "line",   "rpc_service", "rpc_method", "child_run_id", "stream", "text",
      "status", "error",  "error_type",  "traceback",  "cpu_us",       "rss_kb", "output",
      "req",    "method", "params",      "v",          "pid",          "sdk"};
  return kNames[k];
}

// The fields of one line, by key. `present` is a bitmask over Key.
struct Fields {
  element value[kNumKeys];
  uint32_t present = 0;
  bool has(Key k) const { return (present >> k) & 1u; }
};

class Reader {
 public:
  Reader(const Fields& f, std::string* error) : f_(f), error_(error) {}

  bool ok() const { return ok_; }

  // Required/optional string: copies into *out.
  void String(Key k, std::string* out, bool required, bool* given = nullptr) {
    if (!ok_) return;
    if (!f_.has(k)) {
      if (required) Fail("missing field: ", k);
      return;
    }
    std::string_view s;
    if (f_.value[k].get_string().get(s)) return Fail("field must be a string: ", k);
    out->assign(s.data(), s.size());
    if (given) *given = true;
  }

  void Int(Key k, int64_t* out, bool required, bool* given = nullptr) {
    if (!ok_) return;
    if (!f_.has(k)) {
      if (required) Fail("missing field: ", k);
      return;
    }
    const element& e = f_.value[k];
    if (e.type() != element_type::INT64) {
      return Fail(e.type() == element_type::UINT64 ? "integer out of range: "
                                                   : "field must be an integer: ",
                  k);
    }
    int64_t v = 0;
    if (e.get_int64().get(v)) return Fail("field must be an integer: ", k);
    *out = v;
    if (given) *given = true;
  }

  void Object(Key k, std::string* out, bool required, bool dedupe) {
    if (!ok_) return;
    if (!f_.has(k)) {
      if (required) Fail("missing field: ", k);
      return;
    }
    simdjson::dom::object o;
    if (f_.value[k].get_object().get(o)) return Fail("field must be an object: ", k);
    if (dedupe && internal::HasDuplicateKeys(o)) {
      internal::AppendMergedObject(out, {o});
    } else {
      internal::AppendMinified(out, f_.value[k]);
    }
  }

  void Any(Key k, std::string* out) {
    if (!ok_) return;
    if (!f_.has(k)) return Fail("missing field: ", k);
    internal::AppendMinified(out, f_.value[k]);
  }

  // span_start's parent: string or null.
  void Parent(std::string* out, bool* is_null) {
    if (!ok_) return;
    if (!f_.has(kParent)) return Fail("missing field: ", kParent);
    const element& e = f_.value[kParent];
    if (e.is_null()) {
      *is_null = true;
      return;
    }
    std::string_view s;
    if (e.get_string().get(s)) return Fail("field must be a string or null: ", kParent);
    out->assign(s.data(), s.size());
  }

 private:
  void Fail(const char* what, Key k) {
    ok_ = false;
    if (error_) {
      error_->assign(what);
      error_->append(KeyName(k));
    }
  }

  const Fields& f_;
  std::string* error_;
  bool ok_ = true;
};

bool TypeFromName(std::string_view t, EventType* out) {
  if (t == "span_start")
    *out = EventType::kSpanStart;
  else if (t == "span_end")
    *out = EventType::kSpanEnd;
  else if (t == "span_log")
    *out = EventType::kSpanLog;
  else if (t == "span_tag")
    *out = EventType::kSpanTag;
  else if (t == "hello")
    *out = EventType::kHello;
  else if (t == "result")
    *out = EventType::kResult;
  else if (t == "call")
    *out = EventType::kCall;
  else if (t == "limit")
    *out = EventType::kLimit;
  else
    return false;
  return true;
}

ParseOutcome Malformed(std::string* error, std::string_view what) {
  if (error) error->assign(what);
  return ParseOutcome::kMalformed;
}

}  // namespace

ParseOutcome EventParser::Parse(std::string_view line, Event* out, std::string* error) {
  internal::DomScratch& dom = internal::ThreadDom(internal::DomSlot::kEvent);
  struct ReleaseOnExit {
    internal::DomScratch& dom;
    ~ReleaseOnExit() { dom.ReleaseIfBig(); }
  } release{dom};

  element root;
  if (auto err = dom.Parse(line).get(root); err) {
    if (error) {
      error->assign("invalid JSON: ");
      error->append(simdjson::error_message(err));
    }
    return ParseOutcome::kMalformed;
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return Malformed(error, "not a JSON object");

  Fields f;
  for (auto field : obj) {
    Key k = LookupKey(field.key);
    if (k == kUnknown) continue;
    f.value[k] = field.value;
    f.present |= 1u << k;
  }
  if (!f.has(kType)) return Malformed(error, "missing field: type");
  std::string_view type_name;
  if (f.value[kType].get_string().get(type_name)) {
    return Malformed(error, "field must be a string: type");
  }
  EventType type;
  if (!TypeFromName(type_name, &type)) {
    if (error) error->assign("unknown type");
    return ParseOutcome::kUnknownType;
  }

  out->Clear();
  out->type = type;
  Reader r(f, error);
  switch (type) {
    case EventType::kHello:
      r.Int(kV, &out->v, true);
      r.String(kSdk, &out->sdk, true);
      r.Int(kPid, &out->pid, true);
      break;
    case EventType::kSpanStart:
      r.String(kId, &out->id, true);
      r.Parent(&out->parent, &out->parent_null);
      r.String(kName, &out->name, true);
      r.String(kKind, &out->kind, true);
      r.Int(kTs, &out->ts, true);
      r.Object(kTags, &out->tags_json, false, /*dedupe=*/true);
      r.String(kFile, &out->file, false, &out->has_file);
      r.Int(kLine, &out->line, false, &out->has_line);
      r.String(kRpcService, &out->rpc_service, false, &out->has_rpc_service);
      r.String(kRpcMethod, &out->rpc_method, false, &out->has_rpc_method);
      r.Int(kChildRunId, &out->child_run_id, false, &out->has_child_run_id);
      break;
    case EventType::kSpanTag:
      r.String(kId, &out->id, true);
      r.Object(kTags, &out->tags_json, true, /*dedupe=*/true);
      break;
    case EventType::kSpanLog:
      r.String(kId, &out->id, true);
      r.Int(kTs, &out->ts, true);
      r.String(kStream, &out->stream, true);
      r.String(kText, &out->text, true);
      break;
    case EventType::kSpanEnd:
      r.String(kId, &out->id, true);
      r.Int(kTs, &out->ts, true);
      r.String(kStatus, &out->status, true);
      r.String(kError, &out->error, false);
      r.String(kErrorType, &out->error_type, false);
      r.String(kTraceback, &out->traceback, false);
      r.Int(kCpuUs, &out->cpu_us, false, &out->has_cpu);
      r.Int(kRssKb, &out->rss_kb, false, &out->has_rss);
      break;
    case EventType::kResult:
      r.Any(kOutput, &out->output_json);
      break;
    case EventType::kCall:
      r.Int(kReq, &out->req, true);
      r.String(kMethod, &out->method, true);
      r.Object(kParams, &out->params_json, true, /*dedupe=*/false);
      break;
    case EventType::kLimit:
      r.String(kName, &out->name, true);
      r.String(kError, &out->error, false);
      break;
  }
  return r.ok() ? ParseOutcome::kOk : ParseOutcome::kMalformed;
}

}  // namespace hero::spans
