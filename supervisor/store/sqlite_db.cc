// SQLite connection, statement and transaction wrappers; the one SQLite rc -> Status table.
#include "supervisor/store/sqlite_db.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "supervisor/base/check.h"
#include "supervisor/base/log.h"

namespace hero::store {
namespace {

std::atomic<int64_t> g_live_connections{0};

StatusCode CodeForSqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return StatusCode::kOk;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return StatusCode::kResourceExhausted;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StatusCode::kUnavailable;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return StatusCode::kPermissionDenied;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
      return StatusCode::kInternal;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_ERROR:
      return StatusCode::kInternal;  // our SQL or our binds are wrong
    default:
      return StatusCode::kIo;  // SQLITE_IOERR_*, SQLITE_CANTOPEN, SQLITE_PROTOCOL, ...
  }
}

}  // namespace

Status SqliteStatus(int rc, std::string_view context, sqlite3* db) {
  StatusCode code = CodeForSqlite(rc);
  if (code == StatusCode::kOk) return Status::Ok();
  std::string msg(context);
  msg += ": ";
  // sqlite3_errmsg describes the most recent call on this connection; it matches `rc` when
  // called right after the failing call, which every caller here does.
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (code ";
  msg += std::to_string(rc);
  msg += ")";
  return Status(code, std::move(msg));
}

int64_t LiveSqliteConnections() { return g_live_connections.load(); }

Db::~Db() {
  int rc = Close();
  HERO_CHECK(rc == SQLITE_OK);  // a statement outlived its db: ownership bug
}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    HERO_CHECK(Close() == SQLITE_OK);
    db_ = other.db_;
    other.db_ = nullptr;
  }
  return *this;
}

Result<Db> Db::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the store thread is the only user, so the per-connection mutex is pure cost.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(rc, "open " + path, raw);
    sqlite3_close(raw);  // sqlite3_open_v2 allocates a handle even on failure
    return s;
  }
  sqlite3_extended_result_codes(raw, 1);
  // Before the first statement: switching to WAL and reading the schema version take locks
  // that another process opening the same file (a second CLI run) may hold for a moment.
  sqlite3_busy_timeout(raw, 5000);
  g_live_connections.fetch_add(1);
  return Db(raw);
}

int Db::Close() {
  if (!db_) return SQLITE_OK;
  int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) {
    HERO_LOG(kError) << "sqlite3_close: " << sqlite3_errmsg(db_) << " (code " << rc << ")";
    return rc;
  }
  db_ = nullptr;
  g_live_connections.fetch_sub(1);
  return SQLITE_OK;
}

Status Db::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string context = "exec \"";
  context.append(sql, std::min<size_t>(std::strlen(sql), 40));
  context += "\"";
  Status s = SqliteStatus(rc, context, nullptr);
  if (err) s = Status(s.code(), context + ": " + err + " (code " + std::to_string(rc) + ")");
  sqlite3_free(err);
  return s;
}

Result<Statement> Db::Prepare(std::string_view sql, bool persistent) {
  sqlite3_stmt* stmt = nullptr;
  unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(rc, "prepare", db_);
  HERO_CHECK(stmt != nullptr);  // empty SQL is a programming error
  return Statement(stmt, db_);
}

Result<int64_t> Db::QueryInt(const char* sql) {
  HERO_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
  HERO_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal(std::string("no row from: ") + sql);
  return st.ColumnInt(0);
}

Result<std::string> Db::QueryText(const char* sql) {
  HERO_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
  HERO_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal(std::string("no row from: ") + sql);
  return st.ColumnText(0);
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    db_ = other.db_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = SqliteStatus(rc, "step", db_);
  sqlite3_reset(stmt_);
  return s;
}

Status Statement::Run() {
  int rc = sqlite3_step(stmt_);
  Status s = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? Status::Ok() : SqliteStatus(rc, "step", db_);
  sqlite3_reset(stmt_);
  return s;
}

std::string Statement::ColumnText(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  if (!p) return std::string();
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

Result<Transaction> Transaction::Begin(Db& db) {
  // IMMEDIATE takes the write lock now, so a busy database fails here rather than mid-batch.
  HERO_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() { Rollback(); }

void Transaction::Rollback() {
  if (!db_) return;
  // After SQLITE_FULL/IOERR SQLite may already have rolled back on its own.
  if (db_->in_transaction()) {
    Status s = db_->Exec("ROLLBACK");
    if (!s.ok()) {
      HERO_LOG(kWarn) << "rollback: " << s.ToString();
    }
  }
  db_ = nullptr;
}

Status Transaction::Commit() {
  HERO_CHECK(db_ != nullptr);
  Status s = db_->Exec("COMMIT");
  if (s.ok()) {
    db_ = nullptr;
    return s;
  }
  Rollback();
  return s;
}

}  // namespace hero::store
