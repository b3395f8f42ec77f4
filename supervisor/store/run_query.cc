// ListRuns SQL building.
#include "supervisor/store/run_query.h"

#include <algorithm>

#include "supervisor/base/run_status.h"

namespace hero::store {

const char* const kRunColumns[] = {
    "flow_name",
    "flow_version",
    "parent_run",
    "parent_span",
    "input_json",
    "output_json",
    "status",
    "reason",
    "exit_code",
    "signal",
    "profile",
    "network",
    "source_path",
    "workdir",
    "created_us",
    "started_us",
    "ended_us",
    "cpu_us",
    "peak_rss_kb",
    "span_count",
    "malformed_lines",
    "unknown_type_lines",
    "oversize_lines",
    "orphan_events",
    "dropped_spans",
    "dropped_log_bytes",
    "dropped_tag_events",
    "dropped_output_bytes",
    "diagnostics_json",
    "stdout_tail",
    "stderr_tail",
    "run_uid",
};
const int kRunColumnCount = static_cast<int>(std::size(kRunColumns));

std::string RunColumnList() {
  std::string out;
  for (int i = 0; i < kRunColumnCount; ++i) {
    if (i) out += ", ";
    out += kRunColumns[i];
  }
  return out;
}

std::string LikeContainsPattern(std::string_view text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '\\' || c == '%' || c == '_') out += '\\';
    out += c;
  }
  out += '%';
  return out;
}

RunQuery BuildListRunsQuery(const RunFilter& f) {
  RunQuery q;
  q.sql = "SELECT id, " + RunColumnList() + " FROM runs";
  std::vector<std::string> where;
  auto param = [&q](std::variant<int64_t, std::string> v) {
    q.params.push_back(std::move(v));
    return "?" + std::to_string(q.params.size());
  };
  if (f.status) where.push_back("status = " + param(std::string(RunStatusName(*f.status))));
  if (!f.flow.empty()) where.push_back("flow_name = " + param(f.flow));
  if (f.since_us > 0) where.push_back("created_us >= " + param(f.since_us));
  if (f.until_us > 0) where.push_back("created_us < " + param(f.until_us));
  if (!f.text.empty()) {
    std::string p = param(LikeContainsPattern(f.text));
    where.push_back("(flow_name LIKE " + p + " ESCAPE '\\' OR reason LIKE " + p + " ESCAPE '\\')");
  }
  if (f.before_id > 0) where.push_back("id < " + param(f.before_id));
  for (size_t i = 0; i < where.size(); ++i) q.sql += (i ? " AND " : " WHERE ") + where[i];
  q.sql += " ORDER BY id DESC LIMIT " + param(int64_t{f.limit <= 0 ? 50 : std::min(f.limit, 1000)});
  return q;
}

}  // namespace hero::store
