// W3C traceparent parsing/formatting and span-id derivation (see trace_context.h).
#include "supervisor/otel/trace_context.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

namespace hero::otel {
namespace {

constexpr char kHex[] = "0123456789abcdef";

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // W3C: lowercase only
}

// Parses exactly out.size()*2 lowercase hex digits.
template <size_t N>
bool ParseHex(std::string_view s, std::array<uint8_t, N>& out) {
  if (s.size() != N * 2) return false;
  for (size_t i = 0; i < N; ++i) {
    int hi = HexVal(s[2 * i]), lo = HexVal(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

void FillRandom(void* p, size_t n) {
  auto* b = static_cast<uint8_t*>(p);
  while (n > 0) {
    ssize_t got = getrandom(b, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      HERO_CHECK(false && "getrandom failed");
    }
    b += got;
    n -= static_cast<size_t>(got);
  }
}

// W3C tracestate: list-members "key=value" separated by commas (optional spaces/tabs), at most
// 32, each key lowercase [a-z0-9_\-*/@], value printable ASCII except ',' and '='.
bool ValidTraceState(std::string_view s) {
  if (s.size() > 512) return false;
  int members = 0;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string_view m = s.substr(pos, comma == std::string_view::npos ? s.npos : comma - pos);
    while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
    while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
    if (!m.empty()) {
      size_t eq = m.find('=');
      if (eq == 0 || eq == std::string_view::npos || eq > 256 || m.size() - eq - 1 > 256 ||
          m.size() == eq + 1) {
        return false;
      }
      for (char c : m.substr(0, eq)) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  c == '*' || c == '/' || c == '@';
        if (!ok) return false;
      }
      for (char c : m.substr(eq + 1)) {
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
      }
      if (++members > 32) return false;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return true;
}

}  // namespace

bool TraceId::valid() const {
  for (uint8_t b : bytes)
    if (b != 0) return true;
  return false;
}

std::string TraceId::Hex() const {
  std::string out;
  out.reserve(32);
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Result<TraceContext> ParseTraceparent(std::string_view tp, std::string_view tracestate) {
  // version "-" trace-id "-" parent-id "-" trace-flags; a later version may append
  // "-" fields, which are ignored (W3C Trace Context, "Versioning of traceparent").
  auto bad = [&](std::string_view what) {
    return InvalidArgument("traceparent: " + std::string(what) +
                           " (expected 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>)");
  };
  std::array<uint8_t, 1> version{};
  if (tp.size() < 55 || !ParseHex(tp.substr(0, 2), version) || tp[2] != '-') {
    return bad("malformed");
  }
  if (version[0] == 0xff) return bad("version ff is invalid");
  if (version[0] == 0 && tp.size() != 55) return bad("version 00 must be 55 characters");
  if (version[0] != 0 && tp.size() > 55 && tp[55] != '-') return bad("malformed");
  TraceContext ctx;
  std::array<uint8_t, 8> parent{};
  std::array<uint8_t, 1> flags{};
  if (!ParseHex(tp.substr(3, 32), ctx.trace_id.bytes) || tp[35] != '-' ||
      !ParseHex(tp.substr(36, 16), parent) || tp[52] != '-' || !ParseHex(tp.substr(53, 2), flags)) {
    return bad("malformed");
  }
  if (!ctx.trace_id.valid()) return bad("all-zero trace id");
  for (uint8_t b : parent) ctx.parent_span_id = ctx.parent_span_id << 8 | b;
  if (ctx.parent_span_id == 0) return bad("all-zero parent id");
  ctx.flags = flags[0];
  if (ValidTraceState(tracestate)) ctx.trace_state = std::string(tracestate);
  return ctx;
}

std::string FormatTraceparent(const TraceId& trace_id, uint64_t span_id, uint8_t flags) {
  std::string out = "00-" + trace_id.Hex() + "-" + SpanIdHex(span_id) + "-";
  out.push_back(kHex[flags >> 4]);
  out.push_back(kHex[flags & 15]);
  return out;
}

uint64_t RandomU64() {
  uint64_t v = 0;
  FillRandom(&v, sizeof v);
  return v;
}

TraceContext NewTraceContext() {
  TraceContext ctx;
  do {
    FillRandom(ctx.trace_id.bytes.data(), ctx.trace_id.bytes.size());
  } while (!ctx.trace_id.valid());
  ctx.span_key = RandomU64();
  return ctx;
}

uint64_t SpanIdFor(uint64_t span_key, std::string_view wire_id) {
  uint64_t h = 0xcbf29ce484222325ULL ^ span_key;
  for (unsigned char c : wire_id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h == 0 ? 1 : h;
}

std::string SpanIdHex(uint64_t span_id) {
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, span_id >>= 4) out[static_cast<size_t>(i)] = kHex[span_id & 15];
  return out;
}

std::array<uint8_t, 8> SpanIdBytes(uint64_t span_id) {
  std::array<uint8_t, 8> b{};
  for (int i = 7; i >= 0; --i, span_id >>= 8) b[static_cast<size_t>(i)] = span_id & 0xff;
  return b;
}

}  // namespace hero::otel
