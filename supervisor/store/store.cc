// Store: the owner-side queue and the store thread (StoreThread) that batches writes into
// transactions. The store thread is the only code that touches SQLite.
#include "supervisor/store/store.h"

#include <algorithm>
#include <future>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "supervisor/base/check.h"
#include "supervisor/base/log.h"
#include "supervisor/base/run_status.h"
#include "supervisor/store/flow_library.h"
#include "supervisor/store/run_query.h"
#include "supervisor/store/schema.h"
#include "supervisor/store/sqlite_db.h"

namespace hero::store {
namespace {
// Span reads take at most this many rows per turn of the store thread (~10 ms).
constexpr int64_t kSpanReadChunk = 20'000;
// GetSpansHead: how many not-ok spans after the head it adds.
constexpr int64_t kSpanHeadFailures = 200;

using SteadyClock = std::chrono::steady_clock;

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

constexpr std::chrono::milliseconds kFirstRetryDelay{100};
constexpr std::chrono::milliseconds kMaxRetryDelay{1000};
constexpr int kShutdownAttempts = 10;  // ~1 s of retries before rows are abandoned

constexpr const char* kSpanColumns =
    "run_id, seq, span_id, parent_id, name, kind, status, start_us, end_us, tags_json, error, "
    "error_type, traceback, file, line, rpc_service, rpc_method, cpu_us, rss_kb, child_run_id, "
    "orphan";

std::string Placeholders(int first, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    if (i) out += ", ";
    out += "?" + std::to_string(first + i);
  }
  return out;
}

// Binds kRunColumns to ?1..?32. Text is SQLITE_STATIC: `rec` outlives the step.
void BindRun(Statement& st, const RunRecord& r) {
  int i = 1;
  st.BindText(i++, r.flow_name);
  st.BindInt(i++, r.flow_version);
  st.BindInt(i++, r.parent_run.value);
  st.BindText(i++, r.parent_span);
  st.BindText(i++, r.input_json);
  st.BindText(i++, r.output_json);
  st.BindText(i++, RunStatusName(r.status));  // a static literal
  st.BindText(i++, r.reason);
  st.BindInt(i++, r.exit_code);
  st.BindInt(i++, r.signal);
  st.BindText(i++, r.profile);
  st.BindInt(i++, r.network ? 1 : 0);
  st.BindText(i++, r.source_path);
  st.BindText(i++, r.workdir);
  for (int64_t v :
       {r.created_us, r.started_us, r.ended_us, r.cpu_us, r.peak_rss_kb, r.span_count,
        r.malformed_lines, r.unknown_type_lines, r.oversize_lines, r.orphan_events, r.dropped_spans,
        r.dropped_log_bytes, r.dropped_tag_events, r.dropped_output_bytes}) {
    st.BindInt(i++, v);
  }
  st.BindText(i++, r.diagnostics_json);
  st.BindText(i++, r.stdout_tail);
  st.BindText(i++, r.stderr_tail);
  st.BindInt(i++, r.run_uid);
  HERO_CHECK(i == kRunColumnCount + 1);
}

// Reads `SELECT id, <kRunColumns>`.
Result<RunRecord> ReadRun(const Statement& st) {
  RunRecord r;
  int i = 0;
  r.id = RunId{st.ColumnInt(i++)};
  r.flow_name = st.ColumnText(i++);
  r.flow_version = st.ColumnInt(i++);
  r.parent_run = RunId{st.ColumnInt(i++)};
  r.parent_span = st.ColumnText(i++);
  r.input_json = st.ColumnText(i++);
  r.output_json = st.ColumnText(i++);
  std::string status = st.ColumnText(i++);
  std::optional<RunStatus> parsed = ParseRunStatus(status);
  if (!parsed) {
    return Internal("run " + std::to_string(r.id.value) + " has unknown status '" + status + "'");
  }
  r.status = *parsed;
  r.reason = st.ColumnText(i++);
  r.exit_code = static_cast<int>(st.ColumnInt(i++));
  r.signal = static_cast<int>(st.ColumnInt(i++));
  r.profile = st.ColumnText(i++);
  r.network = st.ColumnInt(i++) != 0;
  r.source_path = st.ColumnText(i++);
  r.workdir = st.ColumnText(i++);
  for (int64_t* v :
       {&r.created_us, &r.started_us, &r.ended_us, &r.cpu_us, &r.peak_rss_kb, &r.span_count,
        &r.malformed_lines, &r.unknown_type_lines, &r.oversize_lines, &r.orphan_events,
        &r.dropped_spans, &r.dropped_log_bytes, &r.dropped_tag_events, &r.dropped_output_bytes}) {
    *v = st.ColumnInt(i++);
  }
  r.diagnostics_json = st.ColumnText(i++);
  r.stdout_tail = st.ColumnText(i++);
  r.stderr_tail = st.ColumnText(i++);
  r.run_uid = st.ColumnInt(i++);
  HERO_CHECK(i == kRunColumnCount + 1);
  return r;
}

void BindSpan(Statement& st, RunId run, const SpanRow& s) {
  st.BindInt(1, run.value);
  st.BindInt(2, s.seq.value);
  st.BindText(3, s.span_id);
  st.BindText(4, s.parent_id);
  st.BindText(5, s.name);
  st.BindText(6, s.kind);
  st.BindText(7, s.status);
  st.BindInt(8, s.start_us);
  st.BindInt(9, s.end_us);
  st.BindText(10, s.tags_json);
  st.BindText(11, s.error);
  st.BindText(12, s.error_type);
  st.BindText(13, s.traceback);
  st.BindText(14, s.file);
  st.BindInt(15, s.line);
  st.BindText(16, s.rpc_service);
  st.BindText(17, s.rpc_method);
  st.BindInt(18, s.cpu_us);
  st.BindInt(19, s.rss_kb);
  st.BindInt(20, s.child_run_id);
  st.BindInt(21, s.orphan ? 1 : 0);
}

// Reads `SELECT <kSpanColumns>` minus run_id (column 0 = seq).
SpanRow ReadSpan(const Statement& st) {
  SpanRow s;
  s.seq = SpanSeq{st.ColumnInt(0)};
  s.span_id = st.ColumnText(1);
  s.parent_id = st.ColumnText(2);
  s.name = st.ColumnText(3);
  s.kind = st.ColumnText(4);
  s.status = st.ColumnText(5);
  s.start_us = st.ColumnInt(6);
  s.end_us = st.ColumnInt(7);
  s.tags_json = st.ColumnText(8);
  s.error = st.ColumnText(9);
  s.error_type = st.ColumnText(10);
  s.traceback = st.ColumnText(11);
  s.file = st.ColumnText(12);
  s.line = st.ColumnInt(13);
  s.rpc_service = st.ColumnText(14);
  s.rpc_method = st.ColumnText(15);
  s.cpu_us = st.ColumnInt(16);
  s.rss_kb = st.ColumnInt(17);
  s.child_run_id = st.ColumnInt(18);
  s.orphan = st.ColumnInt(19) != 0;
  return s;
}

struct SpanKey {
  int64_t run, seq;
  friend bool operator==(SpanKey a, SpanKey b) { return a.run == b.run && a.seq == b.seq; }
};
struct SpanKeyHash {
  size_t operator()(SpanKey k) const noexcept {
    return std::hash<int64_t>()(k.run * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(k.seq));
  }
};

}  // namespace

// Everything only the store thread touches: the connection, its statements, the open batch.
// Member order matters: statements are declared after db_, so they are destroyed first.
class StoreThread {
 public:
  explicit StoreThread(Store* store) : s_(store), library_(&db_) {}

  Status Open();
  void Run();
  // Finalizes statements, then closes the db; returns sqlite3_close's code.
  int Close();

 private:
  struct LogEntry {
    RunId run;
    int64_t seq;
    LogRow row;
  };
  // Rows waiting for the next commit (they are written only at commit time, so a failed
  // commit can be retried from here and several puts of one span collapse into one).
  struct Batch {
    std::vector<Store::CreateOp> creates;
    std::vector<Store::UpdateOp> updates;
    std::vector<Store::SpanPut> spans;
    std::unordered_map<SpanKey, size_t, SpanKeyHash> span_index;
    std::vector<LogEntry> logs;
    std::vector<std::function<void(Status)>> flushes;
    std::vector<RunId> ended_runs;  // forget their log counters after the commit
    size_t submitted = 0;           // rows counted in Store::pending_
    SteadyClock::time_point first_at;
    bool prompt = false;  // a run write or a Flush: commit now
    bool empty() const {
      return creates.empty() && updates.empty() && spans.empty() && logs.empty() && flushes.empty();
    }
    size_t rows() const { return creates.size() + updates.size() + spans.size() + logs.size(); }
  };

  void Touch();
  void AddSpan(Store::SpanPut put);
  void AddLog(Store::LogPut put);
  void HandleOp(Store::Op& op);
  bool CommitDue(SteadyClock::time_point now) const;
  SteadyClock::time_point Deadline() const;
  // Writes and commits the batch; posts the callbacks. Returns the commit's Status.
  Status CommitBatch();
  Status WriteBatch(std::vector<Result<RunId>>& created, std::vector<Status>& updated);
  void AbandonBatch(const Status& why);
  Result<int64_t> NextLogSeq(RunId run);

  Result<RunRecord> DoGetRun(RunId id);
  Result<std::vector<RunRecord>> DoListRuns(const RunFilter& f);
  // Reads the next chunk of o's spans into o.rows. Returns true once the read is complete.
  Result<bool> GetSpansStep(Store::GetSpansOp& o);
  Result<std::vector<LogRow>> DoGetLogs(RunId id, std::optional<SpanSeq> span);
  Result<int> DoRecover(int64_t now_us);
  // Retention (Store::PruneRuns). PruneStep runs one batch; it returns true once the op is
  // finished and its completion posted, false if the op must be re-queued.
  bool PruneStep(Store::PruneOp& o);
  void FinishPrune(Store::PruneOp& o, Status err);
  Result<int64_t> UsedBytes();
  // Deletes (in one transaction) up to `limit` of the oldest terminal runs with ended_us <
  // older_than_us (0 = any age), except `keep`, with their spans and logs.
  Result<std::vector<RunId>> DeleteOldestRuns(int64_t older_than_us, int64_t limit,
                                              const std::vector<RunId>& keep);

  Store* const s_;
  Db db_;
  FlowLibrary library_;  // holds no statements: it prepares per call
  Statement insert_run_, update_run_, upsert_span_, insert_log_, get_run_, get_spans_,
      get_spans_head_, get_logs_, get_span_logs_, max_log_seq_;
  Batch batch_;
  std::unordered_map<int64_t, int64_t> next_log_seq_;  // run -> next log seq
  SteadyClock::time_point retry_at_;
  std::chrono::milliseconds retry_delay_ = kFirstRetryDelay;
};

Status StoreThread::Open() {
  HERO_ASSIGN_OR_RETURN(db_, Db::Open(s_->opts_.path));
  HERO_RETURN_IF_ERROR(PrepareDatabase(db_));
  std::string cols = RunColumnList();
  std::string set;
  for (int i = 0; i < kRunColumnCount; ++i) {
    if (i) set += ", ";
    set += std::string(kRunColumns[i]) + " = ?" + std::to_string(i + 1);
  }
  struct {
    Statement* st;
    std::string sql;
  } prepared[] = {
      {&insert_run_,
       "INSERT INTO runs (" + cols + ") VALUES (" + Placeholders(1, kRunColumnCount) + ")"},
      {&update_run_,
       "UPDATE runs SET " + set + " WHERE id = ?" + std::to_string(kRunColumnCount + 1)},
      {&upsert_span_, std::string("INSERT OR REPLACE INTO spans (") + kSpanColumns + ") VALUES (" +
                          Placeholders(1, 21) + ")"},
      {&insert_log_,
       "INSERT INTO span_logs (run_id, seq, span_seq, ts_us, stream, text) VALUES "
       "(?1, ?2, ?3, ?4, ?5, ?6)"},
      {&get_run_, "SELECT id, " + cols + " FROM runs WHERE id = ?1"},
      {&get_spans_, std::string("SELECT ") + (kSpanColumns + 8) +  // skip "run_id, "
                        " FROM spans WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"},
      // The head is the first ?4 rows in seq order (seqs need not be dense): every seq below
      // the (?4+1)-th one, or all when there are fewer; then the failures after it.
      {&get_spans_head_,
       std::string("SELECT ") + (kSpanColumns + 8) +
           " FROM spans WHERE run_id = ?1 AND seq > ?2 AND (seq < coalesce((SELECT seq FROM "
           "spans WHERE run_id = ?1 ORDER BY seq LIMIT 1 OFFSET ?4), 9223372036854775807) OR "
           "status NOT IN ('ok', 'running')) ORDER BY seq LIMIT ?3"},
      {&get_logs_,
       "SELECT span_seq, ts_us, stream, text FROM span_logs WHERE run_id = ?1 ORDER BY seq"},
      {&get_span_logs_,
       "SELECT span_seq, ts_us, stream, text FROM span_logs WHERE run_id = ?1 AND "
       "span_seq = ?2 ORDER BY seq"},
      {&max_log_seq_, "SELECT COALESCE(MAX(seq) + 1, 0) FROM span_logs WHERE run_id = ?1"},
  };
  for (auto& p : prepared) {
    HERO_ASSIGN_OR_RETURN(*p.st, db_.Prepare(p.sql, /*persistent=*/true));
  }
  return Status::Ok();
}

int StoreThread::Close() {
  for (Statement* st :
       {&insert_run_, &update_run_, &upsert_span_, &insert_log_, &get_run_, &get_spans_,
        &get_spans_head_, &get_logs_, &get_span_logs_, &max_log_seq_}) {
    *st = Statement();
  }
  return db_.Close();
}

void StoreThread::Touch() {
  if (batch_.empty()) batch_.first_at = SteadyClock::now();
}

void StoreThread::AddSpan(Store::SpanPut put) {
  Touch();
  batch_.submitted++;
  SpanKey key{put.run.value, put.row.seq.value};
  auto [it, inserted] = batch_.span_index.try_emplace(key, batch_.spans.size());
  if (inserted) {
    batch_.spans.push_back(std::move(put));
  } else {
    batch_.spans[it->second].row = std::move(put.row);  // coalesce: the last put wins
  }
}

Result<int64_t> StoreThread::NextLogSeq(RunId run) {
  auto it = next_log_seq_.find(run.value);
  if (it == next_log_seq_.end()) {
    // First line of this run in this process (or since its run ended): continue after what
    // is committed. Uncommitted lines of the run are always in next_log_seq_.
    max_log_seq_.BindInt(1, run.value);
    Result<bool> row = max_log_seq_.Step();
    if (!row.ok()) return row.status();
    int64_t next = *row ? max_log_seq_.ColumnInt(0) : 0;
    max_log_seq_.Reset();
    it = next_log_seq_.emplace(run.value, next).first;
  }
  return it->second++;
}

void StoreThread::AddLog(Store::LogPut put) {
  Result<int64_t> seq = NextLogSeq(put.run);
  if (!seq.ok()) {
    // Without a sequence the row cannot be keyed; count it rather than guess.
    HERO_LOG(kError) << "store: dropping a log row of run " << put.run.value << ": "
                     << seq.status().ToString();
    s_->dropped_.fetch_add(1);
    s_->pending_.fetch_sub(1);
    return;
  }
  Touch();
  batch_.submitted++;
  batch_.logs.push_back(LogEntry{put.run, *seq, std::move(put.row)});
}

void StoreThread::HandleOp(Store::Op& op) {
  // Reads, recovery and test SQL see every earlier write: commit the batch first (if that
  // fails, they run against what is committed).
  auto commit_first = [this] {
    if (!batch_.empty()) (void)CommitBatch();
  };
  std::visit(
      Overloaded{
          [&](Store::CreateOp& o) {
            Touch();
            batch_.submitted++;
            batch_.prompt = true;
            batch_.creates.push_back(std::move(o));
          },
          [&](Store::UpdateOp& o) {
            Touch();
            batch_.submitted++;
            batch_.prompt = true;
            if (IsTerminal(o.rec.status)) batch_.ended_runs.push_back(o.rec.id);
            batch_.updates.push_back(std::move(o));
          },
          [&](Store::FlushOp& o) {
            Touch();
            batch_.prompt = true;
            batch_.flushes.push_back(std::move(o.done));
          },
          [&](Store::GetRunOp& o) {
            commit_first();
            s_->PostCompletion(
                [done = std::move(o.done), r = DoGetRun(o.id)]() mutable { done(std::move(r)); });
          },
          [&](Store::ListRunsOp& o) {
            commit_first();
            s_->PostCompletion([done = std::move(o.done), r = DoListRuns(o.filter)]() mutable {
              done(std::move(r));
            });
          },
          [&](Store::GetSpansOp& o) {
            commit_first();
            for (;;) {
              Result<bool> finished = GetSpansStep(o);
              if (!finished.ok() || *finished) {
                Result<std::vector<SpanRow>> r =
                    finished.ok() ? Result<std::vector<SpanRow>>(std::move(o.rows))
                                  : Result<std::vector<SpanRow>>(finished.status());
                s_->PostCompletion(
                    [done = std::move(o.done), r = std::move(r)]() mutable { done(std::move(r)); });
                return;
              }
              // Back of the queue, like PruneOp: commits and other reads go first.
              std::lock_guard<std::mutex> lk(s_->mu_);
              if (!s_->stop_) {
                s_->inbox_.ops.push_back(std::move(o));
                return;
              }
              // Shutting down: finish the read here.
            }
          },
          [&](Store::GetLogsOp& o) {
            commit_first();
            s_->PostCompletion([done = std::move(o.done), r = DoGetLogs(o.id, o.span)]() mutable {
              done(std::move(r));
            });
          },
          [&](Store::RecoverOp& o) {
            commit_first();
            s_->PostCompletion([done = std::move(o.done), r = DoRecover(o.now_us)]() mutable {
              done(std::move(r));
            });
          },
          [&](Store::LibraryOp& o) {
            // Not part of the batch: the library commits its own transaction right now.
            s_->PostCompletion(o.run(library_));
          },
          [&](Store::PruneOp& o) {
            // Every earlier write is committed first: a run's terminal update or its last
            // spans must not be pending while it is deleted. This also commits the spans and
            // logs that live runs submitted since the previous batch.
            commit_first();
            if (PruneStep(o)) return;
            // Back of the queue: whatever was submitted meanwhile runs before the next batch.
            bool requeued = false;
            {
              std::lock_guard<std::mutex> lk(s_->mu_);
              if (!s_->stop_) {
                s_->inbox_.ops.push_back(std::move(o));
                requeued = true;
              }
            }
            if (!requeued) FinishPrune(o, Status::Ok());  // shutting down: report what is done
          },
          [&](Store::ExecOp& o) {
            commit_first();
            s_->PostCompletion([done = std::move(o.done), st = db_.Exec(o.sql.c_str())]() mutable {
              done(std::move(st));
            });
          },
      },
      op);
}

SteadyClock::time_point StoreThread::Deadline() const {
  SteadyClock::time_point due = batch_.first_at + s_->opts_.commit_interval;
  if (!s_->healthy()) due = std::max(due, retry_at_);
  return due;
}

bool StoreThread::CommitDue(SteadyClock::time_point now) const {
  if (batch_.empty()) return false;
  if (batch_.prompt) return true;  // acknowledgements are attempted even while unhealthy
  if (!s_->healthy()) return now >= retry_at_;
  return batch_.rows() >= s_->opts_.commit_rows || now >= Deadline();
}

void StoreThread::Run() {
  Store::Inbox in;
  for (;;) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lk(s_->mu_);
      s_->batch_open_ = !batch_.empty();
      s_->batch_rows_ = batch_.rows();
      const bool healthy = s_->healthy();
      auto ready = [&] {
        if (s_->stop_ || !s_->inbox_.ops.empty()) return true;
        if (batch_.empty()) return !s_->inbox_.empty();
        return healthy && s_->inbox_.rows() + batch_.rows() >= s_->opts_.commit_rows;
      };
      if (batch_.empty()) {
        s_->work_cv_.wait(lk, ready);
      } else {
        s_->work_cv_.wait_until(lk, Deadline(), ready);
      }
      std::swap(in, s_->inbox_);
      stopping = s_->stop_;
    }

    for (Store::SpanPut& p : in.spans) {
      AddSpan(std::move(p));
      if (s_->healthy() && batch_.rows() >= s_->opts_.commit_rows) (void)CommitBatch();
    }
    for (Store::LogPut& p : in.logs) {
      AddLog(std::move(p));
      if (s_->healthy() && batch_.rows() >= s_->opts_.commit_rows) (void)CommitBatch();
    }
    for (Store::Op& op : in.ops) HandleOp(op);
    in.spans.clear();
    in.logs.clear();
    in.ops.clear();

    if (stopping) break;
    if (CommitDue(SteadyClock::now())) (void)CommitBatch();
  }

  // Shutdown: the inbox is empty and no more work can arrive. Give a failing disk ~1 s.
  for (int attempt = 0; !batch_.empty(); ++attempt) {
    Status s = CommitBatch();
    if (s.ok()) break;
    if (attempt + 1 >= kShutdownAttempts) {
      AbandonBatch(s);
      break;
    }
    std::this_thread::sleep_for(kFirstRetryDelay);
  }
}

Status StoreThread::WriteBatch(std::vector<Result<RunId>>& created, std::vector<Status>& updated) {
  HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
  for (const Store::CreateOp& c : batch_.creates) {
    BindRun(insert_run_, c.rec);
    HERO_RETURN_IF_ERROR(insert_run_.Run().WithContext("insert run"));
    created.push_back(RunId{db_.last_insert_rowid()});
  }
  for (const Store::UpdateOp& u : batch_.updates) {
    BindRun(update_run_, u.rec);
    update_run_.BindInt(kRunColumnCount + 1, u.rec.id.value);
    HERO_RETURN_IF_ERROR(update_run_.Run().WithContext("update run"));
    updated.push_back(db_.changes() > 0
                          ? Status::Ok()
                          : NotFound("run " + std::to_string(u.rec.id.value) + " not found"));
  }
  for (const Store::SpanPut& p : batch_.spans) {
    BindSpan(upsert_span_, p.run, p.row);
    HERO_RETURN_IF_ERROR(upsert_span_.Run().WithContext("write span"));
  }
  for (const LogEntry& l : batch_.logs) {
    insert_log_.BindInt(1, l.run.value);
    insert_log_.BindInt(2, l.seq);
    insert_log_.BindInt(3, l.row.span_seq.value);
    insert_log_.BindInt(4, l.row.ts_us);
    insert_log_.BindText(5, l.row.stream);
    insert_log_.BindText(6, l.row.text);
    HERO_RETURN_IF_ERROR(insert_log_.Run().WithContext("write log"));
  }
  return txn.Commit().WithContext("commit");
}

Status StoreThread::CommitBatch() {
  if (batch_.empty()) return Status::Ok();
  std::vector<Result<RunId>> created;
  std::vector<Status> updated;
  Status s = WriteBatch(created, updated);
  std::vector<std::function<void()>> done;

  if (s.ok()) {
    for (size_t i = 0; i < batch_.creates.size(); ++i) {
      if (batch_.creates[i].done) {
        done.push_back([cb = std::move(batch_.creates[i].done), r = created[i]]() mutable {
          cb(std::move(r));
        });
      }
    }
    for (size_t i = 0; i < batch_.updates.size(); ++i) {
      if (batch_.updates[i].done) {
        done.push_back([cb = std::move(batch_.updates[i].done), r = updated[i]]() mutable {
          cb(std::move(r));
        });
      }
    }
    for (auto& f : batch_.flushes) {
      if (f) done.push_back([cb = std::move(f)] { cb(Status::Ok()); });
    }
    for (RunId r : batch_.ended_runs) next_log_seq_.erase(r.value);
    s_->pending_.fetch_sub(batch_.submitted);
    if (!s_->healthy()) {
      HERO_LOG(kInfo) << "store: writes succeed again";
    }
    s_->healthy_.store(true);
    retry_delay_ = kFirstRetryDelay;
    {
      std::lock_guard<std::mutex> lk(s_->mu_);
      s_->last_error_ = Status::Ok();
    }
    batch_ = Batch();
  } else {
    // Creates fail back to their caller (no id exists); everything else stays for a retry.
    // Updates and flushes learn about this attempt's failure once.
    if (s_->healthy()) {
      HERO_LOG(kError) << "store: commit failed, keeping " << batch_.rows()
                       << " rows queued for retry: " << s.ToString();
    }
    for (auto& c : batch_.creates) {
      if (c.done) done.push_back([cb = std::move(c.done), s] { cb(s); });
    }
    s_->pending_.fetch_sub(batch_.creates.size());
    batch_.submitted -= batch_.creates.size();
    batch_.creates.clear();
    for (auto& u : batch_.updates) {
      if (u.done) done.push_back([cb = std::move(u.done), s] { cb(s); });
      u.done = nullptr;
    }
    for (auto& f : batch_.flushes) {
      if (f) done.push_back([cb = std::move(f), s] { cb(s); });
    }
    batch_.flushes.clear();
    batch_.prompt = false;
    s_->healthy_.store(false);
    retry_at_ = SteadyClock::now() + retry_delay_;
    retry_delay_ = std::min(retry_delay_ * 2, kMaxRetryDelay);
    {
      std::lock_guard<std::mutex> lk(s_->mu_);
      s_->last_error_ = s;
    }
  }
  {
    std::lock_guard<std::mutex> lk(s_->mu_);
    for (auto& fn : done) s_->completions_.push_back(std::move(fn));
  }
  s_->done_cv_.notify_all();
  if (s_->opts_.wake) s_->opts_.wake();
  return s;
}

void StoreThread::AbandonBatch(const Status& why) {
  size_t rows = batch_.rows();
  HERO_LOG(kError) << "store: giving up on " << rows
                   << " uncommitted rows at shutdown: " << why.ToString();
  s_->dropped_.fetch_add(static_cast<int64_t>(rows));
  s_->pending_.fetch_sub(batch_.submitted);
  {
    std::lock_guard<std::mutex> lk(s_->mu_);
    for (auto& u : batch_.updates) {
      if (u.done) s_->completions_.push_back([cb = std::move(u.done), why] { cb(why); });
    }
  }
  batch_ = Batch();
}

Result<RunRecord> StoreThread::DoGetRun(RunId id) {
  get_run_.BindInt(1, id.value);
  HERO_ASSIGN_OR_RETURN(bool row, get_run_.Step());
  if (!row) {
    get_run_.Reset();
    return NotFound("run " + std::to_string(id.value) + " not found");
  }
  Result<RunRecord> r = ReadRun(get_run_);
  get_run_.Reset();
  return r;
}

Result<std::vector<RunRecord>> StoreThread::DoListRuns(const RunFilter& f) {
  RunQuery q = BuildListRunsQuery(f);
  HERO_ASSIGN_OR_RETURN(Statement st, db_.Prepare(q.sql));
  for (size_t i = 0; i < q.params.size(); ++i) {
    int idx = static_cast<int>(i + 1);
    std::visit(Overloaded{[&](int64_t v) { st.BindInt(idx, v); },
                          [&](const std::string& v) { st.BindText(idx, v); }},
               q.params[i]);
  }
  std::vector<RunRecord> out;
  for (;;) {
    HERO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    HERO_ASSIGN_OR_RETURN(RunRecord r, ReadRun(st));
    out.push_back(std::move(r));
  }
  return out;
}

Result<bool> StoreThread::GetSpansStep(Store::GetSpansOp& o) {
  const bool head = o.max_rows >= 0;
  int64_t want = kSpanReadChunk;
  if (head) {
    int64_t left = o.max_rows + kSpanHeadFailures - static_cast<int64_t>(o.rows.size());
    if (left <= 0) return true;
    want = std::min(want, left);
  }
  Statement& st = head ? get_spans_head_ : get_spans_;
  st.BindInt(1, o.id.value);
  st.BindInt(2, o.after_seq);
  st.BindInt(3, want);
  if (head) st.BindInt(4, o.max_rows);
  int64_t got = 0;
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) {
      st.Reset();
      return row.status();
    }
    if (!*row) break;
    o.rows.push_back(ReadSpan(st));
    o.after_seq = o.rows.back().seq.value;
    ++got;
  }
  st.Reset();
  return got < want;
}

Result<std::vector<LogRow>> StoreThread::DoGetLogs(RunId id, std::optional<SpanSeq> span) {
  Statement& st = span ? get_span_logs_ : get_logs_;
  st.BindInt(1, id.value);
  if (span) st.BindInt(2, span->value);
  std::vector<LogRow> out;
  for (;;) {
    HERO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(
        LogRow{SpanSeq{st.ColumnInt(0)}, st.ColumnInt(1), st.ColumnText(2), st.ColumnText(3)});
  }
  st.Reset();
  return out;
}

Result<int> StoreThread::DoRecover(int64_t now_us) {
  HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
  HERO_ASSIGN_OR_RETURN(Statement spans,
                        db_.Prepare("UPDATE spans SET status = 'failed', "
                                    "error = 'supervisor stopped before the span ended', "
                                    "end_us = MAX(start_us, ?1) "
                                    "WHERE status = 'running' AND run_id IN "
                                    "(SELECT id FROM runs WHERE status IN ('queued', 'running'))"));
  spans.BindInt(1, now_us);
  HERO_RETURN_IF_ERROR(spans.Run().WithContext("recover spans"));
  HERO_ASSIGN_OR_RETURN(Statement runs,
                        db_.Prepare("UPDATE runs SET status = 'interrupted', "
                                    "reason = 'supervisor stopped while the run was running', "
                                    "ended_us = ?1 WHERE status IN ('queued', 'running')"));
  runs.BindInt(1, now_us);
  HERO_RETURN_IF_ERROR(runs.Run().WithContext("recover runs"));
  int marked = db_.changes();
  HERO_RETURN_IF_ERROR(txn.Commit().WithContext("recover"));
  return marked;
}

Result<int64_t> StoreThread::UsedBytes() {
  HERO_ASSIGN_OR_RETURN(int64_t pages, db_.QueryInt("PRAGMA page_count"));
  HERO_ASSIGN_OR_RETURN(int64_t free_pages, db_.QueryInt("PRAGMA freelist_count"));
  HERO_ASSIGN_OR_RETURN(int64_t page_size, db_.QueryInt("PRAGMA page_size"));
  return (pages - free_pages) * page_size;
}

Result<std::vector<RunId>> StoreThread::DeleteOldestRuns(int64_t older_than_us, int64_t limit,
                                                         const std::vector<RunId>& keep) {
  std::unordered_set<int64_t> kept;
  for (RunId k : keep) kept.insert(k.value);
  HERO_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
  std::vector<RunId> ids;
  {
    // Oldest by id (creation order), which the primary key serves without a sort.
    std::string sql = "SELECT id FROM runs WHERE status NOT IN ('" +
                      std::string(RunStatusName(RunStatus::kQueued)) + "', '" +
                      std::string(RunStatusName(RunStatus::kRunning)) + "')";
    if (older_than_us > 0) sql += " AND ended_us < ?2";
    sql += " ORDER BY id LIMIT ?1";
    HERO_ASSIGN_OR_RETURN(Statement sel, db_.Prepare(sql));
    sel.BindInt(1, limit + static_cast<int64_t>(kept.size()));
    if (older_than_us > 0) sel.BindInt(2, older_than_us);
    while (static_cast<int64_t>(ids.size()) < limit) {
      HERO_ASSIGN_OR_RETURN(bool row, sel.Step());
      if (!row) break;
      int64_t id = sel.ColumnInt(0);
      if (!kept.count(id)) ids.push_back(RunId{id});
    }
  }
  if (ids.empty()) return ids;  // nothing written: the transaction just rolls back
  HERO_ASSIGN_OR_RETURN(Statement logs, db_.Prepare("DELETE FROM span_logs WHERE run_id = ?1"));
  HERO_ASSIGN_OR_RETURN(Statement spans, db_.Prepare("DELETE FROM spans WHERE run_id = ?1"));
  HERO_ASSIGN_OR_RETURN(Statement runs, db_.Prepare("DELETE FROM runs WHERE id = ?1"));
  for (RunId id : ids) {
    for (Statement* st : {&logs, &spans, &runs}) {
      st->BindInt(1, id.value);
      HERO_RETURN_IF_ERROR(st->Run().WithContext("prune run " + std::to_string(id.value)));
    }
  }
  HERO_RETURN_IF_ERROR(txn.Commit().WithContext("prune commit"));
  return ids;
}

bool StoreThread::PruneStep(Store::PruneOp& o) {
  PruneResult& r = o.acc;
  if (o.opts.batch <= 0) o.opts.batch = 500;
  if (!o.started) {
    o.started = true;
    Result<int64_t> used = UsedBytes();
    if (!used.ok()) {
      FinishPrune(o, used.status());
      return true;
    }
    r.bytes_before = *used;
  }
  auto take = [&r](std::vector<RunId>& ids) {
    r.runs_deleted += static_cast<int64_t>(ids.size());
    r.ids.insert(r.ids.end(), ids.begin(), ids.end());
  };
  if (!o.age_done) {
    if (o.opts.older_than_us <= 0) {
      o.age_done = true;
    } else {
      Result<std::vector<RunId>> ids =
          DeleteOldestRuns(o.opts.older_than_us, o.opts.batch, o.opts.keep);
      if (!ids.ok()) {
        FinishPrune(o, ids.status());
        return true;
      }
      if (!ids->empty()) {
        take(*ids);
        return false;
      }
      o.age_done = true;
    }
  }
  if (o.opts.max_bytes <= 0) {
    FinishPrune(o, Status::Ok());
    return true;
  }
  Result<int64_t> used = UsedBytes();
  if (!used.ok()) {
    FinishPrune(o, used.status());
    return true;
  }
  if (*used <= o.opts.max_bytes) {
    FinishPrune(o, Status::Ok());
    return true;
  }
  // How many runs to delete next: the excess over the bytes one run frees. The first guess is
  // the average run (an overestimate: the schema and the flow library count too); later ones
  // use what the previous batch really freed, doubling while whole pages are not yet freed.
  const int64_t excess = *used - o.opts.max_bytes;
  int64_t n;
  if (o.size_batch == 0) {
    Result<int64_t> count = db_.QueryInt("SELECT COUNT(*) FROM runs");
    if (!count.ok()) {
      FinishPrune(o, count.status());
      return true;
    }
    int64_t per_run = std::max<int64_t>(1, *used / std::max<int64_t>(1, *count));
    n = (excess + per_run - 1) / per_run;
  } else {
    int64_t freed = o.last_used - *used;
    int64_t per_run = freed / o.size_batch;
    n = per_run > 0 ? (excess + per_run - 1) / per_run : o.size_batch * 2;
  }
  n = std::clamp<int64_t>(n, 1, o.opts.batch);
  Result<std::vector<RunId>> ids = DeleteOldestRuns(0, n, o.opts.keep);
  if (!ids.ok()) {
    FinishPrune(o, ids.status());
    return true;
  }
  if (ids->empty()) {  // only active (or kept) runs are left
    FinishPrune(o, Status::Ok());
    return true;
  }
  o.size_batch = static_cast<int64_t>(ids->size());
  o.last_used = *used;
  take(*ids);
  return false;
}

void StoreThread::FinishPrune(Store::PruneOp& o, Status err) {
  PruneResult r = std::move(o.acc);
  Result<int64_t> used = UsedBytes();
  r.bytes_after = used.ok() ? *used : r.bytes_before;
  if (!err.ok()) HERO_LOG(kError) << "store: prune: " << err.ToString();
  r.error = err;
  Result<PruneResult> out =
      (!err.ok() && r.ids.empty()) ? Result<PruneResult>(err) : Result<PruneResult>(std::move(r));
  s_->PostCompletion([done = std::move(o.done), out = std::move(out)]() mutable {
    if (done) done(std::move(out));
  });
}

// ---------------------------------------------------------------------------------------
// Owner side.

Store::Store(Options opts) : opts_(std::move(opts)) {}

Result<std::unique_ptr<Store>> Store::Open(Options opts) {
  HERO_CHECK(opts.commit_rows > 0);
  std::unique_ptr<Store> store(new Store(std::move(opts)));
  // Shared so the store thread may still be inside set_value when Open returns.
  auto opened = std::make_shared<std::promise<Status>>();
  std::future<Status> result = opened->get_future();
  store->thread_ = std::thread([s = store.get(), opened] {
    s->ThreadMain([opened](Status st) { opened->set_value(std::move(st)); });
  });
  Status st = result.get();
  if (!st.ok()) {
    store->thread_.join();
    HERO_CHECK(store->close_rc_ == SQLITE_OK);
    return st.WithContext("open store " + store->opts_.path);
  }
  return store;
}

void Store::ThreadMain(std::function<void(Status)> opened) {
  StoreThread t(this);
  Status st = t.Open();
  bool ok = st.ok();
  opened(std::move(st));
  if (ok) t.Run();
  int rc = t.Close();
  std::lock_guard<std::mutex> lk(mu_);
  close_rc_ = rc;
}

Store::~Store() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lk(mu_);
    HERO_CHECK(close_rc_ == SQLITE_OK);  // a statement outlived the connection
  }
  DrainCompletions();
}

void Store::Submit(Op op) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    HERO_CHECK(!stop_);  // submitting while the Store is being destroyed
    inbox_.ops.push_back(std::move(op));
  }
  work_cv_.notify_one();
}

void Store::PostCompletion(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    completions_.push_back(std::move(fn));
  }
  done_cv_.notify_all();
  if (opts_.wake) opts_.wake();
}

void Store::CreateRun(RunRecord rec, std::function<void(Result<RunId>)> done) {
  pending_.fetch_add(1);
  Submit(CreateOp{std::move(rec), std::move(done)});
}

void Store::UpdateRun(RunRecord rec, std::function<void(Status)> done) {
  pending_.fetch_add(1);
  Submit(UpdateOp{std::move(rec), std::move(done)});
}

void Store::Flush(std::function<void(Status)> done) { Submit(FlushOp{std::move(done)}); }

void Store::PutSpan(RunId run, SpanRow row) {
  if (pending_.load(std::memory_order_relaxed) >= opts_.max_pending_rows) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_.fetch_add(1, std::memory_order_relaxed);
  bool notify;
  {
    std::lock_guard<std::mutex> lk(mu_);
    HERO_CHECK(!stop_);
    inbox_.spans.push_back(SpanPut{run, std::move(row)});
    size_t n = inbox_.rows();
    // Wake the thread only on the transitions its wait predicate cares about.
    notify = (!batch_open_ && n == 1) || n + batch_rows_ == opts_.commit_rows;
  }
  if (notify) work_cv_.notify_one();
}

void Store::PutLog(RunId run, LogRow row) {
  if (pending_.load(std::memory_order_relaxed) >= opts_.max_pending_rows) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_.fetch_add(1, std::memory_order_relaxed);
  bool notify;
  {
    std::lock_guard<std::mutex> lk(mu_);
    HERO_CHECK(!stop_);
    inbox_.logs.push_back(LogPut{run, std::move(row)});
    size_t n = inbox_.rows();
    notify = (!batch_open_ && n == 1) || n + batch_rows_ == opts_.commit_rows;
  }
  if (notify) work_cv_.notify_one();
}

Status Store::last_error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return last_error_;
}

void Store::GetRun(RunId id, std::function<void(Result<RunRecord>)> done) {
  Submit(GetRunOp{id, std::move(done)});
}
void Store::ListRuns(RunFilter f, std::function<void(Result<std::vector<RunRecord>>)> done) {
  Submit(ListRunsOp{std::move(f), std::move(done)});
}
void Store::GetSpans(RunId id, std::function<void(Result<std::vector<SpanRow>>)> done) {
  Submit(GetSpansOp{id, std::move(done)});
}

void Store::GetSpansHead(RunId id, int64_t max_rows,
                         std::function<void(Result<std::vector<SpanRow>>)> done) {
  GetSpansOp op{id, std::move(done)};
  op.max_rows = std::max<int64_t>(max_rows, 0);
  Submit(std::move(op));
}
void Store::GetLogs(RunId id, std::optional<SpanSeq> span,
                    std::function<void(Result<std::vector<LogRow>>)> done) {
  Submit(GetLogsOp{id, span, std::move(done)});
}

template <typename R>
void Store::SubmitLibrary(std::function<R(FlowLibrary&)> work, std::function<void(R)> done) {
  Submit(LibraryOp{[work = std::move(work),
                    done = std::move(done)](FlowLibrary& lib) mutable -> std::function<void()> {
    return [done = std::move(done), r = work(lib)]() mutable {
      if (done) done(std::move(r));
    };
  }});
}

void Store::CreateFlow(std::string name, FlowVersion v,
                       std::function<void(Result<FlowRecord>)> done) {
  SubmitLibrary<Result<FlowRecord>>(
      [name = std::move(name), v = std::move(v)](FlowLibrary& lib) { return lib.Create(name, v); },
      std::move(done));
}
void Store::AddFlowVersion(std::string name, FlowVersion v, bool make_current,
                           std::function<void(Result<FlowRecord>)> done) {
  SubmitLibrary<Result<FlowRecord>>(
      [name = std::move(name), v = std::move(v), make_current](FlowLibrary& lib) {
        return lib.AddVersion(name, v, make_current);
      },
      std::move(done));
}
void Store::GetFlow(std::string name, int64_t version,
                    std::function<void(Result<FlowRecord>)> done) {
  SubmitLibrary<Result<FlowRecord>>(
      [name = std::move(name), version](FlowLibrary& lib) { return lib.Get(name, version); },
      std::move(done));
}
void Store::ListFlows(std::function<void(Result<std::vector<FlowRecord>>)> done) {
  SubmitLibrary<Result<std::vector<FlowRecord>>>([](FlowLibrary& lib) { return lib.List(); },
                                                 std::move(done));
}
void Store::DeleteFlow(std::string name, std::function<void(Status)> done) {
  SubmitLibrary<Status>([name = std::move(name)](FlowLibrary& lib) { return lib.Delete(name); },
                        std::move(done));
}
void Store::ListFlowVersions(std::string name,
                             std::function<void(Result<std::vector<FlowVersion>>)> done) {
  SubmitLibrary<Result<std::vector<FlowVersion>>>(
      [name = std::move(name)](FlowLibrary& lib) { return lib.Versions(name); }, std::move(done));
}
void Store::SetCurrentFlowVersion(std::string name, int64_t version,
                                  std::function<void(Result<FlowRecord>)> done) {
  SubmitLibrary<Result<FlowRecord>>(
      [name = std::move(name), version](FlowLibrary& lib) { return lib.SetCurrent(name, version); },
      std::move(done));
}
void Store::SearchFlows(std::string query, int limit,
                        std::function<void(Result<std::vector<FlowSearchHit>>)> done) {
  SubmitLibrary<Result<std::vector<FlowSearchHit>>>(
      [query = std::move(query), limit](FlowLibrary& lib) { return lib.Search(query, limit); },
      std::move(done));
}
void Store::CreateExample(ExampleRecord e, std::function<void(Result<ExampleRecord>)> done) {
  SubmitLibrary<Result<ExampleRecord>>(
      [e = std::move(e)](FlowLibrary& lib) { return lib.PutExample(e); }, std::move(done));
}
void Store::ListExamples(std::string flow_name,
                         std::function<void(Result<std::vector<ExampleRecord>>)> done) {
  SubmitLibrary<Result<std::vector<ExampleRecord>>>(
      [flow_name = std::move(flow_name)](FlowLibrary& lib) { return lib.ListExamples(flow_name); },
      std::move(done));
}
void Store::DeleteExample(int64_t id, std::function<void(Status)> done) {
  SubmitLibrary<Status>([id](FlowLibrary& lib) { return lib.DeleteExample(id); }, std::move(done));
}

void Store::PruneRuns(PruneOptions opts, std::function<void(Result<PruneResult>)> done) {
  PruneOp op;
  op.opts = std::move(opts);
  op.done = std::move(done);
  Submit(std::move(op));
}

void Store::DrainCompletions() {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard<std::mutex> lk(mu_);
    ready.swap(completions_);
  }
  for (auto& fn : ready) fn();
}

template <typename R, typename Start>
R Store::WaitFor(Start start) {
  std::optional<R> out;
  start([&out](R r) { out.emplace(std::move(r)); });
  while (!out) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [this] { return !completions_.empty(); });
    }
    DrainCompletions();
  }
  return std::move(*out);
}

Result<int> Store::RecoverInterrupted(int64_t now_us) {
  return WaitFor<Result<int>>([&](auto cb) { Submit(RecoverOp{now_us, std::move(cb)}); });
}
Result<RunId> Store::CreateRunSync(RunRecord rec) {
  return WaitFor<Result<RunId>>([&](auto cb) { CreateRun(std::move(rec), std::move(cb)); });
}
Status Store::UpdateRunSync(RunRecord rec) {
  return WaitFor<Status>([&](auto cb) { UpdateRun(std::move(rec), std::move(cb)); });
}
Status Store::FlushSync() {
  return WaitFor<Status>([&](auto cb) { Flush(std::move(cb)); });
}
Result<RunRecord> Store::GetRunSync(RunId id) {
  return WaitFor<Result<RunRecord>>([&](auto cb) { GetRun(id, std::move(cb)); });
}
Result<std::vector<RunRecord>> Store::ListRunsSync(RunFilter f) {
  return WaitFor<Result<std::vector<RunRecord>>>(
      [&](auto cb) { ListRuns(std::move(f), std::move(cb)); });
}
Result<std::vector<SpanRow>> Store::GetSpansSync(RunId id) {
  return WaitFor<Result<std::vector<SpanRow>>>([&](auto cb) { GetSpans(id, std::move(cb)); });
}

Result<std::vector<SpanRow>> Store::GetSpansHeadSync(RunId id, int64_t max_rows) {
  return WaitFor<Result<std::vector<SpanRow>>>(
      [&](auto cb) { GetSpansHead(id, max_rows, std::move(cb)); });
}
Result<std::vector<LogRow>> Store::GetLogsSync(RunId id, std::optional<SpanSeq> span) {
  return WaitFor<Result<std::vector<LogRow>>>([&](auto cb) { GetLogs(id, span, std::move(cb)); });
}
Result<FlowRecord> Store::CreateFlowSync(std::string name, FlowVersion v) {
  return WaitFor<Result<FlowRecord>>(
      [&](auto cb) { CreateFlow(std::move(name), std::move(v), std::move(cb)); });
}
Result<FlowRecord> Store::AddFlowVersionSync(std::string name, FlowVersion v, bool make_current) {
  return WaitFor<Result<FlowRecord>>(
      [&](auto cb) { AddFlowVersion(std::move(name), std::move(v), make_current, std::move(cb)); });
}
Result<FlowRecord> Store::GetFlowSync(std::string name, int64_t version) {
  return WaitFor<Result<FlowRecord>>(
      [&](auto cb) { GetFlow(std::move(name), version, std::move(cb)); });
}
Result<std::vector<FlowRecord>> Store::ListFlowsSync() {
  return WaitFor<Result<std::vector<FlowRecord>>>([&](auto cb) { ListFlows(std::move(cb)); });
}
Status Store::DeleteFlowSync(std::string name) {
  return WaitFor<Status>([&](auto cb) { DeleteFlow(std::move(name), std::move(cb)); });
}
Result<std::vector<FlowVersion>> Store::ListFlowVersionsSync(std::string name) {
  return WaitFor<Result<std::vector<FlowVersion>>>(
      [&](auto cb) { ListFlowVersions(std::move(name), std::move(cb)); });
}
Result<FlowRecord> Store::SetCurrentFlowVersionSync(std::string name, int64_t version) {
  return WaitFor<Result<FlowRecord>>(
      [&](auto cb) { SetCurrentFlowVersion(std::move(name), version, std::move(cb)); });
}
Result<std::vector<FlowSearchHit>> Store::SearchFlowsSync(std::string query, int limit) {
  return WaitFor<Result<std::vector<FlowSearchHit>>>(
      [&](auto cb) { SearchFlows(std::move(query), limit, std::move(cb)); });
}
Result<ExampleRecord> Store::CreateExampleSync(ExampleRecord e) {
  return WaitFor<Result<ExampleRecord>>(
      [&](auto cb) { CreateExample(std::move(e), std::move(cb)); });
}
Result<std::vector<ExampleRecord>> Store::ListExamplesSync(std::string flow_name) {
  return WaitFor<Result<std::vector<ExampleRecord>>>(
      [&](auto cb) { ListExamples(std::move(flow_name), std::move(cb)); });
}
Status Store::DeleteExampleSync(int64_t id) {
  return WaitFor<Status>([&](auto cb) { DeleteExample(id, std::move(cb)); });
}
Result<PruneResult> Store::PruneRunsSync(PruneOptions opts) {
  return WaitFor<Result<PruneResult>>([&](auto cb) { PruneRuns(std::move(opts), std::move(cb)); });
}
Status Store::ExecForTesting(std::string sql) {
  return WaitFor<Status>([&](auto cb) { Submit(ExecOp{std::move(sql), std::move(cb)}); });
}

}  // namespace hero::store
