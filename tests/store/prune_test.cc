// Store::PruneRuns (retention) integration tests: a real SQLite file, the real
// store thread, and a second plain sqlite3 connection to check what is left.
// Each test ends by destroying the Store and asserting no connection is left
// open.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/store/sqlite_db.h"
#include "supervisor/store/store.h"

namespace hero::store {
namespace {

class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~RawDb() { EXPECT_EQ(sqlite3_close(db_), SQLITE_OK); }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  }

 private:
  sqlite3* db_ = nullptr;
};

SpanRow Span(int64_t seq) {
  SpanRow s;
  s.seq = SpanSeq{seq};
  s.span_id = std::to_string(seq + 1);
  s.parent_id = seq == 0 ? "" : "1";
  s.name = "step" + std::to_string(seq);
  s.kind = seq == 0 ? "flow_root" : "step";
  s.status = "ok";
  s.start_us = 100;
  s.end_us = 110;
  return s;
}

class StorePruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "prune_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/hero.db";
    Store::Options o;
    o.path = path_;
    Result<std::unique_ptr<Store>> s = Store::Open(std::move(o));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    EXPECT_EQ(LiveSqliteConnections(), 0);
    std::filesystem::remove_all(dir_);
  }

  // A run with `spans` spans and `logs` log lines of `log_bytes` each
  // (committed).
  RunId Make(RunStatus status, int64_t ended_us, int spans = 2, int logs = 2,
             size_t log_bytes = 16) {
    RunRecord r;
    r.flow_name = "f";
    r.status = status;
    r.ended_us = ended_us;
    Result<RunId> id = store_->CreateRunSync(r);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    for (int i = 0; i < spans; ++i) store_->PutSpan(*id, Span(i));
    for (int i = 0; i < logs; ++i) {
      store_->PutLog(*id, LogRow{SpanSeq{0}, 1, "stdout", std::string(log_bytes, 'a' + i % 26)});
    }
    EXPECT_TRUE(store_->FlushSync().ok());
    return *id;
  }
  bool Exists(RunId id) { return store_->GetRunSync(id).ok(); }
  static std::vector<int64_t> Values(const std::vector<RunId>& ids) {
    std::vector<int64_t> v;
    for (RunId id : ids) v.push_back(id.value);
    return v;
  }

  std::string dir_, path_;
  std::unique_ptr<Store> store_;
};

TEST_F(StorePruneTest, AgeDeletesTerminalRunsThatEndedBeforeTheCutoff) {
  RunId old_ok = Make(RunStatus::kOk, 100);
  RunId old_failed = Make(RunStatus::kFailed, 200);
  RunId running = Make(RunStatus::kRunning, 50);  // an odd ended_us must not matter
  RunId queued = Make(RunStatus::kQueued, 0);
  RunId fresh = Make(RunStatus::kOk, 5000);
  RunId old_interrupted = Make(RunStatus::kInterrupted, 999);

  PruneOptions o;
  o.older_than_us = 1000;
  Result<PruneResult> r = store_->PruneRunsSync(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->error.ok());
  EXPECT_EQ(r->runs_deleted, 3);
  EXPECT_EQ(Values(r->ids),
            (std::vector<int64_t>{old_ok.value, old_failed.value, old_interrupted.value}));
  EXPECT_GT(r->bytes_before, 0);
  EXPECT_LE(r->bytes_after, r->bytes_before);
  EXPECT_FALSE(Exists(old_ok));
  EXPECT_FALSE(Exists(old_failed));
  EXPECT_FALSE(Exists(old_interrupted));
  EXPECT_TRUE(Exists(running));
  EXPECT_TRUE(Exists(queued));
  EXPECT_TRUE(Exists(fresh));

  // A second pass finds nothing.
  r = store_->PruneRunsSync(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->runs_deleted, 0);
}

TEST_F(StorePruneTest, SpansAndLogsOfDeletedRunsGoOtherRunsKeepTheirs) {
  RunId gone = Make(RunStatus::kOk, 100, /*spans=*/3, /*logs=*/4);
  RunId kept = Make(RunStatus::kOk, 5000, /*spans=*/5, /*logs=*/6);
  RunId active = Make(RunStatus::kRunning, 0, /*spans=*/7, /*logs=*/8);
  FlowVersion v;
  v.source = "x = 1\n";
  ASSERT_TRUE(store_->CreateFlowSync("lib", v).ok());
  ExampleRecord e;
  e.flow_name = "lib";
  e.name = "preset";
  ASSERT_TRUE(store_->CreateExampleSync(e).ok());

  PruneOptions o;
  o.older_than_us = 1000;
  Result<PruneResult> r = store_->PruneRunsSync(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Values(r->ids), std::vector<int64_t>{gone.value});

  RawDb raw(path_);
  auto count = [&](const char* table, RunId id) {
    return raw.Int(std::string("SELECT COUNT(*) FROM ") + table +
                   " WHERE run_id = " + std::to_string(id.value));
  };
  EXPECT_EQ(count("spans", gone), 0);
  EXPECT_EQ(count("span_logs", gone), 0);
  EXPECT_EQ(count("spans", kept), 5);
  EXPECT_EQ(count("span_logs", kept), 6);
  EXPECT_EQ(count("spans", active), 7);
  EXPECT_EQ(count("span_logs", active), 8);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM flows"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM examples"), 1);
  ASSERT_TRUE(store_->GetFlowSync("lib").ok());
}

TEST_F(StorePruneTest, SizeDeletesTheOldestUntilTheDatabaseFits) {
  std::vector<RunId> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(Make(RunStatus::kOk, 1000 + i, 2, 2, 10'000));
  RunId running = Make(RunStatus::kRunning, 0, 2, 2, 10'000);

  PruneOptions o;
  o.max_bytes = 1 << 20;
  Result<PruneResult> r = store_->PruneRunsSync(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->bytes_before, 2 << 20);
  EXPECT_LE(r->bytes_after, o.max_bytes);
  // About 20 KB per run: roughly half must go, and not (nearly) all of them.
  EXPECT_GE(r->runs_deleted, 40);
  EXPECT_LE(r->runs_deleted, 70);
  // Oldest first: the deleted ids are exactly the lowest ones.
  std::vector<int64_t> expect;
  for (int64_t i = 0; i < r->runs_deleted; ++i) expect.push_back(ids[i].value);
  EXPECT_EQ(Values(r->ids), expect);
  for (int64_t i = r->runs_deleted; i < 100; ++i) EXPECT_TRUE(Exists(ids[i])) << i;
  EXPECT_TRUE(Exists(running));
}

TEST_F(StorePruneTest, SizePressureNeverDeletesQueuedRunningOrKeptRuns) {
  RunId queued = Make(RunStatus::kQueued, 0, 1, 2, 5'000);
  RunId running = Make(RunStatus::kRunning, 0, 1, 2, 5'000);
  RunId finishing = Make(RunStatus::kOk, 10, 1, 2,
                         5'000);  // terminal, but the caller keeps it
  RunId done1 = Make(RunStatus::kOk, 10, 1, 2, 5'000);
  RunId done2 = Make(RunStatus::kCancelled, 10, 1, 2, 5'000);

  PruneOptions o;
  o.older_than_us = 1'000'000;
  o.max_bytes = 1;  // cannot be met: everything deletable goes
  o.keep = {finishing};
  Result<PruneResult> r = store_->PruneRunsSync(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Values(r->ids), (std::vector<int64_t>{done1.value, done2.value}));
  EXPECT_TRUE(Exists(queued));
  EXPECT_TRUE(Exists(running));
  EXPECT_TRUE(Exists(finishing));
  Result<std::vector<LogRow>> logs = store_->GetLogsSync(running);
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(logs->size(), 2u);
}

TEST_F(StorePruneTest, SmallBatchesDeleteEverythingDue) {
  for (int i = 0; i < 23; ++i) Make(RunStatus::kOk, 10, 1, 1);
  RunId fresh = Make(RunStatus::kOk, 5000);
  PruneOptions o;
  o.older_than_us = 1000;
  o.batch = 4;
  Result<PruneResult> r = store_->PruneRunsSync(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->runs_deleted, 23);
  EXPECT_TRUE(std::is_sorted(r->ids.begin(), r->ids.end(),
                             [](RunId a, RunId b) { return a.value < b.value; }));
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM runs"), 1);
  EXPECT_TRUE(Exists(fresh));
}

TEST_F(StorePruneTest, InterleavesWithSpansOfAnActiveRunWithoutLosingRows) {
  for (int i = 0; i < 600; ++i) Make(RunStatus::kOk, 10, 3, 3, 200);
  RunId live = Make(RunStatus::kRunning, 0, 0, 0);

  PruneOptions o;
  o.older_than_us = 1000;
  o.batch = 5;  // ~120 transactions
  bool prune_done = false;
  bool flush_before_prune = false;
  Result<PruneResult> result = Internal("not answered");
  store_->PruneRuns(o, [&](Result<PruneResult> r) {
    prune_done = true;
    result = std::move(r);
  });
  // Submitted after the prune: it is served between two of its batches, not
  // after all.
  store_->PutSpan(live, Span(0));
  store_->Flush([&](Status s) {
    EXPECT_TRUE(s.ok());
    flush_before_prune = !prune_done;
  });
  int64_t seq = 1, logs = 0;
  while (!prune_done) {
    // A live run's pace, with the backpressure core applies (no row may be
    // dropped).
    if (store_->pending_rows() < 1000) {
      store_->PutSpan(live, Span(seq++));
      store_->PutLog(live, LogRow{SpanSeq{0}, seq, "stdout", "line"});
      ++logs;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    store_->DrainCompletions();
  }
  ASSERT_TRUE(store_->FlushSync().ok());
  EXPECT_TRUE(flush_before_prune);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->runs_deleted, 600);
  EXPECT_EQ(store_->dropped_rows(), 0);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM spans WHERE run_id = " + std::to_string(live.value)),
            seq);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM span_logs WHERE run_id = " + std::to_string(live.value)),
            logs);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM runs"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM spans WHERE run_id <> " + std::to_string(live.value)), 0);
}

TEST_F(StorePruneTest, NoLimitsDeleteNothing) {
  RunId a = Make(RunStatus::kOk, 10);
  Result<PruneResult> r = store_->PruneRunsSync(PruneOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->runs_deleted, 0);
  EXPECT_EQ(r->bytes_before, r->bytes_after);
  EXPECT_TRUE(Exists(a));
}

TEST_F(StorePruneTest, PruneStillQueuedAtDestructionIsAnswered) {
  for (int i = 0; i < 50; ++i) Make(RunStatus::kOk, 10, 1, 1);
  bool answered = false;
  PruneOptions o;
  o.older_than_us = 1000;
  o.batch = 1;
  store_->PruneRuns(o, [&](Result<PruneResult> r) {
    answered = true;
    EXPECT_TRUE(r.ok());
  });
  store_.reset();  // the destructor runs the pending callbacks
  EXPECT_TRUE(answered);
}

}  // namespace
}  // namespace hero::store
