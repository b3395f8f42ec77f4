// HttpServer over h2o 2.2.5 (libuv flavour). Loop thread only.
//
// Lifetimes, because h2o and libuv each free things on their own schedule:
// - A connection is a Conn (its uv stream is the first member) handed to h2o; h2o closes it
//   and calls OnConnClosed after uv's close callback, which is where the Conn is freed.
// - An h2o_req_t lives inside its connection and dies when the response completes or the
//   connection closes. Anything that may answer later (an RPC Reply, an SSE stream) reaches the
//   request only through a record that a destructor registered in the request's pool nulls
//   out (h2o_mem_alloc_shared), so a late answer finds nullptr instead of a freed request.
// - h2o_context_dispose closes h2o's own timers with NULL callbacks and then runs a nested
//   uv_run(NOWAIT), which libuv forbids from inside a callback; we pre-set stop_flag so that
//   nested run returns at once, and learn that the timers are closed from two sentinel handles
//   closed after them (libuv runs each round of close callbacks in full before the next).
#include "supervisor/api/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <new>
#include <unordered_set>
#include <utility>
#include <vector>

#include "supervisor/api/h2o_inc.h"
#include "supervisor/api/json_rpc.h"
#include "supervisor/api/rpc_errors.h"
#include "supervisor/base/check.h"
#include "supervisor/base/json_writer.h"
#include "supervisor/base/log.h"
#include "supervisor/base/unique_fd.h"
#include "supervisor/loop/uv_handle.h"

namespace hero::api {
namespace {

constexpr int kBacklog = 511;

struct Conn {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;  // first member: uv_handle_t* <-> Conn*
  HttpServer::Impl* server = nullptr;
};

// One POST /rpc waiting for its (possibly asynchronous) answer.
struct PendingRpc {
  HttpServer::Impl* server = nullptr;  // null once answered, abandoned or the request died
  h2o_req_t* req = nullptr;
};

std::string_view View(h2o_iovec_t v) { return std::string_view(v.base ? v.base : "", v.len); }

bool ParsePositiveInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return false;
  *out = v;
  return true;
}

std::string SimpleErrorJson(int code, std::string_view message) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Field("code", code).Field("message", message);
  w.EndObject().EndObject();
  return w.Take();
}

Result<UniqueFd> BindUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("unix socket path is longer than " +
                           std::to_string(sizeof(addr.sun_path) - 1) + " bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return FailedPrecondition(path + " exists and is not a socket; refusing to replace it");
    }
    // Stale or live? Only a socket nobody answers on may be removed.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe) return Status::FromErrno(errno, "socket(AF_UNIX)");
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ||
        errno == EAGAIN || errno == EINPROGRESS) {
      return Status(StatusCode::kAlreadyExists,
                    "a hero_logic daemon is already listening on " + path);
    }
    if (errno != ECONNREFUSED && errno != ENOENT) {
      return Status::FromErrno(errno, "probing existing socket " + path);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "removing stale socket " + path);
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Status::FromErrno(errno, "socket(AF_UNIX)");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::FromErrno(errno, "bind " + path);
  }
  // Nobody can connect before listen(), so tightening the mode here has no window.
  if (::chmod(path.c_str(), 0600) != 0) {
    Status s = Status::FromErrno(errno, "chmod 0600 " + path);
    ::unlink(path.c_str());
    return s;
  }
  if (::listen(fd.get(), kBacklog) != 0) {
    Status s = Status::FromErrno(errno, "listen " + path);
    ::unlink(path.c_str());
    return s;
  }
  return fd;
}

Result<UniqueFd> BindTcp(const std::string& host, int port, int* bound_port) {
  if (port < 0 || port > 65535)
    return InvalidArgument("tcp port out of range: " + std::to_string(port));
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (uv_ip4_addr(host.c_str(), port, in4) == 0) {
    len = sizeof(sockaddr_in);
  } else if (uv_ip6_addr(host.c_str(), port, in6) == 0) {
    len = sizeof(sockaddr_in6);
  } else {
    return InvalidArgument("tcp_host is not an IPv4 or IPv6 address: " + host);
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Status::FromErrno(errno, "socket(AF_INET)");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  std::string where = host + ":" + std::to_string(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Status::FromErrno(errno, "bind " + where);
  }
  if (::listen(fd.get(), kBacklog) != 0) return Status::FromErrno(errno, "listen " + where);
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &blen) != 0) {
    return Status::FromErrno(errno, "getsockname " + where);
  }
  *bound_port = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                        : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return fd;
}

void IgnoreSigpipeIfDefault() {
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL &&
      (old.sa_flags & SA_SIGINFO) == 0) {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    ::sigaction(SIGPIPE, &ign, nullptr);
  }
}

// Half-closes or cuts a connection's socket so that h2o notices at its next read or write.
void ShutdownSocket(uv_handle_t* h, int how) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(h, &fd) == 0 && fd >= 0) ::shutdown(fd, how);
}

// A Prometheus label value: backslash, double quote and newline escaped (exposition format).
std::string PromLabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

std::string NodeName(const std::string& configured) {
  if (!configured.empty()) return configured;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "unknown";
  return host;
}

}  // namespace

class H2oSseStream;

class HttpServer::Impl {
 public:
  Impl(uv_loop_t* loop, Options options, Backend* backend)
      : loop_(loop), opt_(std::move(options)), backend_(backend), node_(NodeName(opt_.node)) {}
  ~Impl();

  Status Init();
  void Shutdown(std::function<void()> done);

  // h2o entry points.
  int Route(h2o_req_t* req);
  void OnConnection(uv_stream_t* listener, int status);
  void OnConnClosed(Conn* c);
  void FinishRpc(PendingRpc& pending, std::string response);
  void RpcRequestGone(PendingRpc& pending);
  h2o_iovec_t SetupTooLargeResponse(h2o_req_t* req);

  // Called by streams.
  void DetachStream(H2oSseStream* s);
  void CountDropped() { ++stats_.sse_dropped; }

  uv_loop_t* loop_;
  Options opt_;
  Backend* backend_;
  std::string node_;  // hero_node_info's node label
  MethodTable table_;
  std::unique_ptr<RpcDispatcher> dispatcher_;
  int tcp_port_ = 0;
  Stats stats_;

 private:
  enum class State { kRunning, kStopping, kDisposing, kStopped };

  void SendBody(h2o_req_t* req, int status, const char* reason, std::string_view content_type,
                std::string_view body);
  void SendJson(h2o_req_t* req, int status, const char* reason, std::string_view body) {
    SendBody(req, status, reason, "application/json", body);
  }
  void HandleRpc(h2o_req_t* req);
  void ServeHealth(h2o_req_t* req);
  void ServeMetrics(h2o_req_t* req);
  void ServeEvents(h2o_req_t* req, std::string_view run_part);
  void OnHeartbeat();
  void OnGrace();
  void CloseOwned(loop::UvHandle<uv_timer_t>& h);
  void MaybeDispose();
  void DisposeH2o();

  State state_ = State::kRunning;
  bool unix_bound_ = false;
  bool config_inited_ = false;
  bool ctx_inited_ = false;
  h2o_globalconf_t config_{};
  h2o_context_t ctx_{};
  h2o_accept_ctx_t accept_ctx_{};
  loop::UvHandle<uv_tcp_t> tcp_;
  loop::UvHandle<uv_pipe_t> pipe_;
  loop::UvHandle<uv_timer_t> heartbeat_;
  loop::UvHandle<uv_timer_t> grace_;
  UniqueFd unix_fd_;
  UniqueFd tcp_fd_;
  int closing_ = 0;  // our own handles whose close callback has not run yet
  int grace_rounds_ = 0;
  std::unordered_set<Conn*> conns_;
  std::unordered_set<PendingRpc*> rpcs_;
  std::unordered_set<H2oSseStream*> streams_;
  std::function<void()> done_;

  friend class HttpServer;
};

namespace {

struct RouterHandler {
  h2o_handler_t super;
  HttpServer::Impl* server;
};

struct TooLargeFilter {
  h2o_filter_t super;
  HttpServer::Impl* server;
};

struct ReplaceBodyOstream {
  h2o_ostream_t super;
  h2o_iovec_t body;
};

int OnRouterReq(h2o_handler_t* self, h2o_req_t* req) noexcept {
  return reinterpret_cast<RouterHandler*>(self)->server->Route(req);
}

void OnConnectionCb(uv_stream_t* listener, int status) noexcept {
  static_cast<HttpServer::Impl*>(listener->data)->OnConnection(listener, status);
}

void OnConnClosedCb(uv_handle_t* h) noexcept {
  Conn* c = reinterpret_cast<Conn*>(h);
  c->server->OnConnClosed(c);
}

void OnRejectedClosedCb(uv_handle_t* h) noexcept { delete reinterpret_cast<Conn*>(h); }

void OnPendingRpcPoolDispose(void* p) noexcept {
  auto* slot = static_cast<std::shared_ptr<PendingRpc>*>(p);
  PendingRpc& pending = **slot;
  if (pending.server != nullptr) pending.server->RpcRequestGone(pending);
  pending.req = nullptr;
  slot->~shared_ptr();
}

void ReplaceBodySend(h2o_ostream_t* self, h2o_req_t* req, h2o_iovec_t* bufs, size_t bufcnt,
                     h2o_send_state_t state) noexcept {
  auto* os = reinterpret_cast<ReplaceBodyOstream*>(self);
  bool has_body = bufcnt != 0 && os->body.len != 0;
  (void)bufs;
  h2o_iovec_t body = os->body;
  os->body = h2o_iovec_init(nullptr, 0);
  h2o_ostream_send_next(self, req, has_body ? &body : nullptr, has_body ? 1 : 0, state);
}

void OnTooLargeSetupOstream(h2o_filter_t* self, h2o_req_t* req, h2o_ostream_t** slot) noexcept {
  if (req->res.status == 413) {
    h2o_iovec_t body = reinterpret_cast<TooLargeFilter*>(self)->server->SetupTooLargeResponse(req);
    auto* os = reinterpret_cast<ReplaceBodyOstream*>(
        h2o_add_ostream(req, sizeof(ReplaceBodyOstream), slot));
    os->super.do_send = ReplaceBodySend;
    os->body = body;
    slot = &os->super.next;
  }
  h2o_setup_next_ostream(req, slot);
}

}  // namespace

// One SSE client. Owned by shared_ptr: the backend's copy, and the copy in the request's
// pool (which keeps the write buffer alive while h2o writes it).
class H2oSseStream final : public SseStream {
 public:
  H2oSseStream(HttpServer::Impl* server, h2o_req_t* req, size_t cap)
      : server_(server), req_(req), cap_(cap) {}

  bool Send(int64_t event_id, std::string_view event_name, std::string_view data) override {
    if (closed_) return false;
    AppendSseEvent(pending_, event_id, event_name, data);
    if (pending_.size() > cap_) {
      Drop();
      return false;
    }
    Flush();
    return true;
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    Flush();
  }

  bool is_open() const override { return !closed_; }

  struct Gen {
    h2o_generator_t super;  // first member
    std::shared_ptr<H2oSseStream> stream;
  };

  static void OnProceed(h2o_generator_t* g, h2o_req_t*) noexcept {
    reinterpret_cast<Gen*>(g)->stream->Proceed();
  }
  static void OnStop(h2o_generator_t* g, h2o_req_t*) noexcept {
    reinterpret_cast<Gen*>(g)->stream->Gone();
  }
  static void OnPoolDispose(void* p) noexcept {
    Gen* gen = static_cast<Gen*>(p);
    gen->stream->Gone();
    gen->~Gen();
  }

  void Start(Gen* gen) {
    h2o_req_t* req = req_;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = SIZE_MAX;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, nullptr,
                   H2O_STRLIT("text/event-stream; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, nullptr,
                   H2O_STRLIT("no-store"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0,
                          nullptr, H2O_STRLIT("no"));
    gen->super.proceed = &OnProceed;
    gen->super.stop = &OnStop;
    h2o_start_response(req, &gen->super);
    started_ = true;
    // Sent at once so the client sees the headers before the first event.
    pending_.insert(0, "retry: 2000\n\n");
    Flush();
  }

  // Subscribe failed: the stream was never started and never will be.
  void Abandon() {
    closed_ = true;
    pending_.clear();
    Detach();
  }

  void Heartbeat() {
    if (req_ == nullptr || !started_) return;
    if (closed_) {
      // Closed or dropped but its last bytes are still not written after two beats: the
      // client is stuck; cut the connection so its memory goes.
      if (++linger_beats_ >= 2) Cut();
      return;
    }
    if (in_flight_ || !pending_.empty()) return;
    pending_ = ": heartbeat\n\n";
    Flush();
  }

  // Server stopping: no keep-alive after the final chunk.
  void EndForShutdown() {
    if (req_ != nullptr) req_->http1_is_persistent = 0;
    Close();
  }

  void Cut() {
    if (req_ == nullptr) return;
    h2o_socket_t* sock = req_->conn->callbacks->get_socket(req_->conn);
    if (sock != nullptr) {
      int fd = h2o_socket_get_fd(sock);
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
  }

 private:
  void Drop() {
    pending_.clear();
    JsonWriter w;
    w.BeginObject()
        .Field("reason", "this client fell behind by more than " + std::to_string(cap_) +
                             " unsent bytes and was dropped; reconnect with Last-Event-ID "
                             "to resume")
        .Field("buffer_cap", static_cast<int64_t>(cap_))
        .EndObject();
    AppendSseEvent(pending_, -1, "dropped", w.str());
    closed_ = true;
    if (server_ != nullptr) server_->CountDropped();
    Flush();
  }

  void Flush() {
    if (req_ == nullptr || !started_ || in_flight_ || final_sent_) return;
    if (pending_.empty() && !closed_) return;
    inflight_.swap(pending_);
    pending_.clear();
    h2o_send_state_t state = closed_ ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
    if (closed_)
      final_sent_ = true;
    else
      in_flight_ = true;
    h2o_iovec_t buf = h2o_iovec_init(inflight_.data(), inflight_.size());
    h2o_send(req_, &buf, inflight_.empty() ? 0 : 1, state);
  }

  void Proceed() {
    in_flight_ = false;
    inflight_.clear();
    Flush();
  }

  void Gone() {
    closed_ = true;
    in_flight_ = false;
    req_ = nullptr;
    pending_.clear();
    Detach();
  }

  void Detach() {
    if (server_ != nullptr) server_->DetachStream(this);
    server_ = nullptr;
  }

  HttpServer::Impl* server_;
  h2o_req_t* req_;
  size_t cap_;
  std::string pending_;   // not yet handed to h2o
  std::string inflight_;  // handed to h2o; must stay put until Proceed
  bool started_ = false;
  bool in_flight_ = false;
  bool closed_ = false;
  bool final_sent_ = false;
  int linger_beats_ = 0;
};

HttpServer::Impl::~Impl() {
  HERO_CHECK(state_ == State::kStopped || !ctx_inited_);
  if (config_inited_) h2o_config_dispose(&config_);
}

Status HttpServer::Impl::Init() {
  if (opt_.unix_socket_path.empty() && opt_.tcp_host.empty()) {
    return InvalidArgument("no listener configured: set a unix socket path or a tcp host");
  }
  if (!opt_.static_dir.empty()) {
    struct stat st {};
    if (::stat(opt_.static_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return FailedPrecondition("static_dir " + opt_.static_dir + " is not a directory");
    }
  }
  HERO_RETURN_IF_ERROR(backend_->RegisterMethods(table_));
  RpcDispatcher::Options dopt;
  dopt.server_version = opt_.version;
  dispatcher_ = std::make_unique<RpcDispatcher>(&table_, dopt);

  // Every fallible step comes before the first uv handle, so failure needs no loop turn.
  if (!opt_.tcp_host.empty()) {
    HERO_ASSIGN_OR_RETURN(tcp_fd_, BindTcp(opt_.tcp_host, opt_.tcp_port, &tcp_port_));
  }
  if (!opt_.unix_socket_path.empty()) {
    HERO_ASSIGN_OR_RETURN(unix_fd_, BindUnix(opt_.unix_socket_path));
    unix_bound_ = true;
  }
  IgnoreSigpipeIfDefault();

  h2o_config_init(&config_);
  config_inited_ = true;
  config_.server_name = h2o_iovec_init(H2O_STRLIT("hero_logic"));
  config_.max_request_entity_size = opt_.max_body_bytes;
  config_.http1.req_timeout = static_cast<uint64_t>(opt_.request_timeout.count());
  config_.http1.upgrade_to_http2 = 0;
  h2o_hostconf_t* host =
      h2o_config_register_host(&config_, h2o_iovec_init(H2O_STRLIT("default")), 65535);
  // h2o tries the paths in registration order: /dashboards (static Grafana JSON) first, so
  // it bypasses the router on "/".
  if (!opt_.dashboards_dir.empty()) {
    h2o_pathconf_t* dash = h2o_config_register_path(host, "/dashboards", 0);
    h2o_file_register(dash, opt_.dashboards_dir.c_str(), nullptr, nullptr, 0);
  }
  h2o_pathconf_t* root = h2o_config_register_path(host, "/", 0);
  auto* router = reinterpret_cast<RouterHandler*>(h2o_create_handler(root, sizeof(RouterHandler)));
  router->super.on_req = &OnRouterReq;
  router->server = this;
  if (!opt_.static_dir.empty()) {
    static const char* kIndex[] = {"index.html", nullptr};
    h2o_file_register(root, opt_.static_dir.c_str(), kIndex, nullptr,
                      H2O_FILE_FLAG_SEND_COMPRESSED);
  }
  // h2o answers oversized bodies itself (before routing, on the fallback path); this filter
  // swaps its text body for a JSON-RPC error.
  auto* too_large = reinterpret_cast<TooLargeFilter*>(
      h2o_create_filter(&host->fallback_path, sizeof(TooLargeFilter)));
  too_large->super.on_setup_ostream = &OnTooLargeSetupOstream;
  too_large->server = this;

  h2o_context_init(&ctx_, loop_, &config_);
  ctx_inited_ = true;
  accept_ctx_.ctx = &ctx_;
  accept_ctx_.hosts = config_.hosts;

  if (tcp_fd_) {
    auto h = loop::UvHandle<uv_tcp_t>::Create([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); });
    HERO_CHECK(h.ok());
    tcp_ = std::move(h).value();
    tcp_.get()->data = this;
    HERO_CHECK(uv_tcp_open(tcp_.get(), tcp_fd_.Release()) == 0);
    HERO_CHECK(uv_listen(reinterpret_cast<uv_stream_t*>(tcp_.get()), kBacklog, &OnConnectionCb) ==
               0);
  }
  if (unix_fd_) {
    auto h =
        loop::UvHandle<uv_pipe_t>::Create([&](uv_pipe_t* p) { return uv_pipe_init(loop_, p, 0); });
    HERO_CHECK(h.ok());
    pipe_ = std::move(h).value();
    pipe_.get()->data = this;
    HERO_CHECK(uv_pipe_open(pipe_.get(), unix_fd_.Release()) == 0);
    HERO_CHECK(uv_listen(reinterpret_cast<uv_stream_t*>(pipe_.get()), kBacklog, &OnConnectionCb) ==
               0);
  }
  auto hb =
      loop::UvHandle<uv_timer_t>::Create([&](uv_timer_t* t) { return uv_timer_init(loop_, t); });
  HERO_CHECK(hb.ok());
  heartbeat_ = std::move(hb).value();
  heartbeat_.get()->data = this;
  uint64_t beat = static_cast<uint64_t>(std::max<int64_t>(1, opt_.sse_heartbeat.count()));
  uv_timer_start(
      heartbeat_.get(), [](uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->OnHeartbeat(); },
      beat, beat);
  return Status::Ok();
}

void HttpServer::Impl::OnConnection(uv_stream_t* listener, int status) {
  if (status < 0) {
    HERO_LOG(kWarn) << "accept failed: " << uv_strerror(status);
    return;
  }
  auto* c = new Conn();
  c->server = this;
  bool is_tcp = listener->type == UV_TCP;
  int rc = is_tcp ? uv_tcp_init(loop_, &c->h.tcp) : uv_pipe_init(loop_, &c->h.pipe, 0);
  if (rc != 0) {
    delete c;
    return;
  }
  rc = uv_accept(listener, &c->h.stream);
  if (rc != 0 || state_ != State::kRunning || conns_.size() >= opt_.max_connections) {
    ++stats_.connections_rejected;
    if (rc == 0 && state_ == State::kRunning) {
      HERO_LOG(kWarn) << "refusing a connection: " << conns_.size() << " already open (limit "
                      << opt_.max_connections << ")";
    }
    uv_close(&c->h.handle, &OnRejectedClosedCb);
    return;
  }
  if (is_tcp) uv_tcp_nodelay(&c->h.tcp, 1);  // SSE latency: no Nagle delay on small events
  h2o_socket_t* sock = h2o_uv_socket_create(&c->h.stream, &OnConnClosedCb);
  conns_.insert(c);
  ++stats_.connections_total;
  stats_.connections_open = static_cast<int64_t>(conns_.size());
  h2o_accept(&accept_ctx_, sock);
}

void HttpServer::Impl::OnConnClosed(Conn* c) {
  conns_.erase(c);
  delete c;
  stats_.connections_open = static_cast<int64_t>(conns_.size());
  MaybeDispose();
}

void HttpServer::Impl::SendBody(h2o_req_t* req, int status, const char* reason,
                                std::string_view content_type, std::string_view body) {
  static h2o_generator_t generator = {nullptr, nullptr};
  req->res.status = status;
  req->res.reason = reason;
  req->res.content_length = status == 204 ? SIZE_MAX : body.size();
  if (!content_type.empty()) {
    h2o_iovec_t ct = h2o_strdup(&req->pool, content_type.data(), content_type.size());
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, nullptr, ct.base, ct.len);
  }
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, nullptr,
                 H2O_STRLIT("no-store"));
  if (state_ != State::kRunning) req->http1_is_persistent = 0;
  bool head = View(req->method) == "HEAD";
  h2o_iovec_t buf = h2o_strdup(&req->pool, body.data(), body.size());
  h2o_start_response(req, &generator);
  h2o_send(req, &buf, (head || body.empty() || status == 204) ? 0 : 1, H2O_SEND_STATE_FINAL);
}

int HttpServer::Impl::Route(h2o_req_t* req) {
  ++stats_.http_requests;
  std::string_view path = View(req->path_normalized);
  std::string_view method = View(req->method);
  bool get = method == "GET" || method == "HEAD";
  if (state_ != State::kRunning) {
    SendJson(req, 503, "Service Unavailable",
             RpcDispatcher::ErrorResponse(RpcCodeForStatus(StatusCode::kUnavailable),
                                          "hero_logic is shutting down"));
    return 0;
  }
  auto method_not_allowed = [&](const char* allow) {
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, nullptr, allow,
                   std::strlen(allow));
    SendJson(req, 405, "Method Not Allowed",
             SimpleErrorJson(kRpcInvalidRequest, std::string(method) + " is not allowed on " +
                                                     std::string(path) + "; use " + allow));
    return 0;
  };
  if (path == "/rpc") {
    if (method != "POST") return method_not_allowed("POST");
    HandleRpc(req);
    return 0;
  }
  if (path == "/healthz") {
    if (!get) return method_not_allowed("GET");
    ServeHealth(req);
    return 0;
  }
  if (path == "/metrics") {
    if (!get) return method_not_allowed("GET");
    ServeMetrics(req);
    return 0;
  }
  constexpr std::string_view kRuns = "/api/runs/";
  constexpr std::string_view kEvents = "/events";
  if (path.size() > kRuns.size() + kEvents.size() && path.substr(0, kRuns.size()) == kRuns &&
      path.substr(path.size() - kEvents.size()) == kEvents) {
    if (!get) return method_not_allowed("GET");
    ServeEvents(req, path.substr(kRuns.size(), path.size() - kRuns.size() - kEvents.size()));
    return 0;
  }
  if (path.substr(0, 5) != "/api/" && get && !opt_.static_dir.empty()) {
    // Vite-style builds put content-hashed files under /assets/: cache those for good; the
    // rest (index.html above all) must be revalidated so a new build shows up at once.
    bool hashed = path.substr(0, 8) == "/assets/";
    if (hashed) {
      h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, nullptr,
                     H2O_STRLIT("public, max-age=31536000, immutable"));
    } else {
      h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, nullptr,
                     H2O_STRLIT("no-cache"));
    }
    return -1;  // the file handler registered after us serves it (or answers 404)
  }
  SendJson(req, 404, "Not Found",
           SimpleErrorJson(RpcCodeForStatus(StatusCode::kNotFound),
                           "no such endpoint: " + std::string(method) + " " + std::string(path)));
  return 0;
}

void HttpServer::Impl::HandleRpc(h2o_req_t* req) {
  ++stats_.rpc_bodies;
  auto pending = std::make_shared<PendingRpc>();
  pending->server = this;
  pending->req = req;
  void* slot = h2o_mem_alloc_shared(&req->pool, sizeof(std::shared_ptr<PendingRpc>),
                                    &OnPendingRpcPoolDispose);
  new (slot) std::shared_ptr<PendingRpc>(pending);
  rpcs_.insert(pending.get());
  dispatcher_->HandleAsync(View(req->entity), [pending](std::string response) {
    if (pending->server != nullptr) pending->server->FinishRpc(*pending, std::move(response));
  });
}

void HttpServer::Impl::FinishRpc(PendingRpc& pending, std::string response) {
  rpcs_.erase(&pending);
  h2o_req_t* req = pending.req;
  pending.server = nullptr;
  pending.req = nullptr;
  if (req == nullptr) return;
  if (response.empty()) {
    SendBody(req, 204, "No Content", "", "");
  } else {
    SendJson(req, 200, "OK", response);
  }
}

void HttpServer::Impl::RpcRequestGone(PendingRpc& pending) {
  rpcs_.erase(&pending);
  pending.server = nullptr;
  pending.req = nullptr;
}

h2o_iovec_t HttpServer::Impl::SetupTooLargeResponse(h2o_req_t* req) {
  ++stats_.rpc_too_large;
  std::string body = RpcDispatcher::ErrorResponse(
      kRpcInvalidRequest,
      "request body too large: the limit is " + std::to_string(opt_.max_body_bytes) + " bytes");
  h2o_iovec_t copy = h2o_strdup(&req->pool, body.data(), body.size());
  req->res.content_length = copy.len;
  h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                 H2O_STRLIT("application/json"), 1);
  return copy;
}

void HttpServer::Impl::ServeHealth(h2o_req_t* req) {
  Result<std::string> detail = backend_->HealthJson();
  JsonWriter w;
  w.BeginObject();
  w.Field("ok", detail.ok());
  w.Field("version", opt_.version);
  w.Field("connections", static_cast<int64_t>(conns_.size()));
  w.Field("sse_streams", static_cast<int64_t>(streams_.size()));
  w.Field("rpc_in_flight", static_cast<int64_t>(rpcs_.size()));
  if (detail.ok()) {
    w.Key("backend").Raw(detail->empty() ? std::string_view("{}") : std::string_view(*detail));
  } else {
    w.Field("error", detail.status().ToString());
  }
  w.EndObject();
  if (detail.ok()) {
    SendJson(req, 200, "OK", w.str());
  } else {
    SendJson(req, 503, "Service Unavailable", w.str());
  }
}

void HttpServer::Impl::ServeMetrics(h2o_req_t* req) {
  std::string text = backend_->MetricsText();
  if (!text.empty() && text.back() != '\n') text += '\n';
  auto metric = [&](const char* name, const char* type, const char* help, int64_t v) {
    text += "# HELP ";
    text += name;
    text += ' ';
    text += help;
    text += "\n# TYPE ";
    text += name;
    text += ' ';
    text += type;
    text += '\n';
    text += name;
    text += ' ';
    text += std::to_string(v);
    text += '\n';
  };
  metric("hero_http_connections_open", "gauge", "Open HTTP connections.",
         static_cast<int64_t>(conns_.size()));
  metric("hero_http_connections_total", "counter", "Accepted HTTP connections.",
         stats_.connections_total);
  metric("hero_http_connections_rejected_total", "counter",
         "Connections closed at once (limit reached or stopping).", stats_.connections_rejected);
  metric("hero_http_requests_total", "counter", "Routed HTTP requests.", stats_.http_requests);
  metric("hero_rpc_bodies_total", "counter", "POST /rpc bodies dispatched.", stats_.rpc_bodies);
  metric("hero_rpc_too_large_total", "counter", "Request bodies refused with 413.",
         stats_.rpc_too_large);
  metric("hero_rpc_in_flight", "gauge", "JSON-RPC bodies awaiting an answer.",
         static_cast<int64_t>(rpcs_.size()));
  metric("hero_sse_streams_open", "gauge", "Open SSE streams.",
         static_cast<int64_t>(streams_.size()));
  metric("hero_sse_streams_total", "counter", "SSE streams opened.", stats_.sse_total);
  metric("hero_sse_dropped_total", "counter", "SSE clients dropped for falling behind.",
         stats_.sse_dropped);
  // One info metric names this node and version; series from several nodes join on it.
  text += "# HELP hero_node_info This daemon's node name and version (always 1).\n";
  text += "# TYPE hero_node_info gauge\n";
  text += "hero_node_info{node=\"" + PromLabelValue(node_) + "\",version=\"" +
          PromLabelValue(opt_.version) + "\"} 1\n";
  SendBody(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text);
}

void HttpServer::Impl::ServeEvents(h2o_req_t* req, std::string_view run_part) {
  int64_t run_id = 0;
  if (!ParsePositiveInt(run_part, &run_id) || run_id == 0) {
    SendJson(req, 400, "Bad Request",
             SimpleErrorJson(
                 RpcCodeForStatus(StatusCode::kInvalidArgument),
                 "run id must be a positive integer, got \"" + std::string(run_part) + "\""));
    return;
  }
  int64_t last_id = -1;
  std::string_view last_text;
  bool have_last = false;
  ssize_t hdr = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
  if (hdr != -1) {
    last_text = View(req->headers.entries[hdr].value);
    have_last = true;
  } else if (req->query_at != SIZE_MAX) {
    std::string_view query = View(req->path).substr(req->query_at + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view kv = query.substr(0, amp);
      if (kv.substr(0, 14) == "last_event_id=") {
        last_text = kv.substr(14);
        have_last = true;
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  if (have_last && !last_text.empty() && !ParsePositiveInt(last_text, &last_id)) {
    SendJson(req, 400, "Bad Request",
             SimpleErrorJson(RpcCodeForStatus(StatusCode::kInvalidArgument),
                             "Last-Event-ID must be a non-negative integer, got \"" +
                                 std::string(last_text) + "\""));
    return;
  }

  auto stream = std::make_shared<H2oSseStream>(this, req, opt_.sse_client_buffer_cap);
  void* mem =
      h2o_mem_alloc_shared(&req->pool, sizeof(H2oSseStream::Gen), &H2oSseStream::OnPoolDispose);
  auto* gen = new (mem) H2oSseStream::Gen();
  gen->super.proceed = nullptr;
  gen->super.stop = nullptr;
  gen->stream = stream;
  streams_.insert(stream.get());
  ++stats_.sse_total;
  stats_.sse_open = static_cast<int64_t>(streams_.size());

  Status st = backend_->SubscribeRunEvents(RunId{run_id}, last_id, stream);
  if (!st.ok()) {
    stream->Abandon();
    int http = 500;
    const char* reason = "Internal Server Error";
    switch (st.code()) {
      case StatusCode::kNotFound:
        http = 404;
        reason = "Not Found";
        break;
      case StatusCode::kInvalidArgument:
        http = 400;
        reason = "Bad Request";
        break;
      case StatusCode::kUnavailable:
      case StatusCode::kFailedPrecondition:
      case StatusCode::kResourceExhausted:
        http = 503;
        reason = "Service Unavailable";
        break;
      case StatusCode::kOk:
      case StatusCode::kAlreadyExists:
      case StatusCode::kPermissionDenied:
      case StatusCode::kDeadlineExceeded:
      case StatusCode::kCancelled:
      case StatusCode::kUnimplemented:
      case StatusCode::kIo:
      case StatusCode::kInternal:
        break;
    }
    SendJson(req, http, reason, SimpleErrorJson(RpcCodeForStatus(st.code()), st.message()));
    return;
  }
  stream->Start(gen);
}

void HttpServer::Impl::DetachStream(H2oSseStream* s) {
  streams_.erase(s);
  stats_.sse_open = static_cast<int64_t>(streams_.size());
}

void HttpServer::Impl::OnHeartbeat() {
  std::vector<H2oSseStream*> all(streams_.begin(), streams_.end());
  for (H2oSseStream* s : all) {
    if (streams_.count(s) != 0) s->Heartbeat();
  }
}

void HttpServer::Impl::Shutdown(std::function<void()> done) {
  HERO_CHECK(state_ == State::kRunning);
  state_ = State::kStopping;
  done_ = std::move(done);
  auto closed = [this] {
    --closing_;
    MaybeDispose();
  };
  if (tcp_.valid()) {
    ++closing_;
    tcp_.Close(closed);
  }
  if (pipe_.valid()) {
    ++closing_;
    pipe_.Close(closed);
  }
  CloseOwned(heartbeat_);
  // What h2o_context_request_shutdown does for HTTP/1 (no keep-alive from here on), without
  // its HTTP/2 part, which arms a one-second timer that would outlive us.
  ctx_.shutdown_requested = 1;

  // Answer every RPC still waiting; its Reply, if invoked later, finds nothing to answer.
  std::vector<PendingRpc*> rpcs(rpcs_.begin(), rpcs_.end());
  for (PendingRpc* p : rpcs) {
    if (rpcs_.count(p) == 0 || p->req == nullptr) continue;
    h2o_req_t* req = p->req;
    rpcs_.erase(p);
    p->server = nullptr;
    p->req = nullptr;
    SendJson(
        req, 503, "Service Unavailable",
        RpcDispatcher::ErrorResponse(RpcCodeForStatus(StatusCode::kUnavailable),
                                     "hero_logic is shutting down; the call did not complete"));
  }
  std::vector<H2oSseStream*> streams(streams_.begin(), streams_.end());
  for (H2oSseStream* s : streams) {
    if (streams_.count(s) != 0) s->EndForShutdown();
  }
  // Idle keep-alive connections are waiting to read: a read-side shutdown wakes them with EOF.
  for (Conn* c : conns_) ShutdownSocket(&c->h.handle, SHUT_RD);

  auto grace =
      loop::UvHandle<uv_timer_t>::Create([&](uv_timer_t* t) { return uv_timer_init(loop_, t); });
  HERO_CHECK(grace.ok());
  grace_ = std::move(grace).value();
  grace_.get()->data = this;
  uint64_t ms = static_cast<uint64_t>(std::max<int64_t>(1, opt_.shutdown_grace.count()));
  uv_timer_start(
      grace_.get(), [](uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->OnGrace(); }, ms, ms);
  MaybeDispose();
}

void HttpServer::Impl::OnGrace() {
  // Responses had their chance; cut what is left so pending writes fail and h2o closes.
  ++grace_rounds_;
  if (grace_rounds_ > 1) {
    HERO_LOG(kWarn) << conns_.size() << " HTTP connection(s) still open after shutdown cut";
  }
  for (Conn* c : conns_) ShutdownSocket(&c->h.handle, SHUT_RDWR);
}

void HttpServer::Impl::CloseOwned(loop::UvHandle<uv_timer_t>& h) {
  if (!h.valid()) return;
  ++closing_;
  h.Close([this] {
    --closing_;
    MaybeDispose();
  });
}

void HttpServer::Impl::MaybeDispose() {
  if (state_ != State::kStopping || !conns_.empty()) return;
  if (grace_.valid()) {
    CloseOwned(grace_);  // its callback comes back here
    return;
  }
  if (closing_ != 0) return;
  DisposeH2o();
}

void HttpServer::Impl::DisposeH2o() {
  state_ = State::kDisposing;
  // See the file comment: the nested uv_run inside h2o_context_dispose must be a no-op.
  unsigned saved_stop = loop_->stop_flag;
  loop_->stop_flag = 1;
  h2o_context_dispose(&ctx_);
  loop_->stop_flag = saved_stop;
  if (unix_bound_) {
    ::unlink(opt_.unix_socket_path.c_str());
    unix_bound_ = false;
  }
  // h2o's timers are now in libuv's closing list. A handle closed after them gets its callback
  // in the same round; one closed from that callback runs in the next round, after all of them.
  auto first =
      loop::UvHandle<uv_idle_t>::Create([&](uv_idle_t* i) { return uv_idle_init(loop_, i); });
  HERO_CHECK(first.ok());
  std::move(first).value().Close([this] {
    auto second =
        loop::UvHandle<uv_idle_t>::Create([&](uv_idle_t* i) { return uv_idle_init(loop_, i); });
    HERO_CHECK(second.ok());
    std::move(second).value().Close([this] {
      state_ = State::kStopped;
      auto done = std::move(done_);
      if (done) done();
    });
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::Create(uv_loop_t* loop, Options options,
                                                       Backend* backend) {
  HERO_CHECK(loop != nullptr && backend != nullptr);
  auto impl = std::make_unique<Impl>(loop, std::move(options), backend);
  Status st = impl->Init();
  if (!st.ok()) return st;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::tcp_port() const { return impl_->tcp_port_; }

const std::string& HttpServer::unix_socket_path() const { return impl_->opt_.unix_socket_path; }

void HttpServer::Shutdown(std::function<void()> done) { impl_->Shutdown(std::move(done)); }

HttpServer::Stats HttpServer::stats() const { return impl_->stats_; }

}  // namespace hero::api
