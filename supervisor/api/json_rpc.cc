// JSON-RPC 2.0 dispatch. Loop thread only. Everything a handler needs is copied out of the
// simdjson DOM before any handler runs: the parser is reused by the next body, possibly from
// inside a handler, and its string views die then.
#include "supervisor/api/json_rpc.h"

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "supervisor/api/openrpc.h"
#include "supervisor/api/rpc_errors.h"
#include "supervisor/base/json_writer.h"

namespace hero::api {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string_view JsonTypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY:
      return "array";
    case element_type::OBJECT:
      return "object";
    case element_type::INT64:
    case element_type::UINT64:
      return "integer";
    case element_type::DOUBLE:
      return "number";
    case element_type::STRING:
      return "string";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string Article(ParamType t) {
  return (t == ParamType::kInteger || t == ParamType::kObject || t == ParamType::kArray ||
          t == ParamType::kAny)
             ? "an "
             : "a ";
}

// Checks one value against its ParamSpec and fills `entry`. Returns an error message or "".
std::string ConvertParam(const ParamSpec& spec, element value, Params::Entry& entry) {
  const element_type t = value.type();
  auto mismatch = [&] {
    return Quoted(spec.name) + " must be " + Article(spec.type) +
           std::string(ParamTypeName(spec.type)) + ", got " + std::string(JsonTypeName(t));
  };
  if (t == element_type::NULL_VALUE && spec.type != ParamType::kAny) {
    if (spec.required) return mismatch();
    entry.present = false;
    return "";
  }
  entry.present = true;
  switch (spec.type) {
    case ParamType::kString: {
      if (t != element_type::STRING) return mismatch();
      entry.text = std::string(value.get_string().value_unsafe());
      return "";
    }
    case ParamType::kInteger: {
      if (t == element_type::INT64) {
        entry.integer = value.get_int64().value_unsafe();
        return "";
      }
      if (t == element_type::UINT64) {
        return Quoted(spec.name) + " must be an integer in the signed 64-bit range";
      }
      if (t == element_type::DOUBLE) {
        double d = value.get_double().value_unsafe();
        constexpr double kExact = 9007199254740992.0;  // 2^53: integral doubles stay exact
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= kExact) {
          entry.integer = static_cast<int64_t>(d);
          return "";
        }
      }
      return mismatch();
    }
    case ParamType::kNumber: {
      if (t == element_type::INT64) {
        entry.number = static_cast<double>(value.get_int64().value_unsafe());
      } else if (t == element_type::UINT64) {
        entry.number = static_cast<double>(value.get_uint64().value_unsafe());
      } else if (t == element_type::DOUBLE) {
        entry.number = value.get_double().value_unsafe();
      } else {
        return mismatch();
      }
      return "";
    }
    case ParamType::kBoolean: {
      if (t != element_type::BOOL) return mismatch();
      entry.boolean = value.get_bool().value_unsafe();
      return "";
    }
    case ParamType::kObject:
      if (t != element_type::OBJECT) return mismatch();
      entry.text = simdjson::minify(value);
      return "";
    case ParamType::kArray:
      if (t != element_type::ARRAY) return mismatch();
      entry.text = simdjson::minify(value);
      return "";
    case ParamType::kAny:
      entry.text = simdjson::minify(value);
      return "";
  }
  return mismatch();
}

std::string ParamNames(const MethodSpec& spec) {
  if (spec.params.empty()) return "none";
  std::string out;
  for (const ParamSpec& p : spec.params) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

// `params` is null when the request has no "params" member. Message "" = ok.
std::string ValidateParams(const MethodSpec& spec, const element* params, Params* out) {
  std::vector<Params::Entry> entries(spec.params.size());
  for (size_t i = 0; i < spec.params.size(); ++i) {
    entries[i].name = spec.params[i].name;
    entries[i].type = spec.params[i].type;
  }
  std::vector<bool> given(spec.params.size(), false);
  if (params != nullptr && params->type() == element_type::OBJECT) {
    simdjson::dom::object obj = params->get_object().value_unsafe();
    for (simdjson::dom::key_value_pair field : obj) {
      size_t i = 0;
      while (i < spec.params.size() && spec.params[i].name != field.key) ++i;
      if (i == spec.params.size()) {
        return "unknown param " + Quoted(field.key) + " (method " + spec.name +
               " takes: " + ParamNames(spec) + ")";
      }
      std::string err = ConvertParam(spec.params[i], field.value, entries[i]);
      if (!err.empty()) return err;
      given[i] = true;
    }
  } else if (params != nullptr && params->type() == element_type::ARRAY) {
    simdjson::dom::array arr = params->get_array().value_unsafe();
    if (arr.size() > spec.params.size()) {
      return "method " + spec.name + " takes at most " + std::to_string(spec.params.size()) +
             " positional params, got " + std::to_string(arr.size());
    }
    size_t i = 0;
    for (element v : arr) {
      std::string err = ConvertParam(spec.params[i], v, entries[i]);
      if (!err.empty()) return err;
      given[i] = true;
      ++i;
    }
  }
  for (size_t i = 0; i < spec.params.size(); ++i) {
    if (spec.params[i].required && !entries[i].present) {
      return "missing required param " + Quoted(spec.params[i].name) + " (" +
             std::string(ParamTypeName(spec.params[i].type)) + ")";
    }
  }
  *out = Params(std::move(entries));
  return "";
}

// The id as JSON text to echo back; "" if the id has an invalid type.
std::string IdJson(element id) {
  switch (id.type()) {
    case element_type::STRING:
      return Quoted(id.get_string().value_unsafe());
    case element_type::INT64:
      return std::to_string(id.get_int64().value_unsafe());
    case element_type::UINT64:
      return std::to_string(id.get_uint64().value_unsafe());
    case element_type::DOUBLE: {
      JsonWriter w;
      w.Double(id.get_double().value_unsafe());
      return w.Take();
    }
    case element_type::NULL_VALUE:
      return "null";
    case element_type::ARRAY:
    case element_type::OBJECT:
    case element_type::BOOL:
      return "";
  }
  return "";
}

std::string ErrorJson(std::string_view id_json, int code, std::string_view message,
                      StatusCode status = StatusCode::kOk) {
  JsonWriter w;
  w.BeginObject().Field("jsonrpc", "2.0");
  w.Key("id").Raw(id_json.empty() ? std::string_view("null") : id_json);
  w.Key("error").BeginObject().Field("code", code).Field("message", message);
  if (status != StatusCode::kOk) {
    w.Key("data").BeginObject().Field("status", StatusCodeName(status)).EndObject();
  }
  w.EndObject().EndObject();
  return w.Take();
}

std::string ResultJson(std::string_view id_json, std::string_view result) {
  std::string out;
  out.reserve(result.size() + id_json.size() + 32);
  out += "{\"jsonrpc\":\"2.0\",\"id\":";
  out += id_json;
  out += ",\"result\":";
  out += result.empty() ? std::string_view("null") : result;
  out += '}';
  return out;
}

std::string StatusErrorJson(std::string_view id_json, const Status& s) {
  int code = RpcCodeForStatus(s.code());
  return ErrorJson(id_json, code, s.message().empty() ? StatusCodeName(s.code()) : s.message(),
                   code == kRpcInternalError ? StatusCode::kOk : s.code());
}

}  // namespace

struct RpcDispatcher::ParserBox {
  simdjson::dom::parser parser;
};

struct BatchState {
  std::vector<std::string> slots;
  size_t remaining = 0;
  bool batch = false;
  std::function<void(std::string)> done;
};

struct RpcDispatcher::Parsed {
  std::string id_json;  // "null" when absent
  bool notification = false;
  int error_code = 0;
  std::string error_message;
  const MethodSpec* spec = nullptr;
  bool discover = false;
  Params params;
};

RpcDispatcher::RpcDispatcher(const MethodTable* table, Options options)
    : table_(table), options_(std::move(options)), parser_(std::make_unique<ParserBox>()) {}

RpcDispatcher::~RpcDispatcher() = default;

std::string RpcDispatcher::ErrorResponse(int code, std::string_view message) {
  return ErrorJson("null", code, message);
}

const std::string& RpcDispatcher::OpenRpcDocument() {
  if (openrpc_.empty()) openrpc_ = GenerateOpenRpc(*table_, options_.server_version);
  return openrpc_;
}

Result<Params> ParseParams(const MethodSpec& spec, std::string_view params_json) {
  size_t first = params_json.find_first_not_of(" \t\r\n");
  Params params;
  if (first == std::string_view::npos) {
    std::string err = ValidateParams(spec, nullptr, &params);
    if (!err.empty()) return InvalidArgument(err);
    return params;
  }
  simdjson::dom::parser parser;
  element doc;
  if (auto error = parser.parse(params_json.data(), params_json.size()).get(doc); error) {
    return InvalidArgument(std::string("params are not valid JSON: ") +
                           simdjson::error_message(error));
  }
  if (doc.type() != element_type::OBJECT && doc.type() != element_type::ARRAY &&
      doc.type() != element_type::NULL_VALUE) {
    return InvalidArgument("params must be an object or an array");
  }
  std::string err =
      ValidateParams(spec, doc.type() == element_type::NULL_VALUE ? nullptr : &doc, &params);
  if (!err.empty()) return InvalidArgument(err);
  return params;
}

void RpcDispatcher::HandleAsync(std::string_view body,
                                std::function<void(std::string response)> done) {
  element doc;
  if (auto error = parser_->parser.parse(body.data(), body.size()).get(doc); error) {
    done(ErrorJson("null", kRpcParseError,
                   std::string("parse error: ") + simdjson::error_message(error)));
    return;
  }

  auto parse_one = [this](element req) {
    Parsed p;
    p.id_json = "null";
    if (req.type() != element_type::OBJECT) {
      p.error_code = kRpcInvalidRequest;
      p.error_message = "invalid request: expected a JSON-RPC request object, got " +
                        std::string(JsonTypeName(req.type()));
      return p;
    }
    simdjson::dom::object obj = req.get_object().value_unsafe();
    element id;
    bool has_id = obj["id"].get(id) == simdjson::SUCCESS;
    if (has_id) {
      std::string id_json = IdJson(id);
      if (id_json.empty()) {
        p.error_code = kRpcInvalidRequest;
        p.error_message = "invalid request: \"id\" must be a string, a number or null";
        return p;
      }
      p.id_json = std::move(id_json);
    }
    std::string_view version;
    if (obj["jsonrpc"].get_string().get(version) != simdjson::SUCCESS || version != "2.0") {
      p.error_code = kRpcInvalidRequest;
      p.error_message = "invalid request: \"jsonrpc\" must be \"2.0\"";
      return p;
    }
    std::string_view method;
    if (obj["method"].get_string().get(method) != simdjson::SUCCESS) {
      p.error_code = kRpcInvalidRequest;
      p.error_message = "invalid request: \"method\" must be a string";
      return p;
    }
    element params;
    bool has_params = obj["params"].get(params) == simdjson::SUCCESS;
    if (has_params && params.type() != element_type::OBJECT &&
        params.type() != element_type::ARRAY) {
      p.error_code = kRpcInvalidRequest;
      p.error_message = "invalid request: \"params\" must be an object or an array";
      return p;
    }
    // A structurally valid request without "id" is a notification: never answered.
    p.notification = !has_id;
    if (method == "rpc.discover") {
      bool empty = !has_params || (params.type() == element_type::ARRAY
                                       ? params.get_array().value_unsafe().size() == 0
                                       : params.get_object().value_unsafe().size() == 0);
      if (!empty) {
        p.error_code = kRpcInvalidParams;
        p.error_message = "invalid params: rpc.discover takes no params";
        return p;
      }
      p.discover = true;
      return p;
    }
    p.spec = table_->Find(method);
    if (p.spec == nullptr) {
      p.error_code = kRpcMethodNotFound;
      p.error_message = "method " + Quoted(method) + " not found; rpc.discover lists the methods";
      return p;
    }
    std::string err = ValidateParams(*p.spec, has_params ? &params : nullptr, &p.params);
    if (!err.empty()) {
      p.error_code = kRpcInvalidParams;
      p.error_message = "invalid params: " + err;
    }
    return p;
  };

  std::vector<Parsed> calls;
  auto state = std::make_shared<BatchState>();
  if (doc.type() == element_type::ARRAY) {
    simdjson::dom::array arr = doc.get_array().value_unsafe();
    size_t n = arr.size();
    if (n == 0) {
      done(ErrorJson("null", kRpcInvalidRequest, "invalid request: empty batch"));
      return;
    }
    if (n > options_.max_batch) {
      done(ErrorJson("null", kRpcInvalidRequest,
                     "invalid request: a batch of " + std::to_string(n) +
                         " calls exceeds the limit of " + std::to_string(options_.max_batch)));
      return;
    }
    calls.reserve(n);
    for (element e : arr) calls.push_back(parse_one(e));
    state->batch = true;
  } else {
    calls.push_back(parse_one(doc));
  }
  // From here on nothing refers to the DOM.
  state->slots.resize(calls.size());
  state->remaining = calls.size();
  state->done = std::move(done);
  for (size_t i = 0; i < calls.size(); ++i) Run(state, i, std::move(calls[i]));
}

void RpcDispatcher::Run(std::shared_ptr<BatchState> state, size_t slot, Parsed call) {
  auto finish = [](const std::shared_ptr<BatchState>& s) {
    if (--s->remaining != 0) return;
    std::string response;
    if (s->batch) {
      for (std::string& one : s->slots) {
        if (one.empty()) continue;
        response += response.empty() ? '[' : ',';
        response += one;
      }
      if (!response.empty()) response += ']';
    } else {
      response = std::move(s->slots[0]);
    }
    auto done = std::move(s->done);
    done(std::move(response));
  };

  if (call.error_code != 0) {
    if (!call.notification) {
      state->slots[slot] = ErrorJson(call.id_json, call.error_code, call.error_message);
    }
    finish(state);
    return;
  }
  if (call.discover) {
    if (!call.notification) state->slots[slot] = ResultJson(call.id_json, OpenRpcDocument());
    finish(state);
    return;
  }
  Reply reply([state, slot, id = std::move(call.id_json), notification = call.notification,
               finish](Result<std::string> result) {
    if (!notification) {
      state->slots[slot] =
          result.ok() ? ResultJson(id, *result) : StatusErrorJson(id, result.status());
    }
    finish(state);
  });
  call.spec->handler(call.params, std::move(reply));
}

}  // namespace hero::api
