// Tokenizing user search text for FTS5. The split only has to be safe, not identical to
// FTS5's unicode61 tokenizer: a term that unicode61 splits further becomes a phrase inside
// its quotes, and one it drops entirely becomes an empty phrase (matches nothing).
#include "supervisor/store/flow_search_query.h"

#include <cstdint>
#include <unordered_set>

namespace hero::store {
namespace {

// Decodes one UTF-8 sequence at text[i]; sets `len`. Returns -1 for an invalid sequence
// (len = 1, so the byte is skipped as a separator).
int32_t DecodeUtf8(std::string_view text, size_t i, size_t& len) {
  auto b = static_cast<unsigned char>(text[i]);
  len = 1;
  if (b < 0x80) return b;
  int need;
  int32_t cp;
  if ((b & 0xE0) == 0xC0) {
    need = 1;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    need = 2;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    need = 3;
    cp = b & 0x07;
  } else {
    return -1;
  }
  if (i + static_cast<size_t>(need) >= text.size()) return -1;  // truncated sequence
  for (int k = 1; k <= need; ++k) {
    auto c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (c & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  static constexpr int32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  len = static_cast<size_t>(need) + 1;
  return cp;
}

bool IsTermChar(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  }
  // Latin-1 controls, spaces, punctuation and symbols (ª µ º are letters).
  if (cp <= 0xBF) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
  if (cp == 0xD7 || cp == 0xF7) return false;      // × ÷
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, symbols
  if (cp >= 0x2E00 && cp <= 0x2E7F) return false;  // supplemental punct.
  if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
  if (cp >= 0xFE10 && cp <= 0xFE6F) return false;  // vertical/small forms
  if ((cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20)) return false;
  if (cp == 0xFEFF) return false;                    // BOM / ZWNBSP
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return false;  // emoji and pictographs
  return true;
}

}  // namespace

std::vector<std::string> SearchTokens(std::string_view text) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  std::string cur;
  bool cut = false;  // cur reached kMaxSearchTokenBytes; skip the rest of this term
  auto finish = [&] {
    if (!cur.empty() && seen.insert(cur).second) out.push_back(cur);
    cur.clear();
    cut = false;
  };
  size_t i = 0;
  while (i < text.size() && out.size() < kMaxSearchTokens) {
    size_t len;
    int32_t cp = DecodeUtf8(text, i, len);
    if (!IsTermChar(cp)) {
      finish();
    } else if (!cut) {
      if (cur.size() + len > kMaxSearchTokenBytes) {
        cut = true;  // whole code points only: the term stays valid UTF-8
      } else if (len == 1) {
        char c = text[i];
        cur.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
      } else {
        cur.append(text.substr(i, len));
      }
    }
    i += len;
  }
  if (out.size() < kMaxSearchTokens) finish();
  return out;
}

std::string BuildFlowSearchMatch(std::string_view text) {
  std::string out;
  for (const std::string& t : SearchTokens(text)) {
    if (!out.empty()) out += " OR ";
    out += '"';
    out += t;  // no '"' inside: it is a separator
    out += "\"*";
  }
  return out;
}

}  // namespace hero::store
