// Pure store tests: SQL building, wrappers and migrations on private in-memory databases.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "supervisor/store/run_query.h"
#include "supervisor/store/schema.h"
#include "supervisor/store/sqlite_db.h"

namespace hero::store {
namespace {

TEST(RunQueryTest, LikePatternEscapesWildcards) {
  EXPECT_EQ(LikeContainsPattern("abc"), "%abc%");
  EXPECT_EQ(LikeContainsPattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
  EXPECT_EQ(LikeContainsPattern(""), "%%");
}

TEST(RunQueryTest, NoFilterListsNewestFirstWithDefaultLimit) {
  RunQuery q = BuildListRunsQuery(RunFilter{.limit = 0});
  EXPECT_NE(q.sql.find("ORDER BY id DESC LIMIT ?1"), std::string::npos) << q.sql;
  EXPECT_EQ(q.sql.find("WHERE"), std::string::npos);
  ASSERT_EQ(q.params.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(q.params[0]), 50);
}

TEST(RunQueryTest, EveryFilterBecomesAParameter) {
  RunFilter f;
  f.status = RunStatus::kTimedOut;
  f.flow = "etl";
  f.since_us = 10;
  f.until_us = 20;
  f.text = "a%";
  f.before_id = 7;
  f.limit = 5000;
  RunQuery q = BuildListRunsQuery(f);
  ASSERT_EQ(q.params.size(), 7u) << q.sql;
  EXPECT_EQ(std::get<std::string>(q.params[0]), "timed_out");
  EXPECT_EQ(std::get<std::string>(q.params[1]), "etl");
  EXPECT_EQ(std::get<int64_t>(q.params[2]), 10);
  EXPECT_EQ(std::get<int64_t>(q.params[3]), 20);
  EXPECT_EQ(std::get<std::string>(q.params[4]), "%a\\%%");
  EXPECT_EQ(std::get<int64_t>(q.params[5]), 7);
  EXPECT_EQ(std::get<int64_t>(q.params[6]), 1000);  // clamped
}

TEST(SqliteDbTest, CloseFailsWhileAStatementIsAliveAndSucceedsAfter) {
  Result<Db> db = Db::Open(":memory:");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(LiveSqliteConnections(), 1);
  {
    Result<Statement> st = db->Prepare("SELECT 1");
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(db->Close(), SQLITE_BUSY);
  }
  EXPECT_EQ(db->Close(), SQLITE_OK);
  EXPECT_EQ(LiveSqliteConnections(), 0);
}

TEST(SqliteDbTest, TransactionRollsBackUnlessCommitted) {
  Result<Db> db = Db::Open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (a INTEGER)").ok());
  {
    Result<Transaction> txn = Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
  }
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM t"), 0);
  {
    Result<Transaction> txn = Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM t"), 1);
  EXPECT_FALSE(db->in_transaction());
}

TEST(SqliteDbTest, ErrorsCarryContextAndCode) {
  Result<Db> db = Db::Open(":memory:");
  ASSERT_TRUE(db.ok());
  Status s = db->Exec("SELEKT 1");
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("syntax error"), std::string::npos) << s.message();
  Result<Statement> st = db->Prepare("SELECT * FROM missing");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("no such table"), std::string::npos);
}

TEST(SchemaTest, MigratesAnEmptyDatabaseToTheLatestVersion) {
  Result<Db> db = Db::Open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(ApplyPragmas(*db).ok());
  ASSERT_TRUE(Migrate(*db).ok());
  EXPECT_EQ(*db->QueryInt("PRAGMA user_version"), SchemaVersion());
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM schema_version"), SchemaVersion());
  for (const char* table : {"runs", "spans", "span_logs"}) {
    std::string sql =
        std::string("SELECT COUNT(*) FROM sqlite_schema WHERE name = '") + table + "'";
    EXPECT_EQ(*db->QueryInt(sql.c_str()), 1) << table;
  }
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'spans' AND "
                          "sql LIKE '%WITHOUT ROWID%'"),
            1);
  // Idempotent: a second Migrate applies nothing.
  ASSERT_TRUE(Migrate(*db).ok());
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM schema_version"), SchemaVersion());
}

TEST(SchemaTest, RefusesADatabaseNewerThanTheCode) {
  Result<Db> db = Db::Open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("PRAGMA user_version = 99").ok());
  Status s = Migrate(*db);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "database schema version 99 is newer than this hero_logic (knows up to " +
                             std::to_string(SchemaVersion()) + ")");
}

TEST(SchemaTest, AFailingStepLeavesThePreviousSchema) {
  const Migration steps[] = {
      {1,
       "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_us INTEGER);"
       "CREATE TABLE a (x INTEGER);"},
      {2, "CREATE TABLE b (x INTEGER); THIS IS NOT SQL;"},
  };
  Result<Db> db = Db::Open(":memory:");
  ASSERT_TRUE(db.ok());
  Status s = Migrate(*db, steps);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("migration to schema version 2"), std::string::npos) << s.message();
  EXPECT_EQ(*db->QueryInt("PRAGMA user_version"), 1);
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'a'"), 1);
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'b'"), 0);
  EXPECT_FALSE(db->in_transaction());
}

}  // namespace
}  // namespace hero::store
