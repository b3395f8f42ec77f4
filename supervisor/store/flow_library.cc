// The flow library's SQL. Statements are prepared per call: library calls are rare next to
// span writes, and no statement outlives the call that made it.
#include "supervisor/store/flow_library.h"

#include <algorithm>
#include <utility>

#include "supervisor/base/clock.h"
#include "supervisor/store/flow_search_query.h"

namespace hero::store {
namespace {

constexpr const char* kVersionColumns =
    "v.version, v.source, v.description, v.docstring, v.inputs_json, v.outputs_json, "
    "v.tags_json, v.entry, v.line, v.created_us";

// Reads kVersionColumns starting at column `i`.
FlowVersion ReadVersion(const Statement& st, int i) {
  FlowVersion v;
  v.version = st.ColumnInt(i++);
  v.source = st.ColumnText(i++);
  v.description = st.ColumnText(i++);
  v.docstring = st.ColumnText(i++);
  v.inputs_json = st.ColumnText(i++);
  v.outputs_json = st.ColumnText(i++);
  v.tags_json = st.ColumnText(i++);
  v.entry = st.ColumnText(i++);
  v.line = st.ColumnInt(i++);
  v.created_us = st.ColumnInt(i++);
  return v;
}

// Reads `SELECT f.id, f.name, f.current_version, f.created_us, f.updated_us, <versions>`.
FlowRecord ReadFlow(const Statement& st) {
  FlowRecord r;
  r.id = st.ColumnInt(0);
  r.name = st.ColumnText(1);
  r.current_version = st.ColumnInt(2);
  r.created_us = st.ColumnInt(3);
  r.updated_us = st.ColumnInt(4);
  r.current = ReadVersion(st, 5);
  return r;
}

std::string FlowSelect() {
  return std::string("SELECT f.id, f.name, f.current_version, f.created_us, f.updated_us, ") +
         kVersionColumns + " FROM flows f JOIN flow_versions v ON v.flow_id = f.id ";
}

Status FlowNotFound(const std::string& name) { return NotFound("flow '" + name + "' not found"); }

Status CheckName(const std::string& what, const std::string& name) {
  if (name.empty()) return InvalidArgument(what + " name must not be empty");
  return Status::Ok();
}

// What flow_search indexes for a version: tag values and declared input names rather than
// raw JSON (so "str" or "int" do not match every flow); raw text if the JSON is not valid.
constexpr const char* kReindexSql =
    "INSERT INTO flow_search (rowid, name, description, tags, docstring, inputs) "
    "SELECT f.id, f.name, v.description, "
    "  CASE WHEN json_valid(v.tags_json) "
    "    THEN (SELECT group_concat(value, ' ') FROM json_each(v.tags_json)) "
    "    ELSE v.tags_json END, "
    "  v.docstring, "
    "  CASE WHEN json_valid(v.inputs_json) AND json_type(v.inputs_json) = 'object' "
    "    THEN (SELECT group_concat(key, ' ') FROM json_each(v.inputs_json)) "
    "    ELSE v.inputs_json END "
    "FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.current_version "
    "WHERE f.id = ?1 AND f.deleted = 0";

}  // namespace

Result<int64_t> FlowLibrary::LiveFlowId(const std::string& name) {
  HERO_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("SELECT id FROM flows WHERE name = ?1 AND deleted = 0"));
  st.BindText(1, name);
  HERO_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return FlowNotFound(name);
  return st.ColumnInt(0);
}

Result<int64_t> FlowLibrary::NextVersion(int64_t flow_id) {
  HERO_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM flow_versions WHERE flow_id = ?1"));
  st.BindInt(1, flow_id);
  HERO_ASSIGN_OR_RETURN(bool row, st.Step());
  (void)row;  // an aggregate always yields a row
  return st.ColumnInt(0);
}

Status FlowLibrary::InsertVersion(int64_t flow_id, int64_t version, const FlowVersion& v,
                                  int64_t now_us) {
  HERO_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("INSERT INTO flow_versions (flow_id, version, source, description, docstring, "
                   "inputs_json, outputs_json, tags_json, entry, line, created_us) VALUES "
                   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  st.BindInt(1, flow_id);
  st.BindInt(2, version);
  st.BindText(3, v.source);
  st.BindText(4, v.description);
  st.BindText(5, v.docstring);
  st.BindText(6, v.inputs_json);
  st.BindText(7, v.outputs_json);
  st.BindText(8, v.tags_json);
  st.BindText(9, v.entry);
  st.BindInt(10, v.line);
  st.BindInt(11, v.created_us ? v.created_us : now_us);
  return st.Run().WithContext("insert flow version");
}

Status FlowLibrary::Reindex(int64_t flow_id) {
  HERO_ASSIGN_OR_RETURN(Statement del, db_->Prepare("DELETE FROM flow_search WHERE rowid = ?1"));
  del.BindInt(1, flow_id);
  HERO_RETURN_IF_ERROR(del.Run().WithContext("unindex flow"));
  HERO_ASSIGN_OR_RETURN(Statement ins, db_->Prepare(kReindexSql));
  ins.BindInt(1, flow_id);
  return ins.Run().WithContext("index flow");
}

Result<FlowRecord> FlowLibrary::Read(int64_t flow_id, int64_t version) {
  HERO_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare(FlowSelect() +
                   "AND v.version = (CASE WHEN ?2 = 0 THEN f.current_version ELSE ?2 END) "
                   "WHERE f.id = ?1"));
  st.BindInt(1, flow_id);
  st.BindInt(2, version);
  HERO_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return NotFound("flow " + std::to_string(flow_id) + " has no version " +
                    std::to_string(version));
  }
  return ReadFlow(st);
}

Result<FlowRecord> FlowLibrary::Create(const std::string& name, FlowVersion v) {
  HERO_RETURN_IF_ERROR(CheckName("flow", name));
  const int64_t now = WallMicrosNow();
  HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  HERO_ASSIGN_OR_RETURN(Statement find,
                        db_->Prepare("SELECT id, deleted FROM flows WHERE name = ?1"));
  find.BindText(1, name);
  HERO_ASSIGN_OR_RETURN(bool exists, find.Step());
  int64_t id = exists ? find.ColumnInt(0) : 0, version = 1;
  const bool deleted = exists && find.ColumnInt(1) != 0;
  find.Reset();
  if (exists) {
    if (!deleted) {
      return Status(StatusCode::kAlreadyExists, "flow '" + name + "' already exists");
    }
    HERO_ASSIGN_OR_RETURN(version, NextVersion(id));
    HERO_ASSIGN_OR_RETURN(Statement revive,
                          db_->Prepare("UPDATE flows SET deleted = 0, current_version = ?2, "
                                       "updated_us = ?3 WHERE id = ?1"));
    revive.BindInt(1, id);
    revive.BindInt(2, version);
    revive.BindInt(3, now);
    HERO_RETURN_IF_ERROR(revive.Run().WithContext("revive flow"));
  } else {
    HERO_ASSIGN_OR_RETURN(Statement ins,
                          db_->Prepare("INSERT INTO flows (name, current_version, created_us, "
                                       "updated_us) VALUES (?1, 1, ?2, ?2)"));
    ins.BindText(1, name);
    ins.BindInt(2, now);
    HERO_RETURN_IF_ERROR(ins.Run().WithContext("insert flow"));
    id = db_->last_insert_rowid();
  }
  HERO_RETURN_IF_ERROR(InsertVersion(id, version, v, now));
  HERO_RETURN_IF_ERROR(Reindex(id));
  HERO_ASSIGN_OR_RETURN(FlowRecord rec, Read(id, version));
  HERO_RETURN_IF_ERROR(txn.Commit().WithContext("commit flow"));
  return rec;
}

Result<FlowRecord> FlowLibrary::AddVersion(const std::string& name, FlowVersion v,
                                           bool make_current) {
  HERO_RETURN_IF_ERROR(CheckName("flow", name));
  const int64_t now = WallMicrosNow();
  HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  HERO_ASSIGN_OR_RETURN(int64_t id, LiveFlowId(name));
  HERO_ASSIGN_OR_RETURN(int64_t version, NextVersion(id));
  HERO_RETURN_IF_ERROR(InsertVersion(id, version, v, now));
  HERO_ASSIGN_OR_RETURN(
      Statement upd, db_->Prepare("UPDATE flows SET updated_us = ?2, "
                                  "current_version = CASE WHEN ?3 THEN ?4 ELSE current_version END "
                                  "WHERE id = ?1"));
  upd.BindInt(1, id);
  upd.BindInt(2, now);
  upd.BindInt(3, make_current ? 1 : 0);
  upd.BindInt(4, version);
  HERO_RETURN_IF_ERROR(upd.Run().WithContext("update flow"));
  if (make_current) HERO_RETURN_IF_ERROR(Reindex(id));
  HERO_ASSIGN_OR_RETURN(FlowRecord rec, Read(id, version));
  HERO_RETURN_IF_ERROR(txn.Commit().WithContext("commit flow version"));
  return rec;
}

Result<FlowRecord> FlowLibrary::Get(const std::string& name, int64_t version) {
  HERO_ASSIGN_OR_RETURN(int64_t id, LiveFlowId(name));
  Result<FlowRecord> rec = Read(id, version);
  if (!rec.ok() && rec.status().code() == StatusCode::kNotFound) {
    return NotFound("flow '" + name + "' has no version " + std::to_string(version));
  }
  return rec;
}

Result<std::vector<FlowRecord>> FlowLibrary::List() {
  HERO_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare(FlowSelect() + "AND v.version = f.current_version WHERE f.deleted = 0 "
                                  "ORDER BY f.name"));
  std::vector<FlowRecord> out;
  for (;;) {
    HERO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadFlow(st));
  }
  return out;
}

Status FlowLibrary::Delete(const std::string& name) {
  HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  HERO_ASSIGN_OR_RETURN(int64_t id, LiveFlowId(name));
  HERO_ASSIGN_OR_RETURN(Statement st, db_->Prepare("UPDATE flows SET deleted = 1, updated_us = ?2 "
                                                   "WHERE id = ?1"));
  st.BindInt(1, id);
  st.BindInt(2, WallMicrosNow());
  HERO_RETURN_IF_ERROR(st.Run().WithContext("delete flow"));
  HERO_RETURN_IF_ERROR(Reindex(id));
  return txn.Commit().WithContext("commit flow delete");
}

Result<std::vector<FlowVersion>> FlowLibrary::Versions(const std::string& name) {
  HERO_ASSIGN_OR_RETURN(int64_t id, LiveFlowId(name));
  HERO_ASSIGN_OR_RETURN(Statement st, db_->Prepare(std::string("SELECT ") + kVersionColumns +
                                                   " FROM flow_versions v WHERE v.flow_id = ?1 "
                                                   "ORDER BY v.version DESC"));
  st.BindInt(1, id);
  std::vector<FlowVersion> out;
  for (;;) {
    HERO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadVersion(st, 0));
  }
  return out;
}

Result<FlowRecord> FlowLibrary::SetCurrent(const std::string& name, int64_t version) {
  HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  HERO_ASSIGN_OR_RETURN(int64_t id, LiveFlowId(name));
  HERO_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("UPDATE flows SET current_version = ?2, updated_us = ?3 "
                                     "WHERE id = ?1 AND EXISTS (SELECT 1 FROM flow_versions "
                                     "WHERE flow_id = ?1 AND version = ?2)"));
  st.BindInt(1, id);
  st.BindInt(2, version);
  st.BindInt(3, WallMicrosNow());
  HERO_RETURN_IF_ERROR(st.Run().WithContext("set current flow version"));
  if (db_->changes() == 0) {
    return NotFound("flow '" + name + "' has no version " + std::to_string(version));
  }
  HERO_RETURN_IF_ERROR(Reindex(id));
  HERO_ASSIGN_OR_RETURN(FlowRecord rec, Read(id, version));
  HERO_RETURN_IF_ERROR(txn.Commit().WithContext("commit current flow version"));
  return rec;
}

Result<std::vector<FlowSearchHit>> FlowLibrary::Search(std::string_view query, int limit) {
  std::vector<FlowSearchHit> out;
  std::string match = BuildFlowSearchMatch(query);
  if (match.empty()) return out;
  if (limit <= 0) limit = kDefaultFlowSearchLimit;
  limit = std::min(limit, kMaxFlowSearchLimit);
  std::string bm25 = "bm25(flow_search";
  for (double w : kFlowSearchWeights) bm25 += ", " + std::to_string(w);
  bm25 += ")";
  // snippet(-1): FTS5 picks the column with the best-scoring fragment. Deleted flows have
  // no row in flow_search; the join supplies the current version number.
  HERO_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("SELECT flow_search.name, flow_search.description, "
                   "snippet(flow_search, -1, '[', ']', '…', 12), -" +
                   bm25 +
                   ", f.current_version FROM flow_search JOIN flows f ON f.id = flow_search.rowid "
                   "WHERE flow_search MATCH ?1 ORDER BY " +
                   bm25 + ", flow_search.name LIMIT ?2"));
  st.BindText(1, match);
  st.BindInt(2, limit);
  for (;;) {
    HERO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    FlowSearchHit h;
    h.name = st.ColumnText(0);
    h.description = st.ColumnText(1);
    h.snippet = st.ColumnText(2);
    h.score = st.ColumnDouble(3);
    h.version = st.ColumnInt(4);
    out.push_back(std::move(h));
  }
  return out;
}

Result<ExampleRecord> FlowLibrary::PutExample(ExampleRecord e) {
  HERO_RETURN_IF_ERROR(CheckName("flow", e.flow_name));
  HERO_RETURN_IF_ERROR(CheckName("example", e.name));
  if (e.created_us == 0) e.created_us = WallMicrosNow();
  HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  HERO_RETURN_IF_ERROR(LiveFlowId(e.flow_name).status());
  HERO_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("INSERT INTO examples (flow_name, name, input_json, created_us) "
                   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (flow_name, name) DO UPDATE SET "
                   "input_json = excluded.input_json, created_us = excluded.created_us "
                   "RETURNING id"));
  st.BindText(1, e.flow_name);
  st.BindText(2, e.name);
  st.BindText(3, e.input_json);
  st.BindInt(4, e.created_us);
  HERO_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal("upsert example returned no id");
  e.id = st.ColumnInt(0);
  st = Statement();  // RETURNING: the statement must finish before COMMIT
  HERO_RETURN_IF_ERROR(txn.Commit().WithContext("commit example"));
  return e;
}

Result<std::vector<ExampleRecord>> FlowLibrary::ListExamples(const std::string& flow_name) {
  HERO_ASSIGN_OR_RETURN(
      Statement st, db_->Prepare("SELECT id, flow_name, name, input_json, created_us FROM examples "
                                 "WHERE ?1 = '' OR flow_name = ?1 ORDER BY flow_name, name"));
  st.BindText(1, flow_name);
  std::vector<ExampleRecord> out;
  for (;;) {
    HERO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ExampleRecord{st.ColumnInt(0), st.ColumnText(1), st.ColumnText(2),
                                st.ColumnText(3), st.ColumnInt(4)});
  }
  return out;
}

Status FlowLibrary::DeleteExample(int64_t id) {
  HERO_ASSIGN_OR_RETURN(Statement st, db_->Prepare("DELETE FROM examples WHERE id = ?1"));
  st.BindInt(1, id);
  HERO_RETURN_IF_ERROR(st.Run().WithContext("delete example"));
  if (db_->changes() == 0) return NotFound("example " + std::to_string(id) + " not found");
  return Status::Ok();
}

}  // namespace hero::store
