// Presentation of stored runs: the run record and its span tree as JSON (the `--json` shape
// of `hero_logic run/show`, reused by the API) and the tree as nested nodes. Pure.
#pragma once

#include <memory>
#include <string>
#include <vector>

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

void WriteRunRecord(JsonWriter& w, const store::RunRecord& r);
void WriteSpanNode(JsonWriter& w, const TreeNode& n);
// {"run": {...}, "tree": {...root span...} | null}
std::string RunDocumentJson(const store::RunRecord& r, const SpanTree& tree);

}  // namespace hero::core
