// OpenRPC document generation. Pure.
#include "supervisor/api/openrpc.h"

#include "supervisor/api/rpc_errors.h"
#include "supervisor/base/json_writer.h"

namespace hero::api {

std::string ParamSchemaJson(const ParamSpec& param) {
  if (!param.schema_json.empty()) return param.schema_json;
  if (param.type == ParamType::kAny) return "{}";
  JsonWriter w;
  w.BeginObject().Field("type", ParamTypeName(param.type)).EndObject();
  return w.Take();
}

std::string GenerateOpenRpc(const MethodTable& table, std::string_view version) {
  JsonWriter w;
  w.BeginObject();
  w.Field("openrpc", "1.2.6");
  w.Key("info").BeginObject();
  w.Field("title", "hero_logic");
  w.Field("version", version);
  w.Field("description",
          "hero_logic runs Python flows in sandboxes. JSON-RPC 2.0 over HTTP POST /rpc. "
          "Errors: -32700 parse error, -32600 invalid request, -32601 method not found, "
          "-32602 invalid params (schema), -32603 internal; domain errors -32010..-32020 "
          "map hero status codes (see x-error-codes) and carry data.status.");
  w.EndObject();

  w.Key("methods").BeginArray();
  for (const MethodSpec& m : table.methods()) {
    w.BeginObject();
    w.Field("name", m.name);
    if (!m.summary.empty()) w.Field("summary", m.summary);
    if (!m.description.empty()) w.Field("description", m.description);
    w.Field("paramStructure", "either");
    w.Key("params").BeginArray();
    for (const ParamSpec& p : m.params) {
      w.BeginObject();
      w.Field("name", p.name);
      if (!p.description.empty()) w.Field("description", p.description);
      w.Field("required", p.required);
      w.Key("schema").Raw(ParamSchemaJson(p));
      w.EndObject();
    }
    w.EndArray();
    w.Key("result").BeginObject();
    w.Field("name", m.result_name.empty() ? std::string_view("result") : m.result_name);
    if (!m.result_description.empty()) w.Field("description", m.result_description);
    w.Key("schema").Raw(m.result_schema_json.empty() ? std::string_view("{}")
                                                     : m.result_schema_json);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();

  w.Key("x-error-codes").BeginArray();
  for (const RpcErrorCode& row : RpcErrorCodes()) {
    w.BeginObject();
    w.Field("code", row.code);
    w.Field("message", row.meaning);
    if (row.from_status) w.Field("status", StatusCodeName(row.status));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take();
}

}  // namespace hero::api
