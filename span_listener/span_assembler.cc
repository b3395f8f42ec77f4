// SpanAssembler. Hot path (span_start/span_log/span_end with a known parent): one id lookup per
// event; no allocation per span once buffers are warm (a closed span's data is recycled).
#include "span_listener/span_assembler.h"

#include <algorithm>
#include <utility>

#include "span_listener/json_util.h"
#include "supervisor/base/check.h"
#include "supervisor/base/json_writer.h"

namespace hero::spans {
namespace {

constexpr std::string_view kExitedError = "process exited before the span ended";
constexpr size_t kDiagnosticBytes = 200;
constexpr int kMaxDiagnostics = 5;
constexpr int kMaxPathDepth = 256;
constexpr int64_t kProtocolVersion = 1;

SpanState EndState(std::string_view status) {
  if (status == "ok") return SpanState::kOk;
  if (status == "cancelled") return SpanState::kCancelled;
  if (status == "killed") return SpanState::kKilled;  // the boot module, after a `limit`
  return SpanState::kFailed;                          // "failed" and anything unknown
}

SpanState OutcomeState(EndOutcome o) {
  switch (o) {
    case EndOutcome::kExited:
      return SpanState::kFailed;
    case EndOutcome::kTimedOut:
      return SpanState::kTimedOut;
    case EndOutcome::kCancelled:
      return SpanState::kCancelled;
    case EndOutcome::kKilled:
      return SpanState::kKilled;
  }
  return SpanState::kFailed;
}

std::string_view NormalizeStream(std::string_view s) {
  if (s == "stdout" || s == "stderr") return s;
  return "log";
}

// Cuts s to at most max bytes without splitting a UTF-8 sequence (s is valid UTF-8).
std::string_view Utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

SpanAssembler::SpanAssembler(Limits limits, std::string root_name, AssemblerSink* sink)
    : limits_(limits), root_name_(std::move(root_name)), exited_error_(kExitedError), sink_(sink) {
  HERO_CHECK(sink_ != nullptr);
  // Seqs are int32 inside the table; one slot stays free for a synthesized root.
  limits_.max_spans = std::clamp<int64_t>(limits_.max_spans, 0, (int64_t{1} << 31) - 2);
}

void SpanAssembler::Apply(const Event& e) {
  if (finished_) return;
  ++stats_.events;
  switch (e.type) {
    case EventType::kHello:
      if (e.v != kProtocolVersion) NoteUnsupportedHello(e.v);
      sink_->OnHello(e.v, e.sdk, e.pid);
      break;
    case EventType::kSpanStart:
      OnStart(e);
      break;
    case EventType::kSpanTag:
      OnTag(e);
      break;
    case EventType::kSpanLog:
      OnLog(e);
      break;
    case EventType::kSpanEnd:
      OnEnd(e);
      break;
    case EventType::kResult:
      sink_->OnResult(e.output_json);
      break;
    case EventType::kCall:
      sink_->OnCall(e.req, e.method, e.params_json);
      break;
    case EventType::kLimit:
      sink_->OnLimit(e.name, e.error);
      break;
  }
}

void SpanAssembler::OnStart(const Event& e) {
  NoteTs(e.ts);
  const uint64_t id_hash = SpanTable::Hash(e.id);
  int32_t seq = table_.Find(e.id, id_hash);
  if (seq >= 0) {
    if (table_.entry(seq).state != SpanState::kRunning) {
      ++stats_.late_events;
      return;
    }
    return UpdateStart(seq, e);
  }
  if (table_.size() >= limits_.max_spans) {
    ++stats_.dropped_spans;
    return;
  }
  std::string_view tags = e.tags_json;
  if (tags == "{}") tags = {};
  if (tags.size() > limits_.max_tag_bytes) {
    ++stats_.dropped_tag_events;
    tags = {};
  }
  int32_t parent = -1;
  uint8_t flags = 0;
  bool becomes_root = false;
  std::string_view parent_id;
  if (e.parent_null) {
    if (root_ < 0) {
      becomes_root = true;
      flags = SpanEntry::kAttached | SpanEntry::kAnchored | SpanEntry::kRoot;
    } else {
      parent = root_;
      parent_id = root_id_;
      flags = SpanEntry::kOrphan;
    }
  } else {
    parent_id = e.parent;
    // Held until the parent arrives (a self-parent never does).
    if (e.parent != e.id) parent = table_.Find(e.parent);
  }

  SpanTable::Fields f;
  f[int(SpanField::kId)] = e.id;
  f[int(SpanField::kParentId)] = parent_id;
  f[int(SpanField::kName)] = e.name;
  f[int(SpanField::kFile)] = e.file;
  f[int(SpanField::kRpcService)] = e.rpc_service;
  f[int(SpanField::kRpcMethod)] = e.rpc_method;
  f[int(SpanField::kTags)] = tags;
  f[int(SpanField::kError)] = {};
  f[int(SpanField::kErrorType)] = {};
  f[int(SpanField::kTraceback)] = {};
  if (table_.size() == 0 || e.ts < min_start_) min_start_ = e.ts;
  seq = table_.Add(f, id_hash);
  SpanEntry& s = table_.entry(seq);
  SpanData& d = table_.data(seq);
  d.start_us = e.ts;
  d.line = e.line;
  d.child_run_id = e.child_run_id;
  d.kind = ParseSpanKind(e.kind);
  s.state = SpanState::kRunning;
  s.flags = flags;
  if (parent >= 0) {
    Link(seq, parent);
    AnchorOrDefer(seq);  // running: never dropped here
  } else if (!e.parent_null && e.parent != e.id) {
    held_[e.parent].push_back(seq);
  }
  if (becomes_root) {
    root_ = seq;
    root_id_.assign(e.id);
  }
  Emit(seq);
  if (becomes_root) FlushHeldLogs();
  if (!held_.empty()) AttachHeldChildren(seq, e.id);
}

void SpanAssembler::UpdateStart(int32_t seq, const Event& e) {
  SpanData& d = table_.data(seq);
  d.kind = ParseSpanKind(e.kind);
  if (e.has_line) d.line = e.line;
  if (e.has_child_run_id) d.child_run_id = e.child_run_id;
  table_.Set(seq, SpanField::kName, e.name);
  if (e.has_file) table_.Set(seq, SpanField::kFile, e.file);
  if (e.has_rpc_service) table_.Set(seq, SpanField::kRpcService, e.rpc_service);
  if (e.has_rpc_method) table_.Set(seq, SpanField::kRpcMethod, e.rpc_method);
  if (!e.tags_json.empty()) MergeTags(seq, e.tags_json);
  Emit(seq);
}

void SpanAssembler::OnTag(const Event& e) {
  int32_t seq = table_.Find(e.id);
  if (seq < 0) {
    ++stats_.orphan_events;
    return;
  }
  if (table_.entry(seq).state != SpanState::kRunning) {
    ++stats_.late_events;
    return;
  }
  if (MergeTags(seq, e.tags_json)) Emit(seq);
}

bool SpanAssembler::MergeTags(int32_t seq, std::string_view tags_json) {
  std::string_view current = table_.Get(seq, SpanField::kTags);
  std::string_view result;
  if (tags_json.empty() || tags_json == "{}") return false;
  if (current.empty()) {
    result = tags_json;  // the parser already removed duplicate keys
  } else {
    simdjson::dom::object base, update;
    // Both inputs are our own minified output / the parser's: parse errors are bugs.
    auto& base_dom = internal::ThreadDom(internal::DomSlot::kMergeBase);
    auto& update_dom = internal::ThreadDom(internal::DomSlot::kMergeUpdate);
    bool ok = !base_dom.Parse(current).get_object().get(base) &&
              !update_dom.Parse(tags_json).get_object().get(update);
    HERO_CHECK(ok);
    merged_.clear();
    internal::AppendMergedObject(&merged_, {base, update});
    base_dom.ReleaseIfBig();
    update_dom.ReleaseIfBig();
    result = merged_;
  }
  if (result.size() > limits_.max_tag_bytes) {
    ++stats_.dropped_tag_events;
    return false;
  }
  if (result == current) return false;
  table_.Set(seq, SpanField::kTags, result);
  if (merged_.capacity() > (64u << 10)) std::string().swap(merged_);
  return true;
}

void SpanAssembler::OnLog(const Event& e) {
  NoteTs(e.ts);
  int32_t seq = table_.Find(e.id);
  if (seq < 0) {
    ++stats_.orphan_events;
    return;
  }
  if (!ChargeLog(e.text.size())) {
    KeepDroppedTail(NormalizeStream(e.stream), e.ts, e.text);
    return;
  }
  EmitLog(seq, e.ts, NormalizeStream(e.stream), e.text);
}

void SpanAssembler::OnEnd(const Event& e) {
  NoteTs(e.ts);
  int32_t seq = table_.Find(e.id);
  if (seq < 0) {
    ++stats_.orphan_events;
    return;
  }
  SpanEntry& s = table_.entry(seq);
  if (s.state != SpanState::kRunning) {
    ++stats_.duplicate_ends;
    return;
  }
  SpanData& d = table_.data(seq);  // running spans are held
  s.state = EndState(e.status);
  d.end_us = std::max(e.ts, d.start_us);
  max_end_ = std::max(max_end_, d.end_us);
  if (e.has_cpu) d.cpu_us = e.cpu_us;
  if (e.has_rss) d.rss_kb = e.rss_kb;
  if (!e.error.empty()) table_.Set(seq, SpanField::kError, e.error);
  if (!e.error_type.empty()) table_.Set(seq, SpanField::kErrorType, e.error_type);
  if (!e.traceback.empty()) table_.Set(seq, SpanField::kTraceback, e.traceback);
  Emit(seq);
  if (s.state == SpanState::kFailed) RecordFailure(seq);
  MaybeDrop(seq);
}

void SpanAssembler::AttachHeldChildren(int32_t parent_seq, std::string_view parent_id) {
  auto it = held_.find(parent_id);
  if (it == held_.end()) return;
  std::vector<int32_t> children = std::move(it->second);
  held_.erase(it);
  for (int32_t child : children) {
    Link(child, parent_seq);
    Emit(child);
    AnchorOrDefer(child);
  }
}

void SpanAssembler::Link(int32_t seq, int32_t parent_seq) {
  SpanEntry& s = table_.entry(seq);
  s.parent = parent_seq;
  s.flags |= SpanEntry::kAttached;
  SpanEntry& p = table_.entry(parent_seq);
  // The child is held (new, or waiting for this parent). A dropped parent (closed, anchored)
  // stays dropped: a failure below it gets a path starting with ".../".
  if (p.data != nullptr) {
    ++p.data->held_children;
    s.flags |= SpanEntry::kCounted;
  }
}

void SpanAssembler::AnchorOrDefer(int32_t seq) {
  int32_t parent = table_.entry(seq).parent;
  if (table_.entry(parent).has(SpanEntry::kAnchored)) {
    Anchor(seq, /*drop=*/true);
  } else {
    unanchored_children_[parent].push_back(seq);
  }
}

void SpanAssembler::Anchor(int32_t seq, bool drop) {
  if (unanchored_children_.empty()) {  // the usual case: nothing hangs below an unanchored span
    table_.entry(seq).flags |= SpanEntry::kAnchored;
    if (drop) MaybeDrop(seq);
    return;
  }
  stack_.clear();
  stack_.push_back(seq);
  while (!stack_.empty()) {
    int32_t at = stack_.back();
    stack_.pop_back();
    SpanEntry& s = table_.entry(at);
    if (s.has(SpanEntry::kAnchored)) continue;
    s.flags |= SpanEntry::kAnchored;
    if (drop) MaybeDrop(at);
    auto it = unanchored_children_.find(at);
    if (it == unanchored_children_.end()) continue;
    stack_.insert(stack_.end(), it->second.begin(), it->second.end());
    unanchored_children_.erase(it);
  }
  if (stack_.capacity() > 4096) std::vector<int32_t>().swap(stack_);
}

// A closed, anchored span without held children is never emitted again: only its entry is
// needed (id lookup for logs and children, state for late events). Dropping it may make its
// parent droppable, and so on up.
void SpanAssembler::MaybeDrop(int32_t seq) {
  while (seq >= 0) {
    SpanEntry& s = table_.entry(seq);
    if (s.data == nullptr || seq == root_ || s.state == SpanState::kRunning ||
        !s.has(SpanEntry::kAnchored) || s.data->held_children != 0) {
      return;
    }
    table_.Drop(seq);
    if (!s.has(SpanEntry::kCounted)) return;
    s.flags &= static_cast<uint8_t>(~SpanEntry::kCounted);
    seq = s.parent;
    --table_.data(seq).held_children;
  }
}

void SpanAssembler::RecordFailure(int32_t seq) {
  if (first_failure_) return;
  Failure f;
  std::vector<std::string_view> names;
  int32_t at = seq;
  // Ancestors of a held span are held (they have a held child) unless a span on the way was
  // started below an already dropped parent: then the path starts with "...".
  for (int hops = 0; at >= 0 && hops < kMaxPathDepth && table_.held(at); ++hops) {
    names.push_back(table_.Get(at, SpanField::kName));
    at = table_.entry(at).parent;
  }
  if (at >= 0) f.path = "...";
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (!f.path.empty()) f.path.push_back('/');
    f.path.append(*it);
  }
  f.span_name = std::string(table_.Get(seq, SpanField::kName));
  f.error_type = std::string(table_.Get(seq, SpanField::kErrorType));
  f.error = std::string(table_.Get(seq, SpanField::kError));
  first_failure_ = std::move(f);
}

bool SpanAssembler::ChargeLog(size_t bytes) {
  auto n = static_cast<int64_t>(bytes);
  // The last 1/8 of the cap (at most 2 x 64 KiB + 256) is kept for the tails of dropped
  // output stored at Finish, so stored log text never passes max_log_bytes. With a tail, once
  // something was dropped everything after is too (into the tail): a short line that still
  // fits would otherwise be stored before the tail of the lines printed ahead of it.
  const int64_t reserve = TailReserve();
  if (log_bytes_ + n > limits_.max_log_bytes - reserve ||
      (reserve > 0 && stats_.dropped_log_bytes > 0)) {
    stats_.dropped_log_bytes += n;
    return false;
  }
  log_bytes_ += n;
  return true;
}

void SpanAssembler::EmitLog(int32_t seq, int64_t ts_us, std::string_view stream,
                            std::string_view text) {
  log_.span_seq = SpanSeq{seq};
  log_.ts_us = ts_us;
  log_.stream.assign(stream);
  log_.text.assign(text);
  sink_->OnLog(log_);
  if (log_.text.capacity() > (64u << 10)) std::string().swap(log_.text);
}

void SpanAssembler::KeepDroppedTail(std::string_view stream, int64_t ts_us, std::string_view text) {
  if (stream != "stdout" && stream != "stderr") return;
  DroppedTail& t = dropped_tail_[stream == "stdout" ? 0 : 1];
  t.ts_us = std::max(t.ts_us, ts_us);
  // Bounded: compacted to the last kDroppedTailBytes whenever it reaches twice that, so the
  // cost stays linear in the dropped bytes.
  if (text.size() >= kDroppedTailBytes) {
    t.text.assign(text.substr(text.size() - kDroppedTailBytes));
  } else {
    t.text.append(text);
    if (t.text.size() >= 2 * kDroppedTailBytes) t.text.erase(0, t.text.size() - kDroppedTailBytes);
  }
}

void SpanAssembler::EmitDroppedTails() {
  if (stats_.dropped_log_bytes == 0) return;
  bool any = false;
  for (const DroppedTail& t : dropped_tail_) any = any || !t.text.empty();
  if (!any) return;
  const int64_t ts = std::max(dropped_tail_[0].ts_us, dropped_tail_[1].ts_us);
  std::string note = "[hero_logic: " + std::to_string(stats_.dropped_log_bytes) +
                     " bytes of logs over the run's log cap were not stored; the last bytes " +
                     "of stdout and stderr follow]\n";
  int64_t left = limits_.max_log_bytes - log_bytes_;
  if (static_cast<int64_t>(note.size()) <= left / 4) {
    EmitLog(root_, ts, "log", note);
    left -= static_cast<int64_t>(note.size());
    log_bytes_ += static_cast<int64_t>(note.size());
  }
  for (int i = 0; i < 2; ++i) {
    DroppedTail& t = dropped_tail_[i];
    if (t.text.empty()) continue;
    const size_t room = static_cast<size_t>(std::max<int64_t>(0, i == 0 ? left / 2 : left));
    std::string_view v = t.text;
    if (v.size() > std::min(kDroppedTailBytes, room))
      v.remove_prefix(v.size() - std::min(kDroppedTailBytes, room));
    // Start at a line (or at least a UTF-8 character) boundary.
    size_t nl = v.find('\n');
    if (nl != std::string_view::npos && nl + 1 < v.size() && nl < 4096) {
      v.remove_prefix(nl + 1);
    } else {
      while (!v.empty() && (static_cast<unsigned char>(v[0]) & 0xC0) == 0x80) v.remove_prefix(1);
    }
    if (!v.empty()) {
      EmitLog(root_, t.ts_us, i == 0 ? "stdout" : "stderr", v);
      left -= static_cast<int64_t>(v.size());
      log_bytes_ += static_cast<int64_t>(v.size());
    }
    std::string().swap(t.text);
  }
}

void SpanAssembler::AddPipeLog(std::string_view stream, int64_t ts_us, std::string_view text) {
  if (text.empty()) return;
  if (!ChargeLog(text.size())) {
    KeepDroppedTail(NormalizeStream(stream), ts_us, text);
    return;
  }
  std::string_view s = NormalizeStream(stream);
  if (root_ >= 0) {
    EmitLog(root_, ts_us, s, text);
  } else {
    held_logs_.push_back(HeldLog{std::string(s), ts_us, std::string(text)});
  }
}

void SpanAssembler::FlushHeldLogs() {
  for (const HeldLog& l : held_logs_) EmitLog(root_, l.ts_us, l.stream, l.text);
  held_logs_.clear();
  held_logs_.shrink_to_fit();
}

void SpanAssembler::Finish(EndOutcome outcome, std::string_view reason, int64_t now_us) {
  if (finished_) return;
  finished_ = true;
  const int64_t end_ts = now_us > 0 ? now_us : max_ts_;
  const SpanState closed = OutcomeState(outcome);
  const std::string_view close_error =
      outcome == EndOutcome::kExited ? std::string_view(exited_error_) : reason;

  // Nothing is dropped from here on (every dirty span is emitted below); all data is released
  // at the end. Close open spans, innermost (latest started) first, so first_failure names the
  // step.
  for (int32_t seq = table_.size() - 1; seq >= 0; --seq) {
    SpanEntry& s = table_.entry(seq);
    if (s.state != SpanState::kRunning) continue;
    SpanData& d = table_.data(seq);
    s.state = closed;
    d.end_us = std::max(end_ts, d.start_us);
    max_end_ = std::max(max_end_, d.end_us);
    s.flags |= SpanEntry::kDirty;
    table_.Set(seq, SpanField::kError, close_error);
    if (closed == SpanState::kFailed) RecordFailure(seq);
  }

  if (root_ < 0) {
    const int64_t start = table_.size() == 0 ? end_ts : min_start_;
    const int64_t end = std::max(end_ts, max_end_);
    std::string id = "<root>";
    while (table_.Find(id) >= 0) id.push_back('\'');
    SpanState state = closed;
    std::string_view error = reason;
    if (outcome == EndOutcome::kExited)
      state = reason.empty() ? SpanState::kOk : SpanState::kFailed;
    SpanTable::Fields f;
    for (auto& v : f) v = {};
    f[int(SpanField::kId)] = id;
    f[int(SpanField::kName)] = root_name_;
    f[int(SpanField::kError)] = error;
    root_ = table_.Add(f);
    root_id_ = id;
    SpanEntry& r = table_.entry(root_);
    SpanData& d = table_.data(root_);
    d.kind = SpanKind::kFlowRoot;
    r.state = state;
    d.start_us = start;
    d.end_us = std::max(end, start);
    r.flags = SpanEntry::kAttached | SpanEntry::kAnchored | SpanEntry::kRoot | SpanEntry::kDirty;
  }

  AttachUnreachable();
  held_.clear();
  unanchored_children_.clear();

  // Parent first: a synthesized root (the last seq) is reported before the spans attached to
  // it, so a live observer never sees a parent_seq it does not know.
  if (SpanEntry& r = table_.entry(root_); r.has(SpanEntry::kDirty)) {
    r.flags &= static_cast<uint8_t>(~SpanEntry::kDirty);
    Emit(root_);
  }
  for (int32_t seq = 0; seq < table_.size(); ++seq) {
    SpanEntry& s = table_.entry(seq);
    if (!s.has(SpanEntry::kDirty)) continue;
    s.flags &= static_cast<uint8_t>(~SpanEntry::kDirty);
    Emit(seq);  // dirty spans were open or unanchored: held
  }
  FlushHeldLogs();
  EmitDroppedTails();
  table_.DropAll();  // nothing is emitted again
  decltype(held_)().swap(held_);
  decltype(unanchored_children_)().swap(unanchored_children_);
  std::vector<int32_t>().swap(stack_);
}

void SpanAssembler::AttachToRootAtFinish(int32_t seq) {
  SpanEntry& s = table_.entry(seq);
  s.parent = root_;
  s.flags |= SpanEntry::kAttached | SpanEntry::kOrphan | SpanEntry::kDirty;
  table_.Set(seq, SpanField::kParentId, root_id_);
}

// Every span must hang below the root. Anchored spans do; the others are held (never
// dropped). First the spans whose parent never came are attached to the root; then spans still
// unanchored sit on (or below) a parent cycle: walk up to a node of the cycle, cut it loose
// onto the root, and anchor what hangs below it. O(spans).
void SpanAssembler::AttachUnreachable() {
  const int32_t n = table_.size();
  for (int32_t seq = 0; seq < n; ++seq) {
    if (table_.entry(seq).has(SpanEntry::kAttached)) continue;
    AttachToRootAtFinish(seq);
    Anchor(seq, /*drop=*/false);
  }
  for (int32_t seq = 0; seq < n; ++seq) {
    if (table_.entry(seq).has(SpanEntry::kAnchored)) continue;
    // Walking up from an unanchored span meets only unanchored spans, none visited by an
    // earlier walk (those are anchored now): the first node seen twice is on the cycle.
    int32_t at = seq;
    while (!table_.entry(at).has(SpanEntry::kVisit)) {
      table_.entry(at).flags |= SpanEntry::kVisit;
      at = table_.entry(at).parent;
      HERO_CHECK(at >= 0 && !table_.entry(at).has(SpanEntry::kAnchored));
    }
    AttachToRootAtFinish(at);
    Anchor(at, /*drop=*/false);
  }
}

void SpanAssembler::NoteUnsupportedHello(int64_t v) {
  // Read on as version 1 (a newer SDK's extra fields are ignored anyway); say so once.
  if (noted_hello_ || static_cast<int>(stats_.diagnostics.size()) >= kMaxDiagnostics) return;
  noted_hello_ = true;
  stats_.diagnostics.push_back("hello: unsupported protocol version " + std::to_string(v) +
                               " (this supervisor speaks " + std::to_string(kProtocolVersion) +
                               "); read as version " + std::to_string(kProtocolVersion));
}

void SpanAssembler::NoteMalformed(std::string_view line, std::string_view reason) {
  ++stats_.malformed_lines;
  if (static_cast<int>(stats_.diagnostics.size()) >= kMaxDiagnostics) return;
  std::string d = "line " + std::to_string(stats_.lines) + ": ";
  d.append(reason);
  d.append(": ");
  d.append(line.substr(0, kDiagnosticBytes));
  std::string clean = SanitizeUtf8(d);
  stats_.diagnostics.emplace_back(Utf8Prefix(clean, kDiagnosticBytes));
}

std::string SpanAssembler::root_status() const {
  if (root_ < 0) return "";
  return std::string(SpanStateName(table_.entry(root_).state));
}

void SpanAssembler::Emit(int32_t seq) {
  const SpanEntry& s = table_.entry(seq);
  const SpanData& d = table_.data(seq);
  SpanTable::Fields f;
  table_.GetAll(seq, f);
  SpanRecord& r = row_;
  r.seq = SpanSeq{seq};
  r.span_id.assign(f[int(SpanField::kId)]);
  r.parent_seq = s.parent >= 0 ? SpanSeq{s.parent} : SpanSeq{};
  r.parent_id.assign(f[int(SpanField::kParentId)]);
  r.name.assign(f[int(SpanField::kName)]);
  r.kind.assign(SpanKindName(d.kind));
  r.start_us = d.start_us;
  r.end_us = d.end_us;
  r.status.assign(SpanStateName(s.state));
  std::string_view tags = f[int(SpanField::kTags)];
  if (tags.empty()) {
    r.tags_json.assign("{}");
  } else {
    r.tags_json.assign(tags);
  }
  r.error.assign(f[int(SpanField::kError)]);
  r.error_type.assign(f[int(SpanField::kErrorType)]);
  r.traceback.assign(f[int(SpanField::kTraceback)]);
  r.file.assign(f[int(SpanField::kFile)]);
  r.line = d.line;
  r.rpc_service.assign(f[int(SpanField::kRpcService)]);
  r.rpc_method.assign(f[int(SpanField::kRpcMethod)]);
  r.cpu_us = d.cpu_us;
  r.rss_kb = d.rss_kb;
  r.child_run_id = d.child_run_id;
  r.orphan = s.has(SpanEntry::kOrphan);
  sink_->OnSpan(r);
  if (r.tags_json.capacity() > (64u << 10) || r.traceback.capacity() > (64u << 10) ||
      r.error.capacity() > (64u << 10)) {
    row_ = SpanRecord();
  }
}

}  // namespace hero::spans
