// Store integration tests: a real SQLite file in a temp dir, the real store thread, and a
// second plain sqlite3 connection to check what is durable. Each test ends by destroying the
// Store and asserting no connection is left open (the destructor CHECKs sqlite3_close).
#include "supervisor/store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "supervisor/store/schema.h"
#include "supervisor/store/sqlite_db.h"
#include "tests/store/faulty_vfs.h"

namespace hero::store {
namespace {

using namespace std::chrono_literals;

// A second, independent connection: what any other process would see.
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
  void Exec(const std::string& sql) {
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Polls `pred` until it holds or 2 s pass.
template <typename Pred>
bool Eventually(Pred pred) {
  auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

RunRecord FullRun(const std::string& flow) {
  RunRecord r;
  r.flow_name = flow;
  r.flow_version = 3;
  r.parent_run = RunId{41};
  r.parent_span = "7";
  r.input_json = R"({"url":"http://x"})";
  r.output_json = R"({"n":1})";
  r.status = RunStatus::kKilled;
  r.reason = "memory limit 512 MiB exceeded";
  r.exit_code = 137;
  r.signal = 9;
  r.profile = "untrusted";
  r.network = true;
  r.source_path = "/flows/a.py";
  r.workdir = "/var/lib/hero/runs/1";
  r.created_us = 1'700'000'000'000'001;
  r.started_us = 1'700'000'000'000'002;
  r.ended_us = 1'700'000'000'000'003;
  r.cpu_us = 4;
  r.peak_rss_kb = 5;
  r.span_count = 6;
  r.malformed_lines = 7;
  r.unknown_type_lines = 8;
  r.oversize_lines = 9;
  r.orphan_events = 10;
  r.dropped_spans = 11;
  r.dropped_log_bytes = 12;
  r.dropped_tag_events = 13;
  r.dropped_output_bytes = 14;
  r.diagnostics_json = R"(["line 3: not JSON"])";
  r.stdout_tail = "out\n";
  r.stderr_tail = std::string("err\0with nul", 12);
  r.run_uid = 200123;
  return r;
}

SpanRow Span(int64_t seq, const std::string& status, int64_t start_us = 100) {
  SpanRow s;
  s.seq = SpanSeq{seq};
  s.span_id = std::to_string(seq + 1);
  s.parent_id = seq == 0 ? "" : "1";
  s.name = "step" + std::to_string(seq);
  s.kind = seq == 0 ? "flow_root" : "step";
  s.status = status;
  s.start_us = start_us;
  s.end_us = status == "running" ? 0 : start_us + 10;
  return s;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/hero.db";
  }
  void TearDown() override {
    store_.reset();
    EXPECT_EQ(LiveSqliteConnections(), 0);
    std::filesystem::remove_all(dir_);
  }

  Store::Options Opts() {
    Store::Options o;
    o.path = path_;
    o.wake = [this] { wakes_.fetch_add(1); };
    return o;
  }
  void OpenStore(Store::Options o) {
    Result<std::unique_ptr<Store>> s = Store::Open(std::move(o));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void OpenStore() { OpenStore(Opts()); }
  RunId Create(RunRecord r) {
    Result<RunId> id = store_->CreateRunSync(std::move(r));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : RunId{};
  }

  std::string dir_, path_;
  std::atomic<int> wakes_{0};
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, EveryRunFieldRoundTrips) {
  OpenStore();
  RunRecord rec = FullRun("summarize");
  RunId id = Create(rec);
  ASSERT_TRUE(id.valid());
  rec.id = id;
  Result<RunRecord> got = store_->GetRunSync(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, rec);

  // Full-row replace.
  RunRecord upd = rec;
  upd.status = RunStatus::kOk;
  upd.reason = "";
  upd.output_json = "";
  upd.network = false;
  upd.parent_run = RunId{};
  upd.span_count = 1234;
  ASSERT_TRUE(store_->UpdateRunSync(upd).ok());
  got = store_->GetRunSync(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, upd);
}

TEST_F(StoreTest, UnknownRunIsNotFound) {
  OpenStore();
  EXPECT_EQ(store_->GetRunSync(RunId{99}).status().code(), StatusCode::kNotFound);
  RunRecord r = FullRun("x");
  r.id = RunId{99};
  EXPECT_EQ(store_->UpdateRunSync(r).code(), StatusCode::kNotFound);
  Result<std::vector<SpanRow>> spans = store_->GetSpansSync(RunId{99});
  ASSERT_TRUE(spans.ok());
  EXPECT_TRUE(spans->empty());
}

TEST_F(StoreTest, CallbacksRunInDrainCompletionsAfterWake) {
  OpenStore();
  bool called = false;
  RunId got;
  store_->CreateRun(FullRun("a"), [&](Result<RunId> id) {
    ASSERT_TRUE(id.ok());
    got = *id;
    called = true;
  });
  ASSERT_TRUE(Eventually([&] { return wakes_.load() > 0; }));
  EXPECT_FALSE(called);  // only the owner's DrainCompletions runs callbacks
  ASSERT_TRUE(Eventually([&] {
    store_->DrainCompletions();
    return called;
  }));
  EXPECT_EQ(got, RunId{1});
}

TEST_F(StoreTest, ListRunsFiltersNewestFirstWithCursor) {
  OpenStore();
  // ids 1..10; even ids are "etl" and ok, odd ids are "report" and failed.
  for (int i = 1; i <= 10; ++i) {
    RunRecord r = FullRun(i % 2 ? "report" : "etl");
    r.status = i % 2 ? RunStatus::kFailed : RunStatus::kOk;
    r.created_us = i * 1000;
    r.reason = i == 3 ? "exit code 1: 100%_done" : "fine";
    ASSERT_EQ(Create(r), RunId{i});
  }
  auto ids = [&](RunFilter f) {
    std::vector<int64_t> out;
    Result<std::vector<RunRecord>> runs = store_->ListRunsSync(std::move(f));
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    if (runs.ok()) {
      for (const RunRecord& r : *runs) out.push_back(r.id.value);
    }
    return out;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(ids({}), (V{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(ids({.status = RunStatus::kFailed}), (V{9, 7, 5, 3, 1}));
  EXPECT_EQ(ids({.status = RunStatus::kRunning}), V{});
  EXPECT_EQ(ids({.flow = "etl"}), (V{10, 8, 6, 4, 2}));
  EXPECT_EQ(ids({.since_us = 4000, .until_us = 7000}), (V{6, 5, 4}));
  EXPECT_EQ(ids({.text = "REP"}), (V{9, 7, 5, 3, 1}));  // flow name, case-insensitive
  EXPECT_EQ(ids({.text = "%_"}), (V{3}));               // reason; wildcards are literal
  EXPECT_EQ(ids({.text = "_"}), (V{3}));
  EXPECT_EQ(ids({.status = RunStatus::kOk, .flow = "etl", .since_us = 3000}), (V{10, 8, 6, 4}));

  // Cursor pagination: pages of 3 cover every run once.
  V all;
  int64_t cursor = 0;
  for (int page = 0; page < 10; ++page) {
    V got = ids({.before_id = cursor, .limit = 3});
    if (got.empty()) break;
    EXPECT_LE(got.size(), 3u);
    all.insert(all.end(), got.begin(), got.end());
    cursor = got.back();
  }
  EXPECT_EQ(all, (V{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
}

TEST_F(StoreTest, GetSpansHeadBoundsTheReadButKeepsLaterFailures) {
  OpenStore();
  RunId run = Create(FullRun("a"));
  for (int64_t seq = 0; seq < 5000; ++seq) {
    store_->PutSpan(run, Span(seq, seq % 1000 == 999 ? "failed" : "ok"));
  }
  ASSERT_TRUE(store_->FlushSync().ok());
  Result<std::vector<SpanRow>> head = store_->GetSpansHeadSync(run, 100);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  ASSERT_EQ(head->size(), 105u);  // seq 0..99, then the failures 999, 1999, ..., 4999
  EXPECT_EQ((*head)[99].seq.value, 99);
  EXPECT_EQ((*head)[100].seq.value, 999);
  EXPECT_EQ((*head)[104].seq.value, 4999);
  EXPECT_EQ(store_->GetSpansSync(run)->size(), 5000u);
}

TEST_F(StoreTest, GetSpansHeadCountsRowsNotSeqNumbers) {
  // Seqs need not be dense (a store shared by other writers, a row replaced): the head is the
  // first max_rows rows in seq order, not the rows whose seq is below max_rows.
  OpenStore();
  RunId run = Create(FullRun("a"));
  for (int64_t i = 0; i < 500; ++i) {
    store_->PutSpan(run, Span(1000 + 3 * i, i == 400 ? "failed" : "ok"));
  }
  ASSERT_TRUE(store_->FlushSync().ok());
  Result<std::vector<SpanRow>> head = store_->GetSpansHeadSync(run, 100);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  ASSERT_EQ(head->size(), 101u);  // the first 100 rows, then the failure
  EXPECT_EQ((*head)[0].seq.value, 1000);
  EXPECT_EQ((*head)[99].seq.value, 1000 + 3 * 99);
  EXPECT_EQ((*head)[100].seq.value, 1000 + 3 * 400);
  // Fewer rows than max_rows: all of them.
  EXPECT_EQ(store_->GetSpansHeadSync(run, 10'000)->size(), 500u);
}

TEST_F(StoreTest, ABigSpanReadYieldsToLaterWritesBetweenChunks) {
  OpenStore();
  RunId big = Create(FullRun("big"));
  for (int64_t seq = 0; seq < 100'000; ++seq) {
    store_->PutSpan(big, Span(seq, "ok"));
    if (seq % 20'000 == 19'999) {
      ASSERT_TRUE(store_->FlushSync().ok());  // stay under max_pending_rows
    }
  }
  RunId other = Create(FullRun("other"));
  std::vector<std::string> order;
  size_t read = 0;
  store_->GetSpans(big, [&](Result<std::vector<SpanRow>> r) {
    ASSERT_TRUE(r.ok());
    read = r->size();
    order.push_back("read");
  });
  store_->PutSpan(other, Span(0, "ok"));  // submitted after the read started
  store_->Flush([&](Status s) {
    EXPECT_TRUE(s.ok());
    order.push_back("flush");
  });
  EXPECT_EQ(store_->GetSpansSync(other)->size(), 1u);  // served before the big read ends
  EXPECT_EQ(read, 0u);
  EXPECT_EQ(store_->GetSpansSync(big)->size(), 100'000u);  // queued behind the first read
  EXPECT_EQ(read, 100'000u);
  // The read is five chunks: the flush (and its commit) ran between them, not after all.
  EXPECT_EQ(order, (std::vector<std::string>{"flush", "read"}));
}

TEST_F(StoreTest, SpansAreInsertOrReplaceBySeq) {
  OpenStore();
  RunId run = Create(FullRun("a"));
  store_->PutSpan(run, Span(1, "running"));
  store_->PutSpan(run, Span(0, "running"));
  ASSERT_TRUE(store_->FlushSync().ok());
  SpanRow done = Span(1, "failed");
  done.error = "boom";
  done.error_type = "ValueError";
  done.traceback = "Traceback...";
  done.tags_json = R"({"k":1})";
  done.file = "flow.py";
  done.line = 12;
  done.rpc_service = "svc";
  done.rpc_method = "m";
  done.cpu_us = 5;
  done.rss_kb = 6;
  done.child_run_id = 7;
  done.orphan = true;
  store_->PutSpan(run, done);
  store_->PutSpan(RunId{run.value + 1}, Span(1, "ok"));  // another run: its own key space
  ASSERT_TRUE(store_->FlushSync().ok());

  Result<std::vector<SpanRow>> spans = store_->GetSpansSync(run);
  ASSERT_TRUE(spans.ok());
  ASSERT_EQ(spans->size(), 2u);
  EXPECT_EQ((*spans)[0], Span(0, "running"));
  EXPECT_EQ((*spans)[1], done);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM spans"), 3);
}

TEST_F(StoreTest, PutsOfOneSpanInOneBatchAreWrittenOnce) {
  Store::Options o = Opts();
  o.commit_interval = 10s;  // nothing commits until the Flush
  o.commit_rows = 100'000;
  OpenStore(o);
  RunId run = Create(FullRun("a"));
  // Count physical inserts into `spans` with a trigger.
  ASSERT_TRUE(store_
                  ->ExecForTesting("CREATE TABLE span_writes (n INTEGER);"
                                   "INSERT INTO span_writes VALUES (0);"
                                   "CREATE TRIGGER count_span_writes AFTER INSERT ON spans "
                                   "BEGIN UPDATE span_writes SET n = n + 1; END;")
                  .ok());
  for (int i = 0; i < 5; ++i) {
    SpanRow s = Span(0, i < 4 ? "running" : "ok");
    s.name = "v" + std::to_string(i);
    store_->PutSpan(run, s);
  }
  store_->PutSpan(run, Span(1, "running"));
  EXPECT_EQ(store_->pending_rows(), 6u);
  ASSERT_TRUE(store_->FlushSync().ok());
  EXPECT_EQ(store_->pending_rows(), 0u);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT n FROM span_writes"), 2);
  Result<std::vector<SpanRow>> spans = store_->GetSpansSync(run);
  ASSERT_TRUE(spans.ok());
  ASSERT_EQ(spans->size(), 2u);
  EXPECT_EQ((*spans)[0].name, "v4");
  EXPECT_EQ((*spans)[0].status, "ok");
}

TEST_F(StoreTest, LogsKeepOrderAndFilterBySpan) {
  OpenStore();
  RunId run = Create(FullRun("a"));
  RunId other = Create(FullRun("b"));
  for (int i = 0; i < 10; ++i) {
    store_->PutLog(run, LogRow{SpanSeq{i % 3}, 1000 + i, i % 2 ? "stderr" : "stdout",
                               "line " + std::to_string(i) + "\n"});
  }
  store_->PutLog(other, LogRow{SpanSeq{0}, 1, "log", "other"});
  Result<std::vector<LogRow>> all = store_->GetLogsSync(run);  // sees unflushed writes
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ((*all)[i].text, "line " + std::to_string(i) + "\n");
    EXPECT_EQ((*all)[i].ts_us, 1000 + i);
    EXPECT_EQ((*all)[i].span_seq, SpanSeq{i % 3});
  }
  Result<std::vector<LogRow>> one = store_->GetLogsSync(run, SpanSeq{1});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 3u);
  EXPECT_EQ((*one)[0].text, "line 1\n");
  EXPECT_EQ((*one)[1].text, "line 4\n");
  EXPECT_EQ((*one)[2].text, "line 7\n");
  EXPECT_EQ((*one)[1].stream, "stdout");

  // A new process continues the run's log sequence after what is committed.
  store_.reset();
  OpenStore();
  store_->PutLog(run, LogRow{SpanSeq{0}, 2000, "log", "after restart"});
  all = store_->GetLogsSync(run);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 11u);
  EXPECT_EQ(all->back().text, "after restart");
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT MAX(seq) FROM span_logs WHERE run_id = 1"), 10);
}

TEST_F(StoreTest, FlushMakesEverythingVisibleToAnotherConnection) {
  Store::Options o = Opts();
  o.commit_interval = 10s;
  o.commit_rows = 100'000;
  OpenStore(o);
  RunId run = Create(FullRun("a"));
  for (int i = 0; i < 2500; ++i) store_->PutSpan(run, Span(i, "ok"));
  for (int i = 0; i < 1500; ++i) store_->PutLog(run, LogRow{SpanSeq{i}, i, "log", "x"});
  ASSERT_TRUE(store_->FlushSync().ok());
  EXPECT_EQ(store_->pending_rows(), 0u);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM spans"), 2500);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM span_logs"), 1500);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM runs"), 1);
}

TEST_F(StoreTest, RowsCommitWithoutFlushWithinTheInterval) {
  OpenStore();  // defaults: 50 ms / 1,000 rows
  RunId run = Create(FullRun("a"));
  for (int i = 0; i < 10; ++i) store_->PutSpan(run, Span(i, "running"));
  RawDb raw(path_);
  EXPECT_TRUE(Eventually([&] { return raw.Int("SELECT COUNT(*) FROM spans") == 10; }));
  EXPECT_TRUE(Eventually([&] { return store_->pending_rows() == 0; }));
  // And a full group of rows commits without waiting for the interval either.
  for (int i = 0; i < 3000; ++i) store_->PutLog(run, LogRow{SpanSeq{0}, i, "log", "y"});
  EXPECT_TRUE(Eventually([&] { return raw.Int("SELECT COUNT(*) FROM span_logs") == 3000; }));
}

TEST_F(StoreTest, RecoverInterruptedClosesRunsAndTheirOpenSpans) {
  OpenStore();
  RunRecord running = FullRun("a");
  running.status = RunStatus::kRunning;
  running.ended_us = 0;
  RunRecord queued = running;
  queued.status = RunStatus::kQueued;
  RunRecord finished = running;
  finished.status = RunStatus::kOk;
  finished.ended_us = 77;
  RunId r1 = Create(running), r2 = Create(queued), r3 = Create(finished);
  store_->PutSpan(r1, Span(0, "running", 100));
  store_->PutSpan(r1, Span(1, "ok", 100));
  store_->PutSpan(r1, Span(2, "running", 9000));  // started "after" now: end clamps to start
  store_->PutSpan(r3, Span(0, "running", 100));   // not ours to fix: its run is terminal
  ASSERT_TRUE(store_->FlushSync().ok());
  store_.reset();

  OpenStore();
  Result<int> marked = store_->RecoverInterrupted(5000);
  ASSERT_TRUE(marked.ok()) << marked.status().ToString();
  EXPECT_EQ(*marked, 2);
  for (RunId id : {r1, r2}) {
    Result<RunRecord> r = store_->GetRunSync(id);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, RunStatus::kInterrupted);
    EXPECT_EQ(r->reason, "supervisor stopped while the run was running");
    EXPECT_EQ(r->ended_us, 5000);
  }
  EXPECT_EQ(store_->GetRunSync(r3)->status, RunStatus::kOk);
  EXPECT_EQ(store_->GetRunSync(r3)->ended_us, 77);

  Result<std::vector<SpanRow>> spans = store_->GetSpansSync(r1);
  ASSERT_TRUE(spans.ok());
  ASSERT_EQ(spans->size(), 3u);
  EXPECT_EQ((*spans)[0].status, "failed");
  EXPECT_EQ((*spans)[0].error, "supervisor stopped before the span ended");
  EXPECT_EQ((*spans)[0].end_us, 5000);
  EXPECT_EQ((*spans)[1], Span(1, "ok", 100));
  EXPECT_EQ((*spans)[2].status, "failed");
  EXPECT_EQ((*spans)[2].end_us, 9000);
  EXPECT_EQ(store_->GetSpansSync(r3)->at(0).status, "running");

  // Nothing left to recover the second time.
  EXPECT_EQ(*store_->RecoverInterrupted(6000), 0);
}

TEST_F(StoreTest, OpenCreatesAndMigratesANewFile) {
  OpenStore();
  store_.reset();
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), SchemaVersion());
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM schema_version"), SchemaVersion());
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND "
                    "name IN ('runs_by_status', 'runs_by_flow', 'runs_by_created')"),
            3);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'span_logs' AND "
                    "sql LIKE '%WITHOUT ROWID%'"),
            1);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
    sqlite3_finalize(st);
    EXPECT_EQ(sqlite3_close(db), SQLITE_OK);
  }
  // Reopening an up-to-date database changes nothing.
  OpenStore();
  store_.reset();
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM schema_version"), SchemaVersion());
}

TEST_F(StoreTest, RefusesANewerSchemaVersion) {
  {
    RawDb raw(path_);
    raw.Exec("PRAGMA user_version = 42");
  }
  Result<std::unique_ptr<Store>> s = Store::Open(Opts());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("database schema version 42 is newer than this "
                                      "hero_logic (knows up to " +
                                      std::to_string(SchemaVersion()) + ")"),
            std::string::npos)
      << s.status().message();
}

TEST_F(StoreTest, OpenFailsCleanlyForAnUnopenablePath) {
  Store::Options o = Opts();
  o.path = dir_ + "/missing/dir/hero.db";
  Result<std::unique_ptr<Store>> s = Store::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("hero.db"), std::string::npos) << s.status().message();
}

// A full disk, made deterministic: max_page_count caps the file at its current size, so the
// next page allocation fails with SQLITE_FULL exactly as ENOSPC would.
TEST_F(StoreTest, WriteErrorsKeepRowsQueuedAndRecover) {
  Store::Options o = Opts();
  o.max_pending_rows = 300;
  OpenStore(o);
  RunRecord rec = FullRun("a");
  rec.status = RunStatus::kRunning;
  RunId run = Create(rec);
  ASSERT_TRUE(store_->ExecForTesting("PRAGMA max_page_count = 1").ok());

  const std::string big(2000, 'x');
  for (int i = 0; i < 200; ++i) {
    SpanRow s = Span(i, "ok");
    s.traceback = big;
    store_->PutSpan(run, s);
  }
  Status flushed = store_->FlushSync();
  EXPECT_EQ(flushed.code(), StatusCode::kResourceExhausted) << flushed.ToString();
  EXPECT_FALSE(store_->healthy());
  EXPECT_EQ(store_->last_error().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(store_->pending_rows(), 200u);

  // A new run cannot be created while the disk is full; its caller hears about it.
  Result<RunId> created = store_->CreateRunSync(FullRun("b"));
  EXPECT_EQ(created.status().code(), StatusCode::kResourceExhausted);
  // A terminal update fails now but stays queued.
  rec.id = run;
  rec.status = RunStatus::kOk;
  EXPECT_FALSE(store_->UpdateRunSync(rec).ok());
  EXPECT_EQ(store_->pending_rows(), 201u);

  // Past max_pending_rows rows are refused and counted, never silently lost.
  for (int i = 200; i < 400; ++i) store_->PutLog(run, LogRow{SpanSeq{0}, i, "log", big});
  EXPECT_EQ(store_->pending_rows(), 300u);
  EXPECT_EQ(store_->dropped_rows(), 101);

  // Space comes back: the queued rows commit on their own (retry with backoff).
  ASSERT_TRUE(store_->ExecForTesting("PRAGMA max_page_count = 1073741823").ok());
  EXPECT_TRUE(Eventually([&] { return store_->healthy() && store_->pending_rows() == 0; }));
  EXPECT_TRUE(store_->last_error().ok());
  ASSERT_TRUE(store_->FlushSync().ok());
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM spans"), 200);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM span_logs"), 99);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM runs"), 1);
  EXPECT_EQ(store_->GetRunSync(run)->status, RunStatus::kOk);
}

// EIO from a failing disk (this host has no device-mapper for a dm-error device): every
// SQLite write fails with SQLITE_IOERR_WRITE while the fault is on. Rows stay queued, the
// store says it is unhealthy and why, nothing is dropped, and it recovers by itself.
TEST_F(StoreTest, IoErrorsOnWriteKeepRowsQueuedAndRecover) {
  testing::FaultyVfs::Install();  // before the store opens its connection
  OpenStore();
  RunRecord rec = FullRun("a");
  rec.status = RunStatus::kRunning;
  RunId run = Create(rec);
  for (int i = 0; i < 100; ++i) store_->PutSpan(run, Span(i, "ok"));
  ASSERT_TRUE(store_->FlushSync().ok());

  testing::FaultyVfs::fail_writes = true;
  for (int i = 100; i < 200; ++i) store_->PutSpan(run, Span(i, "ok"));
  Status flushed = store_->FlushSync();
  EXPECT_FALSE(flushed.ok());
  EXPECT_GT(testing::FaultyVfs::failed_writes.load(), 0);
  EXPECT_FALSE(store_->healthy());
  EXPECT_FALSE(store_->last_error().ok());
  EXPECT_NE(store_->last_error().message().find("disk I/O error"), std::string::npos)
      << store_->last_error().ToString();
  EXPECT_EQ(store_->pending_rows(), 100u);
  EXPECT_EQ(store_->dropped_rows(), 0);

  testing::FaultyVfs::fail_writes = false;
  EXPECT_TRUE(Eventually([&] { return store_->healthy() && store_->pending_rows() == 0; }));
  ASSERT_TRUE(store_->FlushSync().ok());
  store_.reset();
  testing::FaultyVfs::Uninstall();
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM spans"), 200);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
}

TEST_F(StoreTest, DestructorCommitsPendingRows) {
  Store::Options o = Opts();
  o.commit_interval = 10s;
  o.commit_rows = 1'000'000;
  o.max_pending_rows = 1'000'000;
  OpenStore(o);
  RunId run = Create(FullRun("a"));
  for (int i = 0; i < 5000; ++i) store_->PutSpan(run, Span(i, "ok"));
  for (int i = 0; i < 5000; ++i) store_->PutLog(run, LogRow{SpanSeq{i}, i, "stdout", "z"});
  bool flushed = false;
  store_->Flush([&](Status s) { flushed = s.ok(); });
  store_.reset();  // runs the pending Flush callback on this thread
  EXPECT_TRUE(flushed);
  EXPECT_EQ(LiveSqliteConnections(), 0);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM spans"), 5000);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM span_logs"), 5000);
}

TEST_F(StoreTest, ConcurrentOwnersAreSerializedByTheQueue) {
  // pending_rows()/healthy() are read from another thread while the owner writes.
  OpenStore();
  RunId run = Create(FullRun("a"));
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      (void)store_->pending_rows();
      (void)store_->healthy();
      (void)store_->last_error();
    }
  });
  for (int i = 0; i < 20'000; ++i) {
    while (store_->pending_rows() > 10'000) std::this_thread::yield();
    store_->PutSpan(run, Span(i, "ok"));
  }
  ASSERT_TRUE(store_->FlushSync().ok());
  done.store(true);
  watcher.join();
  EXPECT_EQ(store_->dropped_rows(), 0);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM spans"), 20'000);
}

}  // namespace
}  // namespace hero::store
