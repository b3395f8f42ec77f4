// Span-stream fuzz harness: one input -> RunStream (framer + parser + assembler) fed in
// fuzzer-chosen chunks, with every invariant of SPAN_FORMAT.md "Assembly rules" checked.
// Shared by the libFuzzer target (clang) and the corpus replay test (gcc). Thread: any single
// thread. Depends on span_listener + simdjson only.
//
// Input layout: the first kHeaderBytes bytes choose the run (see FuzzConfig), the rest is the
// byte stream as the child would write it to its span socket. An input shorter than the header
// is a stream with the default config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "span_listener/limits.h"
#include "span_listener/span_assembler.h"

namespace hero::fuzz {

inline constexpr size_t kHeaderBytes = 4;

// What the header bytes decode to.
struct FuzzConfig {
  spans::Limits limits;
  spans::EndOutcome outcome = spans::EndOutcome::kExited;  // the differential run's outcome
  int64_t now_us = 0;                                      // Finish's now_us (0 = latest ts seen)
  bool pipe_logs = false;   // interleave AddPipeLog calls at chunk boundaries
  uint32_t split_seed = 0;  // drives the chunk lengths
};

// Decodes the header of `input` (defaults when it is shorter than kHeaderBytes) and returns the
// stream part in *stream.
FuzzConfig DecodeInput(std::string_view input, std::string_view* stream);

// Builds an input: header bytes that decode to roughly `config` (caps are chosen from fixed
// menus, see fuzz_harness.cc) followed by `stream`. Used to write the seed corpus.
std::string EncodeInput(uint8_t limits_byte, uint8_t run_byte, uint16_t split_seed,
                        std::string_view stream);

// Runs the input through the stream five times: unsplit and split with the header's outcome
// (their sink transcripts must be identical: framing must not depend on read boundaries),
// then split with each other EndOutcome. Checks, on every run:
// - after Finish: no span is "running"; exactly one root (no parent); every other span's
//   parent is a reported span and the parent chain reaches the root (no cycles);
// - span_count <= max_spans + 1 (the synthesized root is exempt) and every span was reported;
//   seqs appear in order 0, 1, 2, ...; end_us >= start_us for closed spans;
// - a span reported closed is reported again only when it gets its parent (the parent
//   arrives; at Finish, as an orphan): events for an ended span are ignored; no span data is
//   held after Finish;
// - tags_json is a JSON object within max_tag_bytes; results/call params are valid JSON;
//   total emitted log text <= max_log_bytes; every log names an already reported span;
// - stats: lines == events + malformed + unknown types; <= 5 diagnostics, each <= 200 bytes
//   of valid UTF-8;
// - Feed() after Finish() reports nothing.
// Returns "" when every invariant held, else a description of the first violation.
std::string CheckSpanStream(std::string_view input);

}  // namespace hero::fuzz
