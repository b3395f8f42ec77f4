// RpcClient: the CLI's small blocking JSON-RPC 2.0 + SSE client for a running daemon (libcurl,
// over its Unix socket or TCP). Any thread, one call at a time per client; not for the loop
// thread (it blocks). Depends on base (and libcurl, simdjson privately).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "supervisor/base/ids.h"
#include "supervisor/base/result.h"
#include "supervisor/base/status.h"

namespace hero::api {

class RpcClient {
 public:
  // Does not connect yet. Errors: kInvalidArgument (empty/too long path).
  static Result<RpcClient> ForUnixSocket(std::string path);
  static Result<RpcClient> ForTcp(std::string host, int port);

  RpcClient(RpcClient&&) noexcept;
  RpcClient& operator=(RpcClient&&) noexcept;
  ~RpcClient();

  // Calls `method` with `params_json` (an object or array as JSON text; empty: no params) and
  // returns the result as minified JSON. A JSON-RPC error becomes a Status whose code comes
  // from rpc_errors.h's table and whose message is the server's; last_rpc_error_code() keeps
  // the JSON-RPC code (0 when the last call failed without one). Errors of the transport:
  // kUnavailable "no hero_logic daemon is listening on <where>; start one with
  // `hero_logic serve`", kDeadlineExceeded after `timeout`, kInternal for a malformed answer.
  Result<std::string> Call(std::string_view method, std::string_view params_json,
                           std::chrono::milliseconds timeout);

  // Follows GET /api/runs/{id}/events, calling `on_event(id, event, data)` for each event
  // until the server ends the stream (run finished: Ok), `on_event` returns false (Ok), or an
  // error (kNotFound for an unknown run, kUnavailable as above, kIo if the connection breaks;
  // resume by calling again with the last id seen). last_id < 0: from the beginning.
  Status StreamEvents(
      RunId run, int64_t last_id,
      std::function<bool(int64_t id, std::string_view event, std::string_view data)> on_event);

  int last_rpc_error_code() const { return last_rpc_code_; }

 private:
  struct Curl;
  RpcClient(std::string where, std::string unix_path, std::string base_url);
  std::string where_;      // for messages: the socket path or host:port
  std::string unix_path_;  // empty for TCP
  std::string base_url_;   // http://localhost or http://host:port
  std::unique_ptr<Curl> curl_;
  int64_t next_id_ = 1;
  int last_rpc_code_ = 0;
};

}  // namespace hero::api
