// RunStream: one run's span socket bytes -> lines -> events -> span tree (framer + parser +
// assembler), the object core feeds. Thread: any single thread. Pure: depends on base and
// simdjson only (no sockets, libuv or SQLite): core reads the socket and calls Feed().
//
// Contract: Feed() never fails and never stops the stream; bad input is counted in stats().
// Finish() flushes a final line without '\n' and then finishes the assembler (see
// span_assembler.h); Feed() after Finish() is ignored. Sink callbacks run inside Feed/Finish.
#pragma once

#include <string>
#include <string_view>

#include "span_listener/event.h"
#include "span_listener/event_parser.h"
#include "span_listener/limits.h"
#include "span_listener/line_framer.h"
#include "span_listener/span_assembler.h"

namespace hero::spans {

class RunStream {
 public:
  // `sink` must outlive the stream.
  RunStream(Limits limits, std::string root_name, AssemblerSink* sink);
  RunStream(const RunStream&) = delete;
  RunStream& operator=(const RunStream&) = delete;

  void Feed(std::string_view bytes);
  void Finish(EndOutcome outcome, std::string_view reason, int64_t now_us = 0);

  SpanAssembler& assembler() { return assembler_; }
  const SpanAssembler& assembler() const { return assembler_; }
  const Stats& stats() const { return assembler_.stats(); }

 private:
  void OnLine(std::string_view line);

  LineFramer framer_;
  EventParser parser_;
  SpanAssembler assembler_;
  Event event_;        // reused for every line
  std::string error_;  // reused parse error text
};

}  // namespace hero::spans
