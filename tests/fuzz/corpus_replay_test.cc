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

// Structured random streams over a small id space (out-of-order parents, cycles, late and
// duplicate events, ids reused after their span was dropped): the harness invariants hold.
TEST(SpanStreamCorpusTest, RandomStructuredStreamsKeepTheInvariants) {
  uint64_t state = 0x2545F4914F6CDD1DULL;
  auto next = [&state](uint32_t n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<uint32_t>(state % n);
  };
  for (int round = 0; round < 2000; ++round) {
    std::string stream;
    int64_t ts = 1000;
    const uint32_t ids = 2 + next(12);
    const int events = 1 + static_cast<int>(next(40));
    for (int i = 0; i < events; ++i) {
      std::string id = "\"" + std::to_string(1 + next(ids)) + "\"";
      std::string parent = next(4) == 0 ? "null" : "\"" + std::to_string(1 + next(ids)) + "\"";
      ts += static_cast<int64_t>(next(20)) - 5;
      std::string t = std::to_string(ts);
      switch (next(5)) {
        case 0:
        case 1:
          stream += R"({"type":"span_start","id":)" + id + R"(,"parent":)" + parent +
                    R"(,"name":"n)" + std::to_string(next(3)) + R"(","kind":"step","ts":)" + t +
                    R"(,"tags":{"k":)" + std::to_string(next(3)) + "}}\n";
          break;
        case 2:
          stream += R"({"type":"span_end","id":)" + id + R"(,"ts":)" + t + R"(,"status":")" +
                    (next(3) == 0 ? "failed" : "ok") + R"(","error":"e"})" + "\n";
          break;
        case 3:
          stream += R"({"type":"span_tag","id":)" + id + R"(,"tags":{"t":)" +
                    std::to_string(next(5)) + "}}\n";
          break;
        case 4:
          stream += R"({"type":"span_log","id":)" + id + R"(,"ts":)" + t +
                    R"(,"stream":"stdout","text":"x"})" + "\n";
          break;
      }
    }
    const auto limits_byte = static_cast<uint8_t>(next(256) & 0b0011'0011);  // span cap menu
    std::string in = EncodeInput(limits_byte, static_cast<uint8_t>(next(8)),
                                 static_cast<uint16_t>(next(65536)), stream);
    ASSERT_EQ(CheckSpanStream(in), "") << "round " << round << ":\n" << stream;
  }
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
