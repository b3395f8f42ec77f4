// Presentation of stored runs: the run record and its span tree as JSON (the `--json` shape
// of `hero_logic run/show`, reused by the API) and the tree as nested nodes. Pure.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "span_listener/span_assembler.h"
#include "supervisor/base/json_writer.h"
#include "supervisor/store/store.h"

namespace hero::core {

struct TreeNode {
  store::SpanRow span;
  std::vector<store::LogRow> logs;
  std::vector<TreeNode*> children;  // in start order
};

struct SpanTree {
  std::vector<std::unique_ptr<TreeNode>> nodes;  // owns every node, in seq order
  TreeNode* root = nullptr;
};

// Builds the tree. Spans whose parent is missing are attached to the root (the listener
// already does this; this keeps the view total even for rows written by older versions).
SpanTree BuildTree(std::vector<store::SpanRow> spans, std::vector<store::LogRow> logs);

// A span's own fields (no logs, no children) into the open object `w` is writing: the shape
// shared by tree nodes and the SSE `span` event.
void WriteSpanFields(JsonWriter& w, const store::SpanRow& s);
// The listener's record as the store's row.
store::SpanRow SpanRowFromRecord(const spans::SpanRecord& s);

void WriteRunRecord(JsonWriter& w, const store::RunRecord& r);
void WriteSpanNode(JsonWriter& w, const TreeNode& n);
// {"run": {...}, "tree": {...root span...} | null}
std::string RunDocumentJson(const store::RunRecord& r, const SpanTree& tree);

// play_spans(format: "columns"): every span as parallel arrays, one per field of
// WriteSpanFields (same values and nulls), in seq order, and the logs as four arrays
// (log_span = the span's index in those arrays, null if the span is unknown; ts_us, stream,
// text). No tree is built and no key is repeated per span: for 10^5 spans the answer is
// about a third of the tree's and the browser parses it several times faster.
std::string SpanColumnsJson(const std::vector<store::SpanRow>& spans,
                            const std::vector<store::LogRow>& logs);

}  // namespace hero::core
