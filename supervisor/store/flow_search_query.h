// Pure query building for the flow library search: user text -> a safe FTS5 MATCH
// expression. Any thread; no SQLite. User text never reaches FTS5 as syntax.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hero::store {

inline constexpr size_t kMaxSearchTokens = 64;      // later tokens are ignored
inline constexpr size_t kMaxSearchTokenBytes = 64;  // longer tokens are cut (still a prefix)

// Splits user text into search terms: runs of ASCII letters/digits and non-ASCII letters,
// separated by everything else (ASCII punctuation and spaces, common Unicode punctuation,
// spaces and symbols, invalid UTF-8). Terms are ASCII-lowercased, deduplicated (first
// occurrence kept), cut to kMaxSearchTokenBytes on a UTF-8 boundary, at most
// kMaxSearchTokens of them. The result contains no '"' and no ASCII punctuation.
std::vector<std::string> SearchTokens(std::string_view text);

// `"t1"* OR "t2"* ...` for SearchTokens(text): every term is a quoted FTS5 string used as a
// prefix, so FTS5 operators typed by a user (AND, NEAR(, -, :, *) are plain words or
// separators. "" when the text has no terms (the caller returns no results).
std::string BuildFlowSearchMatch(std::string_view text);

}  // namespace hero::store
