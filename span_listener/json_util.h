// Internal simdjson helpers of span_listener: per-thread DOM scratch parsers, minified
// re-serialization and top-level object merge. Thread: each thread uses its own instances.
// Depends on simdjson only; never throws (error codes only).
#pragma once

#include <simdjson.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace hero::spans::internal {

// A DOM parser plus its document. Capacity grows in powers of two (no realloc churn on
// slowly growing lines) and is released by ReleaseIfBig() after a document over 64 KiB.
class DomScratch {
 public:
  // The element is valid until the next Parse()/ReleaseIfBig() on this scratch.
  simdjson::simdjson_result<simdjson::dom::element> Parse(std::string_view json);
  void ReleaseIfBig();

 private:
  simdjson::dom::parser parser_;
  simdjson::dom::document doc_;
  size_t capacity_ = 0;
};

enum class DomSlot { kEvent = 0, kMergeBase = 1, kMergeUpdate = 2 };
// The calling thread's scratch for `slot`. Callers must not hold elements across a call
// that may parse into the same slot.
DomScratch& ThreadDom(DomSlot slot);

// Appends e as minified JSON (simdjson's own serializer: numbers round-trip).
void AppendMinified(std::string* out, simdjson::dom::element e);

// True when some top-level key of o occurs twice.
bool HasDuplicateKeys(simdjson::dom::object o);

// Appends one minified object holding the union of the objects' top-level keys: each key at
// the position of its first appearance with the value of its last appearance ("later wins").
void AppendMergedObject(std::string* out, std::initializer_list<simdjson::dom::object> objects);

}  // namespace hero::spans::internal
