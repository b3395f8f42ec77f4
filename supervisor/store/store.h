// Store: the run/span/log database. One store thread owns the only SQLite connection; the
// owner thread (core's loop thread, or a CLI's main thread) submits work through one queue
// and receives callbacks in DrainCompletions(). Depends on base + sqlite3 + pthreads only
// (no libuv: the owner passes `wake`, which core wires to uv_async_send).
//
// Durability: every write is committed in a WAL transaction with synchronous=NORMAL. Once a
// callback reports success (CreateRun, UpdateRun, Flush), the data survives a crash of the
// supervisor process. The last transactions before a power loss or kernel crash may be lost
// (NORMAL does not fsync the WAL on every commit, only at checkpoints); the database is never
// corrupted by either. Span and log rows are group-committed: they become durable within
// commit_interval (50 ms) or commit_rows (1,000) of being submitted, or at the next Flush.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "supervisor/base/ids.h"
#include "supervisor/base/result.h"
#include "supervisor/base/status.h"
#include "supervisor/store/records.h"

namespace hero::store {

class StoreThread;  // store.cc: the state only the store thread touches

class Store {
 public:
  struct Options {
    std::string path;  // database file (created if missing); ":memory:" for a private db
    // Called on the store thread when callbacks are ready for DrainCompletions(), and after
    // each commit (so the owner can re-check pending_rows() to release backpressure). Must be
    // cheap and thread-safe (uv_async_send). May be empty (Sync calls do not need it).
    std::function<void()> wake;
    std::chrono::milliseconds commit_interval{50};  // commit at most this long after a row
    size_t commit_rows = 1000;                      // ... or once this many rows are batched
    size_t max_pending_rows = 50'000;  // PutSpan/PutLog beyond this are dropped and counted
  };

  // Opens or creates the database, applies pragmas and migrations, starts the store thread.
  // Errors: kFailedPrecondition for a newer schema or no WAL; kIo/kPermissionDenied/... from
  // SQLite for a file that cannot be opened.
  static Result<std::unique_ptr<Store>> Open(Options opts);

  // Commits everything submitted (retrying a failing write for up to ~1 s), joins the store
  // thread, finalizes statements, closes the db (CHECKs that sqlite3_close returned
  // SQLITE_OK), then runs every callback still pending on the calling thread. Must run on the
  // owner thread. Rows that still cannot be written are logged and counted in dropped_rows().
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // --- Writes. Owner thread. Callbacks run on the owner thread in DrainCompletions(). ---

  // Inserts a new run (rec.id is ignored) and commits; done gets the new id once durable.
  // On a write error done gets the error and the run is not created.
  void CreateRun(RunRecord rec, std::function<void(Result<RunId>)> done);
  // Replaces every field of run rec.id and commits. done(Ok) once durable; kNotFound if no
  // such run. On a write error done gets the error, but the update stays queued and is
  // retried until it commits (a terminal status is never lost while the process lives).
  void UpdateRun(RunRecord rec, std::function<void(Status)> done = {});
  // Insert-or-replace span (run, row.seq); group-committed. Several puts of one span that
  // land in one batch are written once (the last wins).
  void PutSpan(RunId run, SpanRow row);
  // Appends a log line to the run; the store numbers a run's lines 0, 1, 2, ...
  void PutLog(RunId run, LogRow row);
  // done(Ok) once everything submitted before it is committed ("acknowledged"); the error of
  // the failed attempt otherwise (the rows stay queued and are retried).
  void Flush(std::function<void(Status)> done);

  // Rows (runs, spans, logs) submitted but not yet committed. Any thread. Core stops reading
  // a run's socket while this is above its threshold.
  size_t pending_rows() const { return pending_.load(std::memory_order_relaxed); }
  // False after a failed commit until a later commit succeeds. Any thread.
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  // The most recent write error (Ok if none since the last successful commit). Any thread.
  Status last_error() const;
  // Span/log rows refused because max_pending_rows was reached, plus rows abandoned at
  // shutdown because the database kept failing. Any thread.
  int64_t dropped_rows() const { return dropped_.load(std::memory_order_relaxed); }

  // --- Reads. They see every write submitted before them (the batch is committed first). ---

  // kNotFound if no such run.
  void GetRun(RunId id, std::function<void(Result<RunRecord>)> done);
  // Newest first (id descending); see RunFilter.
  void ListRuns(RunFilter f, std::function<void(Result<std::vector<RunRecord>>)> done);
  // Ordered by seq; empty for an unknown run.
  void GetSpans(RunId id, std::function<void(Result<std::vector<SpanRow>>)> done);
  // Ordered by log sequence; only span's lines if given.
  void GetLogs(RunId id, std::optional<SpanSeq> span,
               std::function<void(Result<std::vector<LogRow>>)> done);

  // Startup recovery, before any other work: runs left queued/running by a previous process
  // become interrupted ("supervisor stopped while the run was running", ended_us = now_us);
  // their spans still "running" become "failed" with error "supervisor stopped before the
  // span ended" and end_us = now_us (never before their start). Returns how many runs were
  // marked. Blocks the calling thread (which must be the owner: it drains completions).
  Result<int> RecoverInterrupted(int64_t now_us);

  // Owner thread: runs every ready callback, in completion order.
  void DrainCompletions();

  // --- Blocking conveniences for code without a loop (CLI). Owner thread only: they run
  // DrainCompletions() while waiting, so other ready callbacks run too. ---
  Result<RunId> CreateRunSync(RunRecord rec);
  Status UpdateRunSync(RunRecord rec);
  Status FlushSync();
  Result<RunRecord> GetRunSync(RunId id);
  Result<std::vector<RunRecord>> ListRunsSync(RunFilter f);
  Result<std::vector<SpanRow>> GetSpansSync(RunId id);
  Result<std::vector<LogRow>> GetLogsSync(RunId id, std::optional<SpanSeq> span = std::nullopt);

  // Test hook: runs `sql` on the store connection (after committing pending rows) and waits.
  // Used to inject faults, e.g. "PRAGMA max_page_count=1" makes the next growth fail with
  // SQLITE_FULL as a full disk would.
  Status ExecForTesting(std::string sql);

 private:
  friend class StoreThread;

  struct CreateOp {
    RunRecord rec;
    std::function<void(Result<RunId>)> done;
  };
  struct UpdateOp {
    RunRecord rec;
    std::function<void(Status)> done;
  };
  struct FlushOp {
    std::function<void(Status)> done;
  };
  struct GetRunOp {
    RunId id;
    std::function<void(Result<RunRecord>)> done;
  };
  struct ListRunsOp {
    RunFilter filter;
    std::function<void(Result<std::vector<RunRecord>>)> done;
  };
  struct GetSpansOp {
    RunId id;
    std::function<void(Result<std::vector<SpanRow>>)> done;
  };
  struct GetLogsOp {
    RunId id;
    std::optional<SpanSeq> span;
    std::function<void(Result<std::vector<LogRow>>)> done;
  };
  struct RecoverOp {
    int64_t now_us;
    std::function<void(Result<int>)> done;
  };
  struct ExecOp {
    std::string sql;
    std::function<void(Status)> done;
  };
  using Op = std::variant<CreateOp, UpdateOp, FlushOp, GetRunOp, ListRunsOp, GetSpansOp, GetLogsOp,
                          RecoverOp, ExecOp>;
  struct SpanPut {
    RunId run;
    SpanRow row;
  };
  struct LogPut {
    RunId run;
    LogRow row;
  };

  // Everything the owner hands to the store thread, swapped out in bulk.
  struct Inbox {
    std::vector<Op> ops;  // in submission order
    std::vector<SpanPut> spans;
    std::vector<LogPut> logs;
    bool empty() const { return ops.empty() && spans.empty() && logs.empty(); }
    size_t rows() const { return spans.size() + logs.size(); }
  };

  explicit Store(Options opts);
  void Submit(Op op);
  void PostCompletion(std::function<void()> fn);  // store thread
  void ThreadMain(std::function<void(Status)> opened);
  // Submits via `start(callback)` and drains completions until that callback ran.
  template <typename R, typename Start>
  R WaitFor(Start start);

  const Options opts_;
  std::atomic<size_t> pending_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<int64_t> dropped_{0};

  // The only lock: guards everything below it.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // store thread waits for work
  std::condition_variable done_cv_;  // Sync callers wait for completions
  Inbox inbox_;
  bool stop_ = false;
  bool batch_open_ = false;  // store thread holds uncommitted rows with a deadline set
  size_t batch_rows_ = 0;    // rows in that batch, to wake the thread at commit_rows
  std::vector<std::function<void()>> completions_;
  Status last_error_;
  int close_rc_ = 0;  // sqlite3_close's result, written by the store thread

  std::thread thread_;
};

}  // namespace hero::store
