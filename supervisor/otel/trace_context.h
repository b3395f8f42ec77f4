// W3C Trace Context values (traceparent / tracestate) and hero_logic's span-id derivation.
// Pure: libc + STL + base. Thread: any. Knows nothing of runs, sockets or the exporter.
//
// Span ids are derived, not stored: a run has a random 64-bit `span_key`, and the OTel span id
// of the span with wire id W is SpanIdFor(span_key, W); the run's root span (whatever its wire
// id) is SpanIdFor(span_key, ""). The Python SDK computes the same function (hero_tracing
// `_otel_span_id`), so `flow.traceparent()` names the span the supervisor later exports.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "supervisor/base/result.h"

namespace hero::otel {

// A 16-byte W3C trace id; all zeroes is invalid.
struct TraceId {
  std::array<uint8_t, 16> bytes{};
  bool valid() const;
  std::string Hex() const;  // 32 lowercase hex digits
  friend bool operator==(const TraceId& a, const TraceId& b) { return a.bytes == b.bytes; }
};

// The trace a run belongs to and where it hangs in it.
struct TraceContext {
  TraceId trace_id;
  uint64_t parent_span_id = 0;  // the root span's parent; 0 = the run starts the trace
  uint8_t flags = 1;            // W3C trace-flags (bit 0: sampled)
  std::string trace_state;      // W3C tracestate, passed on unchanged
  uint64_t span_key = 0;        // this run's key for SpanIdFor
  // Handed on to the flow (TRACEPARENT, TRACESTATE, HERO_FLOW_SPAN_SEED): a context that came
  // from a caller, or one this process exports. A run that nobody traces gets no variables
  // (the sandbox's environment stays the SPEC §5 allowlist).
  bool propagate = true;
};

// Parses a W3C `traceparent` (version 00, or a later version read as 00 per the W3C rules)
// and keeps `tracestate` when it is a valid list (at most 32 members, 512 bytes; otherwise it
// is dropped, as the W3C spec says). kInvalidArgument naming what is wrong for a malformed
// traceparent, version ff, or an all-zero trace or parent id. The result's span_key is 0.
Result<TraceContext> ParseTraceparent(std::string_view traceparent, std::string_view tracestate);

// "00-<trace id>-<span id>-<flags>".
std::string FormatTraceparent(const TraceId& trace_id, uint64_t span_id, uint8_t flags);

// A fresh context: random trace id (getrandom), random span key, no parent, sampled.
TraceContext NewTraceContext();
uint64_t RandomU64();

// The OTel span id of wire span `wire_id` ("" = the run's root span). Never 0.
// FNV-1a 64 over the id's bytes starting from (offset basis XOR key), then the SplitMix64
// finalizer; the SDK implements the same.
uint64_t SpanIdFor(uint64_t span_key, std::string_view wire_id);

std::string SpanIdHex(uint64_t span_id);  // 16 lowercase hex digits
// Big-endian bytes of a span id (OTLP's byte order: the hex form read left to right).
std::array<uint8_t, 8> SpanIdBytes(uint64_t span_id);

}  // namespace hero::otel
