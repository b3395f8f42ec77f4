// OtlpExporter (see the header's contract). Why this shape: the loop thread must never wait
// on a collector, so the only thing it does is a mutex-protected deque push (no allocation
// beyond the item it built, no notify unless a batch is full). One exporter thread owns the
// libcurl handle (keep-alive to the collector) and does every slow thing: tag parsing,
// encoding, HTTP, backoff sleeps. Flush/Shutdown bound every wait by a deadline because the
// CLI must exit within OTEL_EXPORTER_OTLP_TIMEOUT even when the collector is a black hole.
#include "supervisor/otel/otlp_exporter.h"

#include <curl/curl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>

#include "supervisor/base/log.h"

namespace hero::otel {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr int kMaxAttempts = 5;
constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{5'000};
constexpr size_t kMaxEventsPerSpan = 128;
constexpr size_t kMaxBufferedEvents = 65'536;

bool Retryable(long status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}
}  // namespace

// One libcurl easy handle, reused (keep-alive). Exporter thread only.
class OtlpExporter::Http {
 public:
  struct Reply {
    bool sent = false;  // a response arrived (else a connection/timeout error)
    long status = 0;    // HTTP status
    milliseconds retry_after{0};
    std::string error;  // libcurl's message when !sent
  };

  Http(const OtelConfig& c) : curl_(curl_easy_init()) {
    headers_ = curl_slist_append(headers_, c.json ? "Content-Type: application/json"
                                                  : "Content-Type: application/x-protobuf");
    for (const auto& [k, v] : c.headers)
      headers_ = curl_slist_append(headers_, (k + ": " + v).c_str());
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
  }
  ~Http() {
    curl_slist_free_all(headers_);
    if (curl_) curl_easy_cleanup(curl_);
  }

  Reply Post(const std::string& url, const std::string& body, milliseconds timeout) {
    Reply r;
    if (!curl_) {
      r.error = "curl_easy_init failed";
      return r;
    }
    retry_after_ = milliseconds(0);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(1, timeout.count())));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(1, timeout.count())));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Http::Discard);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Http::OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
    CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      r.error = curl_easy_strerror(rc);
      return r;
    }
    r.sent = true;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    r.retry_after = retry_after_;
    return r;
  }

 private:
  static size_t Discard(char*, size_t size, size_t n, void*) noexcept { return size * n; }
  // Retry-After in seconds (the HTTP-date form is not used by collectors; ignored).
  static size_t OnHeader(char* data, size_t size, size_t n, void* self) noexcept {
    std::string_view h(data, size * n);
    constexpr std::string_view kName = "retry-after:";
    if (h.size() > kName.size()) {
      std::string lower(h.substr(0, kName.size()));
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == kName) {
        long s = std::strtol(std::string(h.substr(kName.size())).c_str(), nullptr, 10);
        if (s > 0) static_cast<Http*>(self)->retry_after_ = milliseconds(s * 1000);
      }
    }
    return size * n;
  }

  CURL* curl_;
  curl_slist* headers_ = nullptr;
  milliseconds retry_after_{0};
};

// Logs waiting for their span (span-events mode). Exporter thread only. Bounded: 128 events
// per span, 65,536 in all; when full the oldest span's events are evicted (a span that was
// dropped from the queue never comes to claim them).
struct OtlpExporter::EventBuffer {
  using Key = std::pair<int64_t, uint64_t>;  // run id, span id
  std::map<Key, std::vector<LogEvent>> by_span;
  std::deque<Key> order;
  size_t total = 0;

  // Returns how many events were dropped.
  int64_t Add(const LogItem& l) {
    Key k{l.run->run_id, l.span_id};
    auto [it, fresh] = by_span.try_emplace(k);
    if (fresh) order.push_back(k);
    if (it->second.size() >= kMaxEventsPerSpan) return 1;
    it->second.push_back(LogEvent{l.ts_us, l.stream, l.text});
    ++total;
    int64_t evicted = 0;
    while (total > kMaxBufferedEvents && !order.empty()) {
      auto old = by_span.find(order.front());
      order.pop_front();
      if (old == by_span.end()) continue;
      evicted += static_cast<int64_t>(old->second.size());
      total -= old->second.size();
      by_span.erase(old);
    }
    return evicted;
  }
  std::vector<LogEvent> Take(const SpanItem& s) {
    auto it = by_span.find(Key{s.run->run_id, s.span_id});
    if (it == by_span.end()) return {};
    std::vector<LogEvent> out = std::move(it->second);
    total -= out.size();
    by_span.erase(it);  // its key stays in `order` until it reaches the front (a no-op then)
    return out;
  }
};

OtlpExporter::OtlpExporter(OtelConfig config, ResourceInfo resource)
    : config_(std::move(config)), resource_(std::move(resource)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // before our thread exists (not thread-safe)
  http_ = std::make_unique<Http>(config_);
  events_ = std::make_unique<EventBuffer>();
  thread_ = std::thread([this] { ThreadMain(); });
}

OtlpExporter::~OtlpExporter() { Shutdown(Clock::now() + config_.timeout); }

void OtlpExporter::Add(SpanItem span) { Push(Item(std::move(span))); }
void OtlpExporter::Add(LogItem log) { Push(Item(std::move(log))); }

void OtlpExporter::Push(Item item) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    if (queue_.size() >= config_.max_queue) {
      (std::holds_alternative<SpanItem>(queue_.front()) ? dropped_spans_ : dropped_logs_)++;
      queue_.pop_front();
      ++done_;
    }
    queue_.push_back(std::move(item));
    ++added_;
    // The thread sleeps with an empty queue until the first item (then it times the schedule
    // delay itself) and is woken early only for a full batch: two notifies per batch at most.
    wake = queue_.size() == 1 || queue_.size() == config_.max_batch;
  }
  if (wake) wake_.notify_one();
}

bool OtlpExporter::Flush(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  uint64_t target = added_;
  flush_ = true;
  wake_.notify_one();
  return progress_.wait_until(lock, deadline, [&] { return done_ >= target || stop_; }) &&
         done_ >= target;
}

void OtlpExporter::Shutdown(Clock::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    deadline_ = deadline;  // Post stops retrying and cuts its timeouts to this
  }
  (void)Flush(deadline);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::lock_guard lock(mu_);
  for (const Item& it : queue_)
    (std::holds_alternative<SpanItem>(it) ? dropped_spans_ : dropped_logs_)++;
  queue_.clear();
}

bool OtlpExporter::SleepUntil(Clock::time_point t) {
  std::unique_lock lock(mu_);
  return !wake_.wait_until(lock, std::min(t, deadline_), [&] { return stop_; }) &&
         Clock::now() < deadline_;
}

void OtlpExporter::ThreadMain() {
  // Telemetry yields to the runs: under CPU contention (2 cores, a flooding child, the loop
  // and the store thread) the backlog waits in the bounded queue instead of slowing ingest.
  // Linux applies a nice value to the calling thread only.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  std::unique_lock lock(mu_);
  Clock::time_point first_wait{};  // when the oldest queued item started waiting
  while (true) {
    if (!queue_.empty() && first_wait == Clock::time_point{}) first_wait = Clock::now();
    auto ready = [&] {
      return stop_ || flush_ || queue_.size() >= config_.max_batch ||
             (!queue_.empty() && Clock::now() >= first_wait + config_.schedule_delay);
    };
    if (queue_.empty()) {
      wake_.wait(lock, [&] { return stop_ || flush_ || !queue_.empty(); });
      if (!queue_.empty() && first_wait == Clock::time_point{}) first_wait = Clock::now();
    }
    if (!ready()) wake_.wait_until(lock, first_wait + config_.schedule_delay, ready);
    if (stop_) return;
    if (queue_.empty()) {
      flush_ = false;
      progress_.notify_all();
      continue;
    }
    std::deque<Item> batch;
    size_t n = std::min(queue_.size(), config_.max_batch);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    first_wait = Clock::time_point{};
    lock.unlock();
    Export(batch);
    lock.lock();
    done_ += n;
    progress_.notify_all();
  }
}

void OtlpExporter::Export(std::deque<Item>& batch) {
  std::vector<const SpanItem*> spans;
  std::vector<const LogItem*> logs;
  for (const Item& it : batch) {
    if (const auto* s = std::get_if<SpanItem>(&it)) {
      spans.push_back(s);
    } else if (config_.logs_url.empty()) {
      dropped_logs_ += events_->Add(std::get<LogItem>(it));
    } else {
      logs.push_back(&std::get<LogItem>(it));
    }
  }
  if (!spans.empty()) {
    std::vector<std::vector<LogEvent>> events;
    if (config_.logs_url.empty()) {
      for (const SpanItem* s : spans) events.push_back(events_->Take(*s));
    }
    const auto* ev = config_.logs_url.empty() ? &events : nullptr;
    std::string body = config_.json ? EncodeTracesJson(resource_, spans, ev)
                                    : EncodeTracesProto(resource_, spans, ev);
    if (Post(config_.traces_url, body)) {
      exported_spans_ += static_cast<int64_t>(spans.size());
    } else {
      dropped_spans_ += static_cast<int64_t>(spans.size());
      ++failed_batches_;
    }
  }
  if (!logs.empty()) {
    std::string body =
        config_.json ? EncodeLogsJson(resource_, logs) : EncodeLogsProto(resource_, logs);
    if (Post(config_.logs_url, body)) {
      exported_logs_ += static_cast<int64_t>(logs.size());
    } else {
      dropped_logs_ += static_cast<int64_t>(logs.size());
      ++failed_batches_;
    }
  }
}

bool OtlpExporter::Post(const std::string& url, const std::string& body) {
  thread_local std::minstd_rand jitter(static_cast<unsigned>(RandomU64()));
  milliseconds backoff = kFirstBackoff;
  std::string why;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Clock::time_point now = Clock::now(), deadline;
    {
      std::lock_guard lock(mu_);
      deadline = deadline_;
    }
    if (now >= deadline) break;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
    Http::Reply r = http_->Post(url, body, std::min(config_.timeout, left));
    if (r.sent && r.status >= 200 && r.status < 300) {
      if (failing_) HERO_LOG(kInfo) << "otlp: export to " << url << " works again";
      failing_ = false;
      return true;
    }
    why = r.sent ? "HTTP " + std::to_string(r.status) : r.error;
    if (r.sent && !Retryable(r.status)) break;
    if (attempt + 1 == kMaxAttempts) break;
    ++retries_;
    milliseconds wait = milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) *
                                                          (0.5 + (jitter() % 1000) / 1000.0)));
    if (r.retry_after.count() > 0 && r.retry_after <= kMaxBackoff) wait = r.retry_after;
    backoff = std::min(backoff * 2, kMaxBackoff);
    if (!SleepUntil(Clock::now() + wait)) break;
  }
  if (!failing_) HERO_LOG(kWarn) << "otlp: export to " << url << " failed: " << why;
  failing_ = true;
  return false;
}

ExporterStats OtlpExporter::stats() const {
  ExporterStats s;
  s.exported_spans = exported_spans_;
  s.exported_logs = exported_logs_;
  s.dropped_spans = dropped_spans_;
  s.dropped_logs = dropped_logs_;
  s.failed_batches = failed_batches_;
  s.retries = retries_;
  std::lock_guard lock(mu_);
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

std::string OtlpExporter::MetricsText() const {
  ExporterStats s = stats();
  std::string out;
  auto counter = [&](const char* name, const char* help, int64_t v, const char* type) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  counter("hero_otlp_exported_spans_total", "Spans accepted by the OTLP collector.",
          s.exported_spans, "counter");
  counter("hero_otlp_dropped_spans_total",
          "Spans not exported: queue full (oldest dropped) or their batch failed.", s.dropped_spans,
          "counter");
  counter("hero_otlp_failed_batches_total", "OTLP export requests that failed after retries.",
          s.failed_batches, "counter");
  counter("hero_otlp_exported_logs_total", "Log records accepted by the OTLP collector.",
          s.exported_logs, "counter");
  counter("hero_otlp_dropped_logs_total", "Log records or span events not exported.",
          s.dropped_logs, "counter");
  counter("hero_otlp_retries_total", "OTLP export attempts retried (429/502/503/504/connection).",
          s.retries, "counter");
  counter("hero_otlp_queue_items", "Spans and logs waiting in the OTLP export queue.", s.queued,
          "gauge");
  return out;
}

std::unique_ptr<OtlpExporter> ExporterFromEnvironment(
    std::string instance_id, const std::map<std::string, std::string>& file) {
  OtelConfig c = OtelConfigFromEnv([&file](const char* name) -> const char* {
    if (const char* v = std::getenv(name); v && *v) return v;
    auto it = file.find(name);
    return it == file.end() ? nullptr : it->second.c_str();
  });
  for (const auto& w : c.warnings) HERO_LOG(kWarn) << "otel: " << w;
  if (!c.enabled) return nullptr;
  ResourceInfo r;
  r.service_name = c.service_name;
  r.extra = c.resource;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) r.host_name = host;
  r.instance_id = instance_id.empty() ? r.host_name : std::move(instance_id);
  return std::make_unique<OtlpExporter>(std::move(c), std::move(r));
}

}  // namespace hero::otel
