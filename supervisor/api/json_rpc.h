// RpcDispatcher: JSON-RPC 2.0 over one request body (single call, batch, notifications),
// validating params against the MethodTable before calling a handler. Loop thread only.
// Transport-free (no h2o, no libuv): http_server.cc feeds it bodies; core may feed it too.
// Depends on base and simdjson.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "supervisor/api/method_table.h"
#include "supervisor/base/result.h"

namespace hero::api {

// Validates `params_json` (an object by name, an array by position in declared order, or
// empty/"null" for none) against `spec`. Errors are kInvalidArgument with a message naming the
// param and the expected type, e.g. `"timeout_ms" must be an integer, got string`.
Result<Params> ParseParams(const MethodSpec& spec, std::string_view params_json);

class RpcDispatcher {
 public:
  struct Options {
    std::string server_version = "0.1.0";  // OpenRPC info.version
    size_t max_batch = 1000;               // larger batches: -32600
  };

  // `table` must outlive the dispatcher and not change while requests are in flight.
  RpcDispatcher(const MethodTable* table, Options options);
  ~RpcDispatcher();
  RpcDispatcher(const RpcDispatcher&) = delete;
  RpcDispatcher& operator=(const RpcDispatcher&) = delete;

  // Handles one body. `done` runs exactly once (possibly before HandleAsync returns) with the
  // response JSON, or an empty string when nothing must be answered (only notifications).
  // `body` need not outlive the call. `done` may run after the dispatcher is destroyed (a
  // handler kept its Reply); it then must not touch the dispatcher.
  void HandleAsync(std::string_view body, std::function<void(std::string response)> done);

  // The rpc.discover document (generated once, then cached).
  const std::string& OpenRpcDocument();

  // {"jsonrpc":"2.0","id":null,"error":{"code":code,"message":message}}.
  static std::string ErrorResponse(int code, std::string_view message);

 private:
  struct Parsed;
  void Run(std::shared_ptr<struct BatchState> state, size_t slot, Parsed call);

  const MethodTable* table_;
  Options options_;
  std::string openrpc_;
  struct ParserBox;
  std::unique_ptr<ParserBox> parser_;
};

}  // namespace hero::api
