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

}  // namespace hero::core
