// script_run's answer. The reader is an LLM that gets one answer per try: it must see what
// the script printed (merged across spans, as text), the failing line of its own code (not the
// library's), and, when the sandbox caused the failure, one sentence saying what to change.
// The answer is bounded whatever the script did: output is cut to a tail while it is merged,
// and the span tree gives way (fewer logs per span, then fewer spans) until the whole fits.
#include "supervisor/core/script_answer.h"

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "supervisor/base/json_writer.h"
#include "supervisor/base/run_status.h"
#include "supervisor/core/run_view.h"

namespace hero::core {
namespace {

constexpr size_t kTracebackMax = 8 << 10;
constexpr size_t kErrorMax = 4 << 10;
constexpr size_t kLogTailLines = 10;
constexpr size_t kLogTailBytes = 4 << 10;
constexpr size_t kTreeTextMax = 1 << 10;  // a log text or traceback inside the tree
constexpr size_t kOutputPreviewBytes = 4 << 10;
constexpr std::string_view kBootPrefix = "hero_tracing.boot: ";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool Contains(std::string_view s, std::string_view p) {
  return s.find(p) != std::string_view::npos;
}

// Cuts at a UTF-8 character boundary at or before n (from the front: keeps s[0, cut)).
size_t Utf8Floor(std::string_view s, size_t n) {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

std::string ClipFront(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  return std::string(s.substr(0, Utf8Floor(s, n))) + "…";
}

// The last n bytes of s, starting at a line start when one is near (else a char boundary).
std::string_view TailBytes(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  size_t from = s.size() - n;
  size_t nl = s.find('\n', from);
  if (nl != std::string_view::npos && nl + 1 < s.size() && nl - from < 256) return s.substr(nl + 1);
  while (from < s.size() && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80) ++from;
  return s.substr(from);
}

std::string_view Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

// ---- output merged across spans, bounded while it is merged ----

// Keeps the tail of one stream: at most `max_bytes` bytes and `max_lines` lines. Text is
// appended in order; everything before the tail is only counted.
class TailBuffer {
 public:
  TailBuffer(size_t max_bytes, size_t max_lines) : max_bytes_(max_bytes), max_lines_(max_lines) {}

  void Append(std::string_view text) {
    total_ += text.size();
    buf_.append(text);
    // Compact now and then, not per append: amortized linear in the text.
    if (buf_.size() > 2 * max_bytes_ + (64 << 10)) Compact();
  }

  // The kept text (ends with a newline when the stream did).
  std::string Finish() {
    Compact();
    return std::move(buf_);
  }
  int64_t total() const { return static_cast<int64_t>(total_); }

 private:
  void Compact() {
    std::string_view v = buf_;
    if (v.size() > max_bytes_) v = TailBytes(v, max_bytes_);
    // Lines: count newlines from the end; a final line without newline counts as one.
    size_t lines = 0;
    size_t pos = v.size();
    if (!v.empty() && v.back() == '\n') --pos;
    while (pos > 0) {
      size_t nl = v.rfind('\n', pos - 1);
      if (nl == std::string_view::npos) break;
      if (++lines >= max_lines_) {
        v = v.substr(nl + 1);
        break;
      }
      pos = nl;
    }
    if (v.size() != buf_.size()) buf_ = std::string(v);
  }

  size_t max_bytes_, max_lines_;
  std::string buf_;
  size_t total_ = 0;
};

struct MergedOutput {
  std::string out, err;
  int64_t out_total = 0, err_total = 0;
};

// stdout/stderr of every span in log order. The boot module's own "hero_tracing.boot: …"
// line is left out of stderr: it restates the failure, which the answer has in full.
MergedOutput MergeOutput(const std::vector<store::LogRow>& logs, const AnswerLimits& lim) {
  TailBuffer out(static_cast<size_t>(lim.max_output_bytes),
                 static_cast<size_t>(lim.max_output_lines));
  TailBuffer err(static_cast<size_t>(lim.max_output_bytes),
                 static_cast<size_t>(lim.max_output_lines));
  for (const auto& l : logs) {
    if (l.stream == "stdout") {
      out.Append(l.text);
    } else if (l.stream == "stderr") {
      if (StartsWith(l.text, kBootPrefix)) continue;
      err.Append(l.text);
    }
  }
  MergedOutput m;
  m.out_total = out.total();
  m.err_total = err.total();
  m.out = out.Finish();
  m.err = err.Finish();
  return m;
}

// ---- tracebacks ----

struct TbItem {
  bool is_frame = false;
  TracebackFrame frame;
  std::vector<std::string_view> raw;  // the item's lines as formatted
  int section = 0;
};

bool ParseFrameLine(std::string_view line, TracebackFrame* f) {
  constexpr std::string_view kFile = "  File \"";
  if (!StartsWith(line, kFile)) return false;
  size_t q = line.find("\", line ", kFile.size());
  if (q == std::string_view::npos) return false;
  f->file = std::string(line.substr(kFile.size(), q - kFile.size()));
  size_t p = q + 8;
  int64_t n = 0;
  size_t digits = 0;
  while (p < line.size() && line[p] >= '0' && line[p] <= '9' && digits < 12) {
    n = n * 10 + (line[p] - '0');
    ++p;
    ++digits;
  }
  if (digits == 0) return false;
  f->line = n;
  constexpr std::string_view kIn = ", in ";
  if (line.substr(p, kIn.size()) == kIn) f->function = std::string(line.substr(p + kIn.size()));
  return true;
}

bool IsCaretLine(std::string_view line) {
  std::string_view t = Trim(line);
  return !t.empty() && t.find_first_not_of("^~") == std::string_view::npos;
}

std::vector<TbItem> ParseTraceback(std::string_view tb) {
  std::vector<TbItem> items;
  int section = 0;
  size_t pos = 0;
  while (pos < tb.size()) {
    size_t nl = tb.find('\n', pos);
    std::string_view line =
        tb.substr(pos, nl == std::string_view::npos ? tb.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? tb.size() : nl + 1;
    if (line == "Traceback (most recent call last):") ++section;
    TracebackFrame f;
    if (ParseFrameLine(line, &f)) {
      TbItem it;
      it.is_frame = true;
      it.frame = std::move(f);
      it.raw.push_back(line);
      it.section = section;
      items.push_back(std::move(it));
      continue;
    }
    // Source and caret lines (indented 4) belong to the frame above.
    if (!items.empty() && items.back().is_frame && StartsWith(line, "    ")) {
      TbItem& fr = items.back();
      if (fr.raw.size() == 1) {
        fr.frame.source_line = std::string(Trim(line));
      } else if (IsCaretLine(line) && fr.frame.caret.empty()) {
        fr.frame.caret = std::string(line.substr(4));
      }
      fr.raw.push_back(line);
      continue;
    }
    TbItem it;
    it.raw.push_back(line);
    it.section = section;
    items.push_back(std::move(it));
  }
  return items;
}

bool IsLibraryFile(std::string_view file, std::string_view script_file) {
  if (!script_file.empty()) return file != script_file;
  return StartsWith(file, "<frozen") || Contains(file, "/lib/python3") ||
         Contains(file, "/hero_tracing/");
}

// "urllib" for ".../lib/python3.11/urllib/request.py", "requests" for a site package.
std::string ModuleOf(std::string_view file) {
  if (StartsWith(file, "<frozen ")) {
    std::string_view m = file.substr(8);
    m = m.substr(0, std::min(m.find('.'), m.find('>')));
    return std::string(m);
  }
  size_t lib = file.find("/lib/python3");
  std::string_view rest = file;
  if (lib != std::string_view::npos) {
    size_t slash = file.find('/', lib + 12);
    rest = slash == std::string_view::npos ? file : file.substr(slash + 1);
    for (std::string_view pk : {"site-packages/", "dist-packages/"}) {
      if (StartsWith(rest, pk)) rest.remove_prefix(pk.size());
    }
  } else {
    size_t slash = rest.rfind('/');
    if (slash != std::string_view::npos) rest = rest.substr(slash + 1);
  }
  rest = rest.substr(0, rest.find('/'));
  if (rest.ends_with(".py")) rest.remove_suffix(3);
  return std::string(rest);
}

std::string ElisionLine(const std::vector<const TbItem*>& run) {
  std::vector<std::string> mods;
  for (const TbItem* it : run) {
    std::string m = ModuleOf(it->frame.file);
    if (std::find(mods.begin(), mods.end(), m) == mods.end()) mods.push_back(m);
  }
  std::string s = "  … " + std::to_string(run.size()) + " frames in ";
  for (size_t i = 0; i < mods.size() && i < 4; ++i) s += (i ? ", " : "") + mods[i];
  if (mods.size() > 4) s += ", …";
  return s;
}

}  // namespace

TracebackView ReadTraceback(std::string_view traceback, std::string_view script_file) {
  TracebackView v;
  std::vector<TbItem> items = ParseTraceback(traceback);
  // The innermost script frame of the last exception (the one that reached the top); an
  // earlier exception of the chain only if the last has no script frame.
  int best_section = -1;
  for (const TbItem& it : items) {
    if (!it.is_frame || IsLibraryFile(it.frame.file, script_file)) continue;
    if (it.section >= best_section) {
      best_section = it.section;
      v.user_frame = it.frame;
      v.has_user_frame = true;
    }
  }
  std::string out;
  std::vector<const TbItem*> run;  // library frames not written yet
  auto flush_run = [&](bool at_section_end) {
    // The innermost frame of a section says where the exception was raised: keep it.
    const TbItem* keep_last = at_section_end && !run.empty() ? run.back() : nullptr;
    if (keep_last) run.pop_back();
    if (run.size() >= 2) {
      out += ElisionLine(run) + "\n";
    } else {
      for (const TbItem* it : run)
        for (auto l : it->raw) out.append(l).push_back('\n');
    }
    if (keep_last)
      for (auto l : keep_last->raw) out.append(l).push_back('\n');
    run.clear();
  };
  for (const TbItem& it : items) {
    if (it.is_frame && IsLibraryFile(it.frame.file, script_file)) {
      run.push_back(&it);
      continue;
    }
    flush_run(!it.is_frame);
    for (auto l : it.raw) out.append(l).push_back('\n');
  }
  flush_run(true);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (out.size() > kTracebackMax) out = "…\n" + std::string(TailBytes(out, kTracebackMax));
  v.shortened = std::move(out);
  return v;
}

// ---- hints ----

const std::vector<std::string_view>& HintCodes() {
  static const std::vector<std::string_view> codes = {
      "network_disabled",  "module_not_installed", "path_not_found",
      "path_not_writable", "memory_limit",         "cpu_limit",
      "timeout",           "process_limit",        "file_size_limit",
      "blocked_syscall",   "output_limit"};
  return codes;
}

std::string ScriptAnswerSchemaJson() {
  auto typed = [](JsonWriter& w, std::string_view name, std::string_view type,
                  std::string_view desc, bool nullable) {
    w.Key(name).BeginObject();
    if (nullable) {
      w.Key("type").BeginArray().String(type).String("null").EndArray();
    } else {
      w.Field("type", type);
    }
    w.Field("description", desc).EndObject();
  };
  auto str = [&typed](JsonWriter& w, std::string_view name, std::string_view desc, bool nullable) {
    typed(w, name, "string", desc, nullable);
  };
  auto integer = [&typed](JsonWriter& w, std::string_view name, std::string_view desc,
                          bool nullable) { typed(w, name, "integer", desc, nullable); };
  auto boolean = [](JsonWriter& w, std::string_view name, std::string_view desc) {
    w.Key(name).BeginObject().Field("type", "boolean").Field("description", desc).EndObject();
  };
  JsonWriter w;
  w.BeginObject().Field("type", "object");
  w.Field("description",
          "The whole answer is at most max_answer_bytes (default 262144): output is cut to its "
          "tail, and the tree gives way first (fewer logs per span, then fewer spans).");
  w.Key("properties").BeginObject();
  integer(w, "run_id", "the run; play_spans/play_logs/play_status take it", false);
  w.Key("status")
      .BeginObject()
      .Field("type", "string")
      .Key("enum")
      .BeginArray()
      .String("ok")
      .String("failed")
      .String("timed_out")
      .String("cancelled")
      .String("killed")
      .String("interrupted")
      .EndArray()
      .Field("description", "killed = a sandbox limit ended it (reason says which)")
      .EndObject();
  str(w, "reason",
      "one line: why the run ended (\"ok\", \"the script exited with code 3\", "
      "\"memory limit 2 GiB exceeded\", \"syntax error at line 13: ...\"); <= 4 KiB",
      false);
  integer(w, "exit_code",
          "the script's exit code (sys.exit(n) gives n); null when a signal ended it", true);
  integer(w, "signal", "the signal that ended the process, or null", true);
  w.Key("failure").BeginObject();
  w.Key("type").BeginArray().String("object").String("null").EndArray();
  w.Field("description", "null when status is ok; else where and why it failed");
  w.Key("properties").BeginObject();
  str(w, "path", "span names from the root to the failed span, 'flow/step'", false);
  str(w, "span", "the innermost failed span", false);
  str(w, "span_id", "its id (play_logs(run_id, span_id) gives all its logs)", false);
  str(w, "error_type", "the exception class (ValueError, SyntaxError, urllib.error.URLError)",
      true);
  str(w, "error", "the exception message (or the run's reason); <= 4 KiB", false);
  str(w, "file", "the script's file at the innermost frame of the submitted script", true);
  integer(w, "line", "that frame's line (for a syntax error: the line of the error)", true);
  str(w, "function", "that frame's function ('<module>' at top level)", true);
  str(w, "source_line", "that line of the script, stripped; <= 500 bytes", true);
  integer(w, "offset",
          "syntax errors only: 1-based column of the caret in the line as Python shows it", true);
  str(w, "source_caret", "syntax errors only: the source line and the caret line under it", false);
  str(w, "traceback",
      "Python's traceback with runs of library frames elided ('  … 9 frames in urllib, "
      "http'); the script's frames and the innermost frame kept; <= 8 KiB (the end kept)",
      false);
  str(w, "log_tail",
      "the last 10 lines the failed span printed (or the run, if it printed nothing); <= 4 KiB",
      false);
  w.Key("hint_code").BeginObject();
  w.Key("type").BeginArray().String("string").String("null").EndArray();
  w.Key("enum").BeginArray();
  for (std::string_view c : HintCodes()) w.String(c);
  w.Null().EndArray();
  w.Field("description",
          "set when the sandbox caused the failure: network_disabled (DNS/connect failed with "
          "network false), module_not_installed, path_not_found (outside the work dir and "
          "/tmp), path_not_writable, memory_limit, cpu_limit, timeout, process_limit, "
          "file_size_limit, blocked_syscall, output_limit");
  w.EndObject();
  str(w, "hint",
      "one sentence saying what to change (with the limit's value and the param "
      "that raises it, if any)",
      true);
  w.EndObject().EndObject();
  str(w, "stdout",
      "everything the run printed on stdout, merged in order across steps: the last "
      "max_output_lines (200) lines within max_output_bytes (default 32768, at most 1048576)",
      false);
  boolean(w, "stdout_truncated", "true when stdout above is not all the script printed");
  integer(w, "stdout_dropped_bytes", "bytes of stdout before the part shown", false);
  str(w, "stderr",
      "the same for stderr (the boot module's own one-line summary left out: see failure)", false);
  boolean(w, "stderr_truncated", "true when stderr above is not all the script wrote");
  integer(w, "stderr_dropped_bytes", "bytes of stderr before the part shown", false);
  w.Key("output").BeginObject().Field(
      "description",
      "the @flow's return value (null for a plain script); one over max_answer_bytes/4 becomes "
      "{truncated, bytes, preview, rest}");
  w.EndObject();
  integer(w, "duration_ms", "wall-clock run time", false);
  integer(w, "cpu_ms", "CPU time of the run's processes", false);
  integer(w, "peak_rss_bytes", "peak resident memory", false);
  str(w, "profile", "sandbox profile (untrusted)", false);
  boolean(w, "network", "whether the sandbox had network");
  str(w, "ui", "path of the run in the web UI ('/#/runs/42')", false);
  w.Key("dropped")
      .BeginObject()
      .Field("type", "object")
      .Field("description",
             "what the run's caps dropped before storing: spans, log_bytes, output_bytes, "
             "tag_events, malformed_lines")
      .EndObject();
  typed(w, "tree", "object",
        "the root span with children; every shown span has its name, status and error; logs "
        "per span may be cut to head + tail (logs_omitted), children to a prefix "
        "(children_omitted); tracebacks and texts in it <= 1 KiB",
        true);
  typed(w, "tree_truncated", "object",
        "null when the whole tree is shown; else {spans_total, spans_shown, logs_per_span (null "
        "= all), rest}",
        true);
  w.EndObject();
  w.Key("required")
      .BeginArray()
      .String("run_id")
      .String("status")
      .String("reason")
      .String("failure")
      .String("stdout")
      .String("stderr")
      .String("tree")
      .EndArray();
  w.EndObject();
  return w.Take();
}

const std::vector<std::string>& InstalledModules() {
  static const std::vector<std::string> mods = [] {
    std::vector<std::string> m;
    std::error_code ec;
    for (const char* dir : {"/usr/lib/python3/dist-packages"}) {
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        std::string name = e.path().filename().string();
        if (name.empty() || name[0] == '_' || name.find('-') != std::string::npos) continue;
        if (e.is_directory(ec)) {
          if (!std::filesystem::exists(e.path() / "__init__.py", ec)) continue;
        } else if (name.ends_with(".py")) {
          name.resize(name.size() - 3);
        } else if (name.ends_with(".so")) {
          name.resize(name.find('.'));  // apt_pkg.cpython-311-x86_64-linux-gnu.so
        } else {
          continue;
        }
        if (name.find('.') != std::string::npos) continue;
        m.push_back(name);
      }
    }
    std::sort(m.begin(), m.end());
    m.erase(std::unique(m.begin(), m.end()), m.end());
    return m;
  }();
  return mods;
}

namespace {

// 'pandas' from "No module named 'pandas.core'".
std::string MissingModule(std::string_view error) {
  size_t p = error.find("No module named '");
  if (p == std::string_view::npos) return "";
  std::string_view rest = error.substr(p + 17);
  rest = rest.substr(0, rest.find('\''));
  return std::string(rest.substr(0, rest.find('.')));
}

// The quoted path of an OSError message: "[Errno 2] No such file or directory: 'data.csv'".
std::string OsErrorPath(std::string_view error) {
  size_t colon = error.find(": '");
  if (colon == std::string_view::npos) return "";
  std::string_view rest = error.substr(colon + 3);
  size_t end = rest.find('\'');
  if (end == std::string_view::npos) return "";
  return std::string(rest.substr(0, std::min<size_t>(end, 200)));
}

}  // namespace

Hint HintFor(const store::RunRecord& rec, std::string_view error_type, std::string_view error,
             std::string_view traceback, const std::vector<std::string>& modules) {
  const std::string& reason = rec.reason;
  if (rec.status == RunStatus::kTimedOut) {
    return {"timeout", "the script ran longer than the " +
                           reason.substr(std::min<size_t>(reason.size(), 19)) +
                           " wall-clock limit (a loop that never ends, or a slow wait?); make it "
                           "finish sooner or pass a larger timeout_ms (at most 604800000)"};
  }
  if (rec.status == RunStatus::kKilled) {
    if (StartsWith(reason, "memory limit"))
      return {"memory_limit", "the script needed more memory than the sandbox allows (" + reason +
                                  "; the operator sets it, no script_run parameter raises it): "
                                  "process the data in smaller pieces or stream it"};
    if (StartsWith(reason, "CPU limit"))
      return {"cpu_limit", "the script used more CPU time than allowed (" + reason +
                               "; the limit is 2 × timeout_ms): pass a larger timeout_ms or do "
                               "less work"};
    if (StartsWith(reason, "process limit"))
      return {"process_limit", "the sandbox caps threads and processes (" + reason +
                                   "; set by the operator): start fewer threads or processes, "
                                   "e.g. a pool of 4 workers"};
    if (StartsWith(reason, "file size limit"))
      return {"file_size_limit", "a file the script wrote passed the sandbox's " +
                                     reason.substr(0, reason.size() - 9) +
                                     " (set by the operator): write less data or several "
                                     "smaller files"};
    if (StartsWith(reason, "blocked syscall"))
      return {"blocked_syscall", "the sandbox forbids what the script tried (" + reason +
                                     "): do the same without it (no ptrace, mount, namespaces, "
                                     "raw sockets or kernel interfaces)"};
    if (StartsWith(reason, "output limit"))
      return {"output_limit",
              "the script printed more than the sandbox accepts: print less "
              "(a summary, not every row)"};
  }
  if (rec.status != RunStatus::kFailed) return {};
  auto any_of = [&](std::initializer_list<std::string_view> needles) {
    for (std::string_view n : needles)
      if (Contains(error, n) || Contains(traceback, n)) return true;
    return false;
  };
  if (!rec.network &&
      any_of({"Temporary failure in name resolution", "Name or service not known",
              "socket.gaierror", "Network is unreachable", "[Errno 101]",
              "Address family not supported", "[Errno 97]", "No address associated"})) {
    return {"network_disabled",
            "the sandbox has no network; pass network: true if the operator allows it, or "
            "give the data in `input`"};
  }
  if (error_type == "ModuleNotFoundError" ||
      (error_type == "ImportError" && Contains(error, "No module named"))) {
    std::string mod = MissingModule(error);
    if (mod.empty()) mod = "the module";
    std::string text = mod + " is not installed in the sandbox; the standard library";
    if (modules.empty()) {
      text += " is available (json, csv, sqlite3, statistics, urllib, re, …)";
    } else {
      text += " and these modules are available: ";
      size_t n = 0;
      for (const auto& m : modules) {
        if (n == 60) {
          text += ", …";
          break;
        }
        text += (n++ ? ", " : "") + m;
      }
    }
    return {"module_not_installed", text};
  }
  bool read_only = any_of({"Read-only file system", "[Errno 30]"});
  if (read_only || error_type == "PermissionError") {
    std::string path = OsErrorPath(error);
    return {"path_not_writable",
            (path.empty() ? std::string("that path") : "'" + path + "'") +
                " is not writable in the sandbox: write under the work directory (the "
                "current directory, also $HOME) or /tmp"};
  }
  if (error_type == "FileNotFoundError") {
    std::string path = OsErrorPath(error);
    return {"path_not_found",
            (path.empty() ? std::string("the file") : "'" + path + "'") +
                " does not exist in the sandbox: it sees only its own work directory (empty "
                "at start), /tmp and a read-only /usr; create the file first or pass its "
                "content in `input`"};
  }
  return {};
}

namespace {

// ---- the failure ----

void NullableInt(JsonWriter& w, std::string_view key, bool has, int64_t v) {
  w.Key(key);
  if (has) {
    w.Int(v);
  } else {
    w.Null();
  }
}

void NullableString(JsonWriter& w, std::string_view key, bool has, std::string_view v) {
  w.Key(key);
  if (has) {
    w.String(v);
  } else {
    w.Null();
  }
}

const TreeNode* FindFailure(const TreeNode* n, std::vector<const TreeNode*>& path,
                            std::vector<const TreeNode*>& best_path) {
  // Iterative over an explicit stack would be safer for 10^5-deep trees, but the answer's tree
  // holds at most the first 2,000 spans, so the depth is bounded by that.
  const TreeNode* best = nullptr;
  path.push_back(n);
  bool failed_child = false;
  for (const TreeNode* c : n->children) {
    std::vector<const TreeNode*> sub;
    const TreeNode* f = FindFailure(c, path, sub);
    if (f) {
      failed_child = true;
      if (!best || (f->span.end_us && f->span.end_us < best->span.end_us)) {
        best = f;
        best_path = std::move(sub);
      }
    }
  }
  if (!failed_child && n->span.status != "ok" && n->span.status != "running") {
    best = n;
    best_path = path;
  }
  path.pop_back();
  return best;
}

std::string LogTail(const TreeNode* f, const TreeNode* root) {
  std::string logs;
  auto add = [&logs](const TreeNode* n) {
    for (const auto& l : n->logs) {
      if (l.stream == "stderr" && StartsWith(l.text, kBootPrefix)) continue;
      logs += l.text;
      if (!logs.empty() && logs.back() != '\n') logs += '\n';
      if (logs.size() > 4 * kLogTailBytes) logs = std::string(TailBytes(logs, 2 * kLogTailBytes));
    }
  };
  add(f);
  if (logs.empty() && f != root) add(root);
  while (!logs.empty() && logs.back() == '\n') logs.pop_back();
  size_t pos = logs.size();
  for (size_t i = 0; i < kLogTailLines && pos != std::string::npos && pos > 0; ++i)
    pos = logs.rfind('\n', pos - 1);
  std::string_view tail = logs;
  if (pos != std::string::npos && pos > 0) tail = tail.substr(pos + 1);
  return std::string(TailBytes(tail, kLogTailBytes));
}

// The root's `exit_code` tag (a plain script's sys.exit(n)), or -1.
int64_t TaggedExitCode(const std::string& tags_json) {
  if (tags_json.find("exit_code") == std::string::npos) return -1;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(tags_json).get(doc)) return -1;
  int64_t v = -1;
  if (doc["exit_code"].get_int64().get(v)) return -1;
  return v;
}

void WriteFailure(JsonWriter& w, const store::RunRecord& rec, const SpanTree& tree,
                  const TreeNode* f, const std::vector<const TreeNode*>& fpath) {
  std::string p;
  for (const TreeNode* n : fpath) p += (p.empty() ? "" : "/") + n->span.name;
  const store::SpanRow& s = f->span;
  const std::string& script_file = tree.root ? tree.root->span.file : s.file;
  TracebackView tv = ReadTraceback(s.traceback, script_file);
  w.BeginObject();
  w.Field("path", p);
  w.Field("span", s.name);
  w.Field("span_id", s.span_id);
  NullableString(w, "error_type", !s.error_type.empty(), s.error_type);
  w.Field("error", ClipFront(s.error.empty() ? rec.reason : s.error, kErrorMax));
  // Where in the script: the innermost frame of the script's own code.
  const bool syntax = s.error_type == "SyntaxError" || s.error_type == "IndentationError" ||
                      s.error_type == "TabError";
  const TracebackFrame& uf = tv.user_frame;
  NullableString(w, "file", tv.has_user_frame, uf.file);
  NullableInt(w, "line", tv.has_user_frame, uf.line);
  NullableString(w, "function", tv.has_user_frame && !uf.function.empty(), uf.function);
  NullableString(w, "source_line", tv.has_user_frame && !uf.source_line.empty(),
                 ClipFront(uf.source_line, 500));
  if (syntax && tv.has_user_frame) {
    // The caret under the source line as Python shows it: its column (1-based) in
    // source_line, and both lines together.
    std::string_view caret = Trim(tv.user_frame.caret);
    size_t col = tv.user_frame.caret.find_first_of("^~");
    NullableInt(w, "offset", !caret.empty() && col != std::string::npos,
                static_cast<int64_t>(col) + 1);
    w.Field("source_caret", ClipFront(tv.user_frame.source_line, 500) +
                                (tv.user_frame.caret.empty() ? "" : "\n" + tv.user_frame.caret));
  }
  w.Field("traceback", tv.shortened);
  w.Field("log_tail", LogTail(f, tree.root ? tree.root : f));
  Hint h = HintFor(rec, s.error_type, s.error, s.traceback, InstalledModules());
  NullableString(w, "hint_code", !h.code.empty(), h.code);
  NullableString(w, "hint", !h.code.empty(), h.text);
  w.EndObject();
}

// ---- the bounded tree ----

struct TreeBudget {
  size_t log_head = 3, log_tail = 3;  // log entries kept per span at each end
  const std::unordered_set<const TreeNode*>* keep = nullptr;  // null: every node
};

void WriteBoundedOpen(JsonWriter& w, const TreeNode& n, const TreeBudget& b) {
  w.BeginObject();
  if (n.span.traceback.size() > kTreeTextMax) {
    store::SpanRow copy = n.span;
    copy.traceback = "…" + std::string(TailBytes(copy.traceback, kTreeTextMax));
    copy.error = ClipFront(copy.error, kTreeTextMax);
    WriteSpanFields(w, copy);
  } else if (n.span.error.size() > kTreeTextMax) {
    store::SpanRow copy = n.span;
    copy.error = ClipFront(copy.error, kTreeTextMax);
    WriteSpanFields(w, copy);
  } else {
    WriteSpanFields(w, n.span);
  }
  const size_t total = n.logs.size();
  const bool cut = total > b.log_head + b.log_tail;
  w.Key("logs").BeginArray();
  auto write_log = [&w](const store::LogRow& l) {
    w.BeginObject()
        .Field("ts_us", l.ts_us)
        .Field("stream", l.stream)
        .Field("text", ClipFront(l.text, kTreeTextMax))
        .EndObject();
  };
  if (!cut) {
    for (const auto& l : n.logs) write_log(l);
  } else {
    for (size_t i = 0; i < b.log_head; ++i) write_log(n.logs[i]);
    for (size_t i = total - b.log_tail; i < total; ++i) write_log(n.logs[i]);
  }
  w.EndArray();
  if (cut) w.Field("logs_omitted", static_cast<int64_t>(total - b.log_head - b.log_tail));
  int64_t hidden = 0;
  if (b.keep) {
    for (const TreeNode* c : n.children) hidden += b.keep->count(c) ? 0 : 1;
  }
  if (hidden > 0) w.Field("children_omitted", hidden);
  w.Key("children").BeginArray();
}

std::string RenderBoundedTree(const TreeNode& root, const TreeBudget& b) {
  JsonWriter w;
  std::vector<std::pair<const TreeNode*, size_t>> stack;
  WriteBoundedOpen(w, root, b);
  stack.push_back({&root, 0});
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->children.size()) {
      const TreeNode* child = node->children[next++];
      if (b.keep && !b.keep->count(child)) continue;
      WriteBoundedOpen(w, *child, b);
      stack.push_back({child, 0});
    } else {
      w.EndArray().EndObject();
      stack.pop_back();
    }
  }
  return w.Take();
}

// The first `n` spans in start order plus the failure's path, closed under parents.
std::unordered_set<const TreeNode*> KeepSet(const SpanTree& tree, size_t n,
                                            const std::vector<const TreeNode*>& fpath) {
  std::unordered_map<const TreeNode*, const TreeNode*> parent;
  std::vector<const TreeNode*> order;  // pre-order = start order below each parent
  std::vector<const TreeNode*> stack{tree.root};
  while (!stack.empty()) {
    const TreeNode* x = stack.back();
    stack.pop_back();
    order.push_back(x);
    for (auto it = x->children.rbegin(); it != x->children.rend(); ++it) {
      parent[*it] = x;
      stack.push_back(*it);
    }
  }
  std::unordered_set<const TreeNode*> keep;
  auto add = [&](const TreeNode* x) {
    while (x && keep.insert(x).second) {
      auto it = parent.find(x);
      x = it == parent.end() ? nullptr : it->second;
    }
  };
  for (const TreeNode* x : fpath) add(x);
  for (size_t i = 0; i < order.size() && i < n; ++i) add(order[i]);
  return keep;
}

void WriteOutputStream(JsonWriter& w, std::string_view name, const std::string& text,
                       int64_t total) {
  const int64_t shown = static_cast<int64_t>(text.size());
  w.Field(name, text);
  w.Field(std::string(name) + "_truncated", total > shown);
  w.Field(std::string(name) + "_dropped_bytes", total - shown);
}

}  // namespace

std::string BuildScriptAnswer(const store::RunRecord& rec, std::vector<store::SpanRow> spans,
                              std::vector<store::LogRow> logs, const AnswerLimits& lim) {
  MergedOutput out = MergeOutput(logs, lim);
  SpanTree tree = BuildTree(std::move(spans), std::move(logs));

  const TreeNode* f = nullptr;
  std::vector<const TreeNode*> fpath;
  if (tree.root && rec.status != RunStatus::kOk && IsTerminal(rec.status)) {
    std::vector<const TreeNode*> path;
    f = FindFailure(tree.root, path, fpath);
    if (!f) {
      f = tree.root;
      fpath = {tree.root};
    }
  }

  JsonWriter w;
  w.BeginObject();
  w.Field("run_id", rec.id.value);
  w.Field("status", RunStatusName(rec.status));
  w.Field("reason", ClipFront(rec.reason, kErrorMax));
  int64_t exit_code = rec.exit_code;
  if (tree.root) {
    int64_t tagged = TaggedExitCode(tree.root->span.tags_json);
    if (tagged >= 0 && rec.exit_code == 1) exit_code = tagged;  // sys.exit(n) in the script
  }
  NullableInt(w, "exit_code", exit_code >= 0, exit_code);
  NullableInt(w, "signal", rec.signal > 0, rec.signal);
  w.Key("failure");
  if (f) {
    WriteFailure(w, rec, tree, f, fpath);
  } else {
    w.Null();
  }
  WriteOutputStream(w, "stdout", out.out, out.out_total);
  WriteOutputStream(w, "stderr", out.err, out.err_total);
  w.Key("output");
  const int64_t output_budget = lim.max_answer_bytes / 4;
  if (rec.output_json.empty()) {
    w.Null();
  } else if (static_cast<int64_t>(rec.output_json.size()) <= output_budget) {
    w.Raw(rec.output_json);
  } else {
    w.BeginObject()
        .Field("truncated", true)
        .Field("bytes", static_cast<int64_t>(rec.output_json.size()))
        .Field("preview", ClipFront(rec.output_json, kOutputPreviewBytes))
        .Field("rest", "play_status(run_id) returns the whole output")
        .EndObject();
  }
  w.Field("duration_ms", rec.ended_us > rec.started_us && rec.started_us > 0
                             ? (rec.ended_us - rec.started_us) / 1000
                             : int64_t{0});
  w.Field("cpu_ms", rec.cpu_us / 1000);
  w.Field("peak_rss_bytes", rec.peak_rss_kb * 1024);
  w.Field("profile", rec.profile);
  w.Field("network", rec.network);
  w.Field("ui", "/#/runs/" + std::to_string(rec.id.value));
  w.Key("dropped")
      .BeginObject()
      .Field("spans", rec.dropped_spans)
      .Field("log_bytes", rec.dropped_log_bytes)
      .Field("output_bytes", rec.dropped_output_bytes)
      .Field("tag_events", rec.dropped_tag_events)
      .Field("malformed_lines", rec.malformed_lines)
      .EndObject();

  // The tree takes what is left; it gives way in steps until it fits.
  const size_t reserve = 1024;  // the keys, tree_truncated and the closing brace
  const size_t used = w.str().size() + reserve;
  const size_t budget =
      static_cast<size_t>(lim.max_answer_bytes) > used ? lim.max_answer_bytes - used : 0;
  std::string tree_json = "null";
  int64_t spans_shown = 0;
  int64_t logs_per_span = -1;  // -1: every log
  if (tree.root) {
    const size_t nodes = tree.nodes.size();
    TreeBudget b;
    b.log_head = b.log_tail = SIZE_MAX / 4;  // every log
    std::unordered_set<const TreeNode*> keep;
    size_t n = nodes;
    for (int step = 0;; ++step) {
      tree_json = RenderBoundedTree(*tree.root, b);
      spans_shown = b.keep ? static_cast<int64_t>(b.keep->size()) : static_cast<int64_t>(nodes);
      logs_per_span = step == 0 ? -1 : static_cast<int64_t>(b.log_head + b.log_tail);
      if (tree_json.size() <= budget) break;
      if (step == 0) {
        b.log_head = b.log_tail = 3;
      } else if (step == 1) {
        b.log_head = b.log_tail = 1;
      } else if (step == 2) {
        b.log_head = b.log_tail = 0;
      } else if (n > 1) {
        n /= 2;
        keep = KeepSet(tree, n, fpath);
        b.keep = &keep;
      } else {
        tree_json = "null";  // not even the failure path fits
        spans_shown = 0;
        break;
      }
    }
  }
  w.Key("tree").Raw(tree_json);
  const bool spans_cut = rec.span_count > spans_shown;
  if (spans_cut || logs_per_span >= 0) {
    w.Key("tree_truncated").BeginObject();
    w.Field("spans_total", rec.span_count);
    w.Field("spans_shown", spans_shown);
    NullableInt(w, "logs_per_span", logs_per_span >= 0, logs_per_span);
    w.Field("rest",
            "play_spans(run_id) returns the whole tree, play_logs(run_id, span_id) a "
            "span's logs");
    w.EndObject();
  } else {
    w.Key("tree_truncated").Null();
  }
  w.EndObject();
  return w.Take();
}

}  // namespace hero::core
