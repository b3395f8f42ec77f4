// SpanTable. Linear probing at load <= 1/2; capacity is a power of two <= 2^31.
#include "span_listener/span_table.h"

#include <functional>

#include "supervisor/base/check.h"

namespace hero::spans {
namespace {

uint32_t Hash32(std::string_view s) {
  uint64_t h = std::hash<std::string_view>()(s);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

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

int32_t SpanTable::Find(std::string_view id) const {
  if (index_.empty()) return -1;
  uint32_t h = Hash32(id);
  size_t mask = index_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    uint64_t e = index_[i];
    if (e == 0) return -1;
    if (static_cast<uint32_t>(e >> 32) == h) {
      int32_t seq = static_cast<int32_t>(static_cast<uint32_t>(e) - 1);
      if (Get(seq, SpanField::kId) == id) return seq;
    }
  }
}

void SpanTable::Grow() {
  size_t cap = index_.empty() ? 1024 : index_.size() * 2;
  HERO_CHECK(cap <= (size_t{1} << 31));
  std::vector<uint64_t> next(cap, 0);
  size_t mask = cap - 1;
  for (uint64_t e : index_) {
    if (e == 0) continue;
    size_t i = static_cast<uint32_t>(e >> 32) & mask;
    while (next[i] != 0) i = (i + 1) & mask;
    next[i] = e;
  }
  index_.swap(next);
}

int32_t SpanTable::Add(const Fields& fields) {
  if ((slots_.size() + 1) * 2 > index_.size()) Grow();
  auto seq = static_cast<int32_t>(slots_.size());
  SpanSlot& s = slots_.emplace_back();
  Pack(fields, &scratch_);
  s.packed = std::string(scratch_);  // exactly sized
  uint32_t h = Hash32(fields[0]);
  size_t mask = index_.size() - 1;
  size_t i = h & mask;
  while (index_[i] != 0) i = (i + 1) & mask;
  index_[i] = (static_cast<uint64_t>(h) << 32) | static_cast<uint32_t>(seq + 1);
  if (scratch_.capacity() > (64u << 10)) std::string().swap(scratch_);
  return seq;
}

std::string_view SpanTable::Get(int32_t seq, SpanField f) const {
  const std::string& packed = slot(seq).packed;
  const char* p = packed.data();
  for (int i = 0;; ++i) {
    size_t n = GetVarint(p);
    if (i == static_cast<int>(f)) return std::string_view(p, n);
    p += n;
  }
}

void SpanTable::GetAll(int32_t seq, Fields& out) const { Unpack(slot(seq).packed, out); }

void SpanTable::Set(int32_t seq, SpanField f, std::string_view value) {
  HERO_CHECK(f != SpanField::kId);
  SpanSlot& s = slot(seq);
  Fields fields;
  Unpack(s.packed, fields);
  if (fields[static_cast<int>(f)] == value) return;
  fields[static_cast<int>(f)] = value;
  Pack(fields, &scratch_);  // value may point into s.packed: pack before replacing it
  s.packed = std::string(scratch_);
  if (scratch_.capacity() > (64u << 10)) std::string().swap(scratch_);
}

size_t SpanTable::ApproxBytes() const {
  size_t bytes = slots_.size() * sizeof(SpanSlot) + index_.capacity() * sizeof(uint64_t);
  for (const SpanSlot& s : slots_) {
    if (s.packed.capacity() > 15) bytes += s.packed.capacity() + 1;
  }
  return bytes;
}

}  // namespace hero::spans
