// Terminal rendering of span trees: LivePrinter prints a run's spans as they start and end
// (a RunObserver), PrintTree renders a stored tree. Loop thread (LivePrinter); writes to a
// FILE* given by the caller.
#pragma once

#include <cstdio>
#include <string>
#include <unordered_map>

#include "supervisor/core/run_view.h"
#include "supervisor/core/supervisor.h"

namespace hero::cli {

struct PrintStyle {
  bool color = false;
};

PrintStyle StyleFor(FILE* out);

class LivePrinter final : public core::RunObserver {
 public:
  LivePrinter(FILE* out, PrintStyle style) : out_(out), style_(style) {}
  void OnSpan(RunId run, const spans::SpanRecord& span) override;
  void OnLog(RunId run, const spans::LogRecord& log) override;
  void OnStatus(const store::RunRecord& rec) override;

 private:
  int DepthOf(const std::string& span_id) const;
  void PrintStart(const std::string& name, const std::string& kind, int depth);
  void FlushPendingRoot();
  std::string root_id_, pending_root_;
  FILE* out_;
  PrintStyle style_;
  struct Known {
    int depth = 0;
    bool ended = false;
    std::string name;
  };
  std::unordered_map<std::string, Known> spans_;
  std::unordered_map<int64_t, std::string> seq_to_id_;
};

// One line per span, indented, with status, duration, errors and logs.
void PrintTree(FILE* out, const core::SpanTree& tree, PrintStyle style);
// "run 12 ok in 1.2 s: reason"
void PrintRunSummary(FILE* out, const store::RunRecord& rec, PrintStyle style);
std::string FormatSpanDuration(int64_t start_us, int64_t end_us);

}  // namespace hero::cli
