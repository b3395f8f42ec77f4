// CLI commands that talk to a running daemon over its Unix socket (RpcClient): `show --follow`,
// `cancel`, `flows list|add|search`, `run --remote`. Main thread; blocking calls are fine here.
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "supervisor/api/rpc_client.h"
#include "supervisor/base/json_writer.h"
#include "supervisor/base/run_status.h"
#include "supervisor/cli/args.h"
#include "supervisor/cli/commands.h"
#include "supervisor/cli/tree_printer.h"

namespace hero::cli {
namespace {

using namespace std::chrono_literals;

constexpr const char* kCancelHelp = R"(usage: hero_logic cancel RUN [options]

Asks the daemon to cancel a queued or running run (SIGTERM to its process tree, SIGKILL
after the grace period). A run that already ended is left as it is.

options:
  --socket PATH   the daemon's Unix socket (default $DATA/hero_logic.sock)
  --data DIR      data directory (for the default socket)
)";

constexpr const char* kFlowsHelp = R"(usage: hero_logic flows list
       hero_logic flows add FILE.py [--name NAME] [--description TEXT]
       hero_logic flows search QUERY [--limit N]

Manages the daemon's flow library. `add` creates the flow (or adds a version when it exists).

options:
  --json          print the daemon's JSON answer
  --socket PATH   the daemon's Unix socket (default $DATA/hero_logic.sock)
  --data DIR      data directory (for the default socket)
)";

int Fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "hero_logic: %s\n", msg.c_str());
  return code;
}

std::string SocketPath(const ParsedArgs& a) {
  return a.Get("socket", ResolveDataDir(a.Get("data")) + "/hero_logic.sock");
}

Result<api::RpcClient> Connect(const ParsedArgs& a) {
  return api::RpcClient::ForUnixSocket(SocketPath(a));
}

std::string Str(simdjson::dom::element e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return "";
}

int64_t Int(simdjson::dom::element e, const char* key, int64_t def = 0) {
  int64_t v = def;
  if (e[key].get_int64().get(v) != simdjson::SUCCESS) return def;
  return v;
}

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ParseRunId(const std::string& s, int64_t* out) {
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || !end || *end != '\0' || v <= 0) return false;
  *out = v;
  return true;
}

}  // namespace

// Follows a run's SSE stream into a LivePrinter; returns the run's exit code at `end`.
int FollowRun(api::RpcClient& client, RunId run) {
  LivePrinter printer(stdout, StyleFor(stdout));
  std::unordered_map<std::string, int64_t> seq_of;
  simdjson::dom::parser parser;
  int exit_code = -1;
  std::string last_status, last_reason;
  store::RunRecord last;
  int64_t last_id = -1;
  for (int attempt = 0; attempt < 20 && exit_code < 0; ++attempt) {
    Status s = client.StreamEvents(
        run, last_id, [&](int64_t id, std::string_view event, std::string_view data) {
          if (id >= 0) last_id = id;
          simdjson::dom::element e;
          if (parser.parse(data.data(), data.size()).get(e) != simdjson::SUCCESS) return true;
          if (event == "span") {
            spans::SpanRecord r;
            r.seq = SpanSeq{Int(e, "seq")};
            r.span_id = Str(e, "id");
            r.parent_id = Str(e, "parent");
            r.name = Str(e, "name");
            r.kind = Str(e, "kind");
            r.status = Str(e, "status");
            r.start_us = Int(e, "start_us");
            r.end_us = Int(e, "end_us");
            r.error = Str(e, "error");
            r.error_type = Str(e, "error_type");
            r.rpc_service = Str(e, "rpc_service");
            r.rpc_method = Str(e, "rpc_method");
            seq_of[r.span_id] = r.seq.value;
            printer.OnSpan(run, r);
          } else if (event == "log") {
            spans::LogRecord l;
            auto it = seq_of.find(Str(e, "span_id"));
            l.span_seq = SpanSeq{it == seq_of.end() ? 0 : it->second};
            l.ts_us = Int(e, "ts_us");
            l.stream = Str(e, "stream");
            l.text = Str(e, "text");
            printer.OnLog(run, l);
          } else if (event == "status") {
            last.id = run;
            last.flow_name = Str(e, "flow");
            last.profile = Str(e, "profile");
            auto st = ParseRunStatus(Str(e, "status"));
            if (st) last.status = *st;
            last.reason = Str(e, "reason");
            last.created_us = Int(e, "created_us");
            last.started_us = Int(e, "started_us");
            last.ended_us = Int(e, "ended_us");
          } else if (event == "end") {
            auto st = ParseRunStatus(Str(e, "status"));
            if (st) last.status = *st;
            last.reason = Str(e, "reason");
            exit_code = static_cast<int>(Int(e, "exit_code", 1));
            return false;
          } else if (event == "error") {
            std::fprintf(stderr, "hero_logic: %s\n", Str(e, "message").c_str());
            exit_code = 1;
            return false;
          }
          return true;
        });
    if (!s.ok()) {
      if (s.code() == StatusCode::kIo) continue;  // the connection broke: resume
      return Fail(s.message());
    }
    if (exit_code < 0 && IsTerminal(last.status)) exit_code = ExitCodeForStatus(last.status);
    if (exit_code < 0) break;  // the stream ended without an end (a run owned by another process)
  }
  if (exit_code < 0) return Fail("the event stream ended before the run did");
  PrintRunSummary(stdout, last, StyleFor(stdout));
  return exit_code;
}

int ShowFollowCommand(const ParsedArgs& a, RunId run) {
  auto client = Connect(a);
  if (!client.ok()) return Fail(client.status().message());
  // Fail fast with the clear message when no daemon listens (StreamEvents says the same).
  auto probe = client->Call("play_status", "{\"run_id\":" + std::to_string(run.value) + "}", 10s);
  if (!probe.ok()) return Fail(probe.status().message());
  return FollowRun(*client, run);
}

int CancelCommand(const Args& argv) {
  auto parsed = ParseArgs(argv, {"socket", "data"}, {});
  if (!parsed.ok()) return Fail(parsed.status().message(), 2);
  const ParsedArgs& a = *parsed;
  if (a.Has("help")) {
    std::fputs(kCancelHelp, stdout);
    return 0;
  }
  int64_t id = 0;
  if (a.positional.size() != 1 || !ParseRunId(a.positional[0], &id)) {
    return Fail("cancel needs exactly one RUN id (see --help)", 2);
  }
  auto client = Connect(a);
  if (!client.ok()) return Fail(client.status().message());
  auto r = client->Call("play_cancel", "{\"run_id\":" + std::to_string(id) + "}", 10s);
  if (!r.ok()) return Fail(r.status().message());
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  std::string status = parser.parse(*r).get(e) == simdjson::SUCCESS ? Str(e, "status") : "";
  if (status == "running") {
    std::printf("run %lld: cancelling\n", static_cast<long long>(id));
  } else {
    std::printf("run %lld: %s\n", static_cast<long long>(id), status.c_str());
  }
  return 0;
}

int FlowsCommand(const Args& argv) {
  auto parsed = ParseArgs(argv, {"socket", "data", "name", "description", "limit"}, {"json"});
  if (!parsed.ok()) return Fail(parsed.status().message(), 2);
  const ParsedArgs& a = *parsed;
  if (a.Has("help") || a.positional.empty()) {
    std::fputs(kFlowsHelp, a.Has("help") ? stdout : stderr);
    return a.Has("help") ? 0 : 2;
  }
  const std::string sub = a.positional[0];
  auto client = Connect(a);
  if (!client.ok()) return Fail(client.status().message());
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (sub == "list") {
    if (a.positional.size() != 1) return Fail("flows list takes no arguments", 2);
    auto r = client->Call("flow_list", "{}", 10s);
    if (!r.ok()) return Fail(r.status().message());
    if (a.Has("json")) return std::printf("%s\n", r->c_str()), 0;
    if (parser.parse(*r).get(doc) != simdjson::SUCCESS) return Fail("malformed answer");
    std::printf("%-28s %-8s %s\n", "NAME", "VERSION", "DESCRIPTION");
    size_t n = 0;
    for (simdjson::dom::element f : doc.get_array()) {
      std::printf("%-28s %-8lld %s\n", Str(f, "name").c_str(),
                  static_cast<long long>(Int(f, "current_version")), Str(f, "description").c_str());
      ++n;
    }
    if (n == 0) std::printf("(no flows)\n");
    return 0;
  }
  if (sub == "add") {
    if (a.positional.size() != 2) return Fail("flows add needs exactly one FILE.py", 2);
    auto src = ReadText(a.positional[1]);
    if (!src.ok()) return Fail(src.status().message(), 2);
    JsonWriter w;
    w.BeginObject().Field("source", *src);
    if (a.Has("name")) w.Field("name", a.Get("name"));
    if (a.Has("description")) w.Field("description", a.Get("description"));
    w.EndObject();
    auto r = client->Call("flow_create", w.str(), 30s);
    bool updated = false;
    if (!r.ok() && r.status().code() == StatusCode::kAlreadyExists) {
      // The flow exists: this file becomes its new version.
      std::string name = a.Get("name");
      if (name.empty()) {
        std::string m = r.status().message();  // "flow 'NAME' already exists; ..."
        size_t b = m.find('\''), e = m.find('\'', b + 1);
        if (b != std::string::npos && e != std::string::npos) name = m.substr(b + 1, e - b - 1);
      }
      JsonWriter u;
      u.BeginObject().Field("name", name).Field("source", *src).EndObject();
      r = client->Call("flow_update", u.str(), 30s);
      updated = true;
    }
    if (!r.ok()) return Fail(r.status().message());
    if (a.Has("json")) return std::printf("%s\n", r->c_str()), 0;
    if (parser.parse(*r).get(doc) != simdjson::SUCCESS) return Fail("malformed answer");
    std::printf("%s flow %s version %lld\n", updated ? "updated" : "added",
                Str(doc, "name").c_str(), static_cast<long long>(Int(doc, "version")));
    return 0;
  }
  if (sub == "search") {
    if (a.positional.size() != 2) return Fail("flows search needs exactly one QUERY (quote it)", 2);
    JsonWriter w;
    w.BeginObject().Field("query", a.positional[1]);
    if (a.Has("limit")) w.Field("limit", static_cast<int64_t>(std::atoll(a.Get("limit").c_str())));
    w.EndObject();
    auto r = client->Call("flow_library_search", w.str(), 10s);
    if (!r.ok()) return Fail(r.status().message());
    if (a.Has("json")) return std::printf("%s\n", r->c_str()), 0;
    if (parser.parse(*r).get(doc) != simdjson::SUCCESS) return Fail("malformed answer");
    size_t n = 0;
    for (simdjson::dom::element h : doc.get_array()) {
      double score = 0;
      if (h["score"].get_double().get(score) != simdjson::SUCCESS) score = 0;
      std::printf("%-28s %7.3f  %s\n", Str(h, "name").c_str(), score, Str(h, "snippet").c_str());
      ++n;
    }
    if (n == 0) std::printf("(no matches)\n");
    return 0;
  }
  return Fail("unknown flows subcommand '" + sub + "' (list, add, search)", 2);
}

int RemoteRunCommand(const ParsedArgs& a) {
  if (a.positional.size() != 1)
    return Fail("run needs exactly one FILE.py (see hero_logic run --help)", 2);
  auto src = ReadText(a.positional[0]);
  if (!src.ok()) return Fail(src.status().message(), 2);
  std::string input = a.Get("input", "{}");
  if (a.Has("input-file")) {
    auto in = ReadText(a.Get("input-file"));
    if (!in.ok()) return Fail(in.status().message(), 2);
    input = *in;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(input).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Fail("--input must be a JSON object", 2);
  }
  JsonWriter w;
  w.BeginObject().Field("source", *src).Key("input").Raw(simdjson::minify(doc));
  w.Field("profile", a.Get("profile", "trusted"));
  if (a.Has("name")) w.Field("name", a.Get("name"));
  if (a.Has("timeout")) {
    auto s = ParseSeconds(a.Get("timeout"), 86400 * 7);
    if (!s) return Fail("--timeout must be a number of seconds in (0, 604800]", 2);
    w.Field("timeout_ms", static_cast<int64_t>(*s * 1000));
  }
  if (a.Has("network")) w.Field("network", true);
  if (a.Has("traceparent")) w.Field("traceparent", a.Get("traceparent"));
  if (a.Has("tracestate")) w.Field("tracestate", a.Get("tracestate"));
  w.EndObject();
  auto client = Connect(a);
  if (!client.ok()) return Fail(client.status().message());
  auto r = client->Call("play_run_async", w.str(), 30s);
  if (!r.ok()) return Fail(r.status().message());
  if (parser.parse(*r).get(doc) != simdjson::SUCCESS) return Fail("malformed answer");
  int64_t id = Int(doc, "run_id");
  std::fprintf(stderr, "hero_logic: run %lld started on the daemon\n", static_cast<long long>(id));
  return FollowRun(*client, RunId{id});
}

}  // namespace hero::cli
