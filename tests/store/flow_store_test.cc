// Flow library tests: search-query building (pure), the library through a real Store on a
// private in-memory database (unit), and a file-backed v1 -> v2 migration (integration).
// Each Store test ends by destroying the Store and asserting no connection is left open
// (the destructor CHECKs sqlite3_close).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/store/flow_search_query.h"
#include "supervisor/store/schema.h"
#include "supervisor/store/sqlite_db.h"
#include "supervisor/store/store.h"

namespace hero::store {
namespace {

using Strings = std::vector<std::string>;

// Queries a user (or an LLM) could type that are FTS5 syntax or break naive quoting.
Strings HostileQueries() {
  Strings q = {"\"",
               "\"\"\"\"",
               "*",
               "**",
               "summ*",
               "NEAR(",
               "NEAR(a b",
               "NEAR(\"a\" \"b\", 2)",
               "-",
               "-summarize",
               ":",
               "name:summarize",
               "{name description}: x",
               "AND OR NOT",
               "AND",
               "NOT summarize",
               "(",
               ")",
               "((a) OR",
               "^summarize",
               "a + b",
               "'; DROP TABLE flows; --",
               "\\",
               std::string("nul\0byte", 8),
               "\xff\xfe\xfd",
               "\xc3",
               "caf\xc3",
               "\xe2\x80\x94",           // an em dash alone
               "fetch\xe2\x80\x94page",  // joined by one
               "\xf0\x9f\x98\x80",       // an emoji
               "\xef\xbb\xbf",           // a BOM
               "   ",
               ""};
  q.push_back(std::string(1 << 20, 'a'));  // one 1 MB word
  std::string many;
  while (many.size() < (1 << 20)) many += "w" + std::to_string(many.size()) + " ";
  q.push_back(many);  // 1 MB of distinct words
  std::string quotes;
  while (quotes.size() < (1 << 20)) quotes += "\"a\" NEAR(* -:^ ";
  q.push_back(quotes);
  return q;
}

TEST(FlowSearchQueryTest, SplitsOnNonAlphanumericsAndLowercases) {
  EXPECT_EQ(SearchTokens("Summarize a web-page, quickly!"),
            (Strings{"summarize", "a", "web", "page", "quickly"}));
  EXPECT_EQ(SearchTokens("max_words:int"), (Strings{"max", "words", "int"}));
  EXPECT_EQ(SearchTokens("R\xc3\xa9sum\xc3\xa9 caf\xc3\xa9"),
            (Strings{"r\xc3\xa9sum\xc3\xa9", "caf\xc3\xa9"}));  // UTF-8 letters stay
  EXPECT_EQ(SearchTokens("fetch\xe2\x80\x94page \xf0\x9f\x98\x80 x"),
            (Strings{"fetch", "page", "x"}));  // em dash and emoji separate
  EXPECT_EQ(SearchTokens("a\xff"
                         "b\xc3"),
            (Strings{"a", "b"}));  // invalid UTF-8 separates
  EXPECT_EQ(SearchTokens("Fetch FETCH fetch"), Strings{"fetch"});
  EXPECT_TRUE(SearchTokens("").empty());
  EXPECT_TRUE(SearchTokens(" \"*():-^ ").empty());
}

TEST(FlowSearchQueryTest, QuotesEveryTermAsAPrefixJoinedByOr) {
  EXPECT_EQ(BuildFlowSearchMatch("summ pages"), "\"summ\"* OR \"pages\"*");
  EXPECT_EQ(BuildFlowSearchMatch("NEAR(\"a\" AND -b:c*"),
            "\"near\"* OR \"a\"* OR \"and\"* OR \"b\"* OR \"c\"*");
  EXPECT_EQ(BuildFlowSearchMatch("\"\"\"*"), "");
  EXPECT_EQ(BuildFlowSearchMatch(""), "");
}

TEST(FlowSearchQueryTest, CapsTermsAndTermLength) {
  std::string many;
  for (int i = 0; i < 200; ++i) many += "t" + std::to_string(i) + " ";
  Strings toks = SearchTokens(many);
  ASSERT_EQ(toks.size(), kMaxSearchTokens);
  EXPECT_EQ(toks.front(), "t0");
  EXPECT_EQ(toks.back(), "t63");

  EXPECT_EQ(SearchTokens(std::string(1 << 20, 'a')),
            Strings{std::string(kMaxSearchTokenBytes, 'a')});
  // Cut on a code point boundary: 63 ASCII bytes + a 2-byte letter do not fit in 64.
  std::string word = std::string(63, 'a') + "\xc3\xa9" + "zz";
  EXPECT_EQ(SearchTokens(word + " next"), (Strings{std::string(63, 'a'), "next"}));
}

TEST(FlowSearchQueryTest, HostileTextNeverProducesFtsSyntax) {
  for (const std::string& q : HostileQueries()) {
    std::string m = BuildFlowSearchMatch(q);
    ASSERT_LE(m.size(), kMaxSearchTokens * (kMaxSearchTokenBytes + 7));
    for (const std::string& t : SearchTokens(q)) {
      EXPECT_EQ(t.find_first_of("\"*():^-+{}' \\"), std::string::npos) << t;
      EXPECT_FALSE(t.empty());
    }
  }
}

FlowVersion Version(std::string description, std::string docstring = "",
                    std::string tags_json = "[]", std::string inputs_json = "{}") {
  FlowVersion v;
  v.source = "from hero_tracing import flow\n\n@flow()\ndef main():\n    return {}\n";
  v.description = std::move(description);
  v.docstring = std::move(docstring);
  v.tags_json = std::move(tags_json);
  v.inputs_json = std::move(inputs_json);
  v.outputs_json = R"({"out":"str"})";
  v.entry = "main";
  v.line = 4;
  return v;
}

// A Store on a private in-memory database: the real store thread, no disk.
class FlowStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Store>> s = Store::Open(Store::Options{.path = ":memory:"});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    EXPECT_EQ(LiveSqliteConnections(), 0);
  }

  FlowRecord Create(const std::string& name, FlowVersion v) {
    Result<FlowRecord> r = store_->CreateFlowSync(name, std::move(v));
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    return r.ok() ? *r : FlowRecord{};
  }
  std::vector<FlowSearchHit> Search(const std::string& q, int limit = 20) {
    Result<std::vector<FlowSearchHit>> r = store_->SearchFlowsSync(q, limit);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<FlowSearchHit>{};
  }
  Strings Names(const std::string& q, int limit = 20) {
    Strings out;
    for (const FlowSearchHit& h : Search(q, limit)) out.push_back(h.name);
    return out;
  }
  Strings SortedNames(const std::string& q) {
    Strings out = Names(q);
    std::sort(out.begin(), out.end());
    return out;
  }
  Strings FlowNames() {
    Strings out;
    Result<std::vector<FlowRecord>> all = store_->ListFlowsSync();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    if (all.ok()) {
      for (const FlowRecord& f : *all) out.push_back(f.name);
    }
    return out;
  }

  std::unique_ptr<Store> store_;
};

TEST_F(FlowStoreTest, CreateGetListDeleteRevive) {
  FlowVersion v = Version("Fetch a page and summarize it", "Summarizes one page.",
                          R"(["web","llm"])", R"({"url":"str","max_words":"int"})");
  FlowRecord created = Create("summarize", v);
  EXPECT_GT(created.id, 0);
  EXPECT_EQ(created.name, "summarize");
  EXPECT_EQ(created.current_version, 1);
  EXPECT_GT(created.created_us, 0);
  EXPECT_EQ(created.updated_us, created.created_us);
  EXPECT_EQ(created.current.version, 1);
  EXPECT_GT(created.current.created_us, 0);
  FlowVersion expect = v;
  expect.version = 1;
  expect.created_us = created.current.created_us;
  EXPECT_EQ(created.current, expect);  // every field round-trips

  Result<FlowRecord> got = store_->GetFlowSync("summarize");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, created);

  Create("beta", Version("b"));
  Create("alpha", Version("a"));
  EXPECT_EQ(FlowNames(), (Strings{"alpha", "beta", "summarize"}));
  Result<std::vector<FlowRecord>> all = store_->ListFlowsSync();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[2], created);  // with the current version's data

  ASSERT_TRUE(store_->DeleteFlowSync("summarize").ok());
  EXPECT_EQ(FlowNames(), (Strings{"alpha", "beta"}));
  EXPECT_EQ(store_->GetFlowSync("summarize").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetFlowSync("summarize", 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteFlowSync("summarize").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListFlowVersionsSync("summarize").status().code(), StatusCode::kNotFound);

  // Revive: same id and creation time, numbering continues, the old versions come back.
  Result<FlowRecord> revived = store_->CreateFlowSync("summarize", Version("Second life"));
  ASSERT_TRUE(revived.ok()) << revived.status().ToString();
  EXPECT_EQ(revived->id, created.id);
  EXPECT_EQ(revived->created_us, created.created_us);
  EXPECT_EQ(revived->current_version, 2);
  EXPECT_EQ(revived->current.version, 2);
  EXPECT_EQ(revived->current.description, "Second life");
  Result<std::vector<FlowVersion>> versions = store_->ListFlowVersionsSync("summarize");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[1], expect);
  EXPECT_EQ(FlowNames(), (Strings{"alpha", "beta", "summarize"}));
}

TEST_F(FlowStoreTest, VersionsSetCurrentAndGetByVersion) {
  Create("etl", Version("v1 description"));
  FlowVersion v2 = Version("v2 description");
  v2.source = "print('v2')\n";
  v2.created_us = 1234;  // an explicit time is kept
  Result<FlowRecord> r2 = store_->AddFlowVersionSync("etl", v2, /*make_current=*/true);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->current_version, 2);
  EXPECT_EQ(r2->current.version, 2);
  EXPECT_EQ(r2->current.source, "print('v2')\n");
  EXPECT_EQ(r2->current.created_us, 1234);

  // Not made current: the record carries the new version, current_version stays 2.
  Result<FlowRecord> r3 = store_->AddFlowVersionSync("etl", Version("v3 description"), false);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->current_version, 2);
  EXPECT_EQ(r3->current.version, 3);
  EXPECT_EQ(r3->current.description, "v3 description");
  EXPECT_GE(r3->updated_us, r2->updated_us);

  EXPECT_EQ(store_->GetFlowSync("etl")->current.description, "v2 description");
  EXPECT_EQ(store_->GetFlowSync("etl", 0)->current.version, 2);
  EXPECT_EQ(store_->GetFlowSync("etl", 1)->current.description, "v1 description");
  EXPECT_EQ(store_->GetFlowSync("etl", 3)->current.description, "v3 description");
  EXPECT_EQ(store_->GetFlowSync("etl", 3)->current_version, 2);

  Result<std::vector<FlowVersion>> versions = store_->ListFlowVersionsSync("etl");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ((*versions)[0].version, 3);  // newest first, sources included
  EXPECT_EQ((*versions)[1].source, "print('v2')\n");
  EXPECT_EQ((*versions)[2].version, 1);

  Result<FlowRecord> cur = store_->SetCurrentFlowVersionSync("etl", 1);
  ASSERT_TRUE(cur.ok()) << cur.status().ToString();
  EXPECT_EQ(cur->current_version, 1);
  EXPECT_EQ(cur->current.description, "v1 description");
  EXPECT_EQ(store_->GetFlowSync("etl")->current.version, 1);
  EXPECT_EQ(store_->ListFlowsSync()->at(0).current.description, "v1 description");

  // The next version is still max + 1, whatever is current.
  EXPECT_EQ(store_->AddFlowVersionSync("etl", Version("v4"), true)->current_version, 4);
}

TEST_F(FlowStoreTest, DuplicateNameIsAlreadyExists) {
  Create("etl", Version("first"));
  Result<FlowRecord> dup = store_->CreateFlowSync("etl", Version("second"));
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(dup.status().message().find("etl"), std::string::npos) << dup.status().message();
  EXPECT_EQ(store_->GetFlowSync("etl")->current.description, "first");
  EXPECT_EQ(store_->ListFlowVersionsSync("etl")->size(), 1u);
  EXPECT_EQ(Names("second"), Strings{});
}

TEST_F(FlowStoreTest, UnknownFlowOrVersionIsNotFound) {
  Create("etl", Version("x"));
  auto code = [](const auto& r) { return r.status().code(); };
  EXPECT_EQ(code(store_->GetFlowSync("nope")), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->GetFlowSync("etl", 2)), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->GetFlowSync("etl", -1)), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->AddFlowVersionSync("nope", Version("x"), true)), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteFlowSync("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->ListFlowVersionsSync("nope")), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->SetCurrentFlowVersionSync("nope", 1)), StatusCode::kNotFound);
  Result<FlowRecord> bad = store_->SetCurrentFlowVersionSync("etl", 7);
  EXPECT_EQ(code(bad), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "flow 'etl' has no version 7");
  EXPECT_EQ(store_->GetFlowSync("etl")->current_version, 1);  // unchanged
  EXPECT_EQ(code(store_->CreateExampleSync({.flow_name = "nope", .name = "a"})),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteExampleSync(42).code(), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->CreateFlowSync("", Version("x"))), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(store_->CreateExampleSync({.flow_name = "etl", .name = ""})),
            StatusCode::kInvalidArgument);
}

TEST_F(FlowStoreTest, ExamplesUpsertListDelete) {
  Create("etl", Version("x"));
  Create("report", Version("y"));
  Result<ExampleRecord> a =
      store_->CreateExampleSync({.flow_name = "etl", .name = "small", .input_json = R"({"n":1})"});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_GT(a->id, 0);
  EXPECT_GT(a->created_us, 0);
  EXPECT_EQ(a->input_json, R"({"n":1})");
  ASSERT_TRUE(store_->CreateExampleSync({.flow_name = "report", .name = "q1"}).ok());
  ASSERT_TRUE(
      store_->CreateExampleSync({.flow_name = "etl", .name = "big", .input_json = "{}"}).ok());

  // Upsert: same (flow, name) keeps the id and replaces the input.
  Result<ExampleRecord> a2 = store_->CreateExampleSync(
      {.flow_name = "etl", .name = "small", .input_json = R"({"n":2})", .created_us = 99});
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(a2->id, a->id);
  EXPECT_EQ(a2->created_us, 99);

  Result<std::vector<ExampleRecord>> etl = store_->ListExamplesSync("etl");
  ASSERT_TRUE(etl.ok()) << etl.status().ToString();
  ASSERT_EQ(etl->size(), 2u);
  EXPECT_EQ((*etl)[0].name, "big");
  EXPECT_EQ((*etl)[1], *a2);
  Result<std::vector<ExampleRecord>> all = store_->ListExamplesSync("");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].flow_name, "report");
  EXPECT_TRUE(store_->ListExamplesSync("nope")->empty());

  ASSERT_TRUE(store_->DeleteExampleSync(a->id).ok());
  EXPECT_EQ(store_->DeleteExampleSync(a->id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListExamplesSync("etl")->size(), 1u);
}

TEST_F(FlowStoreTest, NameMatchRanksAboveDescriptionAboveDocstring) {
  // Unrelated flows make "summarize" a rare term, as in a real library.
  for (int i = 0; i < 6; ++i) {
    Create("other" + std::to_string(i), Version("Load rows into the warehouse", "Loads rows."));
  }
  Create("page_digest", Version("Summarize a web page", "Reads one page and returns text."));
  Create("text_tool", Version("A general text tool", "It can summarize a page of text."));
  Create("summarize", Version("Shorten a web page", "Reads one page and returns text."));
  std::vector<FlowSearchHit> hits = Search("summarize");
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].name, "summarize");
  EXPECT_EQ(hits[1].name, "page_digest");
  EXPECT_EQ(hits[2].name, "text_tool");
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_GT(hits[1].score, hits[2].score);
  EXPECT_GT(hits[2].score, 0);
  EXPECT_EQ(hits[0].description, "Shorten a web page");
  EXPECT_EQ(hits[0].version, 1);
}

TEST_F(FlowStoreTest, PrefixMatchFindsWordStarts) {
  Create("summarize", Version("Fetch a page and summarize it"));
  Create("etl", Version("Load rows"));
  EXPECT_EQ(Names("summ"), Strings{"summarize"});
  EXPECT_EQ(Names("su"), Strings{"summarize"});        // 2-letter prefix index
  EXPECT_EQ(Names("s"), Strings{"summarize"});         // 1 letter: a scan, still works
  EXPECT_EQ(Names("SUMMARIZ"), Strings{"summarize"});  // case-insensitive
  EXPECT_EQ(Names("ummarize"), Strings{});             // word starts only
  EXPECT_EQ(SortedNames("summ rows"), (Strings{"etl", "summarize"}));  // any term (OR)
}

TEST_F(FlowStoreTest, DiacriticsAreIgnoredBothWays) {
  Create("resume_builder", Version("Builds a R\xc3\xa9sum\xc3\xa9 from notes"));
  Create("cafe_finder", Version("Finds a cafe nearby", "Na\xc3\xafve search."));
  EXPECT_EQ(Names("resume builds"), Strings{"resume_builder"});
  EXPECT_EQ(Names("r\xc3\xa9sum\xc3\xa9"), Strings{"resume_builder"});
  EXPECT_EQ(Names("caf\xc3\xa9"), Strings{"cafe_finder"});
  EXPECT_EQ(Names("naive"), Strings{"cafe_finder"});
  EXPECT_EQ(Names("NA\xc3\x8f"), Strings{"cafe_finder"});  // "NAÏ" prefix
}

TEST_F(FlowStoreTest, TagsAndInputNamesAreSearchableButNotJsonNoise) {
  Create("fetcher",
         Version("Gets things", "", R"(["web","http"])", R"({"url":"str","max_words":"int"})"));
  Create("loader", Version("Loads things", "", "not json tags", "not json inputs"));
  EXPECT_EQ(Names("http"), Strings{"fetcher"});
  EXPECT_EQ(Names("url"), Strings{"fetcher"});
  EXPECT_EQ(Names("max_words"), Strings{"fetcher"});
  EXPECT_EQ(Names("str int"), Strings{});       // declared types are not indexed
  EXPECT_EQ(Names("tags"), Strings{"loader"});  // invalid JSON is indexed as text
}

TEST_F(FlowStoreTest, SearchFollowsUpdateSetCurrentDeleteAndRevive) {
  Create("alpha", Version("zebra"));
  Create("beta", Version("zebra too"));
  EXPECT_EQ(Names("zebra"), (Strings{"alpha", "beta"}));

  ASSERT_TRUE(store_->AddFlowVersionSync("alpha", Version("yak"), true).ok());
  EXPECT_EQ(Names("zebra"), Strings{"beta"});
  ASSERT_EQ(Search("yak").size(), 1u);
  EXPECT_EQ(Search("yak")[0].version, 2);

  ASSERT_TRUE(store_->AddFlowVersionSync("alpha", Version("xylophone"), false).ok());
  EXPECT_EQ(Names("xylophone"), Strings{});  // not current: not searched
  EXPECT_EQ(Names("yak"), Strings{"alpha"});

  ASSERT_TRUE(store_->SetCurrentFlowVersionSync("alpha", 3).ok());
  EXPECT_EQ(Names("yak"), Strings{});
  ASSERT_EQ(Search("xylophone").size(), 1u);
  EXPECT_EQ(Search("xylophone")[0].version, 3);
  ASSERT_TRUE(store_->SetCurrentFlowVersionSync("alpha", 1).ok());
  EXPECT_EQ(Names("zebra"), (Strings{"alpha", "beta"}));
  EXPECT_EQ(Names("xylophone"), Strings{});

  ASSERT_TRUE(store_->DeleteFlowSync("alpha").ok());
  EXPECT_EQ(Names("zebra"), Strings{"beta"});
  EXPECT_EQ(Names("alpha"), Strings{});

  ASSERT_TRUE(store_->CreateFlowSync("alpha", Version("walrus")).ok());
  ASSERT_EQ(Search("walrus").size(), 1u);
  EXPECT_EQ(Search("walrus")[0].version, 4);
  EXPECT_EQ(Names("zebra"), Strings{"beta"});
  EXPECT_EQ(Names("alpha"), Strings{"alpha"});

  // A failed write (duplicate) leaves the index alone.
  EXPECT_FALSE(store_->CreateFlowSync("alpha", Version("narwhal")).ok());
  EXPECT_EQ(Names("narwhal"), Strings{});
  EXPECT_EQ(Names("walrus"), Strings{"alpha"});
}

TEST_F(FlowStoreTest, HostileQueriesNeverError) {
  Create("summarize", Version("Fetch a page and summarize it", "Uses NEAR and AND words."));
  Create("and_or_not", Version("Boolean helpers"));
  for (const std::string& q : HostileQueries()) {
    Result<std::vector<FlowSearchHit>> r = store_->SearchFlowsSync(q, 10);
    EXPECT_TRUE(r.ok()) << "query of " << q.size() << " bytes: " << q.substr(0, 40) << ": "
                        << r.status().ToString();
  }
  // Operators are plain words; negation and column filters do not apply.
  EXPECT_EQ(Names("-summarize"), Strings{"summarize"});
  EXPECT_EQ(Names("name:summarize"), Strings{"summarize"});
  EXPECT_EQ(SortedNames("NOT summarize"), (Strings{"and_or_not", "summarize"}));
  EXPECT_EQ(SortedNames("AND OR NOT"), (Strings{"and_or_not", "summarize"}));
  EXPECT_EQ(Names("summ*"), Strings{"summarize"});
  EXPECT_EQ(Names("\"\"\"*"), Strings{});
  EXPECT_EQ(Names(""), Strings{});
  EXPECT_EQ(Names("   "), Strings{});
  EXPECT_EQ(Names("fetch\xe2\x80\x94page"), Strings{"summarize"});
  // The library is intact afterwards.
  EXPECT_EQ(FlowNames(), (Strings{"and_or_not", "summarize"}));
}

TEST_F(FlowStoreTest, LimitIsHonoured) {
  for (int i = 0; i < 120; ++i) {
    char name[16];
    snprintf(name, sizeof name, "flow%03d", i);
    Create(name, Version("a common description"));
  }
  EXPECT_EQ(Search("common", 5).size(), 5u);
  EXPECT_EQ(Search("common", 1).size(), 1u);
  EXPECT_EQ(Search("common", 0).size(), 20u);  // default
  EXPECT_EQ(Search("common", -3).size(), 20u);
  EXPECT_EQ(Search("common", 1000).size(), 100u);  // clamped
  // Equal scores come back by name.
  Strings first = Names("common", 3);
  EXPECT_EQ(first, (Strings{"flow000", "flow001", "flow002"}));
}

TEST_F(FlowStoreTest, SnippetMarksTheMatchInTheBestColumn) {
  Create("page_digest",
         Version("Fetch a web page, strip the markup, and summarize the remaining text for an "
                 "agent that needs a short answer quickly and cheaply",
                 "Long docstring without the word."));
  Create("summarize", Version("Shorten text"));
  std::vector<FlowSearchHit> hits = Search("markup");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NE(hits[0].snippet.find("[markup]"), std::string::npos) << hits[0].snippet;
  // At most ~12 tokens, elided with an ellipsis.
  EXPECT_NE(hits[0].snippet.find("\xe2\x80\xa6"), std::string::npos) << hits[0].snippet;
  int words = 0;
  for (const std::string& w : SearchTokens(hits[0].snippet)) words += w.empty() ? 0 : 1;
  EXPECT_LE(words, 12) << hits[0].snippet;
  // A name match snippets the name.
  hits = Search("summ");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].name, "summarize");
  EXPECT_EQ(hits[0].snippet, "[summarize]");
}

// A full disk, made deterministic (see StoreTest.WriteErrorsKeepRowsQueuedAndRecover): a
// library write fails to its caller and rolls back whole, search index included.
TEST_F(FlowStoreTest, AFailedWriteChangesNothing) {
  Create("etl", Version("zebra"));
  ASSERT_TRUE(store_->ExecForTesting("PRAGMA max_page_count = 1").ok());
  const std::string big(64 * 1024, 'x');
  FlowVersion v = Version("yak");
  v.source = big;
  Result<FlowRecord> r = store_->AddFlowVersionSync("etl", v, true);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  r = store_->CreateFlowSync("other", v);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  ASSERT_TRUE(store_->ExecForTesting("PRAGMA max_page_count = 1073741823").ok());

  EXPECT_EQ(FlowNames(), Strings{"etl"});
  EXPECT_EQ(store_->ListFlowVersionsSync("etl")->size(), 1u);
  EXPECT_EQ(Names("yak"), Strings{});
  EXPECT_EQ(Names("zebra"), Strings{"etl"});
  // And the next write works, numbering unaffected.
  EXPECT_EQ(store_->AddFlowVersionSync("etl", v, true)->current_version, 2);
  EXPECT_EQ(Names("yak"), Strings{"etl"});
}

TEST_F(FlowStoreTest, AsyncCallsCompleteInDrainCompletionsInOrder) {
  std::vector<std::string> order;
  store_->CreateFlow("etl", Version("x"), [&](Result<FlowRecord> r) {
    EXPECT_TRUE(r.ok());
    order.push_back("create");
  });
  store_->AddFlowVersion("etl", Version("y"), true, [&](Result<FlowRecord> r) {
    EXPECT_EQ(r->current_version, 2);
    order.push_back("update");
  });
  store_->GetFlow("etl", 0, [&](Result<FlowRecord> r) {
    EXPECT_EQ(r->current.description, "y");
    order.push_back("get");
  });
  store_->SearchFlows("y", 10, [&](Result<std::vector<FlowSearchHit>> r) {
    EXPECT_EQ(r->size(), 1u);
    order.push_back("search");
  });
  store_->DeleteFlow("etl", {});  // no callback is fine
  store_->ListFlows([&](Result<std::vector<FlowRecord>> r) {
    EXPECT_TRUE(r->empty());
    order.push_back("list");
  });
  EXPECT_TRUE(order.empty());             // nothing runs before the owner drains
  ASSERT_TRUE(store_->FlushSync().ok());  // drains everything submitted before it
  EXPECT_EQ(order, (Strings{"create", "update", "get", "search", "list"}));
}

// --- File-backed: a v1 database from an older hero_logic, durability without Flush. ---

class FlowMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "flow_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/hero.db";
  }
  void TearDown() override {
    store_.reset();
    EXPECT_EQ(LiveSqliteConnections(), 0);
    std::filesystem::remove_all(dir_);
  }
  void OpenStore() {
    Result<std::unique_ptr<Store>> s = Store::Open(Store::Options{.path = path_});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  int64_t RawInt(const std::string& sql) {
    Result<Db> db = Db::Open(path_);
    EXPECT_TRUE(db.ok());
    Result<int64_t> v = db->QueryInt(sql.c_str());
    EXPECT_TRUE(v.ok()) << sql << ": " << v.status().ToString();
    return v.ok() ? *v : -1;
  }

  std::string dir_, path_;
  std::unique_ptr<Store> store_;
};

TEST_F(FlowMigrationTest, UpgradesAVersion1DatabaseKeepingItsRuns) {
  {
    // What the previous release wrote: schema 1 only, with runs, spans and logs in it.
    Result<Db> db = Db::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(ApplyPragmas(*db).ok());
    ASSERT_TRUE(Migrate(*db, Migrations().first(1)).ok());
    ASSERT_EQ(*db->QueryInt("PRAGMA user_version"), 1);
    ASSERT_TRUE(db->Exec("INSERT INTO runs (flow_name, status, reason, created_us) VALUES "
                         "('etl', 'ok', '', 10), ('report', 'failed', 'exit code 1', 20), "
                         "('etl', 'running', '', 30);"
                         "INSERT INTO span_logs VALUES (2, 0, 0, 21, 'stderr', 'boom');")
                    .ok());
  }
  OpenStore();
  EXPECT_EQ(RawInt("PRAGMA user_version"), SchemaVersion());
  EXPECT_EQ(RawInt("SELECT COUNT(*) FROM schema_version"), SchemaVersion());
  EXPECT_EQ(RawInt("SELECT COUNT(*) FROM sqlite_schema WHERE name IN "
                   "('flows', 'flow_versions', 'examples', 'flow_search')"),
            4);
  EXPECT_EQ(RawInt("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'flow_versions' AND "
                   "sql LIKE '%WITHOUT ROWID%'"),
            1);

  Result<std::vector<RunRecord>> runs = store_->ListRunsSync({});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[1].flow_name, "report");
  EXPECT_EQ((*runs)[1].status, RunStatus::kFailed);
  EXPECT_EQ((*runs)[1].reason, "exit code 1");
  EXPECT_EQ(store_->GetLogsSync(RunId{2})->at(0).text, "boom");
  Result<int> recovered = store_->RecoverInterrupted(40);
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(*recovered, 1);
  EXPECT_EQ(store_->CreateRunSync(RunRecord{.flow_name = "etl"})->value, 4);

  // The new tables work on the upgraded file.
  ASSERT_TRUE(store_->CreateFlowSync("etl", Version("Load rows into the warehouse")).ok());
  EXPECT_EQ(store_->SearchFlowsSync("warehouse", 5)->size(), 1u);

  // Reopening applies nothing more.
  store_.reset();
  OpenStore();
  EXPECT_EQ(RawInt("SELECT COUNT(*) FROM schema_version"), SchemaVersion());
  EXPECT_EQ(store_->ListRunsSync({})->size(), 4u);
}

TEST_F(FlowMigrationTest, FlowWritesAreDurableWhenTheCallbackRuns) {
  Store::Options o{.path = path_};
  o.commit_interval = std::chrono::seconds(10);  // spans would wait; flows must not
  o.commit_rows = 100'000;
  Result<std::unique_ptr<Store>> s = Store::Open(o);
  ASSERT_TRUE(s.ok());
  store_ = std::move(s).value();
  RunId run = *store_->CreateRunSync(RunRecord{.flow_name = "etl"});
  SpanRow span;
  span.span_id = "1";
  span.status = "running";
  store_->PutSpan(run, span);  // held in the open batch

  ASSERT_TRUE(store_->CreateFlowSync("etl", Version("v1")).ok());
  ASSERT_TRUE(store_->AddFlowVersionSync("etl", Version("v2"), true).ok());
  ASSERT_TRUE(store_->CreateExampleSync({.flow_name = "etl", .name = "small"}).ok());
  // Another connection sees them without a Flush, while the span is still batched.
  EXPECT_EQ(RawInt("SELECT current_version FROM flows WHERE name = 'etl'"), 2);
  EXPECT_EQ(RawInt("SELECT COUNT(*) FROM flow_versions"), 2);
  EXPECT_EQ(RawInt("SELECT COUNT(*) FROM examples"), 1);
  EXPECT_EQ(RawInt("SELECT COUNT(*) FROM flow_search WHERE flow_search MATCH 'v2'"), 1);
  EXPECT_EQ(store_->pending_rows(), 1u);
  EXPECT_EQ(RawInt("SELECT COUNT(*) FROM spans"), 0);

  store_.reset();
  OpenStore();
  EXPECT_EQ(store_->GetFlowSync("etl")->current.description, "v2");
  EXPECT_EQ(store_->SearchFlowsSync("v2", 5)->size(), 1u);
  EXPECT_EQ(store_->ListExamplesSync("etl")->size(), 1u);
  EXPECT_EQ(store_->GetSpansSync(run)->size(), 1u);  // committed at shutdown
}

TEST(FlowSchemaTest, MigrationCreatesTheLibraryTables) {
  Result<Db> db = Db::Open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(Migrate(*db).ok());
  EXPECT_GE(SchemaVersion(), 2);
  for (const char* table : {"flows", "flow_versions", "examples", "flow_search"}) {
    std::string sql =
        std::string("SELECT COUNT(*) FROM sqlite_schema WHERE name = '") + table + "'";
    EXPECT_EQ(*db->QueryInt(sql.c_str()), 1) << table;
  }
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'flow_search' AND "
                          "sql LIKE '%remove_diacritics 2%' AND sql LIKE '%prefix%'"),
            1);
}

}  // namespace
}  // namespace hero::store
