// SpanAssembler: parsed events -> the run's span tree, as full-row mutations for a sink.
// Implements every "Assembly rules" item of SPAN_FORMAT.md. Thread: any single thread.
// Pure: depends on base and simdjson only (no sockets, libuv or SQLite); core feeds it.
//
// Contract:
// - Every new or changed span is reported to the sink as its full current row (OnSpan); the
//   store does insert-or-replace by seq. Seqs are 0, 1, 2, ... in order of first appearance
//   (a synthesized root gets the next seq at Finish). A row's parent_seq always names a span
//   already reported (at Finish a synthesized root is reported before what it adopts).
// - Storage (see span_table.h): every span keeps a 24-byte entry (id lookup, parent seq, state,
//   flags) for the whole run. Its full data (strings, times, resources) is held while the span
//   is open, and dropped once it has ended, is anchored (its parent chain reaches the root)
//   and has no held children. So a closed span costs ~41 heap B (measured with
//   bench/listener_bench BM_MillionSpansMemory), open ones their full size. Held in full until
//   then: closed spans whose parent has not arrived or whose chain hangs off such a span, and
//   closed ancestors of held spans (a failure's path names them). These count toward
//   max_spans like any span: worst case (a stream that never sends its root) is the full size
//   of every span, ~190 B each for SDK-shaped spans. At Finish all data is released.
// - Events for a span that has already ended (span_tag, a repeated span_start) are counted in
//   late_events and ignored (a second span_end counts in duplicate_ends); span_log still goes
//   to the span. A closed span is therefore re-emitted only when it gets its parent: a held
//   span whose parent arrives, or at Finish one the root adopts (orphan).
// - Tags are kept as one minified JSON object per span without duplicate keys; a merge keeps a
//   key's first position and its latest value. A merge whose result exceeds
//   Limits::max_tag_bytes is dropped whole and counted (dropped_tag_events); so is the `tags`
//   of a span_start (the span itself is kept).
// - Caps: a new span beyond max_spans is dropped (dropped_spans) and later events for its id
//   count as orphan_events; the synthesized root is exempt from the cap. A log (span or pipe)
//   that would pass max_log_bytes of text is dropped whole (dropped_log_bytes += its size);
//   of dropped stdout/stderr text the last 64 KiB per stream are kept (not counted back) and
//   stored at Finish as logs of the root after a `log` note, so the run's output keeps its end.
//   Room for them is reserved in caps of 1 MiB or more (the last 1/8, at most 128 KiB + 256):
//   stored log text never passes max_log_bytes; from the first dropped log on, every later
//   one is dropped too (so the stored output stays in order).
// - Events after Finish() are ignored. AddPipeLog() after Finish() still goes to the root
//   (pipes may drain after the span socket closed).
// - Sink callbacks run synchronously inside Apply/AddPipeLog/Finish; the referenced records
//   are valid only during the call, and the sink must not call back into the assembler.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "span_listener/event.h"
#include "span_listener/limits.h"
#include "span_listener/span_table.h"
#include "supervisor/base/ids.h"

namespace hero::spans {

struct SpanRecord {
  SpanSeq seq;
  std::string span_id;
  std::string parent_id;   // empty = root; the parent's wire id (the declared one while held)
  SpanSeq parent_seq;      // invalid for the root and while the parent is not known yet
  std::string name, kind;  // kind: flow_root, step, rpc, subflow, other
  int64_t start_us = 0, end_us = 0;  // end_us = 0 while running
  std::string status;  // "running", "ok", "failed", "cancelled", "timed_out", "killed"
  std::string tags_json = "{}";
  std::string error, error_type, traceback, file;
  int64_t line = 0;
  std::string rpc_service, rpc_method;
  int64_t cpu_us = 0, rss_kb = 0, child_run_id = 0;
  bool orphan = false;  // attached to the root because its real parent never came/was a cycle
};

struct LogRecord {
  SpanSeq span_seq;
  int64_t ts_us = 0;
  std::string stream;  // stdout, stderr, log (an unknown stream is stored as "log")
  std::string text;
};

struct Stats {
  int64_t lines = 0;   // non-empty lines seen (incl. malformed, excl. oversize)
  int64_t events = 0;  // parsed events applied
  int64_t malformed_lines = 0, unknown_type_lines = 0, oversize_lines = 0;
  int64_t orphan_events = 0, duplicate_ends = 0;
  int64_t late_events = 0;  // span_tag / repeated span_start for a span already ended: ignored
  int64_t dropped_spans = 0, dropped_log_bytes = 0, dropped_tag_events = 0;
  // At most 5 notes, <= 200 bytes of valid UTF-8 each: the first malformed lines ("line N:
  // <reason>: <line prefix>") and, once, a hello whose `v` is not 1 ("hello: unsupported
  // protocol version N ..."; the stream is still read as version 1).
  std::vector<std::string> diagnostics;
};

struct Failure {
  std::string path;  // span names from the root down, "root/step/sub"
  std::string span_name, error_type, error;
};

class AssemblerSink {
 public:
  virtual ~AssemblerSink() = default;
  // A new span or a changed span: the full current row.
  virtual void OnSpan(const SpanRecord& span) = 0;
  virtual void OnLog(const LogRecord& log) = 0;
  virtual void OnResult(std::string_view output_json) = 0;
  virtual void OnCall(int64_t req, std::string_view method, std::string_view params_json) = 0;
  virtual void OnHello(int64_t v, std::string_view sdk, int64_t pid) {
    (void)v, (void)sdk, (void)pid;
  }
  // A `limit` event: the boot module saw a sandbox limit end the flow (SPAN_FORMAT.md).
  virtual void OnLimit(std::string_view limit, std::string_view error) { (void)limit, (void)error; }
};

enum class EndOutcome { kExited, kTimedOut, kCancelled, kKilled };

class SpanAssembler {
 public:
  // `sink` must outlive the assembler. `root_name` names a synthesized root.
  SpanAssembler(Limits limits, std::string root_name, AssemblerSink* sink);
  SpanAssembler(const SpanAssembler&) = delete;
  SpanAssembler& operator=(const SpanAssembler&) = delete;

  // One parsed event.
  void Apply(const Event& e);

  // fd-level output (stream "stdout"/"stderr") -> logs of the root; held until the root exists
  // (bounded by max_log_bytes), flushed in order.
  void AddPipeLog(std::string_view stream, int64_t ts_us, std::string_view text);

  // End of stream. Closes every open span: kExited -> "failed" with error "process exited
  // before the span ended"; kTimedOut/kCancelled/kKilled -> "timed_out"/"cancelled"/"killed"
  // with error = reason. End time: now_us if > 0, else the latest ts seen (never before the
  // span's start). Then synthesizes a root if none came (kind flow_root, name root_name; status
  // for kExited: "ok" if reason is empty, else "failed" with error = reason; other outcomes as
  // above), attaches every span not reachable from the root (parent never came, parent cycle)
  // to the root with orphan = true, and flushes held pipe logs. Idempotent.
  void Finish(EndOutcome outcome, std::string_view reason, int64_t now_us = 0);
  // The error kExited gives spans still open at Finish (default "process exited before the
  // span ended"); the supervisor names the exit code: "process exited with code 3".
  void SetExitedError(std::string error) { exited_error_ = std::move(error); }

  // Accounting for the stages before the assembler (RunStream calls these).
  void NoteLine() { ++stats_.lines; }
  void NoteMalformed(std::string_view line, std::string_view reason);
  void NoteUnknownType() { ++stats_.unknown_type_lines; }
  void NoteUnsupportedHello(int64_t v);
  void SetOversizeLines(int64_t total) { stats_.oversize_lines = total; }

  const Stats& stats() const { return stats_; }
  int64_t span_count() const { return table_.size(); }
  // Spans whose full data is held (open ones and the closed ones still needed; 0 after Finish).
  int64_t held_spans() const { return table_.held_count(); }
  // The first span that ended failed (the innermost: inner spans end first), with its path
  // (recorded when it ended; a path through an ancestor whose data was already dropped, a span
  // started below a closed parent, begins with ".../").
  const std::optional<Failure>& first_failure() const { return first_failure_; }
  // Status of the root span, or "" while there is none.
  std::string root_status() const;
  bool finished() const { return finished_; }
  // Approximate bytes held for spans (for the memory budget; see span_table.h).
  size_t ApproxSpanBytes() const { return table_.ApproxBytes(); }

 private:
  struct HeldLog {
    std::string stream;
    int64_t ts_us;
    std::string text;
  };

  void OnStart(const Event& e);
  void UpdateStart(int32_t seq, const Event& e);
  void OnTag(const Event& e);
  void OnLog(const Event& e);
  void OnEnd(const Event& e);
  // Merges tags_json into the span's tags; false if dropped by the cap or unchanged.
  bool MergeTags(int32_t seq, std::string_view tags_json);
  void AttachHeldChildren(int32_t parent_seq, std::string_view parent_id);
  // Links a span to its parent (and counts it in the parent's held_children).
  void Link(int32_t seq, int32_t parent_seq);
  // After Link (and the span's Emit): anchors the span if its parent is anchored, else notes
  // it below the parent for when that is anchored.
  void AnchorOrDefer(int32_t seq);
  // Marks the span and every span linked below it anchored; with drop, drops the data of the
  // closed ones without held children.
  void Anchor(int32_t seq, bool drop);
  void MaybeDrop(int32_t seq);
  void AttachToRootAtFinish(int32_t seq);
  void AttachUnreachable();
  void RecordFailure(int32_t seq);
  bool ChargeLog(size_t bytes);
  // A stdout/stderr log over the log cap: its text is not stored, but the last
  // kDroppedTailBytes of each stream are kept and stored at Finish (after a note), so a reader
  // of the run's output still sees how it ended.
  void KeepDroppedTail(std::string_view stream, int64_t ts_us, std::string_view text);
  void EmitDroppedTails();
  void EmitLog(int32_t seq, int64_t ts_us, std::string_view stream, std::string_view text);
  void FlushHeldLogs();
  void Emit(int32_t seq);
  void NoteTs(int64_t ts) {
    if (ts > max_ts_) max_ts_ = ts;
  }

  Limits limits_;
  std::string root_name_;
  std::string exited_error_;
  static constexpr size_t kDroppedTailBytes = 64 << 10;
  // Caps under 1 MiB (tests, tight configurations) keep no tail: they stay exact.
  int64_t TailReserve() const {
    if (limits_.max_log_bytes < (1 << 20)) return 0;
    return std::min<int64_t>(limits_.max_log_bytes / 8, 2 * int64_t{kDroppedTailBytes} + 256);
  }
  struct DroppedTail {
    std::string text;
    int64_t ts_us = 0;
  };
  DroppedTail dropped_tail_[2];  // stdout, stderr
  AssemblerSink* sink_;
  SpanTable table_;
  int32_t root_ = -1;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::string root_id_;
  // Declared parent id -> spans waiting for it.
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> held_;
  // Seq of a span not anchored yet -> spans linked below it.
  std::unordered_map<int32_t, std::vector<int32_t>> unanchored_children_;
  std::vector<int32_t> stack_;           // Anchor's work list
  int64_t min_start_ = 0, max_end_ = 0;  // over all spans (for a synthesized root)
  std::vector<HeldLog> held_logs_;
  int64_t log_bytes_ = 0;
  int64_t max_ts_ = 0;
  bool finished_ = false;
  bool noted_hello_ = false;
  Stats stats_;
  std::optional<Failure> first_failure_;
  SpanRecord row_;      // reused for every OnSpan
  LogRecord log_;       // reused for every OnLog
  std::string merged_;  // reused tag-merge output
};

}  // namespace hero::spans
