// Backend: the interface the supervisor core implements so the API transport can serve it.
// api/ declares it; core implements it (dependency direction core -> api). Every call comes
// on the loop thread and must not block.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "supervisor/api/method_table.h"
#include "supervisor/api/sse.h"
#include "supervisor/base/ids.h"
#include "supervisor/base/result.h"
#include "supervisor/base/status.h"

namespace hero::api {

class Backend {
 public:
  virtual ~Backend() = default;

  // Called once by HttpServer::Create, before it listens: add every JSON-RPC method
  // (rpc.discover is built in). A non-ok Status makes Create fail with it.
  virtual Status RegisterMethods(MethodTable& table) = 0;

  // GET /api/runs/{id}/events. Start streaming run `run_id`'s events into `stream`: first
  // replay every event with id > last_event_id (-1: the client sent no Last-Event-ID, replay
  // all), then live ones; Close() the stream when the run has ended and everything is sent.
  // Sends made during this call are buffered and go out right after it returns ok. Return
  // kNotFound for an unknown run (HTTP 404; other codes: 400 for kInvalidArgument, 503 for
  // kUnavailable/kFailedPrecondition/kResourceExhausted, else 500); the stream is then unused.
  // Event ids must increase within a run so resume works.
  virtual Status SubscribeRunEvents(RunId run_id, int64_t last_event_id,
                                    std::shared_ptr<SseStream> stream) = 0;

  // GET /healthz: a JSON object with detail (e.g. {"runs_active":3,"store":"ok"}), served as
  // 200 {"ok":true,...,"backend":<it>}; an error is served as 503 {"ok":false,"error":...}.
  virtual Result<std::string> HealthJson() = 0;

  // GET /metrics: Prometheus text exposition (format 0.0.4), each line ending in '\n'. The
  // server appends its own hero_http_* / hero_sse_* / hero_rpc_* series.
  virtual std::string MetricsText() = 0;
};

}  // namespace hero::api
