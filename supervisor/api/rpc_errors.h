// The ONE table mapping hero::StatusCode to JSON-RPC 2.0 error codes (SPEC §6). Pure; any
// thread. Depends on base only. The OpenRPC document publishes this table as "x-error-codes".
//
//   code    meaning              raised for
//   -32700  parse error          body is not valid JSON (or nested deeper than 1024)
//   -32600  invalid request      not a JSON-RPC 2.0 request object; empty or oversized batch;
//                                body over max_body_bytes (HTTP 413)
//   -32601  method not found     unknown method name
//   -32602  invalid params       params violate the declared schema (type, missing, unknown);
//                                raised by the dispatcher only, never by a Status
//   -32603  internal error       StatusCode::kInternal; a handler that dropped its Reply
//   -32010  invalid argument     StatusCode::kInvalidArgument (a handler's domain validation)
//   -32011  not found            StatusCode::kNotFound
//   -32012  already exists       StatusCode::kAlreadyExists
//   -32013  failed precondition  StatusCode::kFailedPrecondition
//   -32014  resource exhausted   StatusCode::kResourceExhausted
//   -32015  permission denied    StatusCode::kPermissionDenied
//   -32016  unavailable          StatusCode::kUnavailable (also: the server is shutting down)
//   -32017  deadline exceeded    StatusCode::kDeadlineExceeded
//   -32018  cancelled            StatusCode::kCancelled
//   -32019  unimplemented        StatusCode::kUnimplemented
//   -32020  i/o error            StatusCode::kIo
//
// Domain errors carry `"data": {"status": "<STATUS_CODE_NAME>"}` in the error object.
#pragma once

#include <span>
#include <string_view>

#include "supervisor/base/status.h"

namespace hero::api {

inline constexpr int kRpcParseError = -32700;
inline constexpr int kRpcInvalidRequest = -32600;
inline constexpr int kRpcMethodNotFound = -32601;
inline constexpr int kRpcInvalidParams = -32602;
inline constexpr int kRpcInternalError = -32603;

struct RpcErrorCode {
  int code;
  StatusCode status;         // the StatusCode a client maps this code back to
  bool from_status;          // true: the row a handler's Status with `status` is answered with
  std::string_view meaning;  // short lower-case name, e.g. "not found"
};

// Every row of the table above, standard codes first.
std::span<const RpcErrorCode> RpcErrorCodes();

// StatusCode -> JSON-RPC code (kOk is a programming error).
int RpcCodeForStatus(StatusCode code);
// JSON-RPC code -> StatusCode (unknown codes -> kInternal).
StatusCode StatusForRpcCode(int rpc_code);

}  // namespace hero::api
