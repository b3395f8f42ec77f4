// MethodTable: the JSON-RPC methods the daemon serves, each with a declared param schema, a
// result schema and an asynchronous handler. Loop thread only. Depends on base only.
//
// Core registers methods through Backend::RegisterMethods (backend.h); the dispatcher
// (json_rpc.h) validates params against the spec BEFORE calling the handler, so a handler
// only ever sees params of the declared types; rpc.discover (OpenRPC) is generated from it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "supervisor/base/result.h"
#include "supervisor/base/status.h"

namespace hero::api {

enum class ParamType { kString, kInteger, kNumber, kBoolean, kObject, kArray, kAny };

// "string", "integer", ... ("any" for kAny).
std::string_view ParamTypeName(ParamType type);

struct ParamSpec {
  std::string name;  // snake_case; unique within the method
  ParamType type = ParamType::kAny;
  bool required = false;
  std::string description;
  // Optional JSON Schema published in the OpenRPC document instead of the one derived from
  // `type` (e.g. an enum). Validation still checks `type` only.
  std::string schema_json;
};

// The validated params of one call, in the method's declared order. Strings are copied out of
// the request (valid after the parser is reused); object/array/any params are kept as minified
// JSON text. A JSON `null` for a param that is not kAny counts as absent.
// Asking for a param the spec does not declare, or with the wrong accessor type, is a
// programming error (CHECK).
class Params {
 public:
  struct Entry {
    std::string name;
    ParamType type = ParamType::kAny;
    bool present = false;
    std::string text;  // kString: the value; kObject/kArray/kAny: minified JSON
    int64_t integer = 0;
    double number = 0;
    bool boolean = false;
  };

  Params() = default;
  explicit Params(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  bool Has(std::string_view name) const;
  std::string_view GetString(std::string_view name, std::string_view fallback = "") const;
  int64_t GetInt(std::string_view name, int64_t fallback = 0) const;
  double GetNumber(std::string_view name, double fallback = 0) const;  // integers widen
  bool GetBool(std::string_view name, bool fallback = false) const;
  // Raw JSON of a kObject/kArray/kAny param (`fallback` when absent).
  std::string_view GetJson(std::string_view name, std::string_view fallback = "null") const;

  const std::vector<Entry>& entries() const { return entries_; }

 private:
  const Entry& Find(std::string_view name) const;
  std::vector<Entry> entries_;
};

// The completion of one call: a move-only callable to invoke exactly once, now or later (e.g.
// when a run finishes), on the loop thread, with the result as JSON text (must be valid JSON)
// or an error Status (mapped to a JSON-RPC code by rpc_errors.h). Invoking it after the client
// went away or the server shut down is safe: the answer is dropped. A Reply destroyed without
// being invoked answers -32603 with message "the handler dropped its reply".
class Reply {
 public:
  using Fn = std::function<void(Result<std::string>)>;

  Reply() = default;
  explicit Reply(Fn fn) : fn_(std::move(fn)) {}
  Reply(Reply&& o) noexcept : fn_(std::exchange(o.fn_, nullptr)) {}
  Reply& operator=(Reply&& o) noexcept;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  ~Reply();

  void operator()(Result<std::string> result);
  // True until invoked (or moved from).
  bool pending() const { return static_cast<bool>(fn_); }

 private:
  Fn fn_;
};

// `params` is valid only during the call: copy what you keep. Reply may outlive the call.
using Handler = std::function<void(const Params& params, Reply reply)>;

struct MethodSpec {
  std::string name;  // snake_case, unique, not starting with "rpc."
  std::string summary;
  std::string description;  // optional, longer
  std::vector<ParamSpec> params;
  std::string result_name = "result";
  std::string result_description;
  std::string result_schema_json = "{}";  // JSON Schema of the result (valid JSON)
  Handler handler;
};

class MethodTable {
 public:
  // Errors (kInvalidArgument / kAlreadyExists): empty or reserved ("rpc.") name, duplicate
  // method or param name, missing handler, invalid schema JSON is NOT checked (caller's job).
  Status Add(MethodSpec spec);
  const MethodSpec* Find(std::string_view name) const;
  // In registration order.
  const std::vector<MethodSpec>& methods() const { return methods_; }

 private:
  std::vector<MethodSpec> methods_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace hero::api
