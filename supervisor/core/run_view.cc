// run_view implementation. Tag and output JSON come from our own store (written by the
// listener with a JSON writer), so they are embedded raw when non-empty.
#include "supervisor/core/run_view.h"

#include <algorithm>
#include <unordered_map>

#include "supervisor/base/run_status.h"

namespace hero::core {

SpanTree BuildTree(std::vector<store::SpanRow> spans, std::vector<store::LogRow> logs) {
  SpanTree t;
  std::sort(spans.begin(), spans.end(),
            [](const auto& a, const auto& b) { return a.seq.value < b.seq.value; });
  std::unordered_map<std::string, TreeNode*> by_id;
  std::unordered_map<int64_t, TreeNode*> by_seq;
  for (auto& s : spans) {
    auto n = std::make_unique<TreeNode>();
    n->span = std::move(s);
    by_id[n->span.span_id] = n.get();
    by_seq[n->span.seq.value] = n.get();
    if (!t.root && n->span.parent_id.empty()) t.root = n.get();
    t.nodes.push_back(std::move(n));
  }
  for (auto& n : t.nodes) {
    if (n.get() == t.root) continue;
    TreeNode* parent = nullptr;
    if (!n->span.parent_id.empty()) {
      auto it = by_id.find(n->span.parent_id);
      if (it != by_id.end() && it->second != n.get()) parent = it->second;
    }
    if (!parent) parent = t.root;
    if (parent) parent->children.push_back(n.get());
  }
  for (auto& l : logs) {
    auto it = by_seq.find(l.span_seq.value);
    TreeNode* n = it != by_seq.end() ? it->second : t.root;
    if (n) n->logs.push_back(std::move(l));
  }
  for (auto& n : t.nodes) {
    std::stable_sort(
        n->children.begin(), n->children.end(), [](const TreeNode* a, const TreeNode* b) {
          return a->span.start_us != b->span.start_us ? a->span.start_us < b->span.start_us
                                                      : a->span.seq.value < b->span.seq.value;
        });
  }
  return t;
}

namespace {

void RawOrNull(JsonWriter& w, const std::string& json) {
  if (json.empty()) {
    w.Null();
  } else {
    w.Raw(json);
  }
}

void StringOrNull(JsonWriter& w, const std::string& s) {
  if (s.empty()) {
    w.Null();
  } else {
    w.String(s);
  }
}

}  // namespace

void WriteRunRecord(JsonWriter& w, const store::RunRecord& r) {
  w.BeginObject();
  w.Field("id", r.id.value);
  w.Field("flow", r.flow_name);
  w.Field("flow_version", r.flow_version);
  w.Key("parent_run");
  if (r.parent_run.valid()) {
    w.Int(r.parent_run.value);
  } else {
    w.Null();
  }
  w.Key("parent_span");
  StringOrNull(w, r.parent_span);
  w.Key("input");
  RawOrNull(w, r.input_json);
  w.Key("output");
  RawOrNull(w, r.output_json);
  w.Field("status", RunStatusName(r.status));
  w.Field("reason", r.reason);
  w.Key("exit_code");
  if (r.exit_code >= 0) {
    w.Int(r.exit_code);
  } else {
    w.Null();
  }
  w.Key("signal");
  if (r.signal > 0) {
    w.Int(r.signal);
  } else {
    w.Null();
  }
  w.Field("profile", r.profile);
  w.Field("network", r.network);
  w.Key("uid");
  if (r.run_uid > 0) {
    w.Int(r.run_uid);
  } else {
    w.Null();
  }
  w.Field("created_us", r.created_us);
  w.Field("started_us", r.started_us);
  w.Field("ended_us", r.ended_us);
  w.Field("cpu_us", r.cpu_us);
  w.Field("peak_rss_kb", r.peak_rss_kb);
  w.Field("span_count", r.span_count);
  w.Key("dropped")
      .BeginObject()
      .Field("malformed_lines", r.malformed_lines)
      .Field("unknown_type_lines", r.unknown_type_lines)
      .Field("oversize_lines", r.oversize_lines)
      .Field("orphan_events", r.orphan_events)
      .Field("spans", r.dropped_spans)
      .Field("log_bytes", r.dropped_log_bytes)
      .Field("tag_events", r.dropped_tag_events)
      .Field("output_bytes", r.dropped_output_bytes)
      .EndObject();
  w.Key("diagnostics");
  RawOrNull(w, r.diagnostics_json.empty() ? std::string("[]") : r.diagnostics_json);
  w.Field("stdout_tail", r.stdout_tail);
  w.Field("stderr_tail", r.stderr_tail);
  w.EndObject();
}

void WriteSpanFields(JsonWriter& w, const store::SpanRow& s) {
  w.Field("id", s.span_id);
  w.Key("parent");
  StringOrNull(w, s.parent_id);
  w.Field("seq", s.seq.value);
  w.Field("name", s.name);
  w.Field("kind", s.kind);
  w.Field("status", s.status);
  w.Field("start_us", s.start_us);
  w.Key("end_us");
  if (s.end_us > 0) {
    w.Int(s.end_us);
  } else {
    w.Null();
  }
  w.Key("tags");
  RawOrNull(w, s.tags_json.empty() ? std::string("{}") : s.tags_json);
  w.Key("error");
  StringOrNull(w, s.error);
  w.Key("error_type");
  StringOrNull(w, s.error_type);
  w.Key("traceback");
  StringOrNull(w, s.traceback);
  w.Key("rpc_service");
  StringOrNull(w, s.rpc_service);
  w.Key("rpc_method");
  StringOrNull(w, s.rpc_method);
  w.Key("file");
  StringOrNull(w, s.file);
  w.Key("line");
  if (s.line > 0) {
    w.Int(s.line);
  } else {
    w.Null();
  }
  w.Field("cpu_us", s.cpu_us);
  w.Field("rss_kb", s.rss_kb);
  w.Key("child_run_id");
  if (s.child_run_id > 0) {
    w.Int(s.child_run_id);
  } else {
    w.Null();
  }
  w.Field("orphan", s.orphan);
}

store::SpanRow SpanRowFromRecord(const spans::SpanRecord& s) {
  store::SpanRow r;
  r.seq = s.seq;
  r.span_id = s.span_id;
  r.parent_id = s.parent_id;
  r.name = s.name;
  r.kind = s.kind;
  r.status = s.status;
  r.start_us = s.start_us;
  r.end_us = s.end_us;
  r.tags_json = s.tags_json;
  r.error = s.error;
  r.error_type = s.error_type;
  r.traceback = s.traceback;
  r.file = s.file;
  r.line = s.line;
  r.rpc_service = s.rpc_service;
  r.rpc_method = s.rpc_method;
  r.cpu_us = s.cpu_us;
  r.rss_kb = s.rss_kb;
  r.child_run_id = s.child_run_id;
  r.orphan = s.orphan;
  return r;
}

namespace {

// Everything of a span except its children, leaving the "children" array open.
void WriteSpanOpen(JsonWriter& w, const TreeNode& n) {
  w.BeginObject();
  WriteSpanFields(w, n.span);
  w.Key("logs").BeginArray();
  for (const auto& l : n.logs) {
    w.BeginObject()
        .Field("ts_us", l.ts_us)
        .Field("stream", l.stream)
        .Field("text", l.text)
        .EndObject();
  }
  w.EndArray();
  w.Key("children").BeginArray();
}

}  // namespace

void WriteSpanNode(JsonWriter& w, const TreeNode& root) {
  // Iterative: a hostile run may nest spans 10^5 deep, which recursion would not survive.
  std::vector<std::pair<const TreeNode*, size_t>> stack;
  WriteSpanOpen(w, root);
  stack.push_back({&root, 0});
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->children.size()) {
      const TreeNode* child = node->children[next++];
      WriteSpanOpen(w, *child);
      stack.push_back({child, 0});
    } else {
      w.EndArray().EndObject();
      stack.pop_back();
    }
  }
}

std::string RunDocumentJson(const store::RunRecord& r, const SpanTree& tree) {
  JsonWriter w;
  w.BeginObject();
  w.Key("run");
  WriteRunRecord(w, r);
  w.Key("tree");
  if (tree.root) {
    WriteSpanNode(w, *tree.root);
  } else {
    w.Null();
  }
  w.EndObject();
  return w.Take();
}

std::string SpanColumnsJson(const std::vector<store::SpanRow>& spans,
                            const std::vector<store::LogRow>& logs) {
  JsonWriter w;
  w.BeginObject();
  w.Field("format", "columns");
  w.Field("count", static_cast<int64_t>(spans.size()));
  // One array per field; `put` writes one span's value exactly as WriteSpanFields does.
  auto column = [&](std::string_view key, auto put) {
    w.Key(key).BeginArray();
    for (const auto& s : spans) put(s);
    w.EndArray();
  };
  auto int_or_null = [&](int64_t v) {
    if (v > 0) {
      w.Int(v);
    } else {
      w.Null();
    }
  };
  column("id", [&](const store::SpanRow& s) { w.String(s.span_id); });
  column("parent", [&](const store::SpanRow& s) { StringOrNull(w, s.parent_id); });
  column("seq", [&](const store::SpanRow& s) { w.Int(s.seq.value); });
  column("name", [&](const store::SpanRow& s) { w.String(s.name); });
  column("kind", [&](const store::SpanRow& s) { w.String(s.kind); });
  column("status", [&](const store::SpanRow& s) { w.String(s.status); });
  column("start_us", [&](const store::SpanRow& s) { w.Int(s.start_us); });
  column("end_us", [&](const store::SpanRow& s) { int_or_null(s.end_us); });
  column("tags", [&](const store::SpanRow& s) {
    RawOrNull(w, s.tags_json.empty() ? std::string("{}") : s.tags_json);
  });
  column("error", [&](const store::SpanRow& s) { StringOrNull(w, s.error); });
  column("error_type", [&](const store::SpanRow& s) { StringOrNull(w, s.error_type); });
  column("traceback", [&](const store::SpanRow& s) { StringOrNull(w, s.traceback); });
  column("rpc_service", [&](const store::SpanRow& s) { StringOrNull(w, s.rpc_service); });
  column("rpc_method", [&](const store::SpanRow& s) { StringOrNull(w, s.rpc_method); });
  column("file", [&](const store::SpanRow& s) { StringOrNull(w, s.file); });
  column("line", [&](const store::SpanRow& s) { int_or_null(s.line); });
  column("cpu_us", [&](const store::SpanRow& s) { w.Int(s.cpu_us); });
  column("rss_kb", [&](const store::SpanRow& s) { w.Int(s.rss_kb); });
  column("child_run_id", [&](const store::SpanRow& s) { int_or_null(s.child_run_id); });
  column("orphan", [&](const store::SpanRow& s) { w.Bool(s.orphan); });

  std::unordered_map<int64_t, int64_t> index_of_seq;
  index_of_seq.reserve(spans.size());
  for (size_t i = 0; i < spans.size(); ++i)
    index_of_seq.emplace(spans[i].seq.value, static_cast<int64_t>(i));
  w.Key("log_span").BeginArray();
  for (const auto& l : logs) {
    auto it = index_of_seq.find(l.span_seq.value);
    if (it == index_of_seq.end()) {
      w.Null();
    } else {
      w.Int(it->second);
    }
  }
  w.EndArray();
  w.Key("log_ts_us").BeginArray();
  for (const auto& l : logs) w.Int(l.ts_us);
  w.EndArray();
  w.Key("log_stream").BeginArray();
  for (const auto& l : logs) w.String(l.stream);
  w.EndArray();
  w.Key("log_text").BeginArray();
  for (const auto& l : logs) w.String(l.text);
  w.EndArray();
  w.EndObject();
  return w.Take();
}

}  // namespace hero::core
