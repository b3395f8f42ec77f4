// SpanTable. Linear probing at load <= 1/2; capacity is a power of two <= 2^31.
#include "span_listener/span_table.h"

#include <chrono>
#include <cstring>
#include <random>

#include "supervisor/base/check.h"

namespace hero::spans {
namespace {

constexpr size_t kSpareData = 64;          // dropped SpanData objects kept for reuse
constexpr size_t kSpareBufferBytes = 512;  // a kept object's packed buffer at most

struct SipKey {
  uint64_t k0, k1;
};

// Random per process: a flow cannot choose ids that collide (see span_table.h).
const SipKey& Key() {
  static const SipKey key = [] {
    uint64_t a = 0, b = 0;
    try {
      std::random_device rd;
      a = (uint64_t{rd()} << 32) ^ rd();
      b = (uint64_t{rd()} << 32) ^ rd();
    } catch (...) {
    }
    auto t = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return SipKey{a ^ t ^ 0x736f6d6570736575ULL, b ^ (t * 0x9E3779B97F4A7C15ULL)};
  }();
  return key;
}

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define HERO_SIPROUND  \
  do {                 \
    v0 += v1;          \
    v1 = Rotl(v1, 13); \
    v1 ^= v0;          \
    v0 = Rotl(v0, 32); \
    v2 += v3;          \
    v3 = Rotl(v3, 16); \
    v3 ^= v2;          \
    v0 += v3;          \
    v3 = Rotl(v3, 21); \
    v3 ^= v0;          \
    v2 += v1;          \
    v1 = Rotl(v1, 17); \
    v1 ^= v2;          \
    v2 = Rotl(v2, 32); \
  } while (0)

// SipHash-1-3 (one compression round, three finalization rounds).
uint64_t Hash64(std::string_view s) {
  const SipKey& k = Key();
  uint64_t v0 = k.k0 ^ 0x736f6d6570736575ULL, v1 = k.k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k.k0 ^ 0x6c7967656e657261ULL, v3 = k.k1 ^ 0x7465646279746573ULL;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  const unsigned char* end = p + (n & ~size_t{7});
  for (; p != end; p += 8) {
    uint64_t m;
    std::memcpy(&m, p, 8);  // little-endian hosts (x86-64, aarch64)
    v3 ^= m;
    HERO_SIPROUND;
    v0 ^= m;
  }
  uint64_t b = static_cast<uint64_t>(n) << 56;
  switch (n & 7) {
    case 7:
      b |= uint64_t{p[6]} << 48;
      [[fallthrough]];
    case 6:
      b |= uint64_t{p[5]} << 40;
      [[fallthrough]];
    case 5:
      b |= uint64_t{p[4]} << 32;
      [[fallthrough]];
    case 4:
      b |= uint64_t{p[3]} << 24;
      [[fallthrough]];
    case 3:
      b |= uint64_t{p[2]} << 16;
      [[fallthrough]];
    case 2:
      b |= uint64_t{p[1]} << 8;
      [[fallthrough]];
    case 1:
      b |= uint64_t{p[0]};
      break;
    case 0:
      break;
  }
  v3 ^= b;
  HERO_SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  HERO_SIPROUND;
  HERO_SIPROUND;
  HERO_SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}
#undef HERO_SIPROUND

void PutVarint(std::string* out, size_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t GetVarint(const char*& p) {
  size_t v = 0;
  int shift = 0;
  while (true) {
    unsigned char c = static_cast<unsigned char>(*p++);
    v |= static_cast<size_t>(c & 0x7F) << shift;
    if ((c & 0x80) == 0) return v;
    shift += 7;
  }
}

}  // namespace

std::string_view SpanKindName(SpanKind k) {
  switch (k) {
    case SpanKind::kFlowRoot:
      return "flow_root";
    case SpanKind::kStep:
      return "step";
    case SpanKind::kRpc:
      return "rpc";
    case SpanKind::kSubflow:
      return "subflow";
    case SpanKind::kOther:
      return "other";
  }
  return "other";
}

SpanKind ParseSpanKind(std::string_view s) {
  if (s == "step") return SpanKind::kStep;
  if (s == "flow_root") return SpanKind::kFlowRoot;
  if (s == "rpc") return SpanKind::kRpc;
  if (s == "subflow") return SpanKind::kSubflow;
  return SpanKind::kOther;
}

std::string_view SpanStateName(SpanState s) {
  switch (s) {
    case SpanState::kRunning:
      return "running";
    case SpanState::kOk:
      return "ok";
    case SpanState::kFailed:
      return "failed";
    case SpanState::kCancelled:
      return "cancelled";
    case SpanState::kTimedOut:
      return "timed_out";
    case SpanState::kKilled:
      return "killed";
  }
  return "failed";
}

void SpanTable::Pack(const Fields& fields, std::string* out) {
  out->clear();
  for (const std::string_view& f : fields) {
    PutVarint(out, f.size());
    out->append(f.data(), f.size());
  }
}

void SpanTable::Unpack(std::string_view packed, Fields& out) {
  const char* p = packed.data();
  for (std::string_view& f : out) {
    size_t n = GetVarint(p);
    f = std::string_view(p, n);
    p += n;
  }
}

SpanTable::SpanTable() = default;
SpanTable::~SpanTable() { DropAll(); }

uint64_t SpanTable::Hash(std::string_view id) { return Hash64(id); }

int32_t SpanTable::Find(std::string_view id, uint64_t h) const {
  if (index_.empty()) return -1;
  const auto hi = static_cast<uint32_t>(h >> 32), lo = static_cast<uint32_t>(h);
  const size_t mask = index_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t e = index_[i];
    if (e == 0) return -1;
    if (static_cast<uint32_t>(e >> 32) != hi) continue;
    const auto seq = static_cast<int32_t>(static_cast<uint32_t>(e) - 1);
    const SpanEntry& s = entry(seq);
    if (s.hash_lo != lo) continue;
    // A dropped span is known by its 64-bit hash only; a held one by its id.
    if (s.data == nullptr || Get(seq, SpanField::kId) == id) return seq;
  }
}

void SpanTable::Grow() {
  size_t cap = index_.empty() ? 1024 : index_.size() * 2;
  HERO_CHECK(cap <= (size_t{1} << 31));
  std::vector<uint64_t> next(cap, 0);
  size_t mask = cap - 1;
  for (uint64_t e : index_) {
    if (e == 0) continue;
    // Rebuild the full hash's low bits from the entry: the position uses them.
    auto seq = static_cast<int32_t>(static_cast<uint32_t>(e) - 1);
    size_t i = entry(seq).hash_lo & mask;
    while (next[i] != 0) i = (i + 1) & mask;
    next[i] = e;
  }
  index_.swap(next);
}

SpanData* SpanTable::NewData() {
  ++held_;
  if (spare_.empty()) return new SpanData();
  SpanData* d = spare_.back().release();
  spare_.pop_back();
  std::string buffer = std::move(d->packed);  // keep the buffer, reset the rest
  *d = SpanData();
  d->packed = std::move(buffer);
  return d;
}

int32_t SpanTable::Add(const Fields& fields, uint64_t h) {
  HERO_CHECK(size_ < INT32_MAX - 1);
  if ((static_cast<size_t>(size_) + 1) * 2 > index_.size()) Grow();
  const int32_t seq = size_;
  if (Chunk(seq) == chunks_.size()) {
    chunks_.push_back(std::make_unique<SpanEntry[]>(size_t{1} << kChunkBits));
  }
  ++size_;
  SpanEntry& s = entry(seq);
  s = SpanEntry();
  s.hash_lo = static_cast<uint32_t>(h);
  s.data = NewData();
  Pack(fields, &scratch_);
  s.data->packed.assign(scratch_);
  const size_t mask = index_.size() - 1;
  size_t i = h & mask;
  while (index_[i] != 0) i = (i + 1) & mask;
  index_[i] = (h >> 32 << 32) | static_cast<uint32_t>(seq + 1);
  if (scratch_.capacity() > (64u << 10)) std::string().swap(scratch_);
  return seq;
}

std::string_view SpanTable::Get(int32_t seq, SpanField f) const {
  const std::string& packed = data(seq).packed;
  const char* p = packed.data();
  for (int i = 0;; ++i) {
    size_t n = GetVarint(p);
    if (i == static_cast<int>(f)) return std::string_view(p, n);
    p += n;
  }
}

void SpanTable::GetAll(int32_t seq, Fields& out) const { Unpack(data(seq).packed, out); }

void SpanTable::Set(int32_t seq, SpanField f, std::string_view value) {
  HERO_CHECK(f != SpanField::kId);
  SpanData& d = data(seq);
  Fields fields;
  Unpack(d.packed, fields);
  if (fields[static_cast<int>(f)] == value) return;
  fields[static_cast<int>(f)] = value;
  Pack(fields, &scratch_);  // value may point into d.packed: pack before replacing it
  if (d.packed.capacity() > 2 * scratch_.size() + 64) {
    d.packed = std::string(scratch_);  // shrank a lot: exactly sized again
  } else {
    d.packed.assign(scratch_);
  }
  if (scratch_.capacity() > (64u << 10)) std::string().swap(scratch_);
}

void SpanTable::Drop(int32_t seq) {
  SpanEntry& s = entry(seq);
  if (s.data == nullptr) return;
  std::unique_ptr<SpanData> d(s.data);
  s.data = nullptr;
  --held_;
  if (spare_.size() >= kSpareData) return;  // freed
  if (d->packed.capacity() > kSpareBufferBytes) std::string().swap(d->packed);
  d->packed.clear();
  spare_.push_back(std::move(d));
}

void SpanTable::DropAll() {
  for (int32_t seq = 0; seq < size_; ++seq) Drop(seq);
  spare_.clear();
  spare_.shrink_to_fit();
  std::string().swap(scratch_);
}

size_t SpanTable::ApproxBytes() const {
  size_t bytes = chunks_.size() * (sizeof(SpanEntry) << kChunkBits) +
                 chunks_.capacity() * sizeof(chunks_[0]) + index_.capacity() * sizeof(uint64_t) +
                 spare_.capacity() * sizeof(spare_[0]);
  auto data_bytes = [](const SpanData& d) {
    return sizeof(SpanData) + (d.packed.capacity() > 15 ? d.packed.capacity() + 1 : 0);
  };
  for (int32_t seq = 0; seq < size_; ++seq) {
    if (const SpanData* d = entry(seq).data) bytes += data_bytes(*d);
  }
  for (const auto& d : spare_) bytes += data_bytes(*d);
  return bytes;
}

}  // namespace hero::spans
