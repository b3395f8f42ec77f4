// Golden fixtures: the SDK tests write tests/fixtures/spans/*.ndjson, the listener parses the
// same files. Hand-written abuse fixtures live in tests/fixtures/spans/hand/.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "span_listener/run_stream.h"
#include "tests/span_listener/recording_sink.h"

namespace hero::spans {
namespace {

namespace fs = std::filesystem;
using testing::RecordingSink;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Replay {
  RecordingSink sink;
  std::unique_ptr<RunStream> stream;
};

std::unique_ptr<Replay> ReplayFile(const fs::path& p, EndOutcome outcome = EndOutcome::kExited,
                                   std::string_view reason = "") {
  auto r = std::make_unique<Replay>();
  r->stream = std::make_unique<RunStream>(Limits(), p.stem().string(), &r->sink);
  std::string bytes = ReadFile(p);
  // Feed in odd-sized chunks so lines straddle reads, as on a socket.
  for (size_t i = 0; i < bytes.size(); i += 4093) {
    r->stream->Feed(std::string_view(bytes).substr(i, 4093));
  }
  r->stream->Finish(outcome, reason);
  return r;
}

// HERO_SPAN_FIXTURE_DIR overrides the compiled-in directory (to replay other SDK output).
fs::path FixtureDir() {
  const char* env = std::getenv("HERO_SPAN_FIXTURE_DIR");
  return fs::path(env != nullptr && *env != '\0' ? env : HERO_FIXTURE_DIR);
}

std::vector<fs::path> GoldenFiles() {
  std::vector<fs::path> files;
  fs::path dir = FixtureDir();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".ndjson") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(GoldenFixturesTest, EveryFixtureParsesCleanlyIntoOneClosedTree) {
  auto files = GoldenFiles();
  ASSERT_FALSE(files.empty()) << "no golden fixtures in " << FixtureDir()
                              << " (tests/py/make_fixtures.py writes them)";
  for (const auto& f : files) {
    SCOPED_TRACE(f.filename().string());
    auto r = ReplayFile(f);
    const Stats& s = r->stream->stats();
    EXPECT_EQ(s.malformed_lines, 0) << (s.diagnostics.empty() ? "" : s.diagnostics[0]);
    EXPECT_EQ(s.unknown_type_lines, 0);
    EXPECT_EQ(s.oversize_lines, 0);
    EXPECT_EQ(r->sink.Roots().size(), 1u);
    EXPECT_EQ(r->sink.RunningCount(), 0);
    EXPECT_GT(s.lines, 0);
  }
}

TEST(GoldenFixturesTest, NestedStepsFormARootWithChildrenInOrder) {
  fs::path p = FixtureDir() / "nested_steps.ndjson";
  ASSERT_TRUE(fs::exists(p)) << p << " is missing (tests/py/make_fixtures.py writes it)";
  auto r = ReplayFile(p);
  auto roots = r->sink.Roots();
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_EQ(roots[0]->kind, "flow_root");
  auto children = r->sink.ChildrenOf(roots[0]->seq.value);
  ASSERT_FALSE(children.empty());
  for (size_t i = 1; i < children.size(); ++i) {
    EXPECT_LT(children[i - 1]->seq.value, children[i]->seq.value);
    EXPECT_LE(children[i - 1]->start_us, children[i]->start_us);
  }
  bool has_grandchild = false;
  for (const auto* c : children) has_grandchild |= !r->sink.ChildrenOf(c->seq.value).empty();
  EXPECT_TRUE(has_grandchild) << "nested_steps should nest at least two levels";
  for (const auto& [seq, row] : r->sink.latest) EXPECT_FALSE(row.orphan) << row.span_id;
}

TEST(GoldenFixturesTest, FailedStepIsNamedByFirstFailure) {
  fs::path p = FixtureDir() / "failed_step.ndjson";
  ASSERT_TRUE(fs::exists(p)) << p << " is missing (tests/py/make_fixtures.py writes it)";
  auto r = ReplayFile(p);
  auto f = r->stream->assembler().first_failure();
  ASSERT_TRUE(f.has_value());
  auto roots = r->sink.Roots();
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_NE(f->span_name, roots[0]->name) << "the innermost failed span is a step, not the root";
  EXPECT_EQ(f->path.rfind(roots[0]->name + "/", 0), 0u) << f->path;
  EXPECT_FALSE(f->error_type.empty());
  EXPECT_EQ(r->stream->assembler().root_status(), "failed");
}

fs::path Hand(const char* name) { return fs::path(HERO_FIXTURE_DIR) / "hand" / name; }

TEST(HandFixturesTest, AbuseMixedCountsEveryBadLineAndKeepsGoing) {
  auto r = ReplayFile(Hand("abuse_mixed.ndjson"));
  const Stats& s = r->stream->stats();
  EXPECT_EQ(s.lines, 21);
  EXPECT_EQ(s.malformed_lines, 5);
  EXPECT_EQ(s.diagnostics.size(), 5u);
  EXPECT_EQ(s.unknown_type_lines, 1);
  EXPECT_EQ(s.orphan_events, 2);
  EXPECT_EQ(s.duplicate_ends, 1);
  EXPECT_EQ(r->stream->assembler().span_count(), 5);
  const RecordingSink& sink = r->sink;
  ASSERT_EQ(sink.Roots().size(), 1u);
  EXPECT_EQ(sink.Roots()[0]->span_id, "1");
  EXPECT_EQ(sink.Roots()[0]->status, "ok");  // its end line had a trailing \r
  const SpanRecord* step = sink.ById("2");
  EXPECT_EQ(step->kind, "other");
  EXPECT_EQ(step->status, "failed");
  EXPECT_EQ(step->end_us, 1001);
  EXPECT_EQ(step->tags_json, R"({"a":2,"b":"x"})");
  EXPECT_TRUE(sink.ById("3")->orphan);
  EXPECT_TRUE(sink.ById("4")->orphan);
  EXPECT_FALSE(sink.ById("5")->orphan);
  EXPECT_EQ(sink.ById("5")->parent_id, "4");
  ASSERT_EQ(sink.logs.size(), 1u);
  EXPECT_EQ(sink.logs[0].text, "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
  ASSERT_EQ(sink.results.size(), 1u);
  EXPECT_EQ(sink.results[0], R"({"ok":true})");
  EXPECT_EQ(sink.hello_sdk, "hand");
  EXPECT_EQ(sink.RunningCount(), 0);
}

TEST(HandFixturesTest, NoRootPartialLastLineGetsSynthesizedRoot) {
  auto r = ReplayFile(Hand("no_root_partial.ndjson"), EndOutcome::kExited, "exit code 1");
  const Stats& s = r->stream->stats();
  EXPECT_EQ(s.lines, 4);
  EXPECT_EQ(s.malformed_lines, 1);  // invalid UTF-8
  ASSERT_EQ(s.diagnostics.size(), 1u);
  EXPECT_NE(s.diagnostics[0].find("UTF"), std::string::npos) << s.diagnostics[0];
  auto roots = r->sink.Roots();
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_EQ(roots[0]->name, "no_root_partial");
  EXPECT_EQ(roots[0]->kind, "flow_root");
  EXPECT_EQ(roots[0]->status, "failed");
  const SpanRecord* step = r->sink.ById("2");
  EXPECT_TRUE(step->orphan);
  EXPECT_EQ(step->parent_seq.value, roots[0]->seq.value);
  const SpanRecord* unfinished = r->sink.ById("3");  // the line without '\n'
  ASSERT_NE(unfinished, nullptr);
  EXPECT_EQ(unfinished->status, "failed");
  EXPECT_EQ(unfinished->error, "process exited before the span ended");
  auto f = r->stream->assembler().first_failure();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->span_name, "orphan_step");
  EXPECT_EQ(f->error_type, "RuntimeError");
}

TEST(HandFixturesTest, OutOfOrderEventsAssembleOnceParentsArrive) {
  auto r = ReplayFile(Hand("out_of_order.ndjson"));
  const Stats& s = r->stream->stats();
  EXPECT_EQ(s.malformed_lines, 0);
  EXPECT_EQ(s.orphan_events, 1);  // the end before any start
  EXPECT_EQ(s.duplicate_ends, 1);
  const RecordingSink& sink = r->sink;
  ASSERT_EQ(sink.Roots().size(), 1u);
  EXPECT_EQ(sink.Roots()[0]->name, "late_root");
  EXPECT_EQ(sink.ById("2")->parent_seq.value, sink.ById("1")->seq.value);
  EXPECT_EQ(sink.ById("3")->parent_seq.value, sink.ById("2")->seq.value);
  EXPECT_EQ(sink.ById("3")->end_us, 30);  // clamped to its start
  for (const auto& [seq, row] : sink.latest) {
    EXPECT_FALSE(row.orphan) << row.span_id;
    EXPECT_EQ(row.status, "ok") << row.span_id;
  }
}

}  // namespace
}  // namespace hero::spans
