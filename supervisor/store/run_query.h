// Pure SQL building for ListRuns: filter -> SQL text + parameters. Any thread; no SQLite.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "supervisor/store/records.h"

namespace hero::store {

// Columns of `runs` in the order BindRun/ReadRun use (id excluded).
extern const char* const kRunColumns[];
extern const int kRunColumnCount;

// "%<text>%" with \ % _ escaped by a backslash, for `LIKE ? ESCAPE '\'`.
std::string LikeContainsPattern(std::string_view text);

struct RunQuery {
  std::string sql;                                         // SELECT id, <kRunColumns> FROM runs ...
  std::vector<std::variant<int64_t, std::string>> params;  // ?1, ?2, ... in order
};
RunQuery BuildListRunsQuery(const RunFilter& f);

// "flow_name, flow_version, ..." (kRunColumns joined).
std::string RunColumnList();

}  // namespace hero::store
