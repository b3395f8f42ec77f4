// Strong id types shared by every layer. Leaf: STL only.
#pragma once

#include <cstdint>
#include <functional>

namespace hero {

// A run's id: the store's integer primary key, shown to people as a number.
struct RunId {
  int64_t value = 0;
  bool valid() const { return value > 0; }
  friend bool operator==(RunId a, RunId b) { return a.value == b.value; }
  friend bool operator<(RunId a, RunId b) { return a.value < b.value; }
};

// A span's position within its run: 0, 1, 2, ... in order of first appearance. The store
// keys spans by (RunId, SpanSeq); the wire's string ids are data, not keys.
struct SpanSeq {
  int64_t value = -1;
  bool valid() const { return value >= 0; }
  friend bool operator==(SpanSeq a, SpanSeq b) { return a.value == b.value; }
};

}  // namespace hero

template <>
struct std::hash<hero::RunId> {
  size_t operator()(hero::RunId id) const noexcept { return std::hash<int64_t>()(id.value); }
};
