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
// Flow library writes (flows, versions, examples) are not batched: each commits in its own
// transaction before its callback runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
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

// Retention: which runs PruneRuns deletes. Only terminal runs (never queued or running) are
// candidates, oldest (lowest id) first.
struct PruneOptions {
  int64_t older_than_us = 0;  // delete every terminal run with ended_us < this; 0 = no age limit
  int64_t max_bytes = 0;      // then delete more, oldest first, while the used size of the
                              // database is above this; 0 = no size limit
  int batch = 500;            // runs per transaction (> 0)
  std::vector<RunId> keep;    // never deleted even if terminal (e.g. runs still finishing)
};

struct PruneResult {
  int64_t runs_deleted = 0;
  std::vector<RunId> ids;  // the deleted runs, ascending
  // Used size of the database: (page_count - freelist_count) * page_size. The file does not
  // shrink; freed pages are reused by later writes.
  int64_t bytes_before = 0, bytes_after = 0;
  // Ok, or the error of the batch that failed after earlier batches had committed (`ids` are
  // the committed deletions either way).
  Status error;
};
class FlowLibrary;  // flow_library.h: the flow library's SQL, run on the store thread

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
  // A bounded read for answers that must stay small (script_run on a 10^6-span run): the
  // first `max_rows` spans by seq (parents start before their children) plus up to 200 spans
  // after them that did not end ok (failures must stay findable), in seq order.
  void GetSpansHead(RunId id, int64_t max_rows,
                    std::function<void(Result<std::vector<SpanRow>>)> done);
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

  // --- The flow library (SPEC §6 flows and presets). Owner thread; callbacks run in
  // DrainCompletions(). Every write is durable (as above) when its callback runs, and the
  // search index changes in the same transaction. A flow named here must exist and not be
  // deleted, else kNotFound; an empty name is kInvalidArgument. ---

  // New flow at version 1 (v.version is ignored; v.created_us 0 = now). If a deleted flow
  // has the name it is revived: same id and created_us, the new version is max + 1 of all
  // its versions and becomes current. kAlreadyExists if a non-deleted flow has the name.
  void CreateFlow(std::string name, FlowVersion v, std::function<void(Result<FlowRecord>)> done);
  // Adds version max + 1; current if make_current. The record's `current` holds the NEW
  // version either way (compare current_version to see whether it became current).
  void AddFlowVersion(std::string name, FlowVersion v, bool make_current,
                      std::function<void(Result<FlowRecord>)> done);
  // version 0 = current. FlowRecord.current holds the requested version; kNotFound for an
  // unknown version.
  void GetFlow(std::string name, int64_t version, std::function<void(Result<FlowRecord>)> done);
  // Non-deleted flows by name, each with its current version (sources included).
  void ListFlows(std::function<void(Result<std::vector<FlowRecord>>)> done);
  // Soft delete: hidden from reads and search at once; versions and examples are kept and
  // come back if CreateFlow revives the name.
  void DeleteFlow(std::string name, std::function<void(Status)> done);
  // Newest first, sources included.
  void ListFlowVersions(std::string name,
                        std::function<void(Result<std::vector<FlowVersion>>)> done);
  // kNotFound for an unknown version. The record's `current` is that version.
  void SetCurrentFlowVersion(std::string name, int64_t version,
                             std::function<void(Result<FlowRecord>)> done);
  // Ranked full-text search over name, description, tags, docstring and declared input
  // names of each non-deleted flow's current version. `query` is plain user text: split
  // into at most 64 terms, each matched as a word prefix, any term may match (OR); FTS5
  // syntax in it has no effect and never fails. Ranked by bm25 with column weights
  // name 10, description 4, tags 2, docstring 1, inputs 1; best first. A query without
  // terms gives no hits. limit <= 0 means 20; at most 100.
  void SearchFlows(std::string query, int limit,
                   std::function<void(Result<std::vector<FlowSearchHit>>)> done);
  // Upsert by (flow_name, name): a preset that exists keeps its id and takes the new input
  // and created_us (0 = now). kNotFound if the flow does not exist.
  void CreateExample(ExampleRecord e, std::function<void(Result<ExampleRecord>)> done);
  // By flow name, then name; "" = every flow's presets.
  void ListExamples(std::string flow_name,
                    std::function<void(Result<std::vector<ExampleRecord>>)> done);
  // kNotFound if no such preset.
  void DeleteExample(int64_t id, std::function<void(Status)> done);

  // --- Retention. ---

  // Deletes terminal runs with their spans and logs (flows and examples are untouched): first
  // every run with ended_us < older_than_us, then, while the used database size exceeds
  // max_bytes, more of the oldest. Each batch of at most `batch` runs is its own transaction;
  // between batches the store thread serves other work (span/log group commits, reads), so a
  // large prune never starves live runs. done gets an error only if nothing was deleted (a
  // later failure is reported in PruneResult::error). The caller removes files of the ids.
  void PruneRuns(PruneOptions opts, std::function<void(Result<PruneResult>)> done);

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
  Result<std::vector<SpanRow>> GetSpansHeadSync(RunId id, int64_t max_rows);
  Result<std::vector<LogRow>> GetLogsSync(RunId id, std::optional<SpanSeq> span = std::nullopt);
  Result<FlowRecord> CreateFlowSync(std::string name, FlowVersion v);
  Result<FlowRecord> AddFlowVersionSync(std::string name, FlowVersion v, bool make_current);
  Result<FlowRecord> GetFlowSync(std::string name, int64_t version = 0);
  Result<std::vector<FlowRecord>> ListFlowsSync();
  Status DeleteFlowSync(std::string name);
  Result<std::vector<FlowVersion>> ListFlowVersionsSync(std::string name);
  Result<FlowRecord> SetCurrentFlowVersionSync(std::string name, int64_t version);
  Result<std::vector<FlowSearchHit>> SearchFlowsSync(std::string query, int limit);
  Result<ExampleRecord> CreateExampleSync(ExampleRecord e);
  Result<std::vector<ExampleRecord>> ListExamplesSync(std::string flow_name);
  Status DeleteExampleSync(int64_t id);
  Result<PruneResult> PruneRunsSync(PruneOptions opts);

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
    int64_t max_rows = -1;  // -1: all
    // Read in chunks, re-queued behind other work between them (a 10^6-span read must not
    // stop every run's commits for seconds): the rows so far and the last seq read.
    std::vector<SpanRow> rows;
    int64_t after_seq = std::numeric_limits<int64_t>::min();
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
  // Retention: one batch per turn; the store thread re-queues the op behind other work
  // until it is done (see StoreThread::PruneStep).
  struct PruneOp {
    PruneOptions opts;
    std::function<void(Result<PruneResult>)> done;
    PruneResult acc;
    bool started = false;
    bool age_done = false;
    int64_t size_batch = 0;  // runs in the next size batch (adapted to bytes freed)
    int64_t last_used = 0;   // used bytes before the previous size batch
  };
  // A flow library call: runs on the store thread (not batched) and returns the completion
  // to post to the owner.
  struct LibraryOp {
    std::function<std::function<void()>(FlowLibrary&)> run;
  };
  using Op = std::variant<CreateOp, UpdateOp, FlushOp, GetRunOp, ListRunsOp, GetSpansOp, GetLogsOp,
                          RecoverOp, ExecOp, LibraryOp, PruneOp>;
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
  // Submits a LibraryOp that runs `work` and hands its result to `done` (if set).
  template <typename R>
  void SubmitLibrary(std::function<R(FlowLibrary&)> work, std::function<void(R)> done);
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
