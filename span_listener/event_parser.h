// EventParser: one NDJSON line -> Event, with strict field types (SPAN_FORMAT.md).
// Thread: any single thread per parser. Pure: depends on base and simdjson only (no sockets,
// libuv or SQLite). Never throws: simdjson is used through error codes.
//
// Contract:
// - kOk: *out holds the event (all strings copied out of simdjson's buffers).
// - kMalformed: not JSON (incl. invalid UTF-8, NaN/Infinity, numbers out of double range such as
//   1e999, nesting deeper than 1024), not an object, a required field missing, or a known field
//   of this type with the wrong JSON type. *error names the reason (static text + field name).
// - kUnknownType: "type" is a string naming no known event; the line is to be counted and
//   skipped.
// - Integers must be JSON integers that fit int64 (1.0 is not an int). Unknown fields, and
//   known fields that do not belong to the line's type, are ignored. With duplicate keys the
//   last occurrence wins (as in Python's json module), also inside `tags`.
// - A trailing '\r' (or any JSON whitespace) around the object is accepted.
// - simdjson's parser memory is shared per thread (one parser serves every run on a thread) and
//   released after a line over 64 KiB, so 1,000 idle runs do not each pin a 1 MiB parser.
#pragma once

#include <string>
#include <string_view>

#include "span_listener/event.h"

namespace hero::spans {

enum class ParseOutcome { kOk, kMalformed, kUnknownType };

class EventParser {
 public:
  // `out` is reused: its strings keep their capacity. On kMalformed/kUnknownType *out is
  // unspecified. `error` may be null.
  ParseOutcome Parse(std::string_view line, Event* out, std::string* error);
};

}  // namespace hero::spans
