// RpcClient over libcurl's easy interface. Blocking; the caller's thread.
#include "supervisor/api/rpc_client.h"

#include <curl/curl.h>
#include <simdjson.h>
#include <sys/un.h>

#include <mutex>
#include <utility>

#include "supervisor/api/rpc_errors.h"
#include "supervisor/api/sse.h"
#include "supervisor/base/json_writer.h"

namespace hero::api {
namespace {

constexpr size_t kMaxResponseBytes = 256u << 20;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) noexcept {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxResponseBytes) return 0;  // aborts the transfer
  out->append(data, size * n);
  return size * n;
}

}  // namespace

struct RpcClient::Curl {
  CURL* easy = nullptr;
  ~Curl() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

RpcClient::RpcClient(std::string where, std::string unix_path, std::string base_url)
    : where_(std::move(where)),
      unix_path_(std::move(unix_path)),
      base_url_(std::move(base_url)),
      curl_(std::make_unique<Curl>()) {}

RpcClient::RpcClient(RpcClient&&) noexcept = default;
RpcClient& RpcClient::operator=(RpcClient&&) noexcept = default;
RpcClient::~RpcClient() = default;

Result<RpcClient> RpcClient::ForUnixSocket(std::string path) {
  if (path.empty()) return InvalidArgument("unix socket path is empty");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return InvalidArgument("unix socket path is too long: " + path);
  }
  GlobalInit();
  std::string where = path;
  return RpcClient(std::move(where), std::move(path), "http://localhost");
}

Result<RpcClient> RpcClient::ForTcp(std::string host, int port) {
  if (host.empty() || port <= 0 || port > 65535) {
    return InvalidArgument("bad daemon address " + host + ":" + std::to_string(port));
  }
  GlobalInit();
  std::string where = host + ":" + std::to_string(port);
  std::string url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                    ":" + std::to_string(port);
  return RpcClient(std::move(where), "", std::move(url));
}

namespace {

// Maps a failed transfer to a Status a person can act on.
Status TransportError(CURLcode rc, const std::string& where, std::chrono::milliseconds timeout) {
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
    return Unavailable("no hero_logic daemon is listening on " + where +
                       "; start one with `hero_logic serve`");
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Status(StatusCode::kDeadlineExceeded, "no answer from the hero_logic daemon on " +
                                                     where + " within " +
                                                     std::to_string(timeout.count()) + " ms");
  }
  return IoError(std::string("talking to the hero_logic daemon on ") + where + ": " +
                 curl_easy_strerror(rc));
}

}  // namespace

Result<std::string> RpcClient::Call(std::string_view method, std::string_view params_json,
                                    std::chrono::milliseconds timeout) {
  last_rpc_code_ = 0;
  if (curl_->easy == nullptr) curl_->easy = curl_easy_init();
  CURL* c = curl_->easy;
  if (c == nullptr) return Internal("curl_easy_init failed");
  curl_easy_reset(c);

  int64_t id = next_id_++;
  JsonWriter w;
  w.BeginObject().Field("jsonrpc", "2.0").Field("id", id).Field("method", method);
  if (!params_json.empty()) w.Key("params").Raw(params_json);
  w.EndObject();
  std::string body = w.Take();
  std::string response;
  std::string url = base_url_ + "/rpc";

  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  if (!unix_path_.empty()) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_path_.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  CURLcode rc = curl_easy_perform(c);
  long http = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) return TransportError(rc, where_, timeout);
  if (http == 204) return std::string("null");

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(response.data(), response.size()).get(doc) != simdjson::SUCCESS ||
      doc.type() != simdjson::dom::element_type::OBJECT) {
    return Internal("the hero_logic daemon on " + where_ + " answered HTTP " +
                    std::to_string(http) + " with a body that is not a JSON-RPC response");
  }
  simdjson::dom::element error;
  if (doc["error"].get(error) == simdjson::SUCCESS) {
    int64_t code = 0;
    std::string_view message = "unknown error";
    if (error["code"].get_int64().get(code) != simdjson::SUCCESS) code = 0;
    if (error["message"].get_string().get(message) != simdjson::SUCCESS) message = "(no message)";
    last_rpc_code_ = static_cast<int>(code);
    return Status(StatusForRpcCode(static_cast<int>(code)), std::string(message));
  }
  simdjson::dom::element result;
  if (doc["result"].get(result) != simdjson::SUCCESS) {
    return Internal("the daemon's JSON-RPC response has neither result nor error");
  }
  return simdjson::minify(result);
}

namespace {

struct StreamState {
  SseParser* parser = nullptr;
  Status status;
  long http = 0;
  bool is_event_stream = false;
  std::string error_body;
  CURL* easy = nullptr;
};

size_t OnStreamData(char* data, size_t size, size_t n, void* user) noexcept {
  auto* st = static_cast<StreamState*>(user);
  size_t len = size * n;
  if (st->http == 0) {
    curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &st->http);
    char* ct = nullptr;
    curl_easy_getinfo(st->easy, CURLINFO_CONTENT_TYPE, &ct);
    st->is_event_stream = ct != nullptr && std::string_view(ct).find("text/event-stream") == 0;
  }
  if (st->http != 200 || !st->is_event_stream) {
    if (st->error_body.size() + len > (1u << 20)) return 0;
    st->error_body.append(data, len);
    return len;
  }
  Status s = st->parser->Feed(std::string_view(data, len));
  if (!s.ok()) {
    st->status = s;
    return 0;  // stops the transfer
  }
  return len;
}

}  // namespace

Status RpcClient::StreamEvents(
    RunId run, int64_t last_id,
    std::function<bool(int64_t id, std::string_view event, std::string_view data)> on_event) {
  last_rpc_code_ = 0;
  if (curl_->easy == nullptr) curl_->easy = curl_easy_init();
  CURL* c = curl_->easy;
  if (c == nullptr) return Internal("curl_easy_init failed");
  curl_easy_reset(c);

  SseParser parser(std::move(on_event));
  StreamState st;
  st.parser = &parser;
  st.easy = c;
  std::string url = base_url_ + "/api/runs/" + std::to_string(run.value) + "/events";
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  std::string last_header;
  if (last_id >= 0) {
    last_header = "Last-Event-ID: " + std::to_string(last_id);
    headers = curl_slist_append(headers, last_header.c_str());
  }
  if (!unix_path_.empty()) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_path_.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnStreamData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  // The server sends a heartbeat every ~15 s; a minute of silence means it is gone.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (st.http == 0) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st.http);

  if (rc == CURLE_WRITE_ERROR && st.status.code() == StatusCode::kCancelled) return Status::Ok();
  if (!st.status.ok()) return st.status;
  if (st.http != 0 && (st.http != 200 || !st.is_event_stream)) {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view message = "unexpected answer";
    int64_t code = 0;
    if (p.parse(st.error_body.data(), st.error_body.size()).get(doc) == simdjson::SUCCESS) {
      if (doc["error"]["message"].get_string().get(message) != simdjson::SUCCESS) {
        message = "unexpected answer";
      }
      if (doc["error"]["code"].get_int64().get(code) != simdjson::SUCCESS) code = 0;
    }
    last_rpc_code_ = static_cast<int>(code);
    StatusCode sc = code != 0        ? StatusForRpcCode(static_cast<int>(code))
                    : st.http == 404 ? StatusCode::kNotFound
                                     : StatusCode::kInternal;
    return Status(sc, "run " + std::to_string(run.value) + " events: HTTP " +
                          std::to_string(st.http) + ": " + std::string(message));
  }
  if (rc != CURLE_OK) return TransportError(rc, where_, std::chrono::milliseconds(60000));
  return Status::Ok();
}

}  // namespace hero::api
