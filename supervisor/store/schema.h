// The store's schema: an ordered list of migrations and the code that applies them, plus
// connection pragmas. Store thread only. Depends on base + sqlite3.
#pragma once

#include <span>

#include "supervisor/base/status.h"
#include "supervisor/store/sqlite_db.h"

namespace hero::store {

struct Migration {
  int version;      // the user_version after this step; 1, 2, 3, ... without gaps
  const char* sql;  // one or more statements
};

// The migrations this build knows, in order. kSchemaVersion is the last one's version.
std::span<const Migration> Migrations();
int SchemaVersion();

// Sets WAL, synchronous=NORMAL, foreign_keys=OFF, busy_timeout and cache sizes.
Status ApplyPragmas(Db& db);

// Brings the database to the newest known version. Each step runs in its own transaction
// that also sets PRAGMA user_version, so a crash leaves the old or the new schema, never a
// mix. A database newer than this code -> kFailedPrecondition
// "database schema version N is newer than this hero_logic (knows up to M)".
Status Migrate(Db& db, std::span<const Migration> migrations);
inline Status Migrate(Db& db) { return Migrate(db, Migrations()); }
// ApplyPragmas + Migrate, retried for up to ~2 s while the file is locked (kUnavailable):
// another process opening the same new file (a second CLI run) can make SQLite answer
// SQLITE_BUSY at once, without its busy handler (e.g. while it switches to WAL). Every step
// is idempotent or its own transaction, so a retry starts cleanly.
Status PrepareDatabase(Db& db);

}  // namespace hero::store
