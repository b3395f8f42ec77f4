// OtlpExporter: ships ended spans and span logs to an OTLP/HTTP collector from its own thread.
// Add() is called on the loop thread and only takes a mutex and moves the item into a bounded
// queue (waking the exporter thread only for the first item and for a full batch); encoding
// (protobuf or JSON), HTTP (libcurl) and retries run on the exporter thread. Depends on base,
// protobuf, libcurl and simdjson; knows nothing of runs or libuv.
//
// Contract:
// - The queue holds at most config.max_queue items (spans + logs); when full the oldest item is
//   dropped and counted (drop-oldest: the newest data is the most useful to an operator).
// - Batches of at most config.max_batch (<= 512) spans, sent when that many are queued or
//   config.schedule_delay after the first item waited, and at Flush. Logs go in their own
//   request to logs_url; with no logs_url they are attached to their span as `log` events
//   (buffered until the span arrives, at most 128 per span and 65,536 in all; beyond that they
//   are dropped and counted).
// - An export attempt that fails with a connection error, HTTP 429, 502, 503 or 504 is retried
//   with exponential backoff (100 ms doubling, +-50 % jitter, capped at 5 s; a Retry-After of at
//   most 5 s is honoured) up to 5 attempts; other statuses fail at once. A failed batch's items
//   count as dropped and the batch in failed_batches. Nothing is ever retried on the loop.
// - Shutdown(deadline) sends what is queued until the deadline, then stops: no request outlives
//   it (each request's libcurl timeout is cut to what is left).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "supervisor/otel/otel_config.h"
#include "supervisor/otel/otlp_encode.h"
#include "supervisor/otel/otlp_items.h"

namespace hero::otel {

struct ExporterStats {
  int64_t exported_spans = 0, exported_logs = 0;
  int64_t dropped_spans = 0, dropped_logs = 0;  // queue overflow + items of failed batches
  int64_t failed_batches = 0, retries = 0;
  int64_t queued = 0;
};

class OtlpExporter {
 public:
  // Precondition: config.enabled. The thread starts here.
  OtlpExporter(OtelConfig config, ResourceInfo resource);
  ~OtlpExporter();  // Shutdown(now + config.timeout) if not done yet
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  // Thread-safe; never blocks on I/O.
  void Add(SpanItem span);
  void Add(LogItem log);
  // Exports everything queued so far; true if it all went out (or failed for good) before
  // `deadline`. Thread-safe.
  bool Flush(std::chrono::steady_clock::time_point deadline);
  // Flush until `deadline`, then stop the thread (queued items left are counted as dropped).
  void Shutdown(std::chrono::steady_clock::time_point deadline);

  ExporterStats stats() const;
  // Prometheus lines: hero_otlp_exported_spans_total, hero_otlp_dropped_spans_total,
  // hero_otlp_failed_batches_total, hero_otlp_exported_logs_total,
  // hero_otlp_dropped_logs_total, hero_otlp_retries_total, hero_otlp_queue_items.
  std::string MetricsText() const;
  const OtelConfig& config() const { return config_; }

 private:
  using Item = std::variant<SpanItem, LogItem>;
  class Http;
  struct EventBuffer;

  void Push(Item item);
  void ThreadMain();
  // Sends one batch (spans then logs). Exporter thread only.
  void Export(std::deque<Item>& batch);
  // POSTs body with retries; true on success. Exporter thread only.
  bool Post(const std::string& url, const std::string& body);
  bool SleepUntil(std::chrono::steady_clock::time_point t);  // false: stopping

  const OtelConfig config_;
  const ResourceInfo resource_;
  std::unique_ptr<Http> http_;
  std::unique_ptr<EventBuffer> events_;
  bool failing_ = false;  // exporter thread: log when export starts/stops failing, not each time

  mutable std::mutex mu_;
  std::condition_variable wake_;      // the exporter thread waits here
  std::condition_variable progress_;  // Flush waits here
  std::deque<Item> queue_;
  uint64_t added_ = 0, done_ = 0;  // items queued ever / items exported, failed or dropped
  bool flush_ = false, stop_ = false;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  std::thread thread_;

  std::atomic<int64_t> exported_spans_{0}, exported_logs_{0}, dropped_spans_{0}, dropped_logs_{0},
      failed_batches_{0}, retries_{0};
};

// The exporter configured by the process environment (OtelConfigFromEnv), falling back to
// `file` (variable -> value, from a config file) for variables the environment does not set;
// null when export is off. Warnings about ignored variables are logged once here.
std::unique_ptr<OtlpExporter> ExporterFromEnvironment(
    std::string instance_id, const std::map<std::string, std::string>& file = {});

}  // namespace hero::otel
