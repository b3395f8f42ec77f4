// SpanAssembler. Hot path (span_start/span_log/span_end with a known parent): one id lookup,
// one packed-buffer allocation per new span, no allocation per log/end once buffers are warm.
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
  return SpanState::kFailed;  // "failed" and anything unknown
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
    : limits_(limits), root_name_(std::move(root_name)), sink_(sink) {
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
  }
}

void SpanAssembler::OnStart(const Event& e) {
  NoteTs(e.ts);
  int32_t seq = table_.Find(e.id);
  if (seq >= 0) return UpdateStart(seq, e);
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
  std::string_view declared_parent;
  if (e.parent_null) {
    if (root_ < 0) {
      becomes_root = true;
      flags = SpanSlot::kAttached | SpanSlot::kRoot;
    } else {
      parent = root_;
      flags = SpanSlot::kAttached | SpanSlot::kOrphan;
    }
  } else if (e.parent != e.id && (parent = table_.Find(e.parent)) >= 0) {
    flags = SpanSlot::kAttached;
  } else {
    declared_parent = e.parent;  // held until it arrives (a self-parent never does)
  }

  SpanTable::Fields f;
  f[int(SpanField::kId)] = e.id;
  f[int(SpanField::kParentId)] = declared_parent;
  f[int(SpanField::kName)] = e.name;
  f[int(SpanField::kFile)] = e.file;
  f[int(SpanField::kRpcService)] = e.rpc_service;
  f[int(SpanField::kRpcMethod)] = e.rpc_method;
  f[int(SpanField::kTags)] = tags;
  f[int(SpanField::kError)] = {};
  f[int(SpanField::kErrorType)] = {};
  f[int(SpanField::kTraceback)] = {};
  seq = table_.Add(f);
  SpanSlot& s = table_.slot(seq);
  s.start_us = e.ts;
  s.line = e.line;
  s.child_run_id = e.child_run_id;
  s.kind = ParseSpanKind(e.kind);
  s.state = SpanState::kRunning;
  s.parent = parent;
  s.flags = flags;
  if (!e.parent_null && parent < 0 && e.parent != e.id) held_[e.parent].push_back(seq);
  if (becomes_root) root_ = seq;
  Emit(seq);
  if (becomes_root) FlushHeldLogs();
  if (!held_.empty()) AttachHeldChildren(seq, e.id);
}

void SpanAssembler::UpdateStart(int32_t seq, const Event& e) {
  SpanSlot& s = table_.slot(seq);
  s.kind = ParseSpanKind(e.kind);
  if (e.has_line) s.line = e.line;
  if (e.has_child_run_id) s.child_run_id = e.child_run_id;
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
  if (!ChargeLog(e.text.size())) return;
  EmitLog(seq, e.ts, NormalizeStream(e.stream), e.text);
}

void SpanAssembler::OnEnd(const Event& e) {
  NoteTs(e.ts);
  int32_t seq = table_.Find(e.id);
  if (seq < 0) {
    ++stats_.orphan_events;
    return;
  }
  SpanSlot& s = table_.slot(seq);
  if (s.state != SpanState::kRunning) {
    ++stats_.duplicate_ends;
    return;
  }
  s.state = EndState(e.status);
  s.end_us = std::max(e.ts, s.start_us);
  if (e.has_cpu) s.cpu_us = e.cpu_us;
  if (e.has_rss) s.rss_kb = e.rss_kb;
  if (!e.error.empty()) table_.Set(seq, SpanField::kError, e.error);
  if (!e.error_type.empty()) table_.Set(seq, SpanField::kErrorType, e.error_type);
  if (!e.traceback.empty()) table_.Set(seq, SpanField::kTraceback, e.traceback);
  Emit(seq);
  if (s.state == SpanState::kFailed) RecordFailure(seq);
}

void SpanAssembler::AttachHeldChildren(int32_t parent_seq, std::string_view parent_id) {
  auto it = held_.find(parent_id);
  if (it == held_.end()) return;
  std::vector<int32_t> children = std::move(it->second);
  held_.erase(it);
  for (int32_t child : children) {
    Attach(child, parent_seq, /*orphan=*/false);
    Emit(child);
  }
}

void SpanAssembler::Attach(int32_t seq, int32_t parent_seq, bool orphan) {
  SpanSlot& s = table_.slot(seq);
  s.parent = parent_seq;
  s.flags |= SpanSlot::kAttached;
  if (orphan) s.flags |= SpanSlot::kOrphan;
  table_.Set(seq, SpanField::kParentId, {});
}

void SpanAssembler::RecordFailure(int32_t seq) {
  if (first_failure_) return;
  Failure f;
  std::vector<std::string_view> names;
  int32_t at = seq;
  for (int hops = 0; at >= 0 && hops < kMaxPathDepth; ++hops) {
    names.push_back(table_.Get(at, SpanField::kName));
    at = table_.slot(at).parent;
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
  if (log_bytes_ + n > limits_.max_log_bytes) {
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

void SpanAssembler::AddPipeLog(std::string_view stream, int64_t ts_us, std::string_view text) {
  if (text.empty() || !ChargeLog(text.size())) return;
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
  const std::string_view close_error = outcome == EndOutcome::kExited ? kExitedError : reason;

  // Close open spans, innermost (latest started) first, so first_failure names the step.
  for (int32_t seq = table_.size() - 1; seq >= 0; --seq) {
    SpanSlot& s = table_.slot(seq);
    if (s.state != SpanState::kRunning) continue;
    s.state = closed;
    s.end_us = std::max(end_ts, s.start_us);
    s.flags |= SpanSlot::kDirty;
    table_.Set(seq, SpanField::kError, close_error);
    if (closed == SpanState::kFailed) RecordFailure(seq);
  }

  if (root_ < 0) {
    int64_t start = 0, end = end_ts;
    for (int32_t seq = 0; seq < table_.size(); ++seq) {
      const SpanSlot& s = table_.slot(seq);
      start = seq == 0 ? s.start_us : std::min(start, s.start_us);
      end = std::max(end, s.end_us);
    }
    if (table_.size() == 0) start = end_ts;
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
    SpanSlot& r = table_.slot(root_);
    r.kind = SpanKind::kFlowRoot;
    r.state = state;
    r.start_us = start;
    r.end_us = std::max(end, start);
    r.flags = SpanSlot::kAttached | SpanSlot::kRoot | SpanSlot::kDirty;
  }

  AttachUnreachable();
  held_.clear();

  // Parent first: a synthesized root (the last seq) is reported before the spans attached to
  // it, so a live observer never sees a parent_seq it does not know.
  if (SpanSlot& r = table_.slot(root_); r.has(SpanSlot::kDirty)) {
    r.flags &= static_cast<uint8_t>(~SpanSlot::kDirty);
    Emit(root_);
  }
  for (int32_t seq = 0; seq < table_.size(); ++seq) {
    SpanSlot& s = table_.slot(seq);
    if (!s.has(SpanSlot::kDirty)) continue;
    s.flags &= static_cast<uint8_t>(~SpanSlot::kDirty);
    Emit(seq);
  }
  FlushHeldLogs();
}

// Every span must hang below the root. First the spans whose parent never came; then, spans
// still unreachable sit on (or below) a parent cycle: walk up to a node of the cycle, cut it
// loose onto the root, and mark what became reachable. O(spans).
void SpanAssembler::AttachUnreachable() {
  const int32_t n = table_.size();
  for (int32_t seq = 0; seq < n; ++seq) {
    SpanSlot& s = table_.slot(seq);
    if (s.has(SpanSlot::kAttached)) continue;
    Attach(seq, root_, /*orphan=*/true);
    s.flags |= SpanSlot::kDirty;
  }
  // Children lists in CSR form.
  std::vector<int32_t> first(static_cast<size_t>(n) + 1, 0), child(static_cast<size_t>(n));
  for (int32_t seq = 0; seq < n; ++seq) {
    int32_t p = table_.slot(seq).parent;
    if (p >= 0) ++first[static_cast<size_t>(p) + 1];
  }
  for (int32_t i = 0; i < n; ++i) first[i + 1] += first[i];
  {
    std::vector<int32_t> fill(first.begin(), first.end() - 1);
    for (int32_t seq = 0; seq < n; ++seq) {
      int32_t p = table_.slot(seq).parent;
      if (p >= 0) child[static_cast<size_t>(fill[p]++)] = seq;
    }
  }
  std::vector<uint8_t> reached(static_cast<size_t>(n), 0);
  std::vector<int32_t> stack;
  auto mark_from = [&](int32_t start) {
    reached[start] = 1;
    stack.push_back(start);
    while (!stack.empty()) {
      int32_t at = stack.back();
      stack.pop_back();
      for (int32_t i = first[at]; i < first[at + 1]; ++i) {
        int32_t c = child[i];
        if (!reached[c]) {
          reached[c] = 1;
          stack.push_back(c);
        }
      }
    }
  };
  mark_from(root_);
  std::vector<int32_t> walk(static_cast<size_t>(n), -1);
  for (int32_t seq = 0; seq < n; ++seq) {
    if (reached[seq]) continue;
    int32_t at = seq;
    while (walk[at] != seq) {  // stops on the first node seen twice: a cycle member
      walk[at] = seq;
      at = table_.slot(at).parent;
      HERO_CHECK(at >= 0 && !reached[at]);
    }
    Attach(at, root_, /*orphan=*/true);
    table_.slot(at).flags |= SpanSlot::kDirty;
    mark_from(at);
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
  return std::string(SpanStateName(table_.slot(root_).state));
}

void SpanAssembler::Emit(int32_t seq) {
  const SpanSlot& s = table_.slot(seq);
  SpanTable::Fields f;
  table_.GetAll(seq, f);
  SpanRecord& r = row_;
  r.seq = SpanSeq{seq};
  r.span_id.assign(f[int(SpanField::kId)]);
  if (s.parent >= 0) {
    r.parent_seq = SpanSeq{s.parent};
    r.parent_id.assign(table_.Get(s.parent, SpanField::kId));
  } else {
    r.parent_seq = SpanSeq{};
    r.parent_id.assign(f[int(SpanField::kParentId)]);
  }
  r.name.assign(f[int(SpanField::kName)]);
  r.kind.assign(SpanKindName(s.kind));
  r.start_us = s.start_us;
  r.end_us = s.end_us;
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
  r.line = s.line;
  r.rpc_service.assign(f[int(SpanField::kRpcService)]);
  r.rpc_method.assign(f[int(SpanField::kRpcMethod)]);
  r.cpu_us = s.cpu_us;
  r.rss_kb = s.rss_kb;
  r.child_run_id = s.child_run_id;
  r.orphan = s.has(SpanSlot::kOrphan);
  sink_->OnSpan(r);
  if (r.tags_json.capacity() > (64u << 10) || r.traceback.capacity() > (64u << 10) ||
      r.error.capacity() > (64u << 10)) {
    row_ = SpanRecord();
  }
}

}  // namespace hero::spans
