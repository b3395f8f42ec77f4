// SpanTable: storage of every span of one run, indexed by seq and by wire id.
// Thread: any single thread. Pure: STL only (no sockets, libuv or SQLite).
//
// Design (1,000,000 spans per run, <= 64 B per closed span):
// - Every span has one 24-byte SpanEntry (chunked array, never moves): parent seq, state, flags,
//   32 bits of its id hash and a pointer to its SpanData, or null once the data was dropped.
// - SpanData ("held" spans: open ones, and closed ones the assembler still needs, see
//   span_assembler.h) holds the numbers and all strings in one packed buffer (varint length +
//   bytes per field). Dropped data returns to a small cache (<= 64 objects, buffers <= 512 B) so
//   the hot path does not allocate per span.
// - The id index is an open-addressing table (linear probing, load <= 1/2) of 8-byte entries
//   (high 32 bits of a 64-bit keyed hash, seq + 1); with the entry's low 32 bits that is a
//   64-bit hash per span. A held span is matched by its full id; a dropped one by the 64-bit
//   SipHash-1-3 of its id under a random per-process key: two distinct ids of one run are
//   taken for the same span with probability ~2^-64 per pair (~3e-8 for a run of 10^6 spans),
//   and a flow cannot aim for it without the key.
// Measured (bench/listener_bench BM_MillionSpansMemory): ~41 heap B per closed span (24 B entry
// + ~17 B index at 10^6 spans).
#pragma once

#include <cstdint>
#include <memory>
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
  kParentId /* the parent's wire id (declared while unattached, the root's for orphans) */,
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

// Full data of a held span.
struct SpanData {
  std::string packed;
  int64_t start_us = 0, end_us = 0, cpu_us = 0, rss_kb = 0, child_run_id = 0, line = 0;
  int32_t held_children = 0;  // held children counted here (SpanEntry::kCounted)
  SpanKind kind = SpanKind::kOther;
};

struct SpanEntry {
  static constexpr uint8_t kAttached = 1;  // parent link resolved (or this is the root)
  static constexpr uint8_t kOrphan = 2;
  static constexpr uint8_t kRoot = 4;
  static constexpr uint8_t kDirty = 8;      // scratch flag for end-of-stream batching
  static constexpr uint8_t kAnchored = 16;  // the parent chain reaches the root
  static constexpr uint8_t kCounted = 32;   // counted in the parent's held_children
  static constexpr uint8_t kVisit = 64;     // scratch flag for the end-of-stream cycle walk

  SpanData* data = nullptr;  // null once dropped
  uint32_t hash_lo = 0;      // low 32 bits of the id hash
  int32_t parent = -1;       // seq of the attached parent; -1 for the root or while unattached
  SpanState state = SpanState::kRunning;
  uint8_t flags = 0;
  bool has(uint8_t f) const { return (flags & f) != 0; }
};

class SpanTable {
 public:
  using Fields = std::string_view[kNumSpanFields];

  SpanTable();
  ~SpanTable();
  SpanTable(const SpanTable&) = delete;
  SpanTable& operator=(const SpanTable&) = delete;

  // The id's 64-bit keyed hash (to look up and then add an id with one hash).
  static uint64_t Hash(std::string_view id);
  // Seq of the span with this wire id, or -1. `hash` = Hash(id).
  int32_t Find(std::string_view id, uint64_t hash) const;
  int32_t Find(std::string_view id) const { return Find(id, Hash(id)); }
  // Adds a span (precondition: id not present) with all fields given; returns its seq. The
  // entry and its data are held (entry(seq).data != nullptr). `hash` = Hash(fields[kId]).
  int32_t Add(const Fields& fields, uint64_t hash);
  int32_t Add(const Fields& fields) { return Add(fields, Hash(fields[0])); }

  SpanEntry& entry(int32_t seq) { return chunks_[Chunk(seq)][Offset(seq)]; }
  const SpanEntry& entry(int32_t seq) const { return chunks_[Chunk(seq)][Offset(seq)]; }
  bool held(int32_t seq) const { return entry(seq).data != nullptr; }
  // Precondition for data/Get/GetAll/Set: held(seq).
  SpanData& data(int32_t seq) { return *entry(seq).data; }
  const SpanData& data(int32_t seq) const { return *entry(seq).data; }
  int32_t size() const { return size_; }
  int32_t held_count() const { return held_; }

  std::string_view Get(int32_t seq, SpanField f) const;
  void GetAll(int32_t seq, Fields& out) const;
  // Replaces one field. Precondition: f != kId.
  void Set(int32_t seq, SpanField f, std::string_view value);

  // Drops the span's data (strings and numbers); the entry and the id lookup stay.
  void Drop(int32_t seq);
  // Drops the data of every span.
  void DropAll();

  // Heap + inline bytes held (approximate: ignores allocator overhead).
  size_t ApproxBytes() const;

 private:
  static constexpr int kChunkBits = 12;  // 4096 entries (96 KiB) per chunk
  static size_t Chunk(int32_t seq) { return static_cast<uint32_t>(seq) >> kChunkBits; }
  static size_t Offset(int32_t seq) {
    return static_cast<uint32_t>(seq) & ((1u << kChunkBits) - 1);
  }
  static void Pack(const Fields& fields, std::string* out);
  static void Unpack(std::string_view packed, Fields& out);
  void Grow();
  SpanData* NewData();

  std::vector<std::unique_ptr<SpanEntry[]>> chunks_;
  int32_t size_ = 0;
  int32_t held_ = 0;
  std::vector<uint64_t> index_;                   // (hash >> 32 << 32) | (seq + 1); 0 = empty
  std::vector<std::unique_ptr<SpanData>> spare_;  // dropped data kept for reuse
  std::string scratch_;
};

}  // namespace hero::spans
