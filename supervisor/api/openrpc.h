// OpenRPC 1.2.6 document generated from a MethodTable (what rpc.discover returns). Pure; any
// thread. Depends on base only.
#pragma once

#include <string>
#include <string_view>

#include "supervisor/api/method_table.h"

namespace hero::api {

// {"openrpc":"1.2.6","info":{"title":"hero_logic","version":version,...},"methods":[...],
//  "x-error-codes":[{code,status,meaning}...]} with one method object per table entry
// (rpc.discover itself is not listed, per OpenRPC convention). Params are published with
// paramStructure "either" (by name or by position). Valid against @open-rpc/meta-schema.
std::string GenerateOpenRpc(const MethodTable& table, std::string_view version);

// The JSON Schema text for a ParamSpec ({"type":"integer"}, {} for kAny, or schema_json).
std::string ParamSchemaJson(const ParamSpec& param);

}  // namespace hero::api
