#include "span_listener/line_framer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace hero::spans {
namespace {

struct Collector {
  std::vector<std::string> lines;
  void Feed(LineFramer& f, std::string_view bytes) {
    f.Feed(bytes, [&](std::string_view l) { lines.emplace_back(l); });
  }
  void Finish(LineFramer& f) {
    f.Finish([&](std::string_view l) { lines.emplace_back(l); });
  }
};

TEST(LineFramerTest, SplitsLinesWithinOneChunk) {
  LineFramer f(100);
  Collector c;
  c.Feed(f, "a\nbb\nccc\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a", "bb", "ccc"}));
  EXPECT_EQ(f.buffered_bytes(), 0u);
}

TEST(LineFramerTest, JoinsLinesAcrossChunkBoundaries) {
  LineFramer f(100);
  Collector c;
  std::string all = "first line\nsecond\nthird one here\n";
  for (char ch : all) c.Feed(f, std::string_view(&ch, 1));
  EXPECT_EQ(c.lines, (std::vector<std::string>{"first line", "second", "third one here"}));
  c.lines.clear();
  c.Feed(f, "x");
  c.Feed(f, "y\nz");
  c.Feed(f, "\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"xy", "z"}));
}

TEST(LineFramerTest, AcceptsLineOfExactlyMaxLength) {
  LineFramer f(8);
  Collector c;
  c.Feed(f, "12345678\n");
  c.Feed(f, "1234");
  c.Feed(f, "5678\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"12345678", "12345678"}));
  EXPECT_EQ(f.oversize_lines(), 0);
}

TEST(LineFramerTest, DiscardsOversizeLineToNextNewlineAndCountsIt) {
  LineFramer f(8);
  Collector c;
  c.Feed(f, "ok\n123456789\nafter\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"ok", "after"}));
  EXPECT_EQ(f.oversize_lines(), 1);
}

TEST(LineFramerTest, OversizeAcrossManyChunksNeverBuffersMoreThanMax) {
  LineFramer f(16);
  Collector c;
  c.Feed(f, "start\n0123456789");
  for (int i = 0; i < 10000; ++i) {
    c.Feed(f, "0123456789abcdef0123456789");
    EXPECT_LE(f.buffered_bytes(), 16u);
  }
  c.Feed(f, "tail of the long line\nnext\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"start", "next"}));
  EXPECT_EQ(f.oversize_lines(), 1);
}

TEST(LineFramerTest, NeverReservesMoreThanMaxForLongLinesInSmallChunks) {
  // A 100 MiB line arrives in small reads: the framer may hold up to the max line, but its
  // buffer must not double past it (SPEC: supervisor RSS delta < 2 MiB). 1,000,000 is not
  // 15 * 2^k, so plain std::string doubling would reach 1,966,080 bytes here.
  constexpr size_t kMax = 1000000;
  LineFramer f(kMax);
  Collector c;
  std::string chunk(4096, 'A');
  size_t max_capacity = 0;
  for (int line = 0; line < 3; ++line) {
    for (size_t sent = 0; sent + chunk.size() <= kMax - 10 * 1024; sent += chunk.size()) {
      c.Feed(f, chunk);
      max_capacity = std::max(max_capacity, f.buffer_capacity());
    }
    c.Feed(f, "\n");
  }
  for (size_t sent = 0; sent < (8u << 20); sent += chunk.size()) {  // then an oversize one
    c.Feed(f, chunk);
    max_capacity = std::max(max_capacity, f.buffer_capacity());
  }
  c.Feed(f, "\nend\n");
  EXPECT_EQ(c.lines.size(), 4u);
  EXPECT_EQ(c.lines.back(), "end");
  EXPECT_EQ(f.oversize_lines(), 1);
  EXPECT_LE(max_capacity, kMax);
  EXPECT_GE(max_capacity, kMax - 10 * 1024);  // it did hold the longest legal line
}

TEST(LineFramerTest, OversizeDetectedWhenNewlineCompletesBufferedLine) {
  LineFramer f(8);
  Collector c;
  c.Feed(f, "12345");
  c.Feed(f, "6789\nok\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(f.oversize_lines(), 1);
}

TEST(LineFramerTest, FinishDeliversPartialLastLine) {
  LineFramer f(100);
  Collector c;
  c.Feed(f, "a\npartial");
  EXPECT_EQ(c.lines.size(), 1u);
  c.Finish(f);
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a", "partial"}));
  c.Finish(f);  // nothing left
  EXPECT_EQ(c.lines.size(), 2u);
}

TEST(LineFramerTest, FinishDropsOversizePartialLine) {
  LineFramer f(4);
  Collector c;
  c.Feed(f, "123456");
  c.Finish(f);
  EXPECT_TRUE(c.lines.empty());
  EXPECT_EQ(f.oversize_lines(), 1);
}

TEST(LineFramerTest, CarriageReturnIsPartOfTheLine) {
  LineFramer f(100);
  Collector c;
  c.Feed(f, "a\r\n\r\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a\r", "\r"}));
}

TEST(LineFramerTest, EmptyLinesAreSkipped) {
  LineFramer f(100);
  Collector c;
  c.Feed(f, "\n\na\n\n");
  c.Feed(f, "\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a"}));
}

}  // namespace
}  // namespace hero::spans
