// Replays every file of tests/fuzz/corpus/ (seeds and minimized crash inputs) through the
// fuzz harness in the default build, so the fuzzer's invariants hold on every ctest run.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_harness.h"

namespace hero::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> CorpusFiles() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(HERO_FUZZ_CORPUS_DIR)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SpanStreamCorpusTest, CorpusHoldsTheGoldenFixturesAndAbuseSeeds) {
  int fixtures = 0, abuse = 0;
  for (const fs::path& p : CorpusFiles()) {
    std::string name = p.filename().string();
    fixtures += name.rfind("fixture-", 0) == 0;
    abuse += name.rfind("abuse-", 0) == 0;
  }
  EXPECT_GE(fixtures, 10);  // tests/fixtures/spans/*.ndjson and hand/*, several headers each
  EXPECT_GE(abuse, 10);
}

TEST(SpanStreamCorpusTest, EveryCorpusFileKeepsTheInvariants) {
  int n = 0;
  for (const fs::path& p : CorpusFiles()) {
    EXPECT_EQ(CheckSpanStream(ReadFile(p)), "") << p.filename();
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(SpanStreamCorpusTest, HeaderRoundTripsThroughEncodeAndDecode) {
  std::string in = EncodeInput(0b0111'1011, 0b101, 0xBEEF, "stream");
  std::string_view stream;
  FuzzConfig cfg = DecodeInput(in, &stream);
  EXPECT_EQ(stream, "stream");
  EXPECT_EQ(cfg.limits.max_spans, 16);
  EXPECT_EQ(cfg.limits.max_line_bytes, 256u);
  EXPECT_EQ(cfg.limits.max_tag_bytes, 24u);
  EXPECT_EQ(cfg.limits.max_log_bytes, 32);
  EXPECT_TRUE(cfg.pipe_logs);
  EXPECT_EQ(cfg.outcome, spans::EndOutcome::kTimedOut);
  EXPECT_NE(cfg.now_us, 0);
  EXPECT_EQ(cfg.split_seed, 0xBEEFu);
  // Shorter than the header: the whole input is the stream, default limits.
  cfg = DecodeInput("ab", &stream);
  EXPECT_EQ(stream, "ab");
  EXPECT_EQ(cfg.limits.max_spans, spans::Limits().max_spans);
}

}  // namespace
}  // namespace hero::fuzz
