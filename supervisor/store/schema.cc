// Schema migrations and connection pragmas.
#include "supervisor/store/schema.h"

#include <chrono>
#include <string>
#include <thread>

#include "supervisor/base/check.h"
#include "supervisor/base/clock.h"

namespace hero::store {
namespace {

// Append-only: never edit a shipped step; add a new one. Statuses are stored by name
// (RunStatusName) so the database is readable with the sqlite3 shell.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE schema_version (
  version    INTEGER PRIMARY KEY,
  applied_us INTEGER NOT NULL
);
CREATE TABLE runs (
  id                   INTEGER PRIMARY KEY AUTOINCREMENT,
  flow_name            TEXT    NOT NULL,
  flow_version         INTEGER NOT NULL DEFAULT 0,
  parent_run           INTEGER NOT NULL DEFAULT 0,
  parent_span          TEXT    NOT NULL DEFAULT '',
  input_json           TEXT    NOT NULL DEFAULT '{}',
  output_json          TEXT    NOT NULL DEFAULT '',
  status               TEXT    NOT NULL,
  reason               TEXT    NOT NULL DEFAULT '',
  exit_code            INTEGER NOT NULL DEFAULT -1,
  signal               INTEGER NOT NULL DEFAULT 0,
  profile              TEXT    NOT NULL DEFAULT '',
  network              INTEGER NOT NULL DEFAULT 0,
  source_path          TEXT    NOT NULL DEFAULT '',
  workdir              TEXT    NOT NULL DEFAULT '',
  created_us           INTEGER NOT NULL DEFAULT 0,
  started_us           INTEGER NOT NULL DEFAULT 0,
  ended_us             INTEGER NOT NULL DEFAULT 0,
  cpu_us               INTEGER NOT NULL DEFAULT 0,
  peak_rss_kb          INTEGER NOT NULL DEFAULT 0,
  span_count           INTEGER NOT NULL DEFAULT 0,
  malformed_lines      INTEGER NOT NULL DEFAULT 0,
  unknown_type_lines   INTEGER NOT NULL DEFAULT 0,
  oversize_lines       INTEGER NOT NULL DEFAULT 0,
  orphan_events        INTEGER NOT NULL DEFAULT 0,
  dropped_spans        INTEGER NOT NULL DEFAULT 0,
  dropped_log_bytes    INTEGER NOT NULL DEFAULT 0,
  dropped_tag_events   INTEGER NOT NULL DEFAULT 0,
  dropped_output_bytes INTEGER NOT NULL DEFAULT 0,
  diagnostics_json     TEXT    NOT NULL DEFAULT '[]',
  stdout_tail          TEXT    NOT NULL DEFAULT '',
  stderr_tail          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_flow ON runs (flow_name, id);
CREATE INDEX runs_by_created ON runs (created_us);
CREATE TABLE spans (
  run_id       INTEGER NOT NULL,
  seq          INTEGER NOT NULL,
  span_id      TEXT    NOT NULL,
  parent_id    TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  status       TEXT    NOT NULL,
  start_us     INTEGER NOT NULL,
  end_us       INTEGER NOT NULL,
  tags_json    TEXT    NOT NULL,
  error        TEXT    NOT NULL,
  error_type   TEXT    NOT NULL,
  traceback    TEXT    NOT NULL,
  file         TEXT    NOT NULL,
  line         INTEGER NOT NULL,
  rpc_service  TEXT    NOT NULL,
  rpc_method   TEXT    NOT NULL,
  cpu_us       INTEGER NOT NULL,
  rss_kb       INTEGER NOT NULL,
  child_run_id INTEGER NOT NULL,
  orphan       INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE span_logs (
  run_id   INTEGER NOT NULL,
  seq      INTEGER NOT NULL,
  span_seq INTEGER NOT NULL,
  ts_us    INTEGER NOT NULL,
  stream   TEXT    NOT NULL,
  text     TEXT    NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
)sql"},
    // The flow library. A flow row is never removed (soft delete), so a revived name keeps
    // its id and its version numbers continue. flow_search indexes the current version of
    // each non-deleted flow (rowid = flows.id); the store rewrites a flow's row in the same
    // transaction as every change to it (see flow_library.cc).
    {2, R"sql(
CREATE TABLE flows (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT    NOT NULL UNIQUE,
  current_version INTEGER NOT NULL,
  created_us      INTEGER NOT NULL DEFAULT 0,
  updated_us      INTEGER NOT NULL DEFAULT 0,
  deleted         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE flow_versions (
  flow_id      INTEGER NOT NULL,
  version      INTEGER NOT NULL,
  source       TEXT    NOT NULL DEFAULT '',
  description  TEXT    NOT NULL DEFAULT '',
  docstring    TEXT    NOT NULL DEFAULT '',
  inputs_json  TEXT    NOT NULL DEFAULT '{}',
  outputs_json TEXT    NOT NULL DEFAULT '{}',
  tags_json    TEXT    NOT NULL DEFAULT '[]',
  entry        TEXT    NOT NULL DEFAULT '',
  line         INTEGER NOT NULL DEFAULT 0,
  created_us   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (flow_id, version)
) WITHOUT ROWID;
CREATE TABLE examples (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  flow_name  TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  input_json TEXT    NOT NULL DEFAULT '{}',
  created_us INTEGER NOT NULL DEFAULT 0,
  UNIQUE (flow_name, name)
);
CREATE VIRTUAL TABLE flow_search USING fts5(
  name, description, tags, docstring, inputs,
  tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3'
);
)sql"},
    // v3: the per-run uid, so processes can be attributed to a run after it ended (audits,
    // the escape battery's I4 in daemon mode).
    {3, R"sql(
ALTER TABLE runs ADD COLUMN run_uid INTEGER NOT NULL DEFAULT 0;
)sql"},
};

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }
int SchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

Status ApplyPragmas(Db& db) {
  // WAL: readers never block the writer and a commit is one append. In-memory databases
  // answer "memory", which is fine for them.
  HERO_ASSIGN_OR_RETURN(std::string mode, db.QueryText("PRAGMA journal_mode=WAL"));
  if (mode != "wal" && mode != "memory") {
    return FailedPrecondition("cannot enable WAL journal mode (got '" + mode + "')");
  }
  // NORMAL in WAL: commits are not fsynced (the WAL is synced at checkpoints), so a commit
  // survives a process crash but the last commits may be lost on power loss / kernel panic.
  return db.Exec(
      "PRAGMA synchronous=NORMAL;"
      "PRAGMA foreign_keys=OFF;"
      "PRAGMA busy_timeout=5000;"
      "PRAGMA temp_store=MEMORY;"
      "PRAGMA cache_size=-8192;");  // 8 MiB page cache
}

Status PrepareDatabase(Db& db) {
  Status s;
  for (int attempt = 0; attempt < 200; ++attempt) {
    s = ApplyPragmas(db);
    if (s.ok()) s = Migrate(db);
    if (s.code() != StatusCode::kUnavailable) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return s;
}

Status Migrate(Db& db, std::span<const Migration> migrations) {
  HERO_CHECK(!migrations.empty());
  HERO_ASSIGN_OR_RETURN(int64_t current, db.QueryInt("PRAGMA user_version"));
  int latest = migrations.back().version;
  if (current > latest) {
    return FailedPrecondition("database schema version " + std::to_string(current) +
                              " is newer than this hero_logic (knows up to " +
                              std::to_string(latest) + ")");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    HERO_CHECK(m.version == current + 1);  // the list has no gaps
    HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
    // Read again under the write lock: another process opening the same file (two CLI runs
    // on a new data dir) may have applied this migration since the read above.
    HERO_ASSIGN_OR_RETURN(current, db.QueryInt("PRAGMA user_version"));
    if (m.version <= current) continue;  // the transaction rolls back: nothing written
    std::string where = "migration to schema version " + std::to_string(m.version);
    HERO_RETURN_IF_ERROR(db.Exec(m.sql).WithContext(where));
    HERO_ASSIGN_OR_RETURN(Statement st,
                          db.Prepare("INSERT INTO schema_version (version, applied_us) "
                                     "VALUES (?1, ?2)"));
    st.BindInt(1, m.version);
    st.BindInt(2, WallMicrosNow());
    HERO_RETURN_IF_ERROR(st.Run().WithContext(where));
    // user_version lives in the database header page, so this write is part of the
    // transaction: it commits or rolls back together with the schema change.
    std::string bump = "PRAGMA user_version=" + std::to_string(m.version);
    HERO_RETURN_IF_ERROR(db.Exec(bump.c_str()).WithContext(where));
    HERO_RETURN_IF_ERROR(txn.Commit().WithContext(where));
    current = m.version;
  }
  return Status::Ok();
}

}  // namespace hero::store
