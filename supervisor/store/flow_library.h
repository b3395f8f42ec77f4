// FlowLibrary: the flow library's SQL (flows, their versions, the flow_search FTS5 index,
// saved example inputs) on the store's connection. Store thread only; a plain object over
// a Db it does not own. Depends on base + sqlite3 (no threads, no queue).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/base/result.h"
#include "supervisor/base/status.h"
#include "supervisor/store/records.h"
#include "supervisor/store/sqlite_db.h"

namespace hero::store {

// Search ranking: bm25 with these column weights (name, description, tags, docstring,
// inputs), so a match in a flow's name outranks one in its description, which outranks one
// in its docstring.
inline constexpr double kFlowSearchWeights[] = {10.0, 4.0, 2.0, 1.0, 1.0};
inline constexpr int kDefaultFlowSearchLimit = 20;  // limit <= 0
inline constexpr int kMaxFlowSearchLimit = 100;     // larger limits are clamped

// Every write runs in its own transaction and is committed before it returns; the search
// index is updated in the same transaction, so it always matches the committed flows.
// Flows named by an API call must exist and not be deleted, else kNotFound. A `name` must
// not be empty (kInvalidArgument). SQLite errors come back as SqliteStatus codes.
class FlowLibrary {
 public:
  explicit FlowLibrary(Db* db) : db_(db) {}

  // New flow at version 1, or revives a deleted flow of that name (same id; the new
  // version is max + 1 and current). kAlreadyExists if a non-deleted flow has the name.
  Result<FlowRecord> Create(const std::string& name, FlowVersion v);
  // Adds version max + 1 (counting versions of earlier lives of the flow too). The
  // returned record's `current` holds the NEW version; current_version says whether it
  // became current.
  Result<FlowRecord> AddVersion(const std::string& name, FlowVersion v, bool make_current);
  // version 0 = the current one; `current` holds the requested version. kNotFound for an
  // unknown version.
  Result<FlowRecord> Get(const std::string& name, int64_t version);
  // Non-deleted flows ordered by name, each with its current version.
  Result<std::vector<FlowRecord>> List();
  // Soft delete: hidden from every read and from search; versions and examples are kept
  // (a revived flow sees them again).
  Status Delete(const std::string& name);
  // Newest first, sources included.
  Result<std::vector<FlowVersion>> Versions(const std::string& name);
  // kNotFound for an unknown version.
  Result<FlowRecord> SetCurrent(const std::string& name, int64_t version);
  // Ranked full-text search over the current version of each non-deleted flow; see
  // BuildFlowSearchMatch for how `query` is read. Best first; ties by name. A query with
  // no terms returns no hits.
  Result<std::vector<FlowSearchHit>> Search(std::string_view query, int limit);

  // Upsert by (flow_name, name): an existing preset keeps its id and gets the new input.
  // kNotFound if the flow does not exist (or is deleted).
  Result<ExampleRecord> PutExample(ExampleRecord e);
  // By flow name, then preset name; "" = every flow's presets (deleted flows included).
  Result<std::vector<ExampleRecord>> ListExamples(const std::string& flow_name);
  // kNotFound if no such preset.
  Status DeleteExample(int64_t id);

 private:
  // The id of the non-deleted flow `name`, else kNotFound.
  Result<int64_t> LiveFlowId(const std::string& name);
  Result<int64_t> NextVersion(int64_t flow_id);
  Status InsertVersion(int64_t flow_id, int64_t version, const FlowVersion& v, int64_t now_us);
  // Rewrites flow_search's row for the flow: its current version, or nothing if deleted.
  Status Reindex(int64_t flow_id);
  Result<FlowRecord> Read(int64_t flow_id, int64_t version);

  Db* const db_;
};

}  // namespace hero::store
