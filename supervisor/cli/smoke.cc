// `hero_logic smoke`: runs every built-in flow with its smoke inputs (builtin_flows/smoke.json)
// against a private daemon (this binary's `serve` on a temp socket) and, with --offline, the
// recorded-answer model server fixture; prints each tree, writes JUnit XML. Main thread; blocks.
#include <fcntl.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/api/rpc_client.h"
#include "supervisor/base/json_writer.h"
#include "supervisor/cli/args.h"
#include "supervisor/cli/commands.h"
#include "supervisor/cli/install_paths.h"
#include "supervisor/cli/tree_printer.h"

extern char** environ;

namespace hero::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kSmokeHelp = R"(usage: hero_logic smoke [options]

Runs every built-in flow with its smoke inputs (FLOWS_DIR/smoke.json) and checks the outcome:
starts a private daemon (`hero_logic serve` on a temporary socket, loading FLOWS_DIR), runs the
setup calls and each case with play_start, prints each run's span tree, and exits 0 only when
every case passed.

The model endpoint is $HERO_AIBROKER_URL. When it is unset, --offline starts the recorded-answer
model server fixture (PREFIX/share/hero_logic/fixtures/model_server.py) and uses it; without
either the flows that need a model fail with "HERO_AIBROKER_URL is not set".

options:
  --junit FILE       write JUnit XML (one testcase per smoke case) to FILE
  --offline          use the recorded-answer model server when HERO_AIBROKER_URL is unset
  --data DIR         the daemon's data directory (default: a temporary one, removed after)
  --flows-dir DIR    built-in flows and smoke.json
                     (default PREFIX/share/hero_logic/builtin_flows)
  --only NAME        run only the case NAME (repeatable as NAME,NAME)
  --python PATH      interpreter for the model server fixture (default /usr/bin/python3)
  --timeout S        per-case timeout in seconds (default 120)

exit codes: 0 all passed, 1 a case failed or the daemon did not start, 2 usage error
)";

int Fail(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "hero_logic smoke: %s\n", msg.c_str());
  return code;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
}

// The text of `s` as it goes inside a JSON string literal (without the quotes).
std::string JsonInner(const std::string& s) {
  std::string q;
  AppendJsonString(q, s);
  return q.substr(1, q.size() - 2);
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // XML 1.0 forbids most control characters, even escaped.
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += '?';
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return SanitizeUtf8(out);
}

// A child process of the smoke run (daemon, model server): SIGTERM at destruction, SIGKILL if
// it has not exited after the grace period. Output goes to a log file.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { Stop(std::chrono::seconds(15)); }

  Status Start(const std::vector<std::string>& argv, const std::string& log_path) {
    log_path_ = log_path;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return Status::FromErrno(rc, "spawn " + argv[0]);
    pid_ = pid;
    return Status::Ok();
  }

  // Waits until the log contains `marker`; returns the line holding it. kUnavailable if the
  // process exits first, kDeadlineExceeded after `timeout`.
  Result<std::string> WaitForLine(const std::string& marker, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      std::string log = ReadAll(log_path_);
      if (size_t at = log.find(marker); at != std::string::npos) {
        size_t begin = log.rfind('\n', at);
        begin = begin == std::string::npos ? 0 : begin + 1;
        size_t end = log.find('\n', at);
        if (end != std::string::npos) return log.substr(begin, end - begin);
      }
      if (!Running())
        return Status(StatusCode::kUnavailable, "exited before it was ready:\n" + Tail());
      if (Clock::now() > deadline)
        return Status(StatusCode::kDeadlineExceeded, "not ready in time:\n" + Tail());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return false;
    }
    return r == 0;
  }

  void Stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    auto deadline = Clock::now() + grace;
    while (Running()) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::string Tail() const {
    std::string log = ReadAll(log_path_);
    return log.size() > 2000 ? log.substr(log.size() - 2000) : log;
  }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// A temp directory removed (recursively) at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hero-smoke-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Str(simdjson::dom::element e, const char* key, std::string def = "") {
  std::string_view s;
  if (e[key].get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return def;
}

int64_t Int(simdjson::dom::element e, const char* key, int64_t def = 0) {
  int64_t v = 0;
  if (e[key].get_int64().get(v) == simdjson::SUCCESS) return v;
  return def;
}

// `have` contains `want`: objects by key (recursively), numbers numerically, else equal JSON.
// On a mismatch `*why` says where ("output.best.version: expected 2, got 1").
bool Contains(simdjson::dom::element have, simdjson::dom::element want, const std::string& path,
              std::string* why) {
  simdjson::dom::object w;
  if (want.get_object().get(w) == simdjson::SUCCESS) {
    simdjson::dom::object h;
    if (have.get_object().get(h) != simdjson::SUCCESS) {
      *why = path + ": expected an object, got " + simdjson::minify(have);
      return false;
    }
    for (auto field : w) {
      std::string at = path + "." + std::string(field.key);
      simdjson::dom::element hv;
      if (h.at_key(field.key).get(hv) != simdjson::SUCCESS) {
        *why = at + ": missing";
        return false;
      }
      if (!Contains(hv, field.value, at, why)) return false;
    }
    return true;
  }
  double a = 0, b = 0;
  if (want.get_double().get(b) == simdjson::SUCCESS &&
      have.get_double().get(a) == simdjson::SUCCESS) {
    if (a == b) return true;
  } else if (simdjson::minify(have) == simdjson::minify(want)) {
    return true;
  }
  *why = path + ": expected " + simdjson::minify(want) + ", got " + simdjson::minify(have);
  return false;
}

// One line per span: mark, name, kind (when not a step), duration, error.
void RenderTree(simdjson::dom::element node, int depth, std::string* out) {
  std::string status = Str(node, "status");
  const char* mark = status == "ok" ? "ok  " : status == "running" ? "... " : "FAIL";
  std::string kind = Str(node, "kind");
  out->append(static_cast<size_t>(depth) * 2 + 2, ' ');
  *out += std::string(mark) + " " + Str(node, "name");
  if (kind != "step") *out += " (" + kind + ")";
  *out += "  " + FormatSpanDuration(Int(node, "start_us"), Int(node, "end_us"));
  if (int64_t child = Int(node, "child_run_id"); child > 0)
    *out += "  -> run " + std::to_string(child);
  if (status != "ok") {
    std::string err = Str(node, "error", status);
    if (err.size() > 200) err = err.substr(0, 197) + "...";
    for (char& c : err) {
      if (c == '\n') c = ' ';
    }
    *out += "  " + err;
  }
  *out += "\n";
  simdjson::dom::array kids;
  if (node["children"].get_array().get(kids) == simdjson::SUCCESS) {
    for (auto k : kids) RenderTree(k, depth + 1, out);
  }
}

struct CaseResult {
  std::string name, flow;
  bool passed = false;
  bool error = false;  // the case could not run (an error, not a failed expectation)
  double seconds = 0;
  std::string message, tree;
};

std::string JunitXml(const std::vector<CaseResult>& results, double total_seconds) {
  int failures = 0, errors = 0;
  for (const auto& r : results) {
    if (r.passed) continue;
    (r.error ? errors : failures)++;
  }
  char buf[64];
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::snprintf(buf, sizeof buf, "%.3f", total_seconds);
  x += "<testsuites name=\"hero_logic smoke\" tests=\"" + std::to_string(results.size()) +
       "\" failures=\"" + std::to_string(failures) + "\" errors=\"" + std::to_string(errors) +
       "\" time=\"" + buf + "\">\n";
  x += "  <testsuite name=\"hero_logic.smoke\" tests=\"" + std::to_string(results.size()) +
       "\" failures=\"" + std::to_string(failures) + "\" errors=\"" + std::to_string(errors) +
       "\" skipped=\"0\" time=\"" + buf + "\">\n";
  for (const auto& r : results) {
    std::snprintf(buf, sizeof buf, "%.3f", r.seconds);
    x += "    <testcase classname=\"smoke." + XmlEscape(r.flow) + "\" name=\"" + XmlEscape(r.name) +
         "\" time=\"" + buf + "\">\n";
    if (!r.passed) {
      const char* tag = r.error ? "error" : "failure";
      x += std::string("      <") + tag + " message=\"" + XmlEscape(r.message) + "\" type=\"" +
           (r.error ? "SmokeError" : "SmokeFailure") + "\">" +
           XmlEscape(r.message + "\n" + r.tree) + "</" + tag + ">\n";
    }
    if (!r.tree.empty()) x += "      <system-out>" + XmlEscape(r.tree) + "</system-out>\n";
    x += "    </testcase>\n";
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

// Runs one case through play_start and checks its expectations.
CaseResult RunCase(api::RpcClient& rpc, simdjson::dom::element c, int64_t default_timeout_ms) {
  CaseResult r;
  r.name = Str(c, "name");
  r.flow = Str(c, "flow");
  if (r.name.empty()) r.name = r.flow;
  auto t0 = Clock::now();
  int64_t timeout_ms = Int(c, "timeout_ms", default_timeout_ms);
  simdjson::dom::element input;
  std::string input_json =
      c["input"].get(input) == simdjson::SUCCESS ? simdjson::minify(input) : "{}";
  JsonWriter w;
  w.BeginObject()
      .Field("flow", r.flow)
      .Key("input")
      .Raw(input_json)
      .Field("timeout_ms", timeout_ms)
      .EndObject();
  auto answer = rpc.Call("play_start", w.str(), std::chrono::milliseconds(timeout_ms + 30'000));
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!answer.ok()) {
    r.error = true;
    r.message = "play_start " + r.flow + ": " + answer.status().message();
    return r;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*answer).get(doc) != simdjson::SUCCESS) {
    r.error = true;
    r.message = "play_start answered malformed JSON";
    return r;
  }
  simdjson::dom::element run, tree;
  if (doc["run"].get(run) != simdjson::SUCCESS) {
    r.error = true;
    r.message = "play_start answered no run";
    return r;
  }
  if (doc["tree"].get(tree) == simdjson::SUCCESS &&
      tree.type() == simdjson::dom::element_type::OBJECT) {
    RenderTree(tree, 0, &r.tree);
  }
  std::string status = Str(run, "status"), reason = Str(run, "reason");
  std::string expect = Str(c, "expect", "ok");
  std::string run_label = "run " + std::to_string(Int(run, "id"));
  if (status != expect) {
    r.message = run_label + " ended " + status + " (expected " + expect + "): " + reason;
    return r;
  }
  if (std::string want = Str(c, "reason_contains");
      !want.empty() && reason.find(want) == std::string::npos) {
    r.message = run_label + ": reason does not contain \"" + want + "\": " + reason;
    return r;
  }
  simdjson::dom::element want_out, output;
  if (c["output_contains"].get(want_out) == simdjson::SUCCESS) {
    std::string why = "output: missing";
    if (run["output"].get(output) != simdjson::SUCCESS ||
        !Contains(output, want_out, "output", &why)) {
      r.message = run_label + ": " + why;
      return r;
    }
  }
  r.passed = true;
  r.message = run_label + " " + status;
  return r;
}

}  // namespace

int SmokeCommand(const Args& argv) {
  auto parsed =
      ParseArgs(argv, {"junit", "data", "flows-dir", "only", "python", "timeout"}, {"offline"});
  if (!parsed.ok()) return Fail(parsed.status().message());
  const ParsedArgs& a = *parsed;
  if (a.Has("help")) {
    std::fputs(kSmokeHelp, stdout);
    return 0;
  }
  if (!a.positional.empty()) return Fail("smoke takes no positional arguments (see --help)");
  std::string flows_dir = a.Get("flows-dir", Paths().flows_dir);
  flows_dir = std::filesystem::absolute(flows_dir).lexically_normal().string();
  std::string python = a.Get("python", "/usr/bin/python3");
  int64_t timeout_ms = 120'000;
  if (a.Has("timeout")) {
    auto s = ParseSeconds(a.Get("timeout"), 3600);
    if (!s) return Fail("--timeout must be seconds in (0, 3600]");
    timeout_ms = static_cast<int64_t>(*s * 1000);
  }
  std::string only = a.Get("only");

  std::string spec_path = flows_dir + "/smoke.json";
  if (!std::filesystem::exists(spec_path))
    return Fail("no smoke inputs: " + spec_path + " does not exist");
  std::string spec_text = ReadAll(spec_path);

  TempDir tmp;
  if (tmp.path().empty()) return Fail("cannot create a temporary directory", 1);
  auto t_start = Clock::now();

  // The model endpoint: the environment, else the fixture (--offline), else none.
  Child model_server;
  std::string endpoint;
  if (const char* e = getenv("HERO_AIBROKER_URL"); e && *e) {
    endpoint = e;
    std::printf("model endpoint: %s (HERO_AIBROKER_URL)\n", endpoint.c_str());
  } else if (a.Has("offline")) {
    std::string fixture = Paths().fixtures_dir + "/model_server.py";
    if (Status s =
            model_server.Start({python, fixture, "--port", "0"}, tmp.path() + "/model_server.log");
        !s.ok()) {
      return Fail("model server fixture: " + s.message(), 1);
    }
    auto line = model_server.WaitForLine("listening on ", std::chrono::seconds(15));
    if (!line.ok()) return Fail("model server fixture " + line.status().message(), 1);
    endpoint = line->substr(line->find("listening on ") + 13);
    std::printf("model endpoint: %s (recorded-answer fixture, --offline)\n", endpoint.c_str());
  } else {
    std::printf(
        "model endpoint: none (HERO_AIBROKER_URL is unset and --offline not given: flows "
        "that need a model will fail)\n");
  }
  std::fflush(stdout);
  ReplaceAll(spec_text, "${HERO_AIBROKER_URL}", JsonInner(endpoint));
  ReplaceAll(spec_text, "${SERVICES_DIR}", JsonInner(flows_dir + "/services"));
  simdjson::dom::parser spec_parser;
  simdjson::dom::element spec;
  if (auto err = spec_parser.parse(spec_text).get(spec); err) {
    return Fail(spec_path + ": not valid JSON: " + simdjson::error_message(err));
  }
  simdjson::dom::array cases, setup;
  if (spec["cases"].get_array().get(cases) != simdjson::SUCCESS)
    return Fail(spec_path + ": no \"cases\" array");
  bool has_setup = spec["setup"].get_array().get(setup) == simdjson::SUCCESS;

  // The private daemon: this binary's `serve`.
  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return Fail("cannot find this executable: " + ec.message(), 1);
  std::string data = a.Has("data") ? a.Get("data") : tmp.path() + "/data";
  std::string sock = tmp.path() + "/hero_logic.sock";
  Child daemon;
  if (Status s = daemon.Start({self, "serve", "--data", data, "--socket", sock, "--port", "0",
                               "--flows-dir", flows_dir},
                              tmp.path() + "/serve.log");
      !s.ok()) {
    return Fail("daemon: " + s.message(), 1);
  }
  auto ready = daemon.WaitForLine("hero_logic: serving on", std::chrono::seconds(60));
  if (!ready.ok()) return Fail("daemon " + ready.status().message(), 1);
  std::printf("daemon: %s (data %s)\n", ready->c_str(), data.c_str());
  auto client = api::RpcClient::ForUnixSocket(sock);
  if (!client.ok()) return Fail(client.status().message(), 1);
  api::RpcClient& rpc = *client;

  std::vector<CaseResult> results;
  if (has_setup) {
    for (auto step : setup) {
      std::string method = Str(step, "method");
      bool optional = false;
      if (step["optional"].get_bool().get(optional) != simdjson::SUCCESS) optional = false;
      simdjson::dom::element params;
      std::string pj =
          step["params"].get(params) == simdjson::SUCCESS ? simdjson::minify(params) : "{}";
      auto r = rpc.Call(method, pj, std::chrono::seconds(60));
      if (!r.ok()) {
        std::printf("setup %s: %s%s\n", method.c_str(), r.status().message().c_str(),
                    optional ? " (optional)" : "");
        if (!optional) {
          CaseResult cr;
          cr.name = "setup " + method;
          cr.flow = "setup";
          cr.error = true;
          cr.message = method + ": " + r.status().message();
          results.push_back(cr);
        }
      }
    }
  }

  PrintStyle style = StyleFor(stdout);
  for (auto c : cases) {
    std::string name = Str(c, "name", Str(c, "flow"));
    if (!only.empty() && ("," + only + ",").find("," + name + ",") == std::string::npos) continue;
    CaseResult r = RunCase(rpc, c, timeout_ms);
    const char* verdict = r.passed ? (style.color ? "\033[32mPASS\033[0m" : "PASS")
                                   : (style.color ? "\033[31mFAIL\033[0m" : "FAIL");
    std::printf("%s %s (%s, %.1f s): %s\n%s", verdict, r.name.c_str(), r.flow.c_str(), r.seconds,
                r.message.c_str(), r.tree.c_str());
    std::fflush(stdout);
    results.push_back(std::move(r));
  }
  daemon.Stop(std::chrono::seconds(15));
  model_server.Stop(std::chrono::seconds(5));

  int passed = 0;
  for (const auto& r : results) passed += r.passed ? 1 : 0;
  double total = std::chrono::duration<double>(Clock::now() - t_start).count();
  std::printf("smoke: %d of %zu passed in %.1f s\n", passed, results.size(), total);
  if (a.Has("junit")) {
    std::ofstream out(a.Get("junit"), std::ios::binary | std::ios::trunc);
    out << JunitXml(results, total);
    if (!out) return Fail("cannot write " + a.Get("junit"), 1);
    std::printf("junit: %s\n", a.Get("junit").c_str());
  }
  if (results.empty())
    return Fail(only.empty() ? "smoke.json has no cases" : "no case named " + only, 1);
  return passed == static_cast<int>(results.size()) ? 0 : 1;
}

}  // namespace hero::cli
