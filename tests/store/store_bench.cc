// store_bench: how many span/log rows per second the Store absorbs, end to end (submit on
// this thread -> store thread -> committed in SQLite), with core-like backpressure.
// Usage: store_bench [events=2000000] [db path=<tmp dir>/bench.db]
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "supervisor/store/sqlite_db.h"
#include "supervisor/store/store.h"

using namespace hero;
using namespace hero::store;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kHighWater = 20'000;  // core stops reading sockets above this

SpanRow MakeSpan(int64_t seq, bool ended) {
  SpanRow s;
  s.seq = SpanSeq{seq};
  s.span_id = std::to_string(seq + 1);
  s.parent_id = seq == 0 ? "" : "1";
  s.name = "step_" + std::to_string(seq % 97);
  s.kind = seq == 0 ? "flow_root" : "step";
  s.status = ended ? "ok" : "running";
  s.start_us = 1'764'570'000'000'000 + seq;
  s.end_us = ended ? s.start_us + 5 : 0;
  s.tags_json = R"({"i":)" + std::to_string(seq) + "}";
  s.file = "flow.py";
  s.line = 42;
  s.cpu_us = ended ? 3 : 0;
  return s;
}

void Backpressure(Store& store) {
  while (store.pending_rows() > kHighWater)
    std::this_thread::sleep_for(std::chrono::microseconds(50));
}

// mode "trace": each span is span_start + span_log + span_end (3 events, the start and end
// usually coalesce into one row). mode "rows": every event is a new row (half spans, half logs).
double RunOnce(const std::string& path, const char* mode, int64_t events) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  Result<std::unique_ptr<Store>> opened = Store::Open(Store::Options{.path = path});
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<Store> store = std::move(opened).value();
  RunRecord rec;
  rec.flow_name = "bench";
  rec.status = RunStatus::kRunning;
  RunId run = *store->CreateRunSync(rec);
  const std::string text = "processed item 12345 of the input batch\n";

  Clock::time_point start = Clock::now();
  bool trace = std::string(mode) == "trace";
  int64_t seq = 0;
  for (int64_t e = 0; e < events;) {
    Backpressure(*store);
    if (trace) {
      store->PutSpan(run, MakeSpan(seq, false));
      store->PutLog(run, LogRow{SpanSeq{seq}, 1'764'570'000'000'000 + seq, "stdout", text});
      store->PutSpan(run, MakeSpan(seq, true));
      e += 3;
    } else {
      store->PutSpan(run, MakeSpan(seq, true));
      store->PutLog(run, LogRow{SpanSeq{seq}, 1'764'570'000'000'000 + seq, "stdout", text});
      e += 2;
    }
    ++seq;
    if ((seq & 1023) == 0) store->DrainCompletions();
  }
  Status flushed = store->FlushSync();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (!flushed.ok() || store->dropped_rows() != 0) {
    std::fprintf(stderr, "flush: %s dropped=%lld\n", flushed.ToString().c_str(),
                 static_cast<long long>(store->dropped_rows()));
    std::exit(1);
  }
  store.reset();
  double rate = static_cast<double>(events) / secs;
  std::printf("store_bench mode=%s events=%lld seconds=%.3f events_per_s=%.0f\n", mode,
              static_cast<long long>(events), secs, rate);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = argc > 1 ? std::atoll(argv[1]) : 2'000'000;
  std::string path;
  std::string dir;
  if (argc > 2) {
    path = argv[2];
  } else {
    std::string tmpl = (std::filesystem::temp_directory_path() / "store_bench.XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return 1;
    dir = tmpl;
    path = dir + "/bench.db";
  }
  RunOnce(path, "trace", events);
  RunOnce(path, "rows", events);
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return LiveSqliteConnections() == 0 ? 0 : 1;
}
