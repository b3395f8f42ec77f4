// HttpServer: the daemon's HTTP/1.1 front door (h2o, libuv flavour) on the caller's uv loop:
// POST /rpc (JSON-RPC 2.0), GET /healthz, GET /metrics, GET /api/runs/{id}/events (SSE) and
// static files (the web UI). Loop thread only. Depends on api/, loop/, base/, h2o, libuv.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "supervisor/api/backend.h"
#include "supervisor/base/result.h"

namespace hero::api {

class HttpServer {
 public:
  struct Options {
    // Unix socket (file mode 0600). A stale socket file is unlinked only if nothing answers on
    // it; a live one fails Create with kAlreadyExists; a non-socket file with kFailedPrecondition.
    // Empty: no unix listener.
    std::string unix_socket_path;
    // TCP listener; empty host: none. Port 0 = ephemeral (see tcp_port()).
    std::string tcp_host = "127.0.0.1";
    int tcp_port = 8765;
    size_t max_body_bytes = 8u << 20;  // larger request bodies: 413 + JSON-RPC error body
    std::string static_dir;            // web UI root; empty: no static files (404)
    std::string dashboards_dir;        // served at /dashboards/ (Grafana JSON); empty: none
    std::string node;                  // hero_node_info{node=...} in /metrics; empty: hostname
    std::chrono::milliseconds sse_heartbeat{15000};
    size_t sse_client_buffer_cap = 4u << 20;  // unsent bytes per SSE client before "dropped"
    std::chrono::milliseconds request_timeout{10000};  // to receive a request's head + body
    std::chrono::milliseconds shutdown_grace{2000};    // then connections are cut
    size_t max_connections = 1024;                     // beyond: accepted and closed at once
    std::string version = "0.1.0";                     // OpenRPC info.version, /healthz
  };

  // Builds the method table (backend->RegisterMethods), binds the listeners and starts
  // accepting. `backend` must outlive the server. Sets SIGPIPE to ignored if it is at its
  // default (a peer that disconnects mid-write must not kill the daemon). Errors: the
  // backend's, kAlreadyExists (a daemon answers on the socket), kInvalidArgument (bad host,
  // no listener configured), kIo/kPermissionDenied/... from bind/listen.
  static Result<std::unique_ptr<HttpServer>> Create(uv_loop_t* loop, Options options,
                                                    Backend* backend);

  // Precondition: Shutdown() has completed (its callback ran) or was never needed because
  // Create failed. Destroying a running server is a programming error (CHECK).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound TCP port (useful with tcp_port = 0); 0 without a TCP listener.
  int tcp_port() const;
  const std::string& unix_socket_path() const;

  // Stops accepting, closes the listeners, answers in-flight RPCs with -32016 (HTTP 503),
  // ends SSE streams, lets responses drain for up to shutdown_grace, then cuts what is left,
  // disposes h2o and closes every uv handle it owns; `done` runs after the last close
  // callback. The unix socket file is removed. Call once.
  void Shutdown(std::function<void()> done);

  struct Stats {
    int64_t connections_open = 0;
    int64_t connections_total = 0;
    int64_t connections_rejected = 0;
    int64_t http_requests = 0;
    int64_t rpc_bodies = 0;
    int64_t rpc_too_large = 0;
    int64_t sse_open = 0;
    int64_t sse_total = 0;
    int64_t sse_dropped = 0;
  };
  Stats stats() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hero::api
