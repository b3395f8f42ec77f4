// Tree printing. Glyphs: ▸ started, ✓ ok, ✗ failed, ⏱ timed out, ⊘ cancelled, ☠ killed.
#include "supervisor/cli/tree_printer.h"

#include <unistd.h>

#include <vector>

#include "supervisor/base/run_status.h"

namespace hero::cli {
namespace {

const char* kReset = "\033[0m";
const char* kDim = "\033[2m";
const char* kBold = "\033[1m";

const char* Glyph(const std::string& status) {
  if (status == "ok") return "✓";
  if (status == "failed") return "✗";
  if (status == "timed_out") return "⏱";
  if (status == "cancelled" || status == "interrupted") return "⊘";
  if (status == "killed") return "☠";
  return "▸";
}

const char* Color(const std::string& status) {
  if (status == "ok") return "\033[32m";
  if (status == "running" || status == "queued") return "\033[36m";
  if (status == "cancelled" || status == "interrupted" || status == "timed_out") return "\033[33m";
  return "\033[31m";
}

std::string Indent(int depth) { return std::string(static_cast<size_t>(depth) * 2, ' '); }

void PrintLogText(FILE* out, int depth, const std::string& stream, const std::string& text,
                  PrintStyle st) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    std::fprintf(out, "%s  %s│%s %s%s%s\n", Indent(depth).c_str(), st.color ? kDim : "",
                 st.color ? kReset : "", (st.color && stream == "stderr") ? "\033[31m" : "",
                 line.c_str(), (st.color && stream == "stderr") ? kReset : "");
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
}

std::string SpanEndLine(const store::SpanRow& s) {
  std::string line = s.name;
  if (s.kind == "rpc" && !s.rpc_method.empty())
    line += " [" + s.rpc_service + "." + s.rpc_method + "]";
  line += "  " + FormatSpanDuration(s.start_us, s.end_us);
  if (s.status != "ok") {
    line += "  " + s.status;
    if (!s.error_type.empty() || !s.error.empty()) {
      line +=
          ": " +
          (s.error_type.empty() ? std::string() : s.error_type + (s.error.empty() ? "" : ": ")) +
          s.error;
    }
  }
  return line;
}

}  // namespace

PrintStyle StyleFor(FILE* out) {
  PrintStyle s;
  s.color = isatty(fileno(out)) && getenv("NO_COLOR") == nullptr;
  return s;
}

std::string FormatSpanDuration(int64_t start_us, int64_t end_us) {
  if (end_us <= 0 || end_us < start_us) return "…";
  int64_t us = end_us - start_us;
  char buf[32];
  if (us < 1000) {
    std::snprintf(buf, sizeof buf, "%lld µs", static_cast<long long>(us));
  } else if (us < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(us) / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(us) / 1e6);
  }
  return buf;
}

int LivePrinter::DepthOf(const std::string& span_id) const {
  auto it = spans_.find(span_id);
  return it == spans_.end() ? 0 : it->second.depth;
}

void LivePrinter::PrintStart(const std::string& name, const std::string& kind, int depth) {
  std::string k = kind == "step" || kind.empty() ? "" : " (" + kind + ")";
  std::fprintf(out_, "%s%s▸%s %s%s%s%s\n", Indent(depth).c_str(),
               style_.color ? Color("running") : "", style_.color ? kReset : "",
               style_.color ? kBold : "", name.c_str(), style_.color ? kReset : "", k.c_str());
}

void LivePrinter::FlushPendingRoot() {
  if (pending_root_.empty()) return;
  auto it = spans_.find(pending_root_);
  if (it != spans_.end()) PrintStart(it->second.name, "flow_root", 0);
  pending_root_.clear();
}

void LivePrinter::OnSpan(RunId, const spans::SpanRecord& s) {
  auto it = spans_.find(s.span_id);
  if (it == spans_.end()) {
    Known k;
    k.depth = s.parent_id.empty() ? 0 : DepthOf(s.parent_id) + 1;
    k.name = s.name;
    it = spans_.emplace(s.span_id, k).first;
    seq_to_id_[s.seq.value] = s.span_id;
    if (s.parent_id.empty() && root_id_.empty()) {
      // The boot module names the root after the file, then renames it to the @flow entry
      // it found: print the root once its real name is known.
      root_id_ = s.span_id;
      pending_root_ = s.span_id;
    } else {
      FlushPendingRoot();
      PrintStart(s.name, s.kind, it->second.depth);
    }
  } else if (s.span_id == pending_root_) {
    it->second.name = s.name;
    if (s.status == "running") {
      FlushPendingRoot();
    }
  }
  if (s.status != "running" && !it->second.ended) {
    FlushPendingRoot();
    it->second.ended = true;
    store::SpanRow row;
    row.name = s.name;
    row.kind = s.kind;
    row.rpc_service = s.rpc_service;
    row.rpc_method = s.rpc_method;
    row.start_us = s.start_us;
    row.end_us = s.end_us;
    row.status = s.status;
    row.error = s.error;
    row.error_type = s.error_type;
    std::fprintf(out_, "%s%s%s%s %s\n", Indent(it->second.depth).c_str(),
                 style_.color ? Color(s.status) : "", Glyph(s.status), style_.color ? kReset : "",
                 SpanEndLine(row).c_str());
  }
  std::fflush(out_);
}

void LivePrinter::OnLog(RunId, const spans::LogRecord& log) {
  FlushPendingRoot();
  auto it = seq_to_id_.find(log.span_seq.value);
  int depth = it == seq_to_id_.end() ? 0 : DepthOf(it->second);
  PrintLogText(out_, depth, log.stream, log.text, style_);
  std::fflush(out_);
}

void LivePrinter::OnStatus(const store::RunRecord&) {}

void PrintTree(FILE* out, const core::SpanTree& tree, PrintStyle style) {
  if (!tree.root) {
    std::fprintf(out, "(no spans)\n");
    return;
  }
  std::vector<std::pair<const core::TreeNode*, int>> stack{{tree.root, 0}};
  while (!stack.empty()) {
    auto [n, depth] = stack.back();
    stack.pop_back();
    const store::SpanRow& s = n->span;
    std::fprintf(out, "%s%s%s%s %s\n", Indent(depth).c_str(), style.color ? Color(s.status) : "",
                 Glyph(s.status), style.color ? kReset : "", SpanEndLine(s).c_str());
    for (const auto& l : n->logs) PrintLogText(out, depth, l.stream, l.text, style);
    if (!s.traceback.empty()) PrintLogText(out, depth, "stderr", s.traceback, style);
    for (auto it = n->children.rbegin(); it != n->children.rend(); ++it)
      stack.push_back({*it, depth + 1});
  }
}

void PrintRunSummary(FILE* out, const store::RunRecord& r, PrintStyle style) {
  std::string status(RunStatusName(r.status));
  std::string dur = FormatSpanDuration(r.started_us ? r.started_us : r.created_us, r.ended_us);
  std::fprintf(out, "%srun %lld %s%s in %s (%s): %s\n", style.color ? Color(status) : "",
               static_cast<long long>(r.id.value), status.c_str(), style.color ? kReset : "",
               dur.c_str(), r.profile.c_str(), r.reason.c_str());
  int64_t dropped = r.dropped_spans + r.dropped_log_bytes + r.dropped_tag_events +
                    r.malformed_lines + r.oversize_lines + r.unknown_type_lines +
                    r.dropped_output_bytes;
  if (dropped > 0) {
    std::fprintf(
        out,
        "  dropped: %lld spans, %lld log bytes, %lld tag events, %lld output bytes; %lld "
        "malformed, "
        "%lld oversize, %lld unknown-type lines\n",
        static_cast<long long>(r.dropped_spans), static_cast<long long>(r.dropped_log_bytes),
        static_cast<long long>(r.dropped_tag_events),
        static_cast<long long>(r.dropped_output_bytes), static_cast<long long>(r.malformed_lines),
        static_cast<long long>(r.oversize_lines), static_cast<long long>(r.unknown_type_lines));
  }
}

}  // namespace hero::cli
