// RAII wrappers for one SQLite connection, its prepared statements and transactions.
// Thread-compatible: a Db and its Statements are used by one thread at a time (the store
// thread). Depends on base + sqlite3 only. Statements must be destroyed before their Db.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "supervisor/base/result.h"
#include "supervisor/base/status.h"

namespace hero::store {

// Maps an SQLite result code to a Status: SQLITE_FULL -> kResourceExhausted,
// SQLITE_BUSY/LOCKED -> kUnavailable, SQLITE_READONLY/PERM/AUTH -> kPermissionDenied,
// SQLITE_NOTFOUND/CANTOPEN -> kNotFound/kIo, SQLITE_CORRUPT/NOTADB -> kInternal,
// everything else -> kIo. Message: "<context>: <sqlite errmsg> (code N)".
Status SqliteStatus(int rc, std::string_view context, sqlite3* db = nullptr);

// Number of Db objects currently holding an open connection (process-wide). Tests assert it
// returns to zero once every Store is destroyed.
int64_t LiveSqliteConnections();

class Statement;

// Owns one sqlite3 connection. Close() (also run by the destructor) calls sqlite3_close,
// which fails with SQLITE_BUSY if any statement is still alive: that is a programming error,
// reported by Close() and CHECKed by the destructor.
class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Db& operator=(Db&& other) noexcept;  // CHECKs that this Db closes cleanly first
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (creating if missing) a database file in multi-thread mode (no connection mutex:
  // the caller guarantees one thread at a time). ":memory:" opens a private in-memory db.
  static Result<Db> Open(const std::string& path);

  // Runs one or more `;`-separated statements without results.
  Status Exec(const char* sql);
  // Prepares a statement; `persistent` hints SQLite that it is reused for the db's lifetime.
  Result<Statement> Prepare(std::string_view sql, bool persistent = false);
  // Runs a single-row, single-column query, e.g. "PRAGMA user_version".
  Result<int64_t> QueryInt(const char* sql);
  Result<std::string> QueryText(const char* sql);

  // Closes the connection; returns the sqlite3_close result code (SQLITE_OK when clean).
  // Idempotent: a closed Db returns SQLITE_OK.
  int Close();

  bool is_open() const { return db_ != nullptr; }
  bool in_transaction() const { return db_ && !sqlite3_get_autocommit(db_); }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// Owns one prepared statement. Binds are 1-based like SQLite's. Text bound with BindText is
// SQLITE_STATIC: the caller keeps the bytes alive until Reset() (or the next Step() that
// returns done).
class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(Statement&& other) noexcept : stmt_(other.stmt_), db_(other.db_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindText(int i, std::string_view v) {
    // A null data() would bind SQL NULL and break NOT NULL columns; bind "" instead.
    sqlite3_bind_text(stmt_, i, v.data() ? v.data() : "", static_cast<int>(v.size()),
                      SQLITE_STATIC);
  }

  // Returns true when a row is available, false when the statement is done.
  Result<bool> Step();
  // Steps a statement that returns no rows, then resets it.
  Status Run();
  void Reset() { sqlite3_reset(stmt_); }

  int64_t ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  double ColumnDouble(int i) const { return sqlite3_column_double(stmt_, i); }
  std::string ColumnText(int i) const;

  bool valid() const { return stmt_ != nullptr; }

 private:
  friend class Db;
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// BEGIN on Begin(); ROLLBACK in the destructor unless Commit() succeeded. A failed COMMIT
// (disk full, I/O error) is rolled back too, so the connection is never left mid-transaction.
class Transaction {
 public:
  static Result<Transaction> Begin(Db& db);
  ~Transaction();
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  void Rollback();
  Db* db_ = nullptr;
};

}  // namespace hero::store
