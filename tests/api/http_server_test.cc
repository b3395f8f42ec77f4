// Integration tests: a real HttpServer on a uv loop thread with a FakeBackend, driven by real
// clients (libcurl, raw sockets, RpcClient). Every test ends by shutting the server down and
// asserting uv_loop_close() == 0 (no handle left).
#include "supervisor/api/http_server.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "supervisor/api/rpc_client.h"
#include "tests/api/fake_backend.h"
#include "tests/api/loop_thread.h"
#include "tests/api/net_util.h"

namespace hero::api {
namespace {

using namespace std::chrono_literals;
using testing::ConnectTcp;
using testing::ConnectUnix;
using testing::Header;
using testing::Http;
using testing::ReadFor;
using testing::SendAll;

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : backend_(loop_.loop()) {
    char tmpl[] = "/tmp/hero_api_test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    sock_ = dir_ + "/hero.sock";
  }

  ~HttpServerTest() override { std::filesystem::remove_all(dir_); }

  void TearDown() override {
    int rc = loop_.Finish([this](std::function<void()> done) {
      backend_.Stop();
      backend_.subs.clear();
      if (server_) {
        server_->Shutdown(done);
      } else {
        done();
      }
    });
    EXPECT_EQ(rc, 0) << "a uv handle outlived the server";
    server_.reset();
  }

  HttpServer::Options DefaultOptions() {
    HttpServer::Options o;
    o.unix_socket_path = sock_;
    o.tcp_port = 0;
    return o;
  }

  void Start(HttpServer::Options o) {
    loop_.Run([&] {
      auto r = HttpServer::Create(loop_.loop(), o, &backend_);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      server_ = std::move(r).value();
    });
    ASSERT_TRUE(server_);
    port_ = server_->tcp_port();
    ASSERT_GT(port_, 0);
  }
  void Start() { Start(DefaultOptions()); }

  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  testing::HttpResponse Rpc(const std::string& body) {
    return Http(Url("/rpc"), "POST", body, {"Content-Type: application/json"});
  }

  HttpServer::Stats Stats() {
    HttpServer::Stats s;
    loop_.Run([&] { s = server_->stats(); });
    return s;
  }

  template <typename Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 3000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }

  testing::LoopThread loop_;
  testing::FakeBackend backend_;
  std::unique_ptr<HttpServer> server_;
  std::string dir_;
  std::string sock_;
  int port_ = 0;
};

TEST_F(HttpServerTest, RpcWorksOverTcpAndUnixSocketWithExplicitLength) {
  Start();
  auto tcp = Rpc(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":{"x":[1,2]}}})");
  EXPECT_EQ(tcp.status, 200);
  EXPECT_EQ(tcp.body, R"({"jsonrpc":"2.0","id":1,"result":{"x":[1,2]}})");
  EXPECT_EQ(Header(tcp.headers, "content-length"), std::to_string(tcp.body.size()));
  EXPECT_EQ(Header(tcp.headers, "content-type"), "application/json");
  EXPECT_EQ(Header(tcp.headers, "transfer-encoding"), "");

  auto unix_r = Http("http://localhost/rpc", "POST",
                     R"({"jsonrpc":"2.0","id":"u","method":"echo","params":["hi"]})", {}, sock_);
  EXPECT_EQ(unix_r.status, 200);
  EXPECT_EQ(unix_r.body, R"({"jsonrpc":"2.0","id":"u","result":"hi"})");

  struct stat st {};
  ASSERT_EQ(::stat(sock_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(HttpServerTest, StaleSocketIsReplacedButALiveDaemonIsNot) {
  {  // a socket file nobody listens on: what a crashed daemon leaves behind
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, sock_.data(), sock_.size());
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  }
  Start();
  EXPECT_EQ(Http("http://localhost/healthz", "GET", "", {}, sock_).status, 200);

  testing::FakeBackend other(loop_.loop());
  loop_.Run([&] {
    auto o = DefaultOptions();
    auto second = HttpServer::Create(loop_.loop(), o, &other);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
    EXPECT_NE(second.status().message().find("already listening on " + sock_), std::string::npos);
  });
  std::ofstream(dir_ + "/plain") << "x";
  loop_.Run([&] {
    auto o = DefaultOptions();
    o.unix_socket_path = dir_ + "/plain";
    auto third = HttpServer::Create(loop_.loop(), o, &other);
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.status().code(), StatusCode::kFailedPrecondition);
  });
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/plain"));
}

TEST_F(HttpServerTest, HealthzAndMetricsCarryBackendDetail) {
  Start();
  auto h = Http(Url("/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_NE(h.body.find(R"("ok":true)"), std::string::npos) << h.body;
  EXPECT_NE(h.body.find(R"("backend":{"fake":true})"), std::string::npos) << h.body;
  auto m = Http(Url("/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(Header(m.headers, "content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m.body.find("fake_metric 1\n"), std::string::npos);
  EXPECT_NE(m.body.find("hero_http_requests_total "), std::string::npos);
  loop_.Run([&] { backend_.unhealthy = true; });
  auto bad = Http(Url("/healthz"));
  EXPECT_EQ(bad.status, 503);
  EXPECT_NE(bad.body.find(R"("ok":false)"), std::string::npos);
  EXPECT_NE(bad.body.find("store is down"), std::string::npos);
  EXPECT_EQ(Http(Url("/healthz"), "POST", "x").status, 405);
  EXPECT_EQ(Http(Url("/rpc")).status, 405);
}

TEST_F(HttpServerTest, StaticFilesIndexGzipCacheControlAnd404) {
  std::filesystem::create_directories(dir_ + "/www/assets");
  std::ofstream(dir_ + "/www/index.html") << "<html>hero</html>";
  std::ofstream(dir_ + "/www/assets/app-1a2b3c4d.js") << "console.log(1)";
  std::ofstream(dir_ + "/www/assets/app-1a2b3c4d.js.gz") << "GZIPPED";
  auto o = DefaultOptions();
  o.static_dir = dir_ + "/www";
  Start(o);

  auto index = Http(Url("/"));
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<html>hero</html>");
  EXPECT_EQ(Header(index.headers, "cache-control"), "no-cache");
  EXPECT_EQ(Header(index.headers, "content-type").rfind("text/html", 0), 0u);

  auto js = Http(Url("/assets/app-1a2b3c4d.js"));
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(Header(js.headers, "cache-control"), "public, max-age=31536000, immutable");
  auto gz = Http(Url("/assets/app-1a2b3c4d.js"), "GET", "", {"Accept-Encoding: gzip"});
  EXPECT_EQ(gz.body, "GZIPPED");
  EXPECT_EQ(Header(gz.headers, "content-encoding"), "gzip");

  EXPECT_EQ(Http(Url("/missing.txt")).status, 404);
  EXPECT_EQ(Http(Url("/../../etc/passwd")).status, 404);
  auto api404 = Http(Url("/api/nothing"));
  EXPECT_EQ(api404.status, 404);
  EXPECT_NE(api404.body.find("no such endpoint"), std::string::npos);
}

TEST_F(HttpServerTest, WithoutStaticDirEverythingElseIs404Json) {
  Start();
  auto r = Http(Url("/index.html"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Header(r.headers, "content-type"), "application/json");
}

TEST_F(HttpServerTest, OversizedBodyGets413WithJsonRpcError) {
  auto o = DefaultOptions();
  o.max_body_bytes = 1024;
  Start(o);
  auto r = Rpc(std::string(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[")") +
               std::string(4096, 'x') + "\"]}");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Header(r.headers, "content-type"), "application/json");
  EXPECT_EQ(
      r.body,
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"request body too large: the limit is 1024 bytes"}})");
  EXPECT_EQ(Header(r.headers, "content-length"), std::to_string(r.body.size()));

  // A huge declared length is refused before any body arrives; so is a chunked body.
  UniqueFd fd = ConnectTcp(port_);
  ASSERT_TRUE(
      SendAll(fd.get(), "POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"));
  std::string raw = ReadFor(fd.get(), 2000ms, "}}");
  EXPECT_NE(raw.find("413"), std::string::npos) << raw;
  EXPECT_NE(raw.find("-32600"), std::string::npos) << raw;
  auto chunked = Http(Url("/rpc"), "POST", std::string(4096, ' '), {"Transfer-Encoding: chunked"});
  EXPECT_EQ(chunked.status, 413);
  // Still serving.
  EXPECT_EQ(Rpc(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[1]})").status, 200);
  EXPECT_GE(Stats().rpc_too_large, 2);
}

TEST_F(HttpServerTest, NotificationOnlyBatchGets204) {
  Start();
  auto r = Rpc(R"([{"jsonrpc":"2.0","method":"note"},{"jsonrpc":"2.0","method":"note"}])");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(Header(r.headers, "content-length"), "");
  int notes = 0;
  loop_.Run([&] { notes = backend_.notes; });
  EXPECT_EQ(notes, 2);
}

TEST_F(HttpServerTest, ErrorCodePathsOverHttp) {
  Start();
  EXPECT_NE(Rpc("{").body.find("-32700"), std::string::npos);
  EXPECT_NE(Rpc("[]").body.find("-32600"), std::string::npos);
  EXPECT_NE(Rpc(R"({"jsonrpc":"2.0","id":1,"method":"nope"})").body.find("-32601"),
            std::string::npos);
  EXPECT_NE(Rpc(R"({"jsonrpc":"2.0","id":1,"method":"typed","params":{"s":1,"i":1}})")
                .body.find("-32602"),
            std::string::npos);
  EXPECT_NE(Rpc(R"({"jsonrpc":"2.0","id":1,"method":"fail","params":{"code":"INTERNAL"}})")
                .body.find("-32603"),
            std::string::npos);
  EXPECT_NE(Rpc(R"({"jsonrpc":"2.0","id":1,"method":"fail","params":{"code":"NOT_FOUND"}})")
                .body.find("-32011"),
            std::string::npos);
  EXPECT_NE(Rpc(std::string(200000, '[')).body.find("-32700"), std::string::npos);
  EXPECT_NE(
      Rpc(R"({"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"echo","params":[1]})")
          .body.find("-32700"),
      std::string::npos);
}

TEST_F(HttpServerTest, AsyncReplyAfterClientDisconnectIsDroppedSafely) {
  Start();
  for (int i = 0; i < 5; ++i) {
    UniqueFd fd = ConnectTcp(port_);
    std::string body =
        R"({"jsonrpc":"2.0","id":1,"method":"slow","params":{"ms":100,"value":"late"}})";
    ASSERT_TRUE(SendAll(fd.get(), "POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                      std::to_string(body.size()) + "\r\n\r\n" + body));
    // Gone before the answer.
  }
  ASSERT_TRUE(WaitFor([&] {
    int n = 0;
    loop_.Run([&] { n = backend_.slow_replied; });
    return n == 5;
  }));
  EXPECT_TRUE(WaitFor([&] { return Stats().connections_open == 0; }));
  EXPECT_EQ(Rpc(R"({"jsonrpc":"2.0","id":2,"method":"echo","params":[2]})").body,
            R"({"jsonrpc":"2.0","id":2,"result":2})");
}

TEST_F(HttpServerTest, ShutdownAnswersInFlightCallsAndClosesIdleConnections) {
  Start();
  auto client = RpcClient::ForTcp("127.0.0.1", port_);
  ASSERT_TRUE(client.ok());
  std::atomic<bool> answered{false};
  Status got;
  std::thread t([&] {
    auto r = client->Call("slow", R"({"ms":60000})", 10s);
    got = r.ok() ? Status::Ok() : r.status();
    answered = true;
  });
  UniqueFd idle = ConnectTcp(port_);  // keep-alive connection that never sends a thing
  UniqueFd sse = ConnectTcp(port_);
  ASSERT_TRUE(SendAll(sse.get(), "GET /api/runs/5/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] {
    std::string body = Http(Url("/healthz")).body;
    return body.find(R"("rpc_in_flight":1)") != std::string::npos &&
           body.find(R"("sse_streams":1)") != std::string::npos;
  }));
  auto start = std::chrono::steady_clock::now();
  std::atomic<bool> stopped{false};
  loop_.Run([&] {
    server_->Shutdown([&] { stopped = true; });
    backend_.Stop();  // the backend's own late Reply now finds nobody to answer
    backend_.subs.clear();
  });
  ASSERT_TRUE(WaitFor([&] { return stopped.load(); }, 5000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms) << "no need to wait for the grace";
  t.join();
  EXPECT_EQ(got.code(), StatusCode::kUnavailable) << got.ToString();
  EXPECT_NE(got.message().find("shutting down"), std::string::npos);
  bool eof = false;
  ReadFor(idle.get(), 1000ms, {}, &eof);
  EXPECT_TRUE(eof);
  EXPECT_FALSE(std::filesystem::exists(sock_)) << "the socket file is removed";
  // TearDown must not shut down twice.
  loop_.Run([&] { server_.reset(); });
}

TEST_F(HttpServerTest, SseFramingAndLastEventIdPassThrough) {
  Start();
  UniqueFd fd = ConnectTcp(port_);
  ASSERT_TRUE(
      SendAll(fd.get(), "GET /api/runs/7/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 41\r\n\r\n"));
  std::string got = ReadFor(fd.get(), 2000ms, "data: plain\n\n");
  EXPECT_NE(got.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  EXPECT_NE(got.find("retry: 2000\n\n"
                     "id: 1\nevent: span_start\ndata: {\"a\":1}\n\n"
                     "id: 2\nevent: span_log\ndata: line one\ndata: line two\n\n"
                     "id: 3\ndata: plain\n\n"),
            std::string::npos)
      << got;
  loop_.Run([&] {
    ASSERT_EQ(backend_.subs.size(), 1u);
    EXPECT_EQ(backend_.subs[0].run.value, 7);
    EXPECT_EQ(backend_.subs[0].last_event_id, 41);
    EXPECT_TRUE(backend_.subs[0].stream->Send(4, "span_end", R"({"id":"1"})"));
  });
  got = ReadFor(fd.get(), 2000ms, "\n\n");
  EXPECT_NE(got.find("id: 4\nevent: span_end\ndata: {\"id\":\"1\"}\n\n"), std::string::npos) << got;
  loop_.Run([&] { backend_.subs[0].stream->Close(); });
  got = ReadFor(fd.get(), 2000ms, "0\r\n\r\n");
  EXPECT_NE(got.find("0\r\n\r\n"), std::string::npos) << "chunked stream ended: " << got;
  loop_.Run([&] {
    EXPECT_FALSE(backend_.subs[0].stream->is_open());
    EXPECT_FALSE(backend_.subs[0].stream->Send(5, "x", "{}"));
  });
}

TEST_F(HttpServerTest, SseQueryFallbackBadIdsAndUnknownRun) {
  Start();
  UniqueFd fd = ConnectUnix(sock_);
  ASSERT_TRUE(
      SendAll(fd.get(), "GET /api/runs/12/events?x=1&last_event_id=5 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ReadFor(fd.get(), 2000ms, "retry: 2000\n\n");
  loop_.Run([&] {
    ASSERT_EQ(backend_.subs.size(), 1u);
    EXPECT_EQ(backend_.subs[0].last_event_id, 5);
  });
  auto none = Http(Url("/api/runs/404/events"));
  EXPECT_EQ(none.status, 404);
  EXPECT_NE(none.body.find("run 404 does not exist"), std::string::npos);
  EXPECT_NE(none.body.find("-32011"), std::string::npos);
  EXPECT_EQ(Http(Url("/api/runs/abc/events")).status, 400);
  EXPECT_EQ(Http(Url("/api/runs/0/events")).status, 400);
  EXPECT_EQ(Http(Url("/api/runs/1/events"), "GET", "", {"Last-Event-ID: -3"}).status, 400);
  EXPECT_EQ(Http(Url("/api/runs/1/events"), "POST", "").status, 405);
}

TEST_F(HttpServerTest, SseHeartbeatKeepsIdleStreamsAlive) {
  auto o = DefaultOptions();
  o.sse_heartbeat = 50ms;
  Start(o);
  UniqueFd fd = ConnectTcp(port_);
  ASSERT_TRUE(SendAll(fd.get(), "GET /api/runs/3/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got = ReadFor(fd.get(), 2000ms, ": heartbeat\n\n");
  EXPECT_NE(got.find(": heartbeat\n\n"), std::string::npos) << got;
}

TEST_F(HttpServerTest, SlowSseClientIsDroppedWithADroppedEvent) {
  auto o = DefaultOptions();
  o.sse_client_buffer_cap = 64 << 10;
  Start(o);
  UniqueFd fd = ConnectUnix(sock_, 4096);
  ASSERT_TRUE(SendAll(fd.get(), "GET /api/runs/9/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] {
    size_t n = 0;
    loop_.Run([&] { n = backend_.subs.size(); });
    return n == 1;
  }));
  // The client reads nothing; push one 16 KiB event per loop turn until the stream refuses.
  std::string data(16 << 10, 'e');
  int sent = 0;
  bool refused = false;
  for (int i = 0; i < 20000 && !refused; ++i) {
    loop_.Run([&] {
      if (backend_.subs[0].stream->Send(i, "span_log", data)) {
        ++sent;
      } else {
        refused = true;
      }
    });
  }
  ASSERT_TRUE(refused) << "a client that never reads must be dropped, not buffered forever";
  EXPECT_EQ(Stats().sse_dropped, 1);
  // Now drain: everything that was accepted, then the dropped notice, then the end.
  std::string all = ReadFor(fd.get(), 5000ms, "0\r\n\r\n");
  size_t dropped =
      all.find("event: dropped\ndata: {\"reason\":\"this client fell behind by more than 65536");
  ASSERT_NE(dropped, std::string::npos) << all.substr(all.size() > 300 ? all.size() - 300 : 0);
  EXPECT_NE(all.find("reconnect with Last-Event-ID"), std::string::npos);
  EXPECT_EQ(all.find("event: span_log", dropped), std::string::npos) << "dropped is the last event";
  EXPECT_GT(sent, 0);
}

TEST_F(HttpServerTest, ShutdownCutsAStuckClientAfterTheGrace) {
  auto o = DefaultOptions();
  o.shutdown_grace = 200ms;
  o.sse_client_buffer_cap = 8u << 20;
  Start(o);
  UniqueFd fd = ConnectUnix(sock_, 4096);
  ASSERT_TRUE(SendAll(fd.get(), "GET /api/runs/9/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] {
    size_t n = 0;
    loop_.Run([&] { n = backend_.subs.size(); });
    return n == 1;
  }));
  std::string data(64 << 10, 'e');
  for (int i = 0; i < 50; ++i) {  // ~3 MiB the client never reads: a write stays pending
    loop_.Run([&] { backend_.subs[0].stream->Send(i, "span_log", data); });
  }
  auto start = std::chrono::steady_clock::now();
  std::atomic<bool> stopped{false};
  loop_.Run([&] {
    server_->Shutdown([&] { stopped = true; });
    backend_.subs.clear();
  });
  ASSERT_TRUE(WaitFor([&] { return stopped.load(); }, 5000ms));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 150ms) << "the stuck client got its grace period";
  EXPECT_LT(took, 2000ms);
  loop_.Run([&] { server_.reset(); });
}

TEST_F(HttpServerTest, AbruptDisconnectMidSseIsNoticed) {
  Start();
  {
    UniqueFd fd = ConnectTcp(port_);
    ASSERT_TRUE(SendAll(fd.get(), "GET /api/runs/3/events HTTP/1.1\r\nHost: x\r\n\r\n"));
    ReadFor(fd.get(), 2000ms, "retry: 2000\n\n");
  }  // closed mid-stream
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    loop_.Run([&] { refused = !backend_.subs[0].stream->Send(i, "e", "{}"); });
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(WaitFor([&] { return Stats().sse_open == 0; }));
  EXPECT_EQ(Http(Url("/healthz")).status, 200);
}

TEST_F(HttpServerTest, SlowlorisIsCutByTheRequestTimeout) {
  auto o = DefaultOptions();
  o.request_timeout = 300ms;
  Start(o);
  UniqueFd fd = ConnectTcp(port_);
  ASSERT_TRUE(SendAll(fd.get(), "POST /rpc HTTP/1.1\r\nHost: x\r\n"));
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(SendAll(fd.get(), "X-A: b\r\n"));
  bool eof = false;
  auto start = std::chrono::steady_clock::now();
  ReadFor(fd.get(), 3000ms, {}, &eof);
  EXPECT_TRUE(eof);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
}

TEST_F(HttpServerTest, FuzzedRequestsNeverBreakTheServer) {
  auto o = DefaultOptions();
  o.request_timeout = 500ms;
  o.max_body_bytes = 64 << 10;
  Start(o);
  auto req = [](const std::string& body) {
    return "POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::vector<std::string> corpus = {
      req(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":[1,2,{"a":"b"}]}})"),
      req(R"([{"jsonrpc":"2.0","id":1,"method":"typed","params":["s",1,2.5,true,{},[]]},{"jsonrpc":"2.0","method":"note"}])"),
      req(R"({"jsonrpc":"2.0","id":"x","method":"fail","params":{"code":"NOT_FOUND"}})"),
      req(R"({"jsonrpc":"2.0","id":1,"method":"rpc.discover"})"),
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /metrics HTTP/1.0\r\n\r\n",
      "GET /api/runs/404/events HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /rpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2]\r\n0\r\n\r\n",
  };
  std::mt19937 rng(12345);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  int answered = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string m = corpus[pick(corpus.size())];
    switch (pick(5)) {
      case 0:  // byte flips
        for (size_t k = 0, n = 1 + pick(8); k < n; ++k)
          m[pick(m.size())] ^= static_cast<char>(1 + pick(255));
        break;
      case 1:  // truncation
        m.resize(pick(m.size()));
        break;
      case 2:  // random insertion
        m.insert(pick(m.size()), std::string(1 + pick(64), static_cast<char>(pick(256))));
        break;
      case 3:  // duplicated segment
      {
        size_t a = pick(m.size());
        m.insert(pick(m.size()), m.substr(a, 1 + pick(32)));
      } break;
      default:  // lying Content-Length or nesting bomb
        if (pick(2) == 0) {
          size_t at = m.find("Content-Length: ");
          if (at != std::string::npos) m.insert(at + 16, std::to_string(pick(100000)));
        } else {
          m = req(std::string(1 + pick(5000), '[') + std::string(pick(100), ']'));
        }
        break;
    }
    UniqueFd fd = (i % 10 == 0) ? ConnectUnix(sock_) : ConnectTcp(port_);
    ASSERT_TRUE(fd) << "connect failed at iteration " << i;
    SendAll(fd.get(), m);
    ::shutdown(fd.get(), SHUT_WR);
    std::string resp = ReadFor(fd.get(), 1000ms);
    if (resp.rfind("HTTP/1.", 0) == 0) ++answered;
    if (i % 500 == 0) {  // an abrupt close with unread data now and then
      linger lg{1, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
  }
  EXPECT_GT(answered, 1000);
  EXPECT_EQ(Rpc(R"({"jsonrpc":"2.0","id":7,"method":"echo","params":["alive"]})").body,
            R"({"jsonrpc":"2.0","id":7,"result":"alive"})");
  EXPECT_TRUE(WaitFor([&] { return Stats().connections_open == 0; }, 5000ms));
}

TEST_F(HttpServerTest, RpcClientMapsResultsErrorsAndTimeouts) {
  Start();
  auto client = RpcClient::ForUnixSocket(sock_);
  ASSERT_TRUE(client.ok());
  auto r = client->Call("echo", R"({"value": {"k": [1, 2]}})", 2s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, R"({"k":[1,2]})");
  auto nf = client->Call("fail", R"({"code":"NOT_FOUND","message":"run 9 not found"})", 2s);
  ASSERT_FALSE(nf.ok());
  EXPECT_EQ(nf.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(nf.status().message(), "run 9 not found");
  EXPECT_EQ(client->last_rpc_error_code(), -32011);
  auto bad = client->Call("typed", R"({"s":1})", 2s);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->last_rpc_error_code(), -32602);
  auto unknown = client->Call("nope", "", 2s);
  EXPECT_EQ(client->last_rpc_error_code(), -32601);
  auto slow = client->Call("slow", R"({"ms":3000})", 200ms);
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded) << slow.status().ToString();
  // The client is reusable after a timeout.
  EXPECT_TRUE(client->Call("echo", "[1]", 2s).ok());
}

TEST_F(HttpServerTest, RpcClientStreamsEvents) {
  Start();
  auto client = RpcClient::ForTcp("127.0.0.1", port_);
  ASSERT_TRUE(client.ok());
  std::vector<std::string> events;
  Status s = client->StreamEvents(
      RunId{8}, -1, [&](int64_t id, std::string_view ev, std::string_view data) {
        events.push_back(std::to_string(id) + " " + std::string(ev) + " " + std::string(data));
        return true;
      });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(events, (std::vector<std::string>{R"(1 span_start {"id":"1"})",
                                              R"(2 run_end {"status":"ok"})"}));

  events.clear();
  s = client->StreamEvents(RunId{7}, 0, [&](int64_t id, std::string_view, std::string_view) {
    events.push_back(std::to_string(id));
    return id < 2;  // stop after the second
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(events, (std::vector<std::string>{"1", "2"}));
  loop_.Run([&] { EXPECT_EQ(backend_.subs.back().last_event_id, 0); });

  s = client->StreamEvents(RunId{404}, -1,
                           [](int64_t, std::string_view, std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("run 404 does not exist"), std::string::npos);
}

TEST(RpcClientTest, NoDaemonIsUnavailableWithAHint) {
  auto client = RpcClient::ForUnixSocket("/tmp/hero-no-such-dir/hero_logic.sock");
  ASSERT_TRUE(client.ok());
  auto r = client->Call("echo", "[1]", 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(),
            "no hero_logic daemon is listening on /tmp/hero-no-such-dir/hero_logic.sock; start one "
            "with `hero_logic serve`");
  Status s = client->StreamEvents(RunId{1}, -1,
                                  [](int64_t, std::string_view, std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(RpcClient::ForUnixSocket("").ok());
}

}  // namespace
}  // namespace hero::api
