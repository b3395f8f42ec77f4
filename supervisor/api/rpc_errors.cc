// The StatusCode <-> JSON-RPC code table. Pure.
#include "supervisor/api/rpc_errors.h"

#include <array>

#include "supervisor/base/check.h"

namespace hero::api {
namespace {

constexpr std::array<RpcErrorCode, 16> kTable = {{
    {kRpcParseError, StatusCode::kInvalidArgument, false, "parse error"},
    {kRpcInvalidRequest, StatusCode::kInvalidArgument, false, "invalid request"},
    {kRpcMethodNotFound, StatusCode::kUnimplemented, false, "method not found"},
    {kRpcInvalidParams, StatusCode::kInvalidArgument, false, "invalid params"},
    {kRpcInternalError, StatusCode::kInternal, true, "internal error"},
    {-32010, StatusCode::kInvalidArgument, true, "invalid argument"},
    {-32011, StatusCode::kNotFound, true, "not found"},
    {-32012, StatusCode::kAlreadyExists, true, "already exists"},
    {-32013, StatusCode::kFailedPrecondition, true, "failed precondition"},
    {-32014, StatusCode::kResourceExhausted, true, "resource exhausted"},
    {-32015, StatusCode::kPermissionDenied, true, "permission denied"},
    {-32016, StatusCode::kUnavailable, true, "unavailable"},
    {-32017, StatusCode::kDeadlineExceeded, true, "deadline exceeded"},
    {-32018, StatusCode::kCancelled, true, "cancelled"},
    {-32019, StatusCode::kUnimplemented, true, "unimplemented"},
    {-32020, StatusCode::kIo, true, "i/o error"},
}};

}  // namespace

std::span<const RpcErrorCode> RpcErrorCodes() { return kTable; }

int RpcCodeForStatus(StatusCode code) {
  HERO_CHECK(code != StatusCode::kOk);
  for (const RpcErrorCode& row : kTable) {
    if (row.from_status && row.status == code) return row.code;
  }
  return kRpcInternalError;  // a StatusCode added to base without a row here (a unit test pins
                             // this)
}

StatusCode StatusForRpcCode(int rpc_code) {
  for (const RpcErrorCode& row : kTable) {
    if (row.code == rpc_code) return row.status;
  }
  return StatusCode::kInternal;
}

}  // namespace hero::api
