// The script_run answer (SPEC §6 "agent"): what an LLM needs to fix its script in one more
// try, built from a finished run's record, its first spans and its logs, within a byte bound.
// Pure (no I/O except the one cached listing of installed modules); runs on the thread pool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/store/records.h"

namespace hero::core {

struct AnswerLimits {
  // `stdout`/`stderr` keep their last max_output_lines lines within max_output_bytes each.
  int64_t max_output_bytes = 32 << 10;
  int64_t max_output_lines = 200;
  // The whole answer: the tree gives way first (logs per span, then spans).
  int64_t max_answer_bytes = 256 << 10;
};

// Bounds of the script_run parameters (documented in the OpenRPC description).
inline constexpr int64_t kMaxOutputBytesCap = 1 << 20;
inline constexpr int64_t kMinOutputBytes = 1 << 10;
inline constexpr int64_t kMaxAnswerBytesCap = 8 << 20;
inline constexpr int64_t kMinAnswerBytes = 16 << 10;

// Every hint code an answer can carry in `failure.hint_code` (the OpenRPC enum).
const std::vector<std::string_view>& HintCodes();

// The JSON Schema of the answer for rpc.discover: every field, its meaning and its bound.
std::string ScriptAnswerSchemaJson();

// One frame of a Python traceback as formatted by `traceback`.
struct TracebackFrame {
  std::string file;
  int64_t line = 0;
  std::string function;     // "" for a SyntaxError's location
  std::string source_line;  // stripped, "" if Python did not show it
  std::string caret;        // the "^^^" line under it, if any (stripped of the indent)
};

// Where a failure is in the user's code and the traceback shortened for a reader.
struct TracebackView {
  bool has_user_frame = false;
  TracebackFrame user_frame;  // the innermost frame of the last exception inside the script
  // The traceback with runs of library frames elided ("  … 9 frames in urllib, http, socket");
  // the script's frames and the innermost frame are kept. At most 8 KiB (the end is kept).
  std::string shortened;
};

// `script_file` is the name the script's frames carry (the root span's `file`); empty: every
// frame outside the Python installation and the SDK counts as the script's.
TracebackView ReadTraceback(std::string_view traceback, std::string_view script_file);

// A hint when the sandbox (not the script's logic) caused the failure; code "" = none.
struct Hint {
  std::string code, text;
};
// `modules`: third-party modules importable in the sandbox (for module_not_installed).
Hint HintFor(const store::RunRecord& rec, std::string_view error_type, std::string_view error,
             std::string_view traceback, const std::vector<std::string>& modules);

// Third-party top-level modules under the sandbox's read-only /usr (dist-packages), sorted;
// read once per process and cached.
const std::vector<std::string>& InstalledModules();

// The answer JSON; never longer than limits.max_answer_bytes (which must be >= kMinAnswerBytes
// and >= 2 * max_output_bytes + 8 KiB; the caller checks).
std::string BuildScriptAnswer(const store::RunRecord& rec, std::vector<store::SpanRow> spans,
                              std::vector<store::LogRow> logs, const AnswerLimits& limits);

}  // namespace hero::core
