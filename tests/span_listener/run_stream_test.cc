#include "span_listener/run_stream.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/span_listener/recording_sink.h"

namespace hero::spans {
namespace {

using testing::RecordingSink;

TEST(RunStreamTest, AssemblesAcrossArbitraryChunking) {
  std::string all =
      "{\"type\":\"span_start\",\"id\":\"1\",\"parent\":null,\"name\":\"r\",\"kind\":\"flow_root\","
      "\"ts\":1}\n"
      "{\"type\":\"span_start\",\"id\":\"2\",\"parent\":\"1\",\"name\":\"s\",\"kind\":\"step\","
      "\"ts\":2}\n"
      "{\"type\":\"span_end\",\"id\":\"2\",\"ts\":3,\"status\":\"ok\"}\n"
      "{\"type\":\"span_end\",\"id\":\"1\",\"ts\":4,\"status\":\"ok\"}\n";
  for (size_t chunk : {1u, 3u, 7u, 64u, 4096u}) {
    RecordingSink sink;
    RunStream stream(Limits(), "f", &sink);
    for (size_t i = 0; i < all.size(); i += chunk)
      stream.Feed(std::string_view(all).substr(i, chunk));
    stream.Finish(EndOutcome::kExited, "");
    EXPECT_EQ(stream.stats().lines, 4) << chunk;
    EXPECT_EQ(stream.stats().events, 4) << chunk;
    EXPECT_EQ(sink.latest.size(), 2u);
    EXPECT_EQ(sink.RunningCount(), 0);
    EXPECT_EQ(stream.assembler().root_status(), "ok");
  }
}

TEST(RunStreamTest, BadLinesAreCountedAndNeverEndTheStream) {
  RecordingSink sink;
  Limits limits;
  limits.max_line_bytes = 200;
  RunStream stream(limits, "f", &sink);
  stream.Feed("garbage\n{\"type\":\"nope\"}\n" + std::string(1000, 'x') + "\n");
  stream.Feed(
      "{\"type\":\"span_start\",\"id\":\"1\",\"parent\":null,\"name\":\"r\",\"kind\":\"flow_root\","
      "\"ts\":1}");
  stream.Finish(EndOutcome::kCancelled, "user asked");
  const Stats& s = stream.stats();
  EXPECT_EQ(s.malformed_lines, 1);
  EXPECT_EQ(s.unknown_type_lines, 1);
  EXPECT_EQ(s.oversize_lines, 1);
  EXPECT_EQ(s.lines, 3);
  ASSERT_EQ(s.diagnostics.size(), 1u);
  EXPECT_NE(s.diagnostics[0].find("garbage"), std::string::npos);
  EXPECT_EQ(stream.assembler().root_status(), "cancelled");
  EXPECT_EQ(sink.ById("1")->error, "user asked");
}

TEST(RunStreamTest, FeedAfterFinishIsIgnored) {
  RecordingSink sink;
  RunStream stream(Limits(), "f", &sink);
  stream.Finish(EndOutcome::kExited, "");
  stream.Feed("{\"type\":\"result\",\"output\":1}\n");
  stream.Finish(EndOutcome::kExited, "");
  EXPECT_TRUE(sink.results.empty());
  EXPECT_EQ(stream.stats().lines, 0);
}

}  // namespace
}  // namespace hero::spans
