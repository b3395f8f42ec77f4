// SpanTable: compact storage of every span of one run, indexed by seq and by wire id.
// Thread: any single thread. Pure: STL only (no sockets, libuv or SQLite).
//
// Design (1,000,000 spans per run): one Slot per span, open or closed, holding the numbers
// inline and all strings in one packed buffer (varint length + bytes per field, exactly sized,
// small-string-optimized when short). The id index is an open-addressing table of 8-byte
// entries (32-bit hash, seq + 1) whose keys live in the slots' packed buffers. A full
// SpanRecord is rebuilt from a slot on demand, so closed spans can still be re-emitted (late
// span_tag, repeated span_start, orphan attachment at end of stream).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace hero::spans {

enum class SpanKind : uint8_t { kFlowRoot, kStep, kRpc, kSubflow, kOther };
enum class SpanState : uint8_t { kRunning, kOk, kFailed, kCancelled, kTimedOut, kKilled };

std::string_view SpanKindName(SpanKind k);
SpanKind ParseSpanKind(std::string_view s);  // unknown -> kOther
std::string_view SpanStateName(SpanState s);

// String fields of a span, in packed order.
enum class SpanField : uint8_t {
  kId,
  kParentId /* declared parent while unattached */,
  kName,
  kFile,
  kRpcService,
  kRpcMethod,
  kTags /* empty = {} */,
  kError,
  kErrorType,
  kTraceback,
};
inline constexpr int kNumSpanFields = 10;

struct SpanSlot {
  static constexpr uint8_t kAttached = 1;  // parent link resolved (or this is the root)
  static constexpr uint8_t kOrphan = 2;
  static constexpr uint8_t kRoot = 4;
  static constexpr uint8_t kDirty = 8;  // scratch flag for end-of-stream batching

  std::string packed;
  int64_t start_us = 0, end_us = 0, cpu_us = 0, rss_kb = 0, child_run_id = 0, line = 0;
  int32_t parent = -1;  // seq of the attached parent; -1 for the root or while unattached
  SpanKind kind = SpanKind::kOther;
  SpanState state = SpanState::kRunning;
  uint8_t flags = 0;
  bool has(uint8_t f) const { return (flags & f) != 0; }
};

class SpanTable {
 public:
  using Fields = std::string_view[kNumSpanFields];

  // Seq of the span with this wire id, or -1.
  int32_t Find(std::string_view id) const;
  // Adds a span (precondition: id not present) with all fields given; returns its seq.
  int32_t Add(const Fields& fields);

  SpanSlot& slot(int32_t seq) { return slots_[static_cast<size_t>(seq)]; }
  const SpanSlot& slot(int32_t seq) const { return slots_[static_cast<size_t>(seq)]; }
  int32_t size() const { return static_cast<int32_t>(slots_.size()); }

  std::string_view Get(int32_t seq, SpanField f) const;
  void GetAll(int32_t seq, Fields& out) const;
  // Replaces one field (the packed buffer is rebuilt, exactly sized). Precondition: f != kId.
  void Set(int32_t seq, SpanField f, std::string_view value);

  // Heap + inline bytes held (approximate: ignores allocator overhead).
  size_t ApproxBytes() const;

 private:
  static void Pack(const Fields& fields, std::string* out);
  static void Unpack(std::string_view packed, Fields& out);
  void Grow();

  std::deque<SpanSlot> slots_;
  std::vector<uint64_t> index_;  // (hash32 << 32) | (seq + 1); 0 = empty
  std::string scratch_;
};

}  // namespace hero::spans
