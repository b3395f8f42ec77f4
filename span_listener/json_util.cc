// simdjson helpers. string_builder is simdjson's header-only serializer (internal namespace in
// 3.0.1, which has no public writer that appends into a caller's buffer).
#include "span_listener/json_util.h"

#include <algorithm>
#include <bit>
#include <unordered_map>
#include <utility>
#include <vector>

#include "supervisor/base/json_writer.h"

namespace hero::spans::internal {
namespace {

constexpr size_t kMinCapacity = 4 << 10;
constexpr size_t kReleaseAbove = 64 << 10;

simdjson::internal::string_builder<>& ThreadBuilder() {
  thread_local simdjson::internal::string_builder<> builder;
  return builder;
}

}  // namespace

simdjson::simdjson_result<simdjson::dom::element> DomScratch::Parse(std::string_view json) {
  if (json.size() > capacity_) {
    size_t cap = std::bit_ceil(std::max(json.size(), kMinCapacity));
    if (auto err = parser_.allocate(cap, simdjson::DEFAULT_MAX_DEPTH); err) return err;
    if (auto err = doc_.allocate(cap); err) return err;
    capacity_ = cap;
  }
  return parser_.parse_into_document(doc_, json.data(), json.size(), /*realloc_if_needed=*/true);
}

void DomScratch::ReleaseIfBig() {
  if (capacity_ <= kReleaseAbove) return;
  parser_ = simdjson::dom::parser();
  doc_ = simdjson::dom::document();
  capacity_ = 0;
}

DomScratch& ThreadDom(DomSlot slot) {
  thread_local DomScratch scratch[3];
  return scratch[static_cast<int>(slot)];
}

void AppendMinified(std::string* out, simdjson::dom::element e) {
  auto& sb = ThreadBuilder();
  sb.clear();
  sb.append(e);
  std::string_view s = sb.str();
  out->append(s.data(), s.size());
}

bool HasDuplicateKeys(simdjson::dom::object o) {
  size_t n = o.size();
  if (n < 2) return false;
  if (n <= 16) {
    std::string_view keys[16];
    size_t k = 0;
    for (auto field : o) {
      for (size_t i = 0; i < k; ++i) {
        if (keys[i] == field.key) return true;
      }
      keys[k++] = field.key;
    }
    return false;
  }
  std::unordered_map<std::string_view, bool> seen;
  seen.reserve(n);
  for (auto field : o) {
    if (!seen.emplace(field.key, true).second) return true;
  }
  return false;
}

void AppendMergedObject(std::string* out, std::initializer_list<simdjson::dom::object> objects) {
  // entries[i] = (key, latest value); index maps a key to its entry.
  std::vector<std::pair<std::string_view, simdjson::dom::element>> entries;
  std::unordered_map<std::string_view, size_t> index;
  size_t total = 0;
  for (auto o : objects) total += o.size();
  entries.reserve(total);
  bool use_index = total > 16;
  if (use_index) index.reserve(total);
  for (auto o : objects) {
    for (auto field : o) {
      size_t found = entries.size();
      if (use_index) {
        auto [it, inserted] = index.emplace(field.key, entries.size());
        if (!inserted) found = it->second;
      } else {
        for (size_t i = 0; i < entries.size(); ++i) {
          if (entries[i].first == field.key) {
            found = i;
            break;
          }
        }
      }
      if (found == entries.size()) {
        entries.emplace_back(field.key, field.value);
      } else {
        entries[found].second = field.value;
      }
    }
  }
  out->push_back('{');
  bool first = true;
  for (const auto& [key, value] : entries) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(*out, key);
    out->push_back(':');
    AppendMinified(out, value);
  }
  out->push_back('}');
}

}  // namespace hero::spans::internal
